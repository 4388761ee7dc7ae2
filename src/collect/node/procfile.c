/* Whole-file reads into a reusable, capped buffer (the netdata procfile way):
 * /proc and /sys files are small and generated on read, so they are read in
 * full with read() until EOF and parsed in place. */
#include "collect/node/node_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/err.h"
#include "base/hash.h"
#include "base/parse.h"

void procfile_init(struct procfile *pf, struct fdcache *fc)
{
	buf_init(&pf->b, PROCFILE_CAP);
	pf->path[0] = '\0';
	pf->fc = fc;
}

void procfile_fini(struct procfile *pf)
{
	buf_fini(&pf->b);
}

size_t node_cat(char *dst, size_t cap, const struct node_span *s, size_t n)
{
	size_t len = 0, w = 0;

	for (size_t i = 0; i < n; i++) {
		size_t k = s[i].n;

		if (w + k >= cap)
			k = cap - 1 - w;
		memcpy(dst + w, s[i].p, k);
		w += k;
		len += s[i].n;
	}
	dst[w] = '\0';
	return len;
}

size_t node_fmt_u64(char *dst, size_t cap, uint64_t v)
{
	char tmp[20]; /* UINT64_MAX has 20 digits */
	size_t n = 0, w;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	w = n < cap ? n : cap - 1;
	for (size_t i = 0; i < w; i++)
		dst[i] = tmp[n - 1 - i];
	dst[w] = '\0';
	return n;
}

int node_path_join(char *dst, size_t dstlen, const char *base, const char *rel)
{
	size_t bl = strlen(base);
	size_t rl;

	/* "/" + "proc" must give "/proc", not "//proc"; "/host/" likewise. */
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	while (*rel == '/')
		rel++;
	rl = strlen(rel);
	if (bl + 1 + rl >= dstlen)
		return KM_EINVAL;
	memcpy(dst, base, bl);
	dst[bl] = '/';
	memcpy(dst + bl + 1, rel, rl + 1);
	return 0;
}

void fdcache_init(struct fdcache *fc, size_t max_open)
{
	memset(fc, 0, sizeof(*fc));
	fc->max_open = max_open;
}

/* Closes e's descriptor (the kept mountinfo copy belongs to it). */
static void ent_close(struct fdcache *fc, struct fdcache_ent *e)
{
	if (e->fd >= 0) {
		close(e->fd);
		fc->nopen--;
	}
	e->fd = FDC_CLOSED;
	free(e->keep);
	e->keep = NULL;
	e->keep_len = 0;
	e->keep_age = 0;
}

static void ent_release(struct fdcache *fc, struct fdcache_ent *e)
{
	ent_close(fc, e);
	free(e->path);
	e->path = NULL;
}

void fdcache_fini(struct fdcache *fc)
{
	for (size_t i = 0; i < fc->nslots; i++)
		if (fc->ent[i].path)
			ent_release(fc, &fc->ent[i]);
	free(fc->ent);
	fc->ent = NULL;
	fc->nslots = fc->nused = fc->nopen = fc->nlive = 0;
	seqpred_fini(&fc->seq);
}

/* Marks e used in this generation. */
static void ent_touch(struct fdcache *fc, struct fdcache_ent *e)
{
	if (e->gen != fc->gen) {
		e->gen = fc->gen;
		fc->nlive++;
	}
}

/* Slot of path, or the free slot where it would go (NULL: no table). */
static struct fdcache_ent *slot_find(struct fdcache *fc, const char *path, uint32_t h)
{
	size_t mask = fc->nslots - 1;

	if (!fc->nslots)
		return NULL;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct fdcache_ent *e = &fc->ent[i];

		if (!e->path || (e->hash == h && strcmp(e->path, path) == 0))
			return e;
	}
}

/* Rebuilds the table with nslots slots, keeping only entries used in the
 * current generation when drop_stale is set. */
