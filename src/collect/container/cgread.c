/* Shared file reading and parsing for the cgroup readers, plus the /proc
 * readers (net/dev of a sandbox process, meminfo swap, boot time). */
#include "collect/container/cgread.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/parse.h"
#include "base/vec.h"

#define CG_READ_INIT 16384

void cg_reader_init(struct cg_reader *r)
{
	memset(r, 0, sizeof(*r));
}

void cg_reader_fini(struct cg_reader *r)
{
	free(r->buf);
	free(r->nets);
	free(r->ios);
	memset(r, 0, sizeof(*r));
}

void cg_reader_reset(struct cg_reader *r)
{
	r->nnets = 0;
	r->nios = 0;
	r->malformed = 0;
	r->denied = 0;
}

static int grow(struct cg_reader *r, size_t want)
{
	char *nb;

	if (want > CG_READ_MAX + 1)
		return KM_ETOOBIG;
	nb = realloc(r->buf, want);
	if (!nb)
		return KM_ENOMEM;
	r->buf = nb;
	r->alloc = want;
	return KM_OK;
}

int cg_read_file(struct cg_reader *r, int dirfd, const char *name, size_t *len)
{
	size_t used = 0;
	int fd;
	int err = KM_OK;

	if (!r->buf && (err = grow(r, CG_READ_INIT)) != 0)
		return err;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
			return KM_EIO;
		r->missing++;
		return KM_ENOENT;
	}
	for (;;) {
		ssize_t n = read(fd, r->buf + used, r->alloc - 1 - used);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* a cgroup removed under an open file reads as ENODEV */
			err = errno == ENODEV || errno == ENOENT ? KM_ENOENT : KM_EIO;
			if (err == KM_ENOENT)
				r->missing++;
			goto out_close;
		}
		used += (size_t)n;
		if (n == 0 || used < r->alloc - 1)
			break;  /* short read: the whole file (the common, one-read case) */
		err = grow(r, r->alloc * 2);
		if (err)
			goto out_close;
	}
	r->buf[used] = '\0';
	*len = used;
out_close:
	close(fd);
	return err;
}

static size_t trim_len(const char *s, size_t n)
{
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return n;
}

int cg_read_u64(struct cg_reader *r, int dirfd, const char *name, bool max_ok, uint64_t *out)
{
	size_t len;
	int err = cg_read_file(r, dirfd, name, &len);

	if (err)
		return err;
	len = trim_len(r->buf, len);
	if (max_ok && len == 3 && memcmp(r->buf, "max", 3) == 0) {
		*out = UINT64_MAX;
		return KM_OK;
	}
	if (parse_u64(r->buf, len, out) != 0) {
		/* v1 writes -1 for "no limit" in a few files */
		if (len == 2 && memcmp(r->buf, "-1", 2) == 0 && max_ok) {
			*out = UINT64_MAX;
			return KM_OK;
		}
		r->malformed++;
		return KM_EPARSE;
	}
	return KM_OK;
}

int cg_parse_kv(const char *data, size_t len, struct cg_kv *kv, size_t nkv)
{
	const char *p = data;
	const char *end = data + len;
	int err = KM_OK;

	for (size_t i = 0; i < nkv; i++)
		kv[i].found = false;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol ? eol : end;
		const char *k;
		const char *v;
		size_t kn;
		size_t vn;

		if (parse_field(&p, le, &k, &kn) && parse_field(&p, le, &v, &vn)) {
			for (size_t i = 0; i < nkv; i++) {
				if (kv[i].found || strlen(kv[i].key) != kn ||
				    memcmp(kv[i].key, k, kn) != 0)
					continue;
				if (parse_u64(v, vn, kv[i].dst) == 0)
					kv[i].found = true;
				else
					err = KM_EPARSE;
				break;
			}
		}
		p = eol ? eol + 1 : end;
	}
	return err;
}

void cg_read_start(int dirfd, const char *marker, int64_t btime, struct cg_stats *st)
{
	struct stat sb;
	int64_t t = INT64_MAX;

	if (fstat(dirfd, &sb) == 0)
		t = sb.st_mtim.tv_sec;
	if (fstatat(dirfd, marker, &sb, AT_SYMLINK_NOFOLLOW) == 0 && sb.st_mtim.tv_sec < t)
		t = sb.st_mtim.tv_sec;
	if (t == INT64_MAX)
		return;
	if (t < btime)
		t = btime;
	st->start_time = t;
	st->have |= CGS_START;
}

int cg_first_pid(struct cg_reader *r, int dirfd, uint64_t *pid)
{
	size_t len;
	const char *p;
	const char *f;
	size_t fn;
	int err = cg_read_file(r, dirfd, "cgroup.procs", &len);

	if (err)
		return err;
	p = r->buf;
	if (!parse_field(&p, r->buf + len, &f, &fn))
		return KM_ENOENT;
	if (parse_u64(f, fn, pid) != 0)
		return KM_EPARSE;
	return KM_OK;
}

