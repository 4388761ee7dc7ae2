#include "kube/status_writer.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "kube/status.h"
#include "kube/write.h"

/* Delays of the re-sync after a failed status write. */
#define RETRY_MIN_MS 250
#define RETRY_MAX_MS 30000

struct status_writer {
	struct kube_client *c;
	struct kube_loop *loop;
	void (*sync)(void *arg);
	void *arg;
	uint64_t timer;          /* a sync is scheduled */
	bool stopped;
	/* Writes sent whose watch event may not have arrived yet:
	 * "<resource>/<store key>" -> {"rv": resourceVersion the status was
	 * computed from, "status": what was sent}. */
	json_t *sent;
	int64_t backoff_ms;
	struct log_limit log;
};

static void fire(void *arg)
{
	struct status_writer *sw = arg;

	sw->timer = 0;
	if (!sw->stopped)
		sw->sync(sw->arg);
}

void status_writer_kick(struct status_writer *sw, int64_t delay_ms)
{
	if (sw->timer || sw->stopped)
		return;
	sw->timer = kube_loop_timer(sw->loop, delay_ms, fire, sw);
}

/* A failed write leaves the old status in the store, so the next sync
 * writes it again: schedule that sync. */
static void done(int rc, long http_status, json_t *obj, void *arg)
{
	struct status_writer *sw = arg;

	(void)obj;
	if (!rc) {
		sw->backoff_ms = 0;
		return;
	}
	if (sw->stopped)
		return;
	json_object_clear(sw->sent);
	if (sw->timer) {
		log_limited(&sw->log, 10000, LOG_WARN, "status",
			    "writing a K8sMonitor/ScrapeRule status failed: %s (HTTP %ld); retrying with the next sync",
			    km_strerror(rc), http_status);
		return;
	}
	sw->backoff_ms = sw->backoff_ms ? sw->backoff_ms * 2 : RETRY_MIN_MS;
	if (sw->backoff_ms > RETRY_MAX_MS)
		sw->backoff_ms = RETRY_MAX_MS;
	status_writer_kick(sw, sw->backoff_ms);
	log_limited(&sw->log, 10000, LOG_WARN, "status",
		    "writing a K8sMonitor/ScrapeRule status failed: %s (HTTP %ld); retrying in %lld ms",
		    km_strerror(rc), http_status, (long long)sw->backoff_ms);
}

void status_writer_put(struct status_writer *sw, const struct kube_resource *res, const char *key,
		       const char *ns, const char *name, const json_t *obj, json_t *st)
{
	const char *rv = json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
	const json_t *prev;
	char skey[640];
	json_t *patch;

	snprintf(skey, sizeof(skey), "%s/%s", res->resource, key);
	if (!st || status_same(json_object_get(obj, "status"), st)) {
		json_object_del(sw->sent, skey);
		json_decref(st);
		return;
	}
	prev = json_object_get(sw->sent, skey);
	if (prev && strcmp(json_string_value(json_object_get(prev, "rv")) ?: "", rv ?: "") == 0 &&
	    status_same(json_object_get(prev, "status"), st)) {
		json_decref(st);
		return;
	}
	json_object_set_new(sw->sent, skey, json_pack("{s:s,s:O}", "rv", rv ?: "", "status", st));
	patch = json_pack("{s:o}", "status", st);
	if (!patch || kube_patch(sw->c, res, ns, name, "status", patch, done, sw)) {
		log_warn("status", "cannot queue the status write of %s %s%s%s", res->resource,
			 ns ? ns : "", ns ? "/" : "", name);
		json_object_del(sw->sent, skey);
	}
	json_decref(patch);
}

void status_writer_prune(struct status_writer *sw, const struct kube_resource *res, const json_t *snap)
{
	size_t plen = strlen(res->resource);
	const char *key;
	json_t *v;
	void *tmp;

	json_object_foreach_safe(sw->sent, tmp, key, v) {
		if (strncmp(key, res->resource, plen) == 0 && key[plen] == '/' &&
		    !json_object_get(snap, key + plen + 1))
			json_object_del(sw->sent, key);
	}
}

struct status_writer *status_writer_new(struct kube_client *c, struct kube_loop *loop,
					void (*sync)(void *arg), void *arg)
{
	struct status_writer *sw = calloc(1, sizeof(*sw));

	if (!sw)
		return NULL;
	sw->c = c;
	sw->loop = loop;
	sw->sync = sync;
	sw->arg = arg;
	sw->sent = json_object();
	if (!sw->sent) {
		free(sw);
		return NULL;
	}
	return sw;
}

void status_writer_stop(struct status_writer *sw)
{
	if (sw)
		sw->stopped = true;
}

void status_writer_free(struct status_writer *sw)
{
	if (!sw)
		return;
	json_decref(sw->sent);
	free(sw);
}