static int table_rebuild(struct fdcache *fc, size_t nslots, bool drop_stale)
{
	struct fdcache_ent *old = fc->ent, *ne;
	size_t oldn = fc->nslots;

	ne = calloc(nslots, sizeof(*ne));
	if (!ne)
		return KM_ENOMEM;
	seqpred_forget(&fc->seq);
	fc->ent = ne;
	fc->nslots = nslots;
	fc->nused = 0;
	for (size_t i = 0; i < oldn; i++) {
		struct fdcache_ent *e = &old[i], *d;

		if (!e->path)
			continue;
		if (drop_stale && e->gen != fc->gen) {
			ent_release(fc, e);
			continue;
		}
		d = slot_find(fc, e->path, e->hash);
		*d = *e;
		fc->nused++;
	}
	free(old);
	return 0;
}

void fdcache_sweep(struct fdcache *fc)
{
	/* Counted, not searched for (a scan of every slot per scrape). On
	 * allocation failure the stale entries simply stay one more round. */
	if (fc->nlive < fc->nused)
		table_rebuild(fc, fc->nslots, true);
	fc->gen++;
	fc->nlive = 0;
	seqpred_restart(&fc->seq);
}

/* Entry for path, created if absent (fd FDC_CLOSED); NULL when the cache is
 * disabled, full or out of memory (the caller then opens and closes). */
static struct fdcache_ent *fdcache_get(struct fdcache *fc, const char *path)
{
	size_t guess = seqpred_guess(&fc->seq);
	struct fdcache_ent *e;
	uint32_t h;

	if (!fc->max_open)
		return NULL;
	if (guess < fc->nslots && fc->ent[guess].path && strcmp(fc->ent[guess].path, path) == 0) {
		e = &fc->ent[guess];
		goto out;
	}
	h = hash32_str(path);
	e = slot_find(fc, path, h);
	if (e && e->path)
		goto out;
	/* Keep the load factor at most 1/2; entries include NOCACHE notes. */
	if (fc->nused >= 2 * fc->max_open)
		return NULL;
	if ((fc->nused + 1) * 2 > fc->nslots) {
		if (table_rebuild(fc, fc->nslots ? fc->nslots * 2 : 64, false))
			return NULL;
		e = slot_find(fc, path, h);
	}
	e->path = strdup(path);
	if (!e->path)
		return NULL;
	e->hash = h;
	e->tag = 0;
	e->fd = FDC_CLOSED;
	e->one_read = -1;
	e->mounts = false;
	e->keep = NULL;
	e->keep_len = 0;
	e->keep_age = 0;
	e->keep_gen = 0;
	e->gen = fc->gen - 1; /* counted live below */
	fc->nused++;
out:
	ent_touch(fc, e);
	seqpred_note(&fc->seq, (size_t)(e - fc->ent));
	return e;
}

/* procfs files (relative to the procfs root) whose first read can be known
 * to hold the whole file, which saves the read() that would only return 0:
 * for /proc/sys, udp, snmp6 or netstat that read costs 4-10 us (the kernel
 * runs the handler or walks the socket table again), ~60 us a scrape.
 * rec 0: rendered whole by one show() (single_open(), proc_create_single(),
 * the /proc/sys handlers): a read shorter than asked is everything.
 * rec > 0: a seq_file of records at most rec bytes long; seq_file ends a
 * read early only when the next record does not fit in its buffer of at
 * least a page, so a short read of at most 4096 - rec bytes ended at EOF.
 * mountinfo (unbounded lines), mdstat and the rest are read to EOF. */
static const struct {
	const char *rel;
	int16_t rec;
} one_read_files[] = {
	{ "stat", 0 },
	{ "meminfo", 0 },
	{ "loadavg", 0 },
	{ "pressure/cpu", 0 },
	{ "pressure/io", 0 },
	{ "pressure/memory", 0 },
	{ "pressure/irq", 0 },
	{ "net/netstat", 0 },
	{ "net/snmp", 0 },
	{ "net/snmp6", 0 },
	{ "net/sockstat", 0 },
	{ "net/sockstat6", 0 },
	{ "vmstat", 64 },                /* "name value": names under 40 bytes */
	{ "diskstats", 1024 },           /* 20 numbers and a disk name */
	{ "net/dev", 1024 },             /* 16 numbers and an interface name */
	{ "net/udp", 1024 },             /* padded to 128 bytes */
	{ "net/udp6", 1024 },
	{ "net/arp", 1024 },
	{ "net/softnet_stat", 1024 },    /* 13 hex numbers per CPU */
	{ "net/stat/nf_conntrack", 1024 },
};

