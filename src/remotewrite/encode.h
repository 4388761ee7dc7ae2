/* Exposition text -> remote-write WriteRequests.
 *
 * The agent's endpoints already render everything it collects as text
 * (DESIGN.md §3); the encoder parses that text with the scraper's parser
 * (expo/parser.h), gives each sample the labels a scraper of that endpoint
 * would have given it (the chart's PodMonitor jobs) plus the external
 * labels, and appends it to a WriteRequest. Reusing the rendering keeps one
 * source of truth for names, labels and filters (a second, sample-level
 * path into every collector would have to repeat each of them); parsing
 * costs about what a Prometheus scraping the endpoint would spend.
 *
 * Label precedence, as Prometheus applies target labels:
 *  - honor = false: a target label replaces the exposition's, which is kept
 *    as exported_<name> (honor_labels: false);
 *  - honor = true: the exposition's label wins (honor_labels: true);
 *  - external labels (-remoteWrite.label) are set last and win over both.
 * Samples without a timestamp get the cycle's; those with one keep it.
 *
 * A WriteRequest is handed to the flush callback when it reaches
 * max_series series or 8 MiB (and at rw_encoder_flush), uncompressed; the callback
 * compresses and queues it. Not thread-safe: one encoder per collector
 * thread. */
#ifndef K8SMON_REMOTEWRITE_ENCODE_H
#define K8SMON_REMOTEWRITE_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "expo/writer.h"

struct rw_encoder;

/* A block is also closed at this many uncompressed bytes (vmagent's
 * -remoteWrite.maxBlockSize default), whatever its series count: long label
 * values cannot make a block the queue refuses (queue.h RW_BLOCK_MAX). */
#define RW_BLOCK_BYTES (8u << 20)

/* Receives a complete WriteRequest (borrowed for the call). Returning
 * non-zero stops the encoding and is returned by feed/end/flush. */
typedef int (*rw_flush_fn)(void *ctx, const char *pb, size_t len, size_t series);

struct rw_target {
	const struct label_pair *labels; /* borrowed; job, instance, ... */
	size_t n;
	bool honor;
};

/* ext: external labels, borrowed for the encoder's life. NULL on allocation failure. */
struct rw_encoder *rw_encoder_new(size_t max_series, const struct label_pair *ext, size_t next,
				  rw_flush_fn flush, void *ctx);
void rw_encoder_free(struct rw_encoder *e);
/* Starts one endpoint's text; t is borrowed until rw_encoder_end. */
void rw_encoder_begin(struct rw_encoder *e, const struct rw_target *t, int64_t ts_ms);
int rw_encoder_feed(struct rw_encoder *e, const char *text, size_t n);
int rw_encoder_end(struct rw_encoder *e);
/* Tracks the series of the endpoint begun (rw_encoder_begin) in t
 * (remotewrite/stale.h rw_track_add), until rw_encoder_end; NULL: none.
 * t is borrowed until then. */
struct rw_track;
void rw_encoder_track(struct rw_encoder *e, struct rw_track *t);
/* Hands over what is pending (nothing when empty). */
int rw_encoder_flush(struct rw_encoder *e);
/* Samples encoded and lines the parser rejected, since new. */
uint64_t rw_encoder_samples(const struct rw_encoder *e);
uint64_t rw_encoder_rejected(const struct rw_encoder *e);

#endif
