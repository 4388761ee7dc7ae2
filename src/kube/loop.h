/* The I/O loop: one thread owning one libcurl multi handle (DESIGN.md §5).
 * Every API request, watch, Lease renewal and (later) application scrape is an
 * easy handle on it; timers drive backoff and periodic work. The loop drives
 * the multi handle through libcurl's socket interface (epoll over the sockets
 * libcurl names), so a wakeup costs the ready transfers only.
 *
 * Threads:
 *  - kube_loop_post() / kube_loop_call() / kube_loop_stop() may be called from
 *    any thread; posted functions run on the loop thread, in order.
 *  - Everything else (add/remove easy handles, timers) must be called on the
 *    loop thread, i.e. from a posted function, a timer or a completion
 *    callback. All callbacks run on the loop thread.
 *
 * Ownership: easy handles stay owned by whoever added them; the loop only
 * calls the completion callback (after which the handle is no longer on the
 * multi) or, at stop, the callback with CURLE_ABORTED_BY_CALLBACK. Timer and
 * post arguments are borrowed. */
#ifndef K8SMON_KUBE_LOOP_H
#define K8SMON_KUBE_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "dl/curl.h"

struct kube_loop;

typedef void (*kube_loop_fn)(void *arg);
/* Transfer finished (or aborted at stop): the handle is already removed from
 * the multi handle; the callee may free or reuse it. */
typedef void (*kube_easy_done_fn)(CURL *easy, CURLcode res, void *arg);

/* Constructor: NULL on failure. curl_global_init() must have been called. */
struct kube_loop *kube_loop_new(void);
/* Starts the thread. */
int kube_loop_start(struct kube_loop *l);
/* Stops and joins the thread (any thread but the loop's). Before exiting, the
 * loop runs every posted function still queued, then calls the done callback
 * of every remaining transfer with CURLE_ABORTED_BY_CALLBACK; pending timers
 * are dropped without running. Idempotent. */
void kube_loop_stop(struct kube_loop *l);
/* Frees a stopped (or never started) loop. */
void kube_loop_free(struct kube_loop *l);

/* Queue fn(arg) to run on the loop thread and wake it. Returns KM_ENOMEM, or
 * KM_EAGAIN once the loop is stopping (fn will not run). */
int kube_loop_post(struct kube_loop *l, kube_loop_fn fn, void *arg);
/* Run fn(arg) on the loop thread and wait for it to return. Called on the
 * loop thread it runs fn directly. If the loop is not running (never
 * started or already stopped) fn runs on the caller's thread, since nothing
 * else can race with it then. */
int kube_loop_call(struct kube_loop *l, kube_loop_fn fn, void *arg);
/* True when called on the loop thread. */
bool kube_loop_on_thread(struct kube_loop *l);

/* ---- loop thread only ---- */

/* Adds a configured easy handle; done runs on completion. On error done is
 * never called. */
int kube_loop_add_easy(struct kube_loop *l, CURL *easy, kube_easy_done_fn done, void *arg);
/* Aborts a transfer: removed from the multi, done is NOT called. */
void kube_loop_remove_easy(struct kube_loop *l, CURL *easy);

/* One-shot timer after delay_ms; returns an id > 0, or 0 on allocation
 * failure. */
uint64_t kube_loop_timer(struct kube_loop *l, int64_t delay_ms, kube_loop_fn fn, void *arg);
/* Cancels a pending timer (no-op for 0, fired or unknown ids). */
void kube_loop_timer_cancel(struct kube_loop *l, uint64_t id);

/* The multi handle, for callers that need multi-level options. The loop owns
 * CURLMOPT_SOCKETFUNCTION and CURLMOPT_SOCKETDATA: do not set them. */
CURLM *kube_loop_multi(struct kube_loop *l);

#endif