static int16_t one_read_rule(const char *rel)
{
	while (*rel == '/')
		rel++;
	if (strncmp(rel, "sys/", 4) == 0)
		return 0;
	for (size_t i = 0; i < sizeof(one_read_files) / sizeof(one_read_files[0]); i++)
		if (strcmp(rel, one_read_files[i].rel) == 0)
			return one_read_files[i].rec;
	return -1;
}

/* True when fd is on a filesystem whose files are regenerated per read;
 * *one_read is read_all()'s rule for it: 0 for a sysfs attribute (rendered
 * by one show() into at most a page), procfs files by rel (above). */
static bool fd_is_virtual(int fd, const char *rel, int16_t *one_read)
{
	struct statfs sf;

	if (fstatfs(fd, &sf) != 0)
		return false;
	*one_read = sf.f_type == SYSFS_MAGIC ? 0 : sf.f_type == PROC_SUPER_MAGIC ? one_read_rule(rel) : -1;
	return sf.f_type == PROC_SUPER_MAGIC || sf.f_type == SYSFS_MAGIC;
}

/* pread() without glibc's cancellation bracket: pread is a cancellation
 * point, so in a threaded process each call switches asynchronous
 * cancellation on and off around the syscall (two atomic updates, ~1 % of
 * a node scrape's cycles over ~115 reads). No k8smon thread is cancelled. */
static ssize_t pread_plain(int fd, void *dst, size_t n, off_t off)
{
#if defined(SYS_pread64) && UINTPTR_MAX == UINT64_MAX
	return syscall(SYS_pread64, fd, dst, n, off);
#else
	return pread(fd, dst, n, off);
#endif
}

/* Reads fd from offset 0 to EOF into pf->b; on failure *err is the errno.
 * one_read >= 0: a first read shorter than asked (and, for one_read > 0,
 * at most 4096 - one_read bytes) is the whole file; see one_read_files. */
static int read_all(struct procfile *pf, int fd, int one_read, int *err)
{
	off_t off = 0;
	int rc;

	buf_reset(&pf->b);
	for (;;) {
		size_t want;
		ssize_t n;

		/* Ask for at least 4 KiB each time; procfs fills at most a page
		 * per read for many files, so the loop usually runs twice. */
		rc = buf_reserve(&pf->b, 4096);
		if (rc)
			return rc;
		want = pf->b.alloc - pf->b.len - 1;
		n = pread_plain(fd, pf->b.data + pf->b.len, want, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*err = errno;
			return km_from_errno(errno);
		}
		if (n == 0)
			break;
		off += n;
		pf->b.len += (size_t)n;
		pf->b.data[pf->b.len] = '\0';
		if (one_read >= 0 && off == n && (size_t)n < want &&
		    (one_read == 0 || (size_t)n + (size_t)one_read <= 4096))
			break;
	}
	if (!pf->b.data) {
		rc = buf_reserve(&pf->b, 1);
		if (rc)
			return rc;
		pf->b.data[0] = '\0';
	}
	return 0;
}

/* True when e's kept copy of a mountinfo still holds: the kernel flags a
 * mountinfo descriptor with POLLPRI|POLLERR once after every change of its
 * mount namespace's table since open or the last poll() (proc(5), what
 * libmount watches), so an unflagged descriptor would read what keep holds.
 * Reading mountinfo costs ~40 us a scrape here (a path per mount), hundreds
 * on nodes with many pod volumes; node_exporter reads it every scrape. */
static bool mounts_unchanged(struct fdcache_ent *e)
{
	struct pollfd p = { .fd = e->fd, .events = POLLPRI };
	int n;

	if (!e->keep || e->keep_age >= NODE_MOUNTS_MAX_AGE)
		return false;
	/* 0: none of POLLPRI, POLLERR, POLLHUP, POLLNVAL is set. */
	n = poll(&p, 1, 0);
	if (n < 0 || (n > 0 && (p.revents & (POLLPRI | POLLERR | POLLHUP | POLLNVAL))))
		return false;
	e->keep_age++;
	return true;
}

