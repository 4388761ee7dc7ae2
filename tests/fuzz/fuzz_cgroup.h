/* Shared by the cgroup harnesses (fuzz_cgroup_*.c): the readers take a
 * directory descriptor and read several files by name, so the input is
 * split at NUL bytes (which no cgroup or /proc text file contains) and
 * section i becomes file names[i] in a fresh directory on tmpfs; names
 * without a section are absent, as on a kernel that lacks them. The
 * directory and its files are removed again before returning. Header-only
 * with static inline functions: test_fuzz_replay.c includes every harness
 * into one translation unit. */
#ifndef K8SMON_TESTS_FUZZ_CGROUP_H
#define K8SMON_TESTS_FUZZ_CGROUP_H

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz/fuzz.h"

struct fcg_dir {
	char path[PATH_MAX];
	int fd;                   /* the directory, O_RDONLY */
	const char *const *names; /* borrowed, NULL-terminated */
};

/* tmpfs when there is one: a file per section per input adds up. */
static inline const char *fcg_tmp(void)
{
	struct stat sb;

	return stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) && access("/dev/shm", W_OK) == 0
		       ? "/dev/shm"
		       : "/tmp";
}

/* Creates the directory with one file per section (names may contain one
 * '/': "1/net/dev" style paths get their parent directories). */
static inline void fcg_dir_make(struct fcg_dir *d, const char *const *names,
				const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;

	snprintf(d->path, sizeof(d->path), "%s/k8smon-fuzz-XXXXXX", fcg_tmp());
	FUZZ_CHECK(mkdtemp(d->path) != NULL);
	d->names = names;
	for (size_t i = 0; names[i] && p <= end; i++) {
		const uint8_t *nul = p < end ? memchr(p, '\0', (size_t)(end - p)) : NULL;
		const uint8_t *se = nul ? nul : end;
		char fp[PATH_MAX + 64];
		const char *slash;
		FILE *f;

		for (slash = strchr(names[i], '/'); slash; slash = strchr(slash + 1, '/')) {
			snprintf(fp, sizeof(fp), "%s/%.*s", d->path, (int)(slash - names[i]),
				 names[i]);
			(void)mkdir(fp, 0700);
		}
		snprintf(fp, sizeof(fp), "%s/%s", d->path, names[i]);
		f = fopen(fp, "wb");
		FUZZ_CHECK(f != NULL);
		if (se > p)
			FUZZ_CHECK(fwrite(p, 1, (size_t)(se - p), f) == (size_t)(se - p));
		FUZZ_CHECK(fclose(f) == 0);
		if (!nul)
			break;
		p = nul + 1;
	}
	d->fd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	FUZZ_CHECK(d->fd >= 0);
}

static inline void fcg_dir_remove(struct fcg_dir *d)
{
	char fp[PATH_MAX + 64];

	close(d->fd);
	for (size_t i = 0; d->names[i]; i++) {
		const char *slash;

		snprintf(fp, sizeof(fp), "%s/%s", d->path, d->names[i]);
		(void)unlink(fp);
		/* Parent directories, deepest first. */
		while ((slash = strrchr(fp + strlen(d->path) + 1, '/')) != NULL) {
			*(char *)slash = '\0';
			(void)rmdir(fp);
		}
	}
	FUZZ_CHECK(rmdir(d->path) == 0);
}

#endif
