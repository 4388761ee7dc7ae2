/* Helpers shared by the container collector tests and benchmark driver:
 * build small cgroup / proc / sys trees in a temporary directory. */
#ifndef K8SMON_TESTS_CONTAINER_FIXTURE_H
#define K8SMON_TESTS_CONTAINER_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p of root/rel. Returns 0 or -1. */
static inline int fx_mkdir(const char *root, const char *rel)
{
	char p[PATH_MAX];

	if (snprintf(p, sizeof(p), "%s/%s", root, rel) >= (int)sizeof(p))
		return -1;
	for (char *s = p + strlen(root) + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	return mkdir(p, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* Writes content to root/rel, creating parent directories. */
static inline int fx_write(const char *root, const char *rel, const char *content)
{
	char p[PATH_MAX];
	char dir[PATH_MAX];
	char *slash;
	FILE *f;

	if (snprintf(p, sizeof(p), "%s/%s", root, rel) >= (int)sizeof(p))
		return -1;
	snprintf(dir, sizeof(dir), "%s", rel);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		if (fx_mkdir(root, dir) != 0)
			return -1;
	}
	f = fopen(p, "w");
	if (!f)
		return -1;
	fputs(content, f);
	return fclose(f);
}

/* Sets the mtime of root/rel (seconds). */
static inline int fx_mtime(const char *root, const char *rel, long sec)
{
	char p[PATH_MAX];
	struct timespec ts[2] = { { sec, 0 }, { sec, 0 } };

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	return utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW);
}

static inline int fx_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* rm -rf root. */
static inline void fx_rmtree(const char *root)
{
	nftw(root, fx_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Creates a fresh temp dir into out (PATH_MAX). */
static inline int fx_tmpdir(char *out, size_t n)
{
	const char *base = getenv("TMPDIR");

	snprintf(out, n, "%s/k8smon-ctr-XXXXXX", base ? base : "/tmp");
	return mkdtemp(out) ? 0 : -1;
}

#endif