/* Keeps a copy of what was just read through e's descriptor (a mountinfo);
 * without memory the next scrape reads again. */
static void mounts_keep(struct fdcache_ent *e, const struct buf *b)
{
	char *k = realloc(e->keep, b->len + 1);

	if (!k) {
		free(e->keep);
		e->keep = NULL;
		return;
	}
	memcpy(k, b->data, b->len + 1);
	e->keep = k;
	e->keep_len = b->len;
	e->keep_age = 0;
}

/* pf->b = e's kept mountinfo (the caller parses it in place). */
static int mounts_copy(struct procfile *pf, const struct fdcache_ent *e)
{
	buf_reset(&pf->b);
	return buf_add(&pf->b, e->keep, e->keep_len);
}

static bool is_mountinfo(const char *rel)
{
	size_t n = strlen(rel);

	return n >= 9 && strcmp(rel + n - 9, "mountinfo") == 0;
}

/* Errors meaning the descriptor no longer denotes a live file. */
static bool stale_errno(int e)
{
	return e == ENODEV || e == ESTALE || e == EBADF || e == ENOENT || e == ENXIO;
}

/* A per-scrape file's bytes, kept with the generation they were read in;
 * without memory the next read of this scrape reads the file again. */
static void scrape_keep(struct fdcache *fc, struct fdcache_ent *e, const struct buf *b)
{
	char *k = realloc(e->keep, b->len + 1);

	if (!k) {
		free(e->keep);
		e->keep = NULL;
		e->keep_len = 0;
		return;
	}
	memcpy(k, b->data, b->len + 1);
	e->keep = k;
	e->keep_len = b->len;
	e->keep_gen = fc->gen;
}

/* True when base is the root of a procfs mount (checked once per path, at
 * the ENOENT that may make a boot-time file's absence permanent). */
static bool base_is_procfs(const char *base)
{
	struct statfs sf;

	return statfs(base, &sf) == 0 && sf.f_type == PROC_SUPER_MAGIC;
}

/* procfile_read_tag(), opening at_rel under dirfd when dirfd >= 0; with
 * per_scrape, see procfile_read_scrape(); with boot_only, see
 * procfile_read_boot(). */
