/* Filesystem usage of CRI-O containers: what cAdvisor v0.56's CRI-O handler
 * (container/crio, common.FsHandler, fs.GetDirUsage) reports as a CRI-O
 * container's own container_fs_* rows, measured the same way:
 *
 *   ask       CRI-O's info API on its unix socket (HTTP/1.1):
 *             GET /info -> storage_driver (once, until it answers);
 *             GET /containers/<id> -> root (the overlay mount
 *             .../overlay/<layer>/merged) and log_path (the container's log
 *             file), once per container.
 *   measure   only for storage_driver overlay or overlay2 (cAdvisor reports
 *             no fs rows for other drivers): the writable layer
 *             <root without "/merged">/diff and the log file, read under
 *             rootfs (the host's "/" as seen here). Walk of the layer without
 *             following symlinks, not entering other devices: bytes =
 *             st_blocks x 512 of every entry (the layer directory included,
 *             an inode with several links once), inodes = entries counted;
 *             the log file adds its st_blocks x 512 to the bytes, not to
 *             the inodes.
 *   device    st_dev of the layer directory, named by the scrape from the
 *             host filesystem of the same major:minor (rootfs.h).
 *   when      by one background thread, not by the scrape: a container is
 *             asked about and measured as soon as a scrape first names it,
 *             then re-measured every period (cAdvisor: 1 min); after a failed
 *             round the period doubles up to 20 x (as cAdvisor's backoff) and
 *             the last good figures stay. A scrape reads the cached figures
 *             and never waits for CRI-O or a walk. Containers no scrape has
 *             named for two scrapes are forgotten.
 *
 * Bad answers (no socket, refused, timeout, non-200, garbage or oversized
 * JSON, missing fields) and failed walks are counted (crio_fs_health(); the
 * collector turns them into k8smon_collector_*{collector="container.crio"})
 * and logged at most once per 10 minutes; the container has no fs rows until a
 * round succeeds. At most CRIO_MAX_CTRS containers are tracked.
 *
 * Needs libcurl loaded (dl_curl_load(): Kubernetes mode or remote write);
 * without it nothing is asked and no rows are reported.
 *
 * Thread-safe: every call takes the object's lock; the worker thread holds
 * it only to pick and to store, never while it talks to CRI-O or walks. */
#ifndef K8SMON_COLLECT_CONTAINER_CRIO_H
#define K8SMON_COLLECT_CONTAINER_CRIO_H

#include <stdbool.h>
#include <stdint.h>

#define CRIO_MAX_CTRS 8192
#define CRIO_BODY_MAX (1u << 20)     /* cap on one CRI-O answer */
#define CRIO_TIMEOUT_MS 5000         /* one request, connect included */
#define CRIO_PERIOD_MS 60000         /* cAdvisor's common.DefaultPeriod */
#define CRIO_BACKOFF_MAX 20          /* cAdvisor's maxBackoffFactor */
#define CRIO_INODE_SET_MAX (1u << 20) /* hard-linked inodes remembered per walk */

struct crio_fs_usage {
	uint32_t major;    /* st_dev of the writable layer */
	uint32_t minor;
	uint64_t bytes;    /* layer + log file */
	uint64_t inodes;   /* layer only */
};

struct crio_fs;

/* A tracker talking to socket (copied; the path as seen by this process),
 * reading the paths CRI-O names under rootfs (copied; NULL or "/" = as
 * named), measuring every period_ms (0 = CRIO_PERIOD_MS). The thread starts
 * at the first crio_fs_get(). NULL on allocation failure. */
struct crio_fs *crio_fs_new(const char *socket, const char *rootfs, int64_t period_ms);
/* Stops the thread (waits for the request or walk in progress: at most
 * CRIO_TIMEOUT_MS or one walk) and frees everything. NULL is fine. */
void crio_fs_free(struct crio_fs *c);

/* Marks the start of a scrape (containers are forgotten by scrape count). */
void crio_fs_begin(struct crio_fs *c);
/* The cached figures of CRI-O container id (64 hex) into *u: true when a
 * measurement exists. A container not seen before is queued for the thread.
 * False, nothing queued, when libcurl is not loaded or the thread cannot
 * start (logged). */
bool crio_fs_get(struct crio_fs *c, const char *id, struct crio_fs_usage *u);
/* Forgets the containers the last two scrapes did not name. */
void crio_fs_end(struct crio_fs *c);
/* Waits until every queued container had its first round (or timeout_ms
 * passed): for test drivers, which scrape once and print. KM_OK or
 * KM_ETIMEDOUT. */
int crio_fs_settle(struct crio_fs *c, int64_t timeout_ms);
/* The tracker's health, read at once. */
struct crio_fs_health {
	bool started;        /* the thread runs (a CRI-O container was named, libcurl loaded) */
	uint64_t errors;     /* failed rounds so far (requests and walks) */
	double last_round_s; /* the last finished round (requests and walk), 0 before one */
};
void crio_fs_health(struct crio_fs *c, struct crio_fs_health *h);

#endif
