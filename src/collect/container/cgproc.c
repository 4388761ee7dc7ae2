/* Per-cgroup process figures (container_processes, _file_descriptors,
 * _sockets, _ulimits_soft) from cgroup.procs and /proc, counted as cAdvisor's
 * libcontainer handler does: the pids of the cgroup's own cgroup.procs (a pod
 * or QoS cgroup holds none, so its figures are 0), every entry of each
 * /proc/<pid>/fd, and among them those whose link reads "socket:[inode]". */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/parse.h"
#include "collect/container/cgread.h"

/* getdents64() buffer for one /proc/<pid>/fd listing at a time. */
#define FD_DENTS_BUF 4096

#define NOFILE_KEY "Max open files"

/* Counts the entries of <procfs>/<pid>/fd into *fds and the sockets among
 * them into *socks. A process gone, or not ours to look into (the kernel
 * lists another UID's fds only to CAP_SYS_PTRACE; *denied is bumped), counts
 * 0, as cAdvisor skips a listing that fails. */
static void count_fds(const char *procfs, const char *pid, size_t pidn, uint64_t *fds,
		      uint64_t *socks, unsigned *denied)
{
	char path[512];
	char dents[FD_DENTS_BUF];
	int dfd;

	if (snprintf(path, sizeof(path), "%s/%.*s/fd", procfs, (int)pidn, pid) >= (int)sizeof(path))
		return;
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		if (errno == EACCES || errno == EPERM)
			(*denied)++;
		return;
	}
	for (;;) {
		ssize_t got = getdents64(dfd, dents, sizeof(dents));

		if (got <= 0)
			break;
		for (ssize_t off = 0; off < got;) {
			struct dirent64 *d = (struct dirent64 *)(void *)(dents + off);
			char link[16];
			ssize_t ln;

			off += d->d_reclen;
			if (d->d_name[0] == '.')
				continue;  /* "." and "..": fd names are digits */
			(*fds)++;
			/* only the prefix matters; a truncated link is fine */
			ln = readlinkat(dfd, d->d_name, link, sizeof(link));
			if (ln >= 7 && memcmp(link, "socket:", 7) == 0)
				(*socks)++;
		}
	}
	close(dfd);
}

int cg_read_procs(struct cg_reader *r, int dirfd, const char *procfs, struct cg_stats *st)
{
	size_t len;
	const char *p;
	const char *end;
	const char *f;
	size_t fn;
	int err = cg_read_file(r, dirfd, "cgroup.procs", &len);

	if (err)
		return err;
	st->processes = 0;
	st->fds = 0;
	st->sockets = 0;
	/* r->buf holds the pid list for the whole loop: count_fds reads
	 * nothing through the reader. */
	p = r->buf;
	end = r->buf + len;
	/* one pid a line */
	for (; p < end; p++) {
		uint64_t pid;

		if (!parse_field(&p, end, &f, &fn))
			continue;  /* an empty line; p is at its '\n' */
		if (parse_u64(f, fn, &pid) != 0) {
			r->malformed++;
		} else {
			st->processes++;
			count_fds(procfs, f, fn, &st->fds, &st->sockets, &r->denied);
		}
		p = memchr(p, '\n', (size_t)(end - p));
		if (!p)
			break;
	}
	st->have |= CGS_PROCS;
	return KM_OK;
}

int cg_read_ulimit(struct cg_reader *r, const char *procfs, uint64_t pid, struct cg_stats *st)
{
	char path[512];
	size_t len;
	const char *line;
	const char *p;
	const char *end;
	const char *f;
	size_t fn;
	int64_t soft;
	int err;

	if (snprintf(path, sizeof(path), "%s/%llu/limits", procfs, (unsigned long long)pid) >=
	    (int)sizeof(path))
		return KM_EINVAL;
	err = cg_read_file(r, AT_FDCWD, path, &len);
	if (err)
		return err;
	line = memmem(r->buf, len, NOFILE_KEY, sizeof(NOFILE_KEY) - 1);
	if (!line)
		return KM_EPARSE;
	p = line + sizeof(NOFILE_KEY) - 1;
	end = memchr(p, '\n', (size_t)(r->buf + len - p));
	if (!end)
		end = r->buf + len;
	/* "<soft> <hard> files"; cAdvisor reads "unlimited" as -1 */
	if (!parse_field(&p, end, &f, &fn))
		return KM_EPARSE;
	if (fn == 9 && memcmp(f, "unlimited", 9) == 0)
		soft = -1;
	else if (parse_i64(f, fn, &soft) != 0)
		return KM_EPARSE;
	st->nofile_soft = soft;
	st->have |= CGS_ULIMIT;
	return KM_OK;
}
