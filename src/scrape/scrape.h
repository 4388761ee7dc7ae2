/* Application scraping manager: ScrapeRules + watched objects -> targets ->
 * scrapes on the manager's own loop thread -> /metrics/apps, /api/v1/targets and
 * self-metrics. The one entry point the agent uses.
 *
 * Threads: the manager owns a loop thread of its own (a struct kube_loop,
 * "the scrape loop"): scrapes (libcurl multi), parsing, metric relabeling,
 * discovery with target relabeling and the debounced recompute all run
 * there, never on the API loop that renews the Lease and drives the watches
 * (docs/security.md "Regular expressions"). Hand-offs are posts, so no
 * thread ever waits for the scrape loop except scrape_mgr_free:
 *  - scrape_mgr_upsert/delete may be called from any thread (reflector
 *    callbacks on the API loop); they take a reference to the object and
 *    post the change to the scrape loop;
 *  - scrape_mgr_apply may be called from any thread (it posts to the
 *    scrape loop);
 *  - the write functions and scrape_mgr_rule_targets are for HTTP threads
 *    (any thread) and never wait for a scrape;
 *  - the manager's informer subscriptions (services, endpoints, ...) live
 *    on the API loop: the scrape loop subscribes and cancels there with
 *    kube_loop_call (the API loop never waits for the scrape loop), and
 *    their callbacks post like upsert/delete;
 *  - new/free from any thread but the two loops'; free joins the scrape
 *    loop and, when subscriptions exist, needs the API loop running (their
 *    cancel hops onto it).
 * Discovery is recomputed on the scrape loop at most every
 * DISCOVERY_DEBOUNCE_MS after a change, so targets follow objects well
 * within a second.
 *
 * Ownership: the manager holds references to the objects given to upsert
 * (the caller keeps its own) and to the rules given to apply. */
#ifndef K8SMON_SCRAPE_SCRAPE_H
#define K8SMON_SCRAPE_SCRAPE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/label.h"
#include "scrape/policy.h"
#include "scrape/rule.h"

struct kube_loop;
struct kube_informers;

#define DISCOVERY_DEBOUNCE_MS 50
/* Default cap of one scrape's uncompressed body (vmagent's
 * -promscrape.maxScrapeSize default). */
#define SCRAPE_BODY_MAX_DEFAULT (16u << 20)
/* CPU (of the scrape loop thread) that one scrape of a target whose rule has
 * metricRelabelings may spend on its samples: parsing, metric relabeling,
 * rendering. Past it the scrape fails ("metric relabeling exceeded its CPU
 * budget of 1000 ms"), counted in k8smon_scrape_errors_total{reason=
 * "relabel_cpu_budget"}. docs/limits.md says why this figure. */
#define SCRAPE_RELABEL_CPU_MS 1000

struct scrape_opts {
	const char *node_name;       /* copied; "" = scrape every node's targets */
	int64_t interval_ms;         /* default interval; 0 = 15 s */
	size_t body_max;             /* 0 = SCRAPE_BODY_MAX_DEFAULT */
	bool leader;                 /* initial leadership */
	bool enabled;                /* COLLECTOR_APP */
	/* Optional: with the informer registry the manager subscribes to the
	 * kinds its rules need (services, endpoints, endpointslices,
	 * ingresses, namespaces) and to this node (role node), sharing the
	 * agent's watches. Borrowed, must outlive the manager; the manager's
	 * api_loop must be the registry's. Pods always come through upsert. */
	struct kube_informers *informers;
	/* Optional: the API server's URL (its host is never a target unless
	 * the policy allows it). */
	const char *api_server;
	/* Initial policy (copied); NULL = scrape_policy_default(). */
	const struct scrape_policy *policy;
	/* Prefix of the self-metric families (copied); NULL = "k8smon_scrape"
	 * (a second manager needs its own: "k8smon_components_scrape"). */
	const char *self_prefix;
};

struct scrape_mgr;

/* api_loop: the loop of o->informers (the API loop), where the caller's
 * reflector callbacks run; the manager starts a scrape loop thread of its
 * own and uses api_loop only to subscribe and cancel. */
struct scrape_mgr *scrape_mgr_new(struct kube_loop *api_loop, const struct scrape_opts *o);
/* Stops every scrape and reflector and frees. NULL is ok. */
void scrape_mgr_free(struct scrape_mgr *m);

