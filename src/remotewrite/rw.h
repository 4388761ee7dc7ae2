/* Remote write: the agent pushes everything it exposes to one or more
 * Prometheus remote-write 1.0 receivers (DESIGN.md §5 "remote-write
 * destinations"; -remoteWrite.* flags, docs/remote-write.md).
 *
 * One collector thread renders every endpoint section at each interval
 * through the agent's callback (the same text the HTTP endpoints serve),
 * encodes it (encode.h) into WriteRequests of at most RW_BLOCK_SERIES
 * series, compresses each once with snappy and appends it to every
 * destination's queue (queue.h); one sender thread per destination
 * (sender.h) empties its queue. A slow or dead destination only grows its
 * own queue.
 *
 * libcurl and libsnappy must have been loaded (dl/curl.h, dl/snappy.h)
 * before rw_start. */
#ifndef K8SMON_REMOTEWRITE_RW_H
#define K8SMON_REMOTEWRITE_RW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/label.h"
#include "remotewrite/dest.h"

/* Series per block: vmagent's default -remoteWrite.maxRowsPerBlock. */
#define RW_BLOCK_SERIES 10000

/* The agent's sections, each with the labels of its scrape job. */
enum rw_source { RW_SRC_NODE, RW_SRC_CADVISOR, RW_SRC_KUBE_STATE, RW_SRC_APPS, RW_SRC_COMPONENTS, RW_SRC_SELF,
		 RW_SRC_N };

/* Receives the text of a section piece by piece. */
typedef int (*rw_sink_fn)(void *sink_ctx, const char *text, size_t n);
/* Renders section src into sink; called on the collector thread. */
typedef int (*rw_render_fn)(void *ctx, enum rw_source src, rw_sink_fn sink, void *sink_ctx);

/* Takes one reference to a target's encoded series (remotewrite/chunks.h). */
struct rw_chunks;
typedef int (*rw_chunks_fn)(void *fn_ctx, struct rw_chunks *k);
/* The application samples, encoded at the scrape: arms the encoding with
 * the external labels and the node name (every call; the first one counts)
 * and, with fn, hands fn each target's series not sent yet
 * (scrape_mgr_push_collect). Called on the collector thread, and once from
 * rw_start with fn NULL. */
typedef int (*rw_collect_fn)(void *ctx, const struct label_pair *ext, size_t next, const char *node,
			     rw_chunks_fn fn, void *fn_ctx);

struct rw_opts {
	const struct rw_dest *dests;    /* borrowed during rw_start; checked (rw_dest_check) */
	size_t ndests;
	char *const *labels;            /* "name=value" external labels, validated */
	size_t nlabels;
	const char *tmp_data_path;      /* "" memory queues */
	uint64_t max_disk_per_url;
	int64_t interval_ms;
	int64_t send_timeout_ms;
	int64_t retry_min_ms;
	const char *node_name;          /* instance / node labels */
	rw_render_fn render;
	void *render_ctx;               /* borrowed; outlives rw */
	/* When set, RW_SRC_APPS comes from it instead of render: each scrape
	 * sent once, with its own timestamp, in blocks concatenated from
	 * the scrape's compressed chunks. Context: render_ctx. */
	rw_collect_fn collect;
	/* -promscrape.noStaleMarkers: the rendered sections get no staleness
	 * markers (remotewrite/stale.h rw_track; the application targets'
	 * are the scrapes', scrape_mgr_set_stale_markers). */
	bool no_stale_markers;
};

struct rw;

/* NULL with one line in err (a queue directory that cannot be created or
 * read, no memory, no thread). */
struct rw *rw_start(const struct rw_opts *o, char *err, size_t errlen);
/* Stops the collector, then the senders (in-flight POSTs aborted, after
 * up to 5 s for the answer to a body already sent whole; queued blocks
 * stay on disk for the next start). */
void rw_stop(struct rw *rw);
/* Replaces the set of destinations live (a K8sMonitor changed, or the
 * Secrets it names). A destination's identity is its URL: one whose URL
 * stays keeps its queue (what is queued is still sent, by a new sender when
 * its settings changed); a new URL gets a queue (its directory under
 * tmpDataPath, so blocks queued for that URL before a restart are sent); a
 * URL no longer listed has its sender stopped and its queue closed (on
 * disk the files stay, and are sent if the URL comes back). A destination
 * whose queue cannot be opened is left out, with the reason in err
 * (KM_EIO); the others are applied. Thread-safe. */
int rw_set_dests(struct rw *rw, const struct rw_dest *dests, size_t n, char *err, size_t errlen);
/* k8smon_remotewrite_* self-metrics. Thread-safe. */
int rw_write_metrics(struct rw *rw, struct buf *out);

/* Checks one -remoteWrite.label value ("name=value", valid label name,
 * not __name__); 0 or KM_EINVAL with the reason in err. */
int rw_label_check(const char *kv, char *err, size_t errlen);
/* The URL with user:password@ and the query string removed, for labels and
 * logs. */
void rw_url_redact(const char *url, char *dst, size_t n);

#endif