static int read_path(struct procfile *pf, int dirfd, const char *at_rel, const char *base,
		     const char *rel, uint64_t tag, bool per_scrape, bool boot_only,
		     const char **data, size_t *len)
{
	struct fdcache_ent *e = NULL;
	int fd = -1;
	int err = 0;
	int rc;

	buf_reset(&pf->b);
	rc = node_path_join(pf->path, sizeof(pf->path), base, rel);
	if (rc)
		goto out;
	if (pf->fc)
		e = fdcache_get(pf->fc, pf->path);
	if (e && e->fd == FDC_ABSENT) {
		rc = KM_ENOENT;
		goto out;
	}
	if (e && per_scrape && e->keep && e->keep_gen == pf->fc->gen) {
		rc = buf_add(&pf->b, e->keep, e->keep_len);
		goto out_data;
	}
	if (e && e->fd >= 0 && e->tag != tag) {
		/* The name now denotes another object: never read the old one. */
		ent_close(pf->fc, e);
	}
	if (e && e->fd >= 0) {
		if (e->mounts && mounts_unchanged(e)) {
			rc = mounts_copy(pf, e);
			goto done;
		}
		rc = read_all(pf, e->fd, e->one_read, &err);
		if (!rc && e->mounts)
			mounts_keep(e, &pf->b);
		if (!rc || !stale_errno(err))
			goto done;
		ent_close(pf->fc, e);
	}
	if (dirfd >= 0)
		fd = openat(dirfd, at_rel, O_RDONLY | O_CLOEXEC);
	else
		fd = open(pf->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = km_from_errno(errno);
		if (rc == KM_ENOENT && e && boot_only && base_is_procfs(base))
			e->fd = FDC_ABSENT;
		goto out;
	}
	/* Decide once per path whether its descriptor is worth keeping; when
	 * the cache is full the path stays FDC_CLOSED and is tried again. */
	if (e && e->fd == FDC_CLOSED && pf->fc->nopen < pf->fc->max_open) {
		if (fd_is_virtual(fd, rel, &e->one_read)) {
			e->fd = fd;
			e->tag = tag;
			e->mounts = e->one_read < 0 && is_mountinfo(rel);
			pf->fc->nopen++;
			fd = -1; /* now owned by the cache */
		} else {
			e->fd = FDC_NOCACHE;
		}
	}
	rc = read_all(pf, e && e->fd >= 0 ? e->fd : fd, e && e->fd >= 0 ? e->one_read : -1, &err);
	if (!rc && e && e->fd >= 0 && e->mounts)
		mounts_keep(e, &pf->b);
done:
	if (!rc && e && per_scrape)
		scrape_keep(pf->fc, e, &pf->b);
out_data:
	if (!rc) {
		*data = pf->b.data;
		*len = pf->b.len;
	}
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

int procfile_read_tag(struct procfile *pf, const char *base, const char *rel, uint64_t tag,
		      const char **data, size_t *len)
{
	return read_path(pf, -1, NULL, base, rel, tag, false, false, data, len);
}

int procfile_read(struct procfile *pf, const char *base, const char *rel,
		  const char **data, size_t *len)
{
	return read_path(pf, -1, NULL, base, rel, 0, false, false, data, len);
}

int procfile_read_at(struct procfile *pf, int dirfd, const char *at_rel, const char *base,
		     const char *rel, const char **data, size_t *len)
{
	return read_path(pf, dirfd, at_rel, base, rel, 0, false, false, data, len);
}

int procfile_read_scrape(struct procfile *pf, const char *base, const char *rel,
			 const char **data, size_t *len)
{
	return read_path(pf, -1, NULL, base, rel, 0, true, false, data, len);
}

int procfile_read_boot(struct procfile *pf, const char *base, const char *rel,
		       const char **data, size_t *len)
{
	return read_path(pf, -1, NULL, base, rel, 0, false, true, data, len);
}

/* Entry of base/rel if the cache has it (never inserted), NULL otherwise. */
static struct fdcache_ent *ent_lookup(struct procfile *pf, const char *base, const char *rel)
{
	struct fdcache_ent *e;

	if (!pf->fc || node_path_join(pf->path, sizeof(pf->path), base, rel))
		return NULL;
	e = slot_find(pf->fc, pf->path, hash32_str(pf->path));
	return e && e->path ? e : NULL;
}

bool procfile_kept(struct procfile *pf, const char *base, const char *rel)
{
	struct fdcache_ent *e = ent_lookup(pf, base, rel);

	if (!e || e->fd < 0)
		return false;
	ent_touch(pf->fc, e); /* still wanted: not closed by this scrape's sweep */
	return true;
}

int procfile_peek_scrape(struct procfile *pf, const char *base, const char *rel,
			 const char **data, size_t *len)
{
	const struct fdcache_ent *e = ent_lookup(pf, base, rel);

	if (!e || !e->keep || e->keep_gen != pf->fc->gen)
		return KM_ENOENT;
	*data = e->keep;
	*len = e->keep_len;
	return 0;
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

int node_parse_numbers(const char *data, size_t len, double *v, size_t n)
{
	const char *p = data;
	int rc = 0;

	for (size_t i = 0; !rc && i < n; i++)
		rc = node_parse_double_field(&p, data + len, &v[i]);
	return rc;
}

int node_read_numbers_at(struct node_ctx *ctx, const char *base, const char *rel, double *v)
{
	const char *data = NULL;
	size_t len;
	int rc = procfile_read(&ctx->nc->pf, base, rel, &data, &len);

	if (!rc)
		rc = node_parse_numbers(data, len, v, 1);
	return rc;
}

int node_read_numbers(struct node_ctx *ctx, const char *rel, double *v, size_t n)
{
	const char *data = NULL;
	size_t len;
	int rc = procfile_read(&ctx->nc->pf, ctx->procfs, rel, &data, &len);

	if (!rc)
		rc = node_parse_numbers(data, len, v, n);
	return rc;
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
