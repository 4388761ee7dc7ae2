/* os: node_os_info and node_os_version from <rootfs>/etc/os-release, falling
 * back to <rootfs>/usr/lib/os-release (os-release(5)). */
#include "collect/node/node_int.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/parse.h"

#define OS_VAL_MAX 256

/* Keys in the sorted order of node_os_info's label names. */
static const char *const os_keys[] = {
	"BUILD_ID", "ID", "ID_LIKE", "IMAGE_ID", "IMAGE_VERSION", "NAME", "PRETTY_NAME",
	"VARIANT", "VARIANT_ID", "VERSION", "VERSION_CODENAME", "VERSION_ID",
};
static const char *const os_labels[] = {
	"build_id", "id", "id_like", "image_id", "image_version", "name", "pretty_name",
	"variant", "variant_id", "version", "version_codename", "version_id",
};

#define NOSKEYS (sizeof(os_keys) / sizeof(os_keys[0]))
enum { K_ID = 1, K_ID_LIKE = 2, K_NAME = 5, K_VERSION_ID = 11 };

/* Shell-style value: "..." or '...' quoted or bare; backslash escapes in
 * double quotes and bare values. */
static void unquote(const char *s, size_t n, char *dst)
{
	size_t j = 0;
	char q = 0;

	if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) {
		q = s[0];
		s++;
		n -= 2;
	}
	for (size_t i = 0; i < n && j + 1 < OS_VAL_MAX; i++) {
		if (s[i] == '\\' && q != '\'' && i + 1 < n)
			i++;
		dst[j++] = s[i];
	}
	dst[j] = '\0';
}

/* Leading "major[.minor]" of VERSION_ID as a number; 0 when absent. */
static double major_minor(const char *v)
{
	size_t n = 0;
	double d = 0;

	while (v[n] >= '0' && v[n] <= '9')
		n++;
	if (n == 0)
		return 0;
	if (v[n] == '.') {
		n++;
		while (v[n] >= '0' && v[n] <= '9')
			n++;
	}
	/* "12." parses as 12 in Go; trim the dot for parse_double. */
	if (v[n - 1] == '.')
		n--;
	if (parse_double(v, n, &d) != 0)
		return 0;
	return d;
}

int node_os_parse(struct node_ctx *ctx, const char *data, size_t len)
{
	char vals[NOSKEYS][OS_VAL_MAX];
	struct label_pair l[NOSKEYS];
	const char *p, *end, *line;
	size_t llen;
	int rc;

	for (size_t i = 0; i < NOSKEYS; i++)
		vals[i][0] = '\0';
	p = data;
	end = data + len;
	while (node_next_line(&p, end, &line, &llen)) {
		const char *eq = memchr(line, '=', llen);

		if (llen == 0 || line[0] == '#' || !eq)
			continue;
		for (size_t i = 0; i < NOSKEYS; i++) {
			size_t kl = strlen(os_keys[i]);

			if ((size_t)(eq - line) == kl && memcmp(line, os_keys[i], kl) == 0)
				unquote(eq + 1, (size_t)(line + llen - eq - 1), vals[i]);
		}
	}
	for (size_t i = 0; i < NOSKEYS; i++)
		l[i] = (struct label_pair){ os_labels[i], vals[i] };
	rc = expo_family(ctx->out, "node_os_info",
			 "A metric with a constant '1' value labeled by build_id, id, id_like, "
			 "image_id, image_version, name, pretty_name, variant, variant_id, version, "
			 "version_codename, version_id.",
			 EXPO_GAUGE);
	if (!rc)
		rc = expo_sample(ctx->out, "node_os_info", l, NOSKEYS, 1);
	if (!rc)
		rc = expo_family(ctx->out, "node_os_version",
				 "Metric containing the major.minor part of the OS version.",
				 EXPO_GAUGE);
	if (!rc) {
		struct label_pair vl[3] = { { "id", vals[K_ID] }, { "id_like", vals[K_ID_LIKE] },
					    { "name", vals[K_NAME] } };

		rc = expo_sample(ctx->out, "node_os_version", vl, 3,
				 major_minor(vals[K_VERSION_ID]));
	}
	return rc;
}

/* The families as written from the file identified by st at path. */
static bool os_cached(const struct node_os_cache *c, const char *path, const struct stat *st)
{
	return c->text && c->path && strcmp(c->path, path) == 0 && c->dev == st->st_dev &&
	       c->ino == st->st_ino && c->size == st->st_size &&
	       c->mtime.tv_sec == st->st_mtim.tv_sec && c->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	       c->ctime.tv_sec == st->st_ctim.tv_sec && c->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

/* Keeps what was written from path (st taken before the read: a file
 * changed in between differs from it at the next scrape and is read
 * again). Without memory the next scrape reads the file. */
static void os_keep(struct node_os_cache *c, const char *path, const struct stat *st,
		    const char *text, size_t len)
{
	char *t = realloc(c->text, len ? len : 1);

	if (!t) {
		free(c->text);
		c->text = NULL;
		return;
	}
	c->text = t;
	if (!c->path || strcmp(c->path, path) != 0) {
		free(c->path);
		c->path = strdup(path);
		if (!c->path) {
			free(c->text);
			c->text = NULL;
			return;
		}
	}
	memcpy(t, text, len);
	c->len = len;
	c->dev = st->st_dev;
	c->ino = st->st_ino;
	c->size = st->st_size;
	c->mtime = st->st_mtim;
	c->ctime = st->st_ctim;
}

/* os-release changes with an OS upgrade, not between scrapes: the families
 * are written again from a copy while stat() shows the same file (device,
 * inode, size, mtime, ctime), as node_exporter re-parses only on a new
 * mtime. One stat instead of open, read and close (~3 us a scrape). */
int node_os(struct node_ctx *ctx)
{
	static const char *const rels[2] = { "etc/os-release", "usr/lib/os-release" };
	struct node_os_cache *c = &ctx->nc->os;
	char path[PATH_MAX];
	const char *data;
	struct stat st;
	size_t len, mark;
	int rc = KM_ENOENT;

	for (int i = 0; i < 2 && rc == KM_ENOENT; i++) {
		rc = node_path_join(path, sizeof(path), ctx->rootfs, rels[i]);
		if (rc)
			return rc;
		if (stat(path, &st) != 0) {
			rc = km_from_errno(errno);
			continue;
		}
		if (os_cached(c, path, &st))
			return buf_add(ctx->out, c->text, c->len);
		rc = procfile_read(&ctx->nc->pf, ctx->rootfs, rels[i], &data, &len);
	}
	if (rc)
		return rc;
	mark = ctx->out->len;
	rc = node_os_parse(ctx, data, len);
	if (!rc)
		os_keep(c, path, &st, ctx->out->data + mark, ctx->out->len - mark);
	return rc;
}
