/* The sender of one remote-write destination: a thread that takes the
 * oldest block of its queue and POSTs it (Prometheus remote write 1.0:
 * Content-Encoding: snappy, Content-Type: application/x-protobuf,
 * X-Prometheus-Remote-Write-Version: 0.1.0) until the destination takes it.
 *
 * Outcome of one POST: 2xx: sent, popped. 429, 5xx or a transport error
 * (refused, reset, timeout after send_timeout_ms): retried after a jittered
 * exponential backoff (base/clock.h, retry_min_ms doubling to 1 min), the
 * block stays first, so order is kept. Any other status (400, 413, ...):
 * the receiver will never take this block, so it is dropped, counted, and
 * logged at most once a minute with the status and the start of the body.
 *
 * Protocol (dest.h rw_proto): blocks are queued snappy-compressed; for a
 * receiver speaking VictoriaMetrics' variant (asked once per sender with
 * GET url?get_vm_proto_version=1, as vmagent does) each block is
 * re-compressed with zstd when sent (Content-Encoding: zstd). A 415 to a
 * zstd POST switches the sender to snappy and resends at once.
 *
 * Auth, TLS and custom headers: dest.h; token and password files are
 * re-read per request.
 *
 * Blocking libcurl easy transfers on the sender's own thread rather than
 * the Kubernetes I/O loop: host mode has no loop, and one destination that
 * hangs must not delay the API watches. libcurl is loaded by main
 * (dl/curl.h) when -remoteWrite.url is set. */
#ifndef K8SMON_REMOTEWRITE_SENDER_H
#define K8SMON_REMOTEWRITE_SENDER_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "remotewrite/dest.h"
#include "remotewrite/queue.h"

struct rw_sender_opts {
	const struct rw_dest *dest;    /* copied */
	int64_t send_timeout_ms;
	int64_t retry_min_ms;
	struct rw_queue *q;            /* borrowed; outlives the sender */
};

struct rw_sender_stats {
	uint64_t blocks_sent;
	uint64_t bytes_sent;
	uint64_t retries;            /* failed attempts that will be retried */
	uint64_t dropped_rejected;   /* blocks dropped on a non-retryable status */
	uint64_t requests;           /* POSTs that completed or failed */
	double duration_sum_s;       /* wall time of those POSTs */
	double last_error_s;         /* unix time of the last failed attempt; 0: none */
	double last_success_s;
	bool vm_proto;               /* sending zstd (VictoriaMetrics protocol) */
};

struct rw_sender;

/* Starts the thread. NULL with a line in err on failure. */
struct rw_sender *rw_sender_start(const struct rw_sender_opts *o, char *err, size_t errlen);
/* Stops it (an in-flight POST is aborted, its block staying queued; one
 * whose body went out whole gets up to 5 s for its answer first, so that a
 * block the receiver stored is not sent again after a restart). */
void rw_sender_stop(struct rw_sender *s);
void rw_sender_stats(struct rw_sender *s, struct rw_sender_stats *out);

#endif