static int push_net(struct cg_reader *r, struct cg_netif **out)
{
	/* Bounded by the file: one per line of at most CG_READ_MAX bytes. */
	int rc = VEC_RESERVE(r->nets, r->capnets, r->nnets + 1, 32, VEC_UNBOUNDED);

	if (rc)
		return rc;
	*out = &r->nets[r->nnets++];
	return KM_OK;
}

static bool skip_iface(const char *name, size_t n)
{
	static const char *const pre[] = { "lo", "veth", "docker", "nerdctl" };

	for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++) {
		size_t pn = strlen(pre[i]);

		if (n >= pn && memcmp(name, pre[i], pn) == 0)
			return true;
	}
	return false;
}

/* Parses one "  eth0: rx... tx..." line of net/dev into a new r->nets entry. */
static int netdev_line(struct cg_reader *r, const char *p, const char *le, uint32_t row)
{
	static const int want[8] = { 0, 1, 2, 3, 8, 9, 10, 11 };  /* column of each v[] */
	const char *colon = memchr(p, ':', (size_t)(le - p));
	uint64_t cols[16];
	const char *f;
	size_t fn;
	struct cg_netif *ni;
	int err;

	if (!colon)
		return KM_OK;
	while (p < colon && *p == ' ')
		p++;
	if (colon == p || (size_t)(colon - p) >= sizeof(ni->name) || skip_iface(p, (size_t)(colon - p)))
		return KM_OK;
	f = colon + 1;
	for (int i = 0; i < 16; i++) {
		const char *v;

		if (!parse_field(&f, le, &v, &fn) || parse_u64(v, fn, &cols[i]) != 0)
			return KM_EPARSE;
	}
	err = push_net(r, &ni);
	if (err)
		return err;
	ni->row = row;
	memcpy(ni->name, p, (size_t)(colon - p));
	ni->name[colon - p] = '\0';
	for (int i = 0; i < 8; i++)
		ni->v[i] = cols[want[i]];
	return KM_OK;
}

int cg_read_netdev(struct cg_reader *r, const char *procfs, uint64_t pid, uint32_t row)
{
	char path[512];
	size_t len;
	const char *p;
	const char *end;
	int line = 0;
	int err;

	if (snprintf(path, sizeof(path), "%s/%llu/net/dev", procfs, (unsigned long long)pid) >=
	    (int)sizeof(path))
		return KM_EINVAL;
	err = cg_read_file(r, AT_FDCWD, path, &len);
	if (err)
		return err;
	p = r->buf;
	end = r->buf + len;
	while (p < end && !err) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol ? eol : end;

		if (line++ >= 2)  /* two header lines */
			err = netdev_line(r, p, le, row);
		p = eol ? eol + 1 : end;
	}
	if (err == KM_EPARSE)
		r->malformed++;
	return err;
}

int cg_read_meminfo_swap(struct cg_reader *r, const char *procfs, uint64_t *swap)
{
	char path[512];
	size_t len;
	uint64_t total = 0;
	uint64_t freekb = 0;
	struct cg_kv kv[] = { { "SwapTotal:", &total, false }, { "SwapFree:", &freekb, false } };
	int err;

	if (snprintf(path, sizeof(path), "%s/meminfo", procfs) >= (int)sizeof(path))
		return KM_EINVAL;
	err = cg_read_file(r, AT_FDCWD, path, &len);
	if (err)
		return err;
	err = cg_parse_kv(r->buf, len, kv, 2);
	if (err || !kv[0].found || !kv[1].found)
		return KM_EPARSE;
	*swap = total > freekb ? (total - freekb) * 1024 : 0;
	return KM_OK;
}

int cg_read_btime(struct cg_reader *r, const char *procfs, int64_t *btime)
{
	char path[512];
	size_t len;
	uint64_t bt = 0;
	struct cg_kv kv[] = { { "btime", &bt, false } };
	int err;

	if (snprintf(path, sizeof(path), "%s/stat", procfs) >= (int)sizeof(path))
		return KM_EINVAL;
	err = cg_read_file(r, AT_FDCWD, path, &len);
	if (err)
		return err;
	cg_parse_kv(r->buf, len, kv, 1);
	if (!kv[0].found)
		return KM_EPARSE;
	*btime = (int64_t)bt;
	return KM_OK;
}

int cg_push_io(struct cg_reader *r, struct cg_io **out)
{
	/* Bounded by the file: one per line of at most CG_READ_MAX bytes. */
	int rc = VEC_RESERVE(r->ios, r->capios, r->nios + 1, 32, VEC_UNBOUNDED);

	if (rc)
		return rc;
	*out = &r->ios[r->nios++];
	return KM_OK;
}

/* Parses "MAJ:MIN" into major/minor. */
int cg_parse_majmin(const char *s, size_t n, uint32_t *maj, uint32_t *min)
{
	const char *c = memchr(s, ':', n);
	uint64_t a;
	uint64_t b;

	if (!c || parse_u64(s, (size_t)(c - s), &a) != 0 ||
	    parse_u64(c + 1, n - (size_t)(c + 1 - s), &b) != 0 || a > UINT32_MAX || b > UINT32_MAX)
		return KM_EPARSE;
	*maj = (uint32_t)a;
	*min = (uint32_t)b;
	return KM_OK;
}
