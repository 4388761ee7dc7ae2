#include "remotewrite/queue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "remotewrite/block.h"

#define PATH_MAX_RW 1200

struct entry {
	uint64_t seq;
	uint64_t size;  /* bytes counted against the cap */
	char *data;     /* memory mode: the payload (owned); NULL on disk */
};

struct rw_queue {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char *dir;           /* owned; NULL: memory */
	uint64_t max_bytes;
	struct entry *e;     /* owned, oldest first */
	size_t n, alloc;
	uint64_t next_seq;
	bool woken;
	/* The block the consumer is sending (picked by rw_queue_front). When
	 * the cap drops it meanwhile, it is counted only once its fate is
	 * known: delivered (its pop) is not a drop; abandoned (the next
	 * front without its pop) is. The count stays exact. */
	uint64_t inflight;
	bool has_inflight, inflight_dropped;
	struct rw_queue_stats st;
};

static void drop_at(struct rw_queue *q, size_t i);

/* Drops the oldest block for the cap (lock held). */
static void drop_oldest(struct rw_queue *q)
{
	if (q->has_inflight && q->e[0].seq == q->inflight)
		q->inflight_dropped = true;
	else
		q->st.dropped_overflow++;
	drop_at(q, 0);
}

static void block_path(const struct rw_queue *q, uint64_t seq, const char *ext, char *dst, size_t n)
{
	snprintf(dst, n, "%s/%016" PRIx64 "%s", q->dir, seq, ext);
}

/* Removes entry i (lock held), deleting its file. */
static void drop_at(struct rw_queue *q, size_t i)
{
	char path[PATH_MAX_RW];

	if (q->dir) {
		block_path(q, q->e[i].seq, ".blk", path, sizeof(path));
		if (unlink(path) != 0 && errno != ENOENT)
			log_warn("remotewrite", "cannot delete %s: %s", path, strerror(errno));
	}
	q->st.bytes -= q->e[i].size;
	q->st.blocks--;
	free(q->e[i].data);
	memmove(&q->e[i], &q->e[i + 1], (q->n - i - 1) * sizeof(q->e[0]));
	q->n--;
}

static int append_entry(struct rw_queue *q, uint64_t seq, uint64_t size, char *data)
{
	if (q->n == q->alloc) {
		size_t na = q->alloc ? q->alloc * 2 : 64;
		struct entry *ne = realloc(q->e, na * sizeof(*ne));

		if (!ne)
			return KM_ENOMEM;
		q->e = ne;
		q->alloc = na;
	}
	q->e[q->n++] = (struct entry){ seq, size, data };
	q->st.bytes += size;
	q->st.blocks++;
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	uint64_t x = ((const struct entry *)a)->seq, y = ((const struct entry *)b)->seq;

	return x < y ? -1 : x > y;
}