/* Everything the manager takes from the agent's configuration, given whole
 * so that it never runs on a mix of two configurations. */
struct scrape_settings {
	bool enabled;                /* COLLECTOR_APP: when off no target is scraped
				      * and the outputs are empty */
	bool leader;                 /* owns the targets without a node */
	int64_t interval_ms;         /* default interval; <= 0 = 15 s */
	/* The ScrapeRules (the built-in rule runs next to them unless the
	 * policy turns it off; it leaves alone the pods a ScrapeRule scrapes). */
	struct scrape_rule *const *rules;
	size_t nrules;
	/* K8sMonitor spec.scrape: address allowances, tenant allowances,
	 * budgets (copied; NULL = keep the policy in effect). */
	const struct scrape_policy *policy;
};

/* Applies a settings snapshot: s is copied and references to its rules are
 * taken on success (the caller keeps its own). The snapshot is posted and
 * replaces the current one in one swap at the top of a loop turn (never
 * inside a transfer callback, so any thread may call it, the loop's too);
 * snapshots apply in call order. Targets are then rediscovered: those whose
 * identity (target.h) is unchanged keep their samples, health and series,
 * with a new interval or timeout taking effect on their schedule. Returns
 * 0, KM_EINVAL (m or s NULL), KM_ENOMEM, or KM_EAGAIN once the loop is
 * stopping (nothing applied). */
int scrape_mgr_apply(struct scrape_mgr *m, const struct scrape_settings *s);

/* Targets known without discovery (the built-in component jobs,
 * src/collect/components/): each with the rule that carries its job's
 * limits, metric relabelings and authentication. */
struct scrape_static {
	struct scrape_rule *rule;   /* reference */
	struct disc_target *d;      /* owned; labels are final (no relabeling) */
};

/* Any thread: replaces the static targets by v (n entries). The manager
 * takes v (malloc'd), its rule references and disc_targets in every case,
 * also on error. Applied in call order on the scrape loop, next to the
 * discovered targets: those with the same identity keep their state.
 * 0, KM_EINVAL (m NULL), KM_ENOMEM or KM_EAGAIN (loop stopping). */
int scrape_mgr_set_static(struct scrape_mgr *m, struct scrape_static *v, size_t n);
/* Frees v (n entries) and what it holds (for callers that fail before
 * handing it over). NULL is ok. */
void scrape_static_free(struct scrape_static *v, size_t n);

/* Any thread: an object of a role was added/changed or deleted (borrowed;
 * the manager takes its own reference). Applied in call order. */
void scrape_mgr_upsert(struct scrape_mgr *m, enum scrape_role role, json_t *obj);
void scrape_mgr_delete(struct scrape_mgr *m, enum scrape_role role, json_t *obj);

/* The latest samples of every target with target labels, plus up,
 * scrape_duration_seconds, scrape_samples_scraped,
 * scrape_samples_post_metric_relabeling and scrape_series_added, written
 * whole into out. */
int scrape_mgr_write_apps(struct scrape_mgr *m, struct buf *out);

/* The same output in blocks (/metrics/apps is streamed):
 *
 *   struct scrape_apps_cursor *c;
 *   if (scrape_apps_open(m, &c) == 0 && c)
 *           while ((rc = scrape_apps_next(c, &block, 128 << 10)) == SCRAPE_APPS_MORE)
 *                   send block, buf_reset(&block);
 *   scrape_apps_close(c);
 *
 * open takes a snapshot (references to the targets' sample blobs, copies
 * of their labels) under the manager's lock; *c is NULL (and 0 returned)
 * when the app collector is disabled or m is NULL. The cursor never
 * touches the manager again: it may outlive scrape_mgr_free(). next
 * appends whole lines until out grew by about budget bytes (one line may
 * overshoot it) and returns SCRAPE_APPS_MORE, SCRAPE_APPS_DONE with the
 * last bytes (possibly none), or a negative KM_* code (out rolled back to
 * its length on entry; the cursor is finished). Blocks concatenated are
 * byte-identical to scrape_mgr_write_apps(). close frees the cursor (NULL
 * is ok) and drops the references. One thread at a time per cursor. */
