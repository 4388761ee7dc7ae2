/* Whole-file reads into a reusable, capped buffer (the netdata procfile way):
 * /proc and /sys files are small and generated on read, so they are read in
 * full with read() until EOF and parsed in place. */
#include "collect/node/node_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/parse.h"

void procfile_init(struct procfile *pf)
{
	buf_init(&pf->b, PROCFILE_CAP);
	pf->path[0] = '\0';
}

void procfile_fini(struct procfile *pf)
{
	buf_fini(&pf->b);
}

int node_path_join(char *dst, size_t dstlen, const char *base, const char *rel)
{
	size_t bl = strlen(base);
	int n;

	/* "/" + "proc" must give "/proc", not "//proc"; "/host/" likewise. */
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	while (*rel == '/')
		rel++;
	n = snprintf(dst, dstlen, "%.*s/%s", (int)bl, base, rel);
	if (n < 0 || (size_t)n >= dstlen)
		return KM_EINVAL;
	return 0;
}

int procfile_read(struct procfile *pf, const char *base, const char *rel,
		  const char **data, size_t *len)
{
	int fd = -1;
	int rc;

	buf_reset(&pf->b);
	rc = node_path_join(pf->path, sizeof(pf->path), base, rel);
	if (rc)
		goto out;
	fd = open(pf->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = km_from_errno(errno);
		goto out;
	}
	for (;;) {
		ssize_t n;

		/* Ask for at least 4 KiB each time; procfs fills at most a page
		 * per read for many files, so the loop usually runs twice. */
		rc = buf_reserve(&pf->b, 4096);
		if (rc)
			goto out;
		n = read(fd, pf->b.data + pf->b.len, pf->b.alloc - pf->b.len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = km_from_errno(errno);
			goto out;
		}
		if (n == 0)
			break;
		pf->b.len += (size_t)n;
		pf->b.data[pf->b.len] = '\0';
	}
	if (!pf->b.data) {
		rc = buf_reserve(&pf->b, 1);
		if (rc)
			goto out;
		pf->b.data[0] = '\0';
	}
	*data = pf->b.data;
	*len = pf->b.len;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

bool node_next_line(const char **p, const char *end, const char **line, size_t *len)
{
	const char *s = *p, *nl;

	if (s >= end)
		return false;
	nl = memchr(s, '\n', (size_t)(end - s));
	if (!nl)
		nl = end;
	*line = s;
	*len = (size_t)(nl - s);
	*p = nl < end ? nl + 1 : end;
	return true;
}

int node_parse_double_field(const char **p, const char *end, double *out)
{
	const char *f;
	size_t n;

	if (!parse_field(p, end, &f, &n))
		return KM_EPARSE;
	return parse_double(f, n, out);
}

const char *node_strip_rootfs(const char *rootfs, const char *mp)
{
	size_t n = strlen(rootfs);

	if (strcmp(rootfs, "/") == 0)
		return mp;
	/* node-exporter: strings.TrimPrefix(path, rootfs), "" -> "/". */
	if (strncmp(mp, rootfs, n) == 0)
		mp += n;
	return *mp ? mp : "/";
}