/* "<16 hex>.blk" -> seq; false for any other name. */
static bool parse_name(const char *name, uint64_t *seq)
{
	uint64_t v = 0;

	if (strlen(name) != 20 || strcmp(name + 16, ".blk") != 0)
		return false;
	for (int i = 0; i < 16; i++) {
		char c = name[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

		if (d < 0)
			return false;
		v = v << 4 | (uint64_t)d;
	}
	*seq = v;
	return true;
}

/* Header and size of an existing block file: 0, or KM_EPARSE/KM_EIO. */
static int check_file(const char *path, uint64_t *size)
{
	unsigned char hdr[RW_BLOCK_HDR];
	struct stat stt;
	size_t len;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return KM_EIO;
	if (fstat(fd, &stt) != 0) {
		rc = KM_EIO;
		goto out;
	}
	if (read(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr) || rw_block_check_header(hdr, &len) ||
	    (uint64_t)stt.st_size != len + RW_BLOCK_HDR) {
		rc = KM_EPARSE;
		goto out;
	}
	*size = (uint64_t)stt.st_size;
out:
	close(fd);
	return rc;
}

static int scan_dir(struct rw_queue *q, char *err, size_t errlen)
{
	char path[PATH_MAX_RW];
	struct dirent *de;
	DIR *d = opendir(q->dir);
	int rc = 0;

	if (!d) {
		snprintf(err, errlen, "cannot read %s: %s", q->dir, strerror(errno));
		return KM_EIO;
	}
	while ((de = readdir(d))) {
		uint64_t seq, size;
		size_t nl = strlen(de->d_name);

		snprintf(path, sizeof(path), "%s/%s", q->dir, de->d_name);
		/* A write the process did not finish renaming. */
		if (nl > 4 && strcmp(de->d_name + nl - 4, ".tmp") == 0) {
			unlink(path);
			continue;
		}
		if (!parse_name(de->d_name, &seq))
			continue;
		if (check_file(path, &size)) {
			log_warn("remotewrite", "queue file %s is damaged (bad header or size): deleted, not sent", path);
			unlink(path);
			q->st.dropped_corrupt++;
			continue;
		}
		rc = append_entry(q, seq, size, NULL);
		if (rc) {
			snprintf(err, errlen, "out of memory");
			break;
		}
		if (seq >= q->next_seq)
			q->next_seq = seq + 1;
	}
	closedir(d);
	if (q->n)
		qsort(q->e, q->n, sizeof(q->e[0]), cmp_entry);
	return rc;
}

struct rw_queue *rw_queue_open(const char *dir, uint64_t max_bytes, char *err, size_t errlen)
{
	struct rw_queue *q = calloc(1, sizeof(*q));

	if (!q) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	q->max_bytes = max_bytes;
	if (!dir || !dir[0]) {
		if (q->max_bytes > RW_QUEUE_MEM_MAX)
			q->max_bytes = RW_QUEUE_MEM_MAX;
		return q;
	}
	if (strlen(dir) > PATH_MAX_RW - 32) {
		snprintf(err, errlen, "path too long");
		goto fail;
	}
	q->dir = strdup(dir);
	if (!q->dir) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (mkdir(q->dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", q->dir, strerror(errno));
		goto fail;
	}
	if (scan_dir(q, err, errlen))
		goto fail;
	/* A cap lowered since the last run applies at once. */
	while (q->n && q->st.bytes > q->max_bytes) {
		drop_oldest(q);
	}
	return q;
fail:
	rw_queue_close(q);
	return NULL;
}

void rw_queue_close(struct rw_queue *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->n; i++)
		free(q->e[i].data);
	free(q->e);
	free(q->dir);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

void rw_queue_set_cap(struct rw_queue *q, uint64_t max_bytes)
{
	pthread_mutex_lock(&q->lock);
	q->max_bytes = !q->dir && max_bytes > RW_QUEUE_MEM_MAX ? RW_QUEUE_MEM_MAX : max_bytes;
	while (q->n && q->st.bytes > q->max_bytes) {
		drop_oldest(q);
	}
	pthread_mutex_unlock(&q->lock);
}

/* Writes one block file (no lock needed: its name is new). */
static int write_file(const struct rw_queue *q, uint64_t seq, const char *p, size_t n)
{
	char tmp[PATH_MAX_RW], path[PATH_MAX_RW];
	unsigned char hdr[RW_BLOCK_HDR];
	struct iovec iov[2] = { { hdr, sizeof(hdr) }, { (void *)p, n } };
	size_t want = sizeof(hdr) + n;
	ssize_t w;
	int fd, rc = 0;

	rw_block_header(hdr, p, n);
	block_path(q, seq, ".tmp", tmp, sizeof(tmp));
	block_path(q, seq, ".blk", path, sizeof(path));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return KM_EIO;
	w = writev(fd, iov, 2);
	if (w != (ssize_t)want)
		rc = KM_EIO;
	if (close(fd) != 0)
		rc = KM_EIO;
	if (!rc && rename(tmp, path) != 0)
		rc = KM_EIO;
	if (rc) {
		log_warn("remotewrite", "cannot write queue file %s (%s): block dropped", path,
			 w < 0 ? strerror(errno) : "short write");
		unlink(tmp);
	}
	return rc;
}

int rw_queue_push(struct rw_queue *q, const char *p, size_t n)
{
	uint64_t size = q->dir ? n + RW_BLOCK_HDR : n;
	char *data = NULL;
	uint64_t seq;
	int rc = 0;

	if (n == 0 || n > RW_BLOCK_MAX || size > q->max_bytes) {
		pthread_mutex_lock(&q->lock);
		q->st.dropped_overflow++;
		pthread_mutex_unlock(&q->lock);
		return KM_ETOOBIG;
	}
	if (!q->dir) {
		data = malloc(n);
		if (!data)
			return KM_ENOMEM;
		memcpy(data, p, n);
	}
	pthread_mutex_lock(&q->lock);
	seq = q->next_seq++;
	while (q->n && q->st.bytes + size > q->max_bytes) {
		drop_oldest(q);
	}
	pthread_mutex_unlock(&q->lock);
	/* The file is written outside the lock (the sender keeps sending);
	 * only this thread creates files, so seq order is push order. */
	if (q->dir && write_file(q, seq, p, n)) {
		pthread_mutex_lock(&q->lock);
		q->st.dropped_io++;
		pthread_mutex_unlock(&q->lock);
		return KM_EIO;
	}
	pthread_mutex_lock(&q->lock);
	rc = append_entry(q, seq, size, data);
	if (!rc) {
		data = NULL;
		pthread_cond_signal(&q->cond);
	}
	pthread_mutex_unlock(&q->lock);
	free(data);
	return rc;
}

bool rw_queue_wait(struct rw_queue *q, int64_t timeout_ms)
{
	struct timespec ts;
	bool any;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(timeout_ms / 1000);
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&q->lock);
	while (!q->n && !q->woken)
		if (pthread_cond_timedwait(&q->cond, &q->lock, &ts) != 0)
			break;
	q->woken = false;
	any = q->n > 0;
	pthread_mutex_unlock(&q->lock);
	return any;
}

void rw_queue_wake(struct rw_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->woken = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

/* Reads block file seq into out (payload only), checking it whole. */
static int read_file(const struct rw_queue *q, uint64_t seq, struct buf *out)
{
	char path[PATH_MAX_RW];
	char chunk[65536];
	ssize_t r;
	int rc = 0;
	int fd;

	block_path(q, seq, ".blk", path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? KM_ENOENT : KM_EIO;
	while ((r = read(fd, chunk, sizeof(chunk))) > 0) {
		rc = buf_add(out, chunk, (size_t)r);
		if (rc)
			break;
	}
	if (!rc && r < 0)
		rc = KM_EIO;
	close(fd);
	if (!rc && rw_block_verify(out->data, out->len))
		rc = KM_EPARSE;
	if (!rc) {
		memmove(out->data, out->data + RW_BLOCK_HDR, out->len - RW_BLOCK_HDR);
		buf_truncate(out, out->len - RW_BLOCK_HDR);
	}
	return rc;
}

int rw_queue_front(struct rw_queue *q, struct buf *out, uint64_t *seq)
{
	for (;;) {
		struct entry e;
		int rc;

		buf_reset(out);
		pthread_mutex_lock(&q->lock);
		/* The previous pick was dropped for the cap and not sent. */
		if (q->inflight_dropped)
			q->st.dropped_overflow++;
		q->inflight_dropped = false;
		q->has_inflight = false;
		if (!q->n) {
			pthread_mutex_unlock(&q->lock);
			return KM_ENOENT;
		}
		e = q->e[0];
		q->inflight = e.seq;
		q->has_inflight = true;
		if (!q->dir) {
			rc = buf_add(out, e.data, e.size);
			if (rc)
				q->has_inflight = false;
			pthread_mutex_unlock(&q->lock);
			if (!rc)
				*seq = e.seq;
			return rc;
		}
		pthread_mutex_unlock(&q->lock);
		/* Read outside the lock: only the consumer deletes the front
		 * after reading, but an overflow drop may delete it meanwhile
		 * (KM_ENOENT: try the new front). */
		rc = read_file(q, e.seq, out);
		if (!rc) {
			*seq = e.seq;
			return 0;
		}
		pthread_mutex_lock(&q->lock);
		if (rc == KM_ENOMEM) {
			q->has_inflight = false;
			pthread_mutex_unlock(&q->lock);
			return rc;
		}
		if (q->n && q->e[0].seq == e.seq) {
			if (rc == KM_EPARSE) {
				q->st.dropped_corrupt++;
				log_warn("remotewrite", "queue block %016" PRIx64 " in %s is damaged (CRC): deleted, not sent",
					 e.seq, q->dir);
			} else {
				q->st.dropped_io++;
				log_warn("remotewrite", "queue block %016" PRIx64 " in %s cannot be read: dropped",
					 e.seq, q->dir);
			}
			q->has_inflight = false;
			drop_at(q, 0);
		}
		pthread_mutex_unlock(&q->lock);
	}
}

void rw_queue_pop(struct rw_queue *q, uint64_t seq)
{
	pthread_mutex_lock(&q->lock);
	/* Sent (or rejected, counted by the sender): a cap drop meanwhile
	 * is no loss. */
	if (q->has_inflight && q->inflight == seq) {
		q->has_inflight = false;
		q->inflight_dropped = false;
	}
	if (q->n && q->e[0].seq == seq)
		drop_at(q, 0);
	pthread_mutex_unlock(&q->lock);
}

void rw_queue_stats(struct rw_queue *q, struct rw_queue_stats *out)
{
	pthread_mutex_lock(&q->lock);
	*out = q->st;
	pthread_mutex_unlock(&q->lock);
}