#define SCRAPE_APPS_DONE 0
#define SCRAPE_APPS_MORE 1
struct scrape_apps_cursor;
int scrape_apps_open(struct scrape_mgr *m, struct scrape_apps_cursor **c);
/* The same, only the targets whose rule name starts with rule_prefix
 * (NULL or "" = every target): the per-component paths. */
int scrape_apps_open_for(struct scrape_mgr *m, const char *rule_prefix, struct scrape_apps_cursor **c);
int scrape_apps_next(struct scrape_apps_cursor *c, struct buf *out, size_t budget);
void scrape_apps_close(struct scrape_apps_cursor *c);
/* Remote write of the application samples, encoded at the scrape
 * (scrape/push.c, remotewrite/chunks.h). Once set, every scrape also
 * encodes its samples and its five synthetic series (the labels
 * /metrics/apps gives them, plus node unless a sample or target label has
 * one, plus the external labels ext over all; timestamps: the sample's, or
 * the scrape's start) into snappy chunks kept with its result until
 * scrape_mgr_push_collect takes them. ext ("name" / "value" pairs) and
 * node are copied. Any thread; a second call changes nothing (the values
 * come from flags). 0 or KM_ENOMEM. */
int scrape_mgr_set_push(struct scrape_mgr *m, const struct label_pair *ext, size_t next, const char *node);
/* Push only: once remote write is on, a scrape keeps its samples as text
 * for /metrics/apps only while /metrics/apps has been opened (a read of it)
 * within this long, or within 3 of the target's intervals if that is
 * longer, or when K8sMonitor spec.scrape.keepAppsText says so; otherwise
 * it keeps only the encoded chunks and the series ids scrape_series_added
 * needs (docs/remote-write.md). A read after an idle spell gets each
 * target's samples from its next scrape on (up and scrape_* at once). */
#define SCRAPE_APPS_IDLE_MS (5 * 60 * 1000)
/* Any thread: whether something other than /metrics/apps readers needs
 * the text (a remote-write destination with labels of its own, which is
 * fed rendered /metrics/apps); from the next scrape of each target. NULL m
 * is ok. */
void scrape_mgr_set_text_wanted(struct scrape_mgr *m, bool wanted);
/* Any thread: whether remote write gets staleness markers (Prometheus'
 * StaleNaN) for the series a target stops exposing, all of its series
 * when a scrape fails (but up) and when the target goes away
 * (-promscrape.noStaleMarkers turns them off). On by default; from the
 * next scrape end. NULL m is ok. */
void scrape_mgr_set_stale_markers(struct scrape_mgr *m, bool on);
/* Any thread: whether push-only scrapes take a series' id from the last
 * scrape when its series text is the same at the same position
 * (scrape/scache.h). On by default; off is for tests and comparisons (the
 * output is the same). From the next scrape start. NULL m is ok. */
void scrape_mgr_set_series_cache(struct scrape_mgr *m, bool on);
/* Hands fn each target's chunks not handed over yet, in target order (one
 * per completed scrape since the last call; a target scraped twice in
 * between gives its latest). The reference is fn's to drop
 * (rw_chunks_unref) whatever it returns; fn's first non-zero return stops
 * the walk (the chunks not handed over are dropped) and is returned. Any
 * thread; NULL m is ok. With staleness markers on (the default), a
 * target's chunks include, after its scrape's, the markers for the series
 * that vanished since its last scrape; the markers of removed targets come
 * as chunks of their own (scrape/stale.c). */
struct rw_chunks;
typedef int (*scrape_push_fn)(void *ctx, struct rw_chunks *k);
int scrape_mgr_push_collect(struct scrape_mgr *m, scrape_push_fn fn, void *ctx);
/* Prometheus /api/v1/targets JSON, redacted: no discoveredLabels, and
 * lastError without the parts that quote a response. */
int scrape_mgr_write_targets(struct scrape_mgr *m, struct buf *out);
/* The same; full = with discoveredLabels and whole errors (/targets, for
 * the operator only: docs/security.md). */
int scrape_mgr_write_targets_view(struct scrape_mgr *m, bool full, struct buf *out);
/* k8smon_scrape_* self-metrics (scrape_opts.self_prefix). */
int scrape_mgr_write_self(struct scrape_mgr *m, struct buf *out);
/* Number of targets the rule ns/name currently has on this agent. */
size_t scrape_mgr_rule_targets(struct scrape_mgr *m, const char *ns, const char *name);

#endif
