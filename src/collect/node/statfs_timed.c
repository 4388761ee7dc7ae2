/* statfs() with node_exporter's --collector.filesystem.mount-timeout.
 *
 * A statfs() on a dead NFS server, a hung FUSE daemon or a lost CIFS share
 * does not return. node_exporter runs it on a worker, marks the mount point
 * stuck once the timeout passes, and skips stuck mounts (device_error
 * "mountpoint timeout") until the blocked call returns. Here the same,
 * except that the scrape does not wait for the hung call either: it waits
 * at most the timeout, the call is left to a detached thread that clears
 * the stuck mark when (if ever) it returns.
 *
 * Filesystems whose statfs() answers from memory (local block filesystems,
 * tmpfs) are called directly: a thread per call would cost more CPU than
 * the whole rest of the filesystem collector. Every other type (nfs, cifs,
 * fuse.*, ceph, 9p, virtiofs, ...) goes through the timed path.
 *
 * The stuck set is shared by the collector and the blocked threads and
 * reference counted, so a collector freed while a call hangs leaves the
 * thread nothing freed to touch. */
#include "collect/node/node_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"

/* Most mount points remembered as stuck (further ones are still timed
 * out, just not remembered: each scrape waits for them again). */
#define STUCK_MAX 256

struct stuck_set {
	pthread_mutex_t mu;
	int refs;                      /* the collector + each running call */
	char *mp[STUCK_MAX];           /* owned; NULL: free slot */
};

/* One timed call, shared by the scrape and its thread. */
struct statfs_job {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;                      /* 2 while both sides hold it */
	bool done;
	int err;                       /* errno of the call, 0 on success */
	struct statfs st;
	node_statfs_fn fn;
	struct stuck_set *stuck;       /* counted reference */
	char *mp;                      /* owned */
	char path[PATH_MAX];
};

static const char *const direct_types[] = {
	"ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "ramfs", "vfat", "msdos", "exfat",
	"f2fs", "jfs", "reiserfs", "nilfs2", "bcachefs", "zfs", "hfsplus", "ntfs", "ntfs3",
	"devtmpfs", "overlay", "squashfs", "erofs", "iso9660", "udf", "efivarfs", NULL,
};

bool node_statfs_direct(const char *fstype)
{
	for (size_t i = 0; direct_types[i]; i++)
		if (strcmp(fstype, direct_types[i]) == 0)
			return true;
	return false;
}

struct stuck_set *stuck_set_new(void)
{
	struct stuck_set *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	pthread_mutex_init(&s->mu, NULL);
	s->refs = 1;
	return s;
}

void stuck_set_unref(struct stuck_set *s)
{
	int left;

	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	left = --s->refs;
	pthread_mutex_unlock(&s->mu);
	if (left)
		return;
	for (size_t i = 0; i < STUCK_MAX; i++)
		free(s->mp[i]);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* Slot of mp, or -1. Caller holds s->mu. */
static int stuck_find(const struct stuck_set *s, const char *mp)
{
	for (int i = 0; i < STUCK_MAX; i++)
		if (s->mp[i] && strcmp(s->mp[i], mp) == 0)
			return i;
	return -1;
}

bool stuck_set_has(struct stuck_set *s, const char *mp)
{
	bool has;

	pthread_mutex_lock(&s->mu);
	has = stuck_find(s, mp) >= 0;
	pthread_mutex_unlock(&s->mu);
	return has;
}

size_t stuck_set_count(struct stuck_set *s)
{
	size_t n = 0;

	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < STUCK_MAX; i++)
		n += s->mp[i] != NULL;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* Remembers mp (a copy) unless it is there or the set is full. */
static void stuck_add(struct stuck_set *s, const char *mp)
{
	pthread_mutex_lock(&s->mu);
	if (stuck_find(s, mp) < 0) {
		for (size_t i = 0; i < STUCK_MAX; i++) {
			if (!s->mp[i]) {
				s->mp[i] = strdup(mp); /* NULL: not remembered, still correct */
				break;
			}
		}
	}
	pthread_mutex_unlock(&s->mu);
}

static void job_unref(struct statfs_job *j)
{
	int left;

	pthread_mutex_lock(&j->mu);
	left = --j->refs;
	pthread_mutex_unlock(&j->mu);
	if (left)
		return;
	stuck_set_unref(j->stuck);
	free(j->mp);
	pthread_cond_destroy(&j->cv);
	pthread_mutex_destroy(&j->mu);
	free(j);
}

static void *job_run(void *arg)
{
	struct statfs_job *j = arg;
	struct statfs st;
	int e = j->fn(j->path, &st) == 0 ? 0 : errno;
	int slot;

	pthread_mutex_lock(&j->mu);
	j->st = st;
	j->err = e;
	j->done = true;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	/* Returned at last: the mount is monitored again. After done is set,
	 * so a scrape that timed out either saw done or marked it first. */
	pthread_mutex_lock(&j->stuck->mu);
	slot = stuck_find(j->stuck, j->mp);
	if (slot >= 0) {
		free(j->stuck->mp[slot]);
		j->stuck->mp[slot] = NULL;
	}
	pthread_mutex_unlock(&j->stuck->mu);
	job_unref(j);
	return NULL;
}

int node_statfs_timed(node_statfs_fn fn, struct stuck_set *stuck, const char *path,
		      const char *mp, int64_t timeout_ms, struct statfs *st, int *err)
{
	struct statfs_job *j;
	pthread_condattr_t ca;
	pthread_attr_t attr;
	struct timespec dl;
	pthread_t t;
	int rc = 0;

	if (strlen(path) >= sizeof(j->path))
		return KM_EINVAL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return KM_ENOMEM;
	j->mp = strdup(mp);
	if (!j->mp) {
		free(j);
		return KM_ENOMEM;
	}
	memcpy(j->path, path, strlen(path) + 1);
	pthread_mutex_init(&j->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cv, &ca);
	pthread_condattr_destroy(&ca);
	j->fn = fn;
	j->refs = 2;
	pthread_mutex_lock(&stuck->mu);
	stuck->refs++;
	pthread_mutex_unlock(&stuck->mu);
	j->stuck = stuck;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* statfs needs little stack; the default 8 MiB would only be address space. */
	pthread_attr_setstacksize(&attr, 64 << 10);
	if (pthread_create(&t, &attr, job_run, j) != 0) {
		pthread_attr_destroy(&attr);
		/* No thread: call it here rather than lose the mount. */
		j->refs = 1;
		*err = fn(path, st) == 0 ? 0 : errno;
		job_unref(j);
		return 0;
	}
	pthread_attr_destroy(&attr);
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&j->mu);
	while (!j->done) {
		if (pthread_cond_timedwait(&j->cv, &j->mu, &dl) == ETIMEDOUT && !j->done) {
			rc = KM_ETIMEDOUT;
			/* Under j->mu: the thread cannot finish and clear the mark
			 * before it is set. */
			stuck_add(stuck, mp);
			break;
		}
	}
	if (j->done) {
		*st = j->st;
		*err = j->err;
	}
	pthread_mutex_unlock(&j->mu);
	job_unref(j);
	return rc;
}
