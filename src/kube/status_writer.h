/* Writes the status of custom resources (the leader's job): a patch only
 * when the status changes, no repeat while the watch event of a write in
 * flight has not arrived, and after a failed write (409, 5xx, transport)
 * a re-sync with backoff instead of waiting for an unrelated change.
 *
 * The writer owns the sync timer: kick() schedules sync(arg) (coalescing
 * bursts); sync computes every status and calls put() for each.
 *
 * Threads: loop thread only. Ownership: client and loop borrowed; free
 * after the loop stopped (aborted writes still call back until then). */
#ifndef K8SMON_KUBE_STATUS_WRITER_H
#define K8SMON_KUBE_STATUS_WRITER_H

#include <jansson.h>
#include <stdint.h>

#include "kube/client.h"
#include "kube/loop.h"
#include "kube/reflector.h"

struct status_writer;

struct status_writer *status_writer_new(struct kube_client *c, struct kube_loop *loop,
					void (*sync)(void *arg), void *arg);
void status_writer_free(struct status_writer *sw);
/* Schedules one sync after delay_ms unless one is already due. */
void status_writer_kick(struct status_writer *sw, int64_t delay_ms);
/* Stops scheduling (agent stopping). */
void status_writer_stop(struct status_writer *sw);
/* Patches obj's status to st (taken; NULL = nothing to write) unless the
 * resource already shows it or the same status was sent for this
 * resourceVersion. key: obj's key in its store. */
void status_writer_put(struct status_writer *sw, const struct kube_resource *res, const char *key,
		       const char *ns, const char *name, const json_t *obj, json_t *st);
/* Forgets writes of res whose object is gone from snap (key -> object). */
void status_writer_prune(struct status_writer *sw, const struct kube_resource *res, const json_t *snap);

#endif
