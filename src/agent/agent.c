#include "agent/agent.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/kube.h"
#include "agent/process.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/rx.h"
#include "collect/container/container.h"
#include "collect/node/node.h"
#include "collect/stats.h"
#include "config/config.h"
#include "dl/curl.h"
#include "dl/snappy.h"
#include "expo/writer.h"
#include "http/auth.h"
#include "http/server.h"
#include "http/tls.h"
#include "remotewrite/rw.h"
#include "scrape/scrape.h"
#include "collect/components/components.h"

/* Response size caps per endpoint: a runaway collector fails its endpoint
 * with a 500 and a log line instead of exhausting memory. */
#define CAP_NODE (32u << 20)
#define CAP_SELF (4u << 20)

/* EP_COMP_FIRST + enum comp_id: one path per built-in component job. */
enum endpoint { EP_ALL, EP_NODE, EP_CADVISOR, EP_KUBE_STATE, EP_APPS, EP_SELF, EP_COMPONENTS, EP_COMP_FIRST,
		EP_N = EP_COMP_FIRST + COMP_COUNT };
static const char *const ep_paths[EP_N] = { "/metrics", "/metrics/node", "/metrics/cadvisor",
					    "/metrics/kube-state", "/metrics/apps", "/metrics/self",
					    "/metrics/components", "/metrics/kubelet", "/metrics/apiserver",
					    "/metrics/kube-scheduler", "/metrics/kube-controller-manager",
					    "/metrics/kube-proxy", "/metrics/coredns", "/metrics/etcd" };

struct agent {
	const struct flags *flags;
	pthread_mutex_t cfg_lock;        /* guards cfg pointer swaps */
	struct config *cfg;
	struct collect_stats *stats;
	struct node_collector *node;
	/* Length of the last /metrics/node body: the next one is allocated at
	 * about that size at once instead of doubling from 64 bytes (eleven
	 * reallocs copying ~64 KiB a scrape). */
	_Atomic size_t node_body_hint;
	struct container_collector *container;
	struct http_server *_Atomic http; /* set once the server runs: a request may come first */
	struct http_auth *auth;          /* NULL unless -http.auth=kubernetes */
	struct agent_kube *kube;         /* NULL in host mode */
	struct rw *_Atomic rw;           /* NULL until a destination is configured; set once started */
	pthread_mutex_t rw_lock;         /* starting and reconfiguring rw vs agent_stop */
	bool rw_closed;                  /* under rw_lock: agent_stop began */
	struct agent_kube_hooks hooks;
	atomic_bool ready;
	/* Responses failed over -http.maxSeries, by endpoint; the log limit is
	 * shared by the HTTP worker threads, hence the lock. */
	_Atomic uint64_t series_over[EP_N];
	pthread_mutex_t series_log_lock;
	struct log_limit series_log;
	struct http_route routes[13 + 1 + COMP_COUNT];
	size_t nroutes;
};

/* Series (sample lines) in exposition text fed in pieces that may split
 * lines: a line counts when its '\n' is seen, unless it began with '#'. */
struct series_count {
	uint64_t n;
	bool mid;      /* inside a line */
	bool comment;  /* that line began with '#' */
};

static void series_count_add(struct series_count *sc, const char *p, size_t len)
{
	const char *end = p + len;

	while (p < end) {
		const char *nl;

		if (!sc->mid) {
			sc->comment = *p == '#';
			sc->mid = true;
		}
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return;
		sc->n += !sc->comment;
		sc->mid = false;
		p = nl + 1;
	}
}

/* True (counted and logged) when n series are over -http.maxSeries. */
static bool series_over(struct agent *a, enum endpoint ep, uint64_t n)
{
	uint64_t max = (uint64_t)a->flags->http_max_series;

	if (!max || n <= max)
		return false;
	atomic_fetch_add(&a->series_over[ep], 1);
	pthread_mutex_lock(&a->series_log_lock);
	log_limited(&a->series_log, 60000, LOG_ERROR, "http",
		    "%s: response over -http.maxSeries=%llu series, failed (not sent partially)",
		    ep_paths[ep], (unsigned long long)max);
	pthread_mutex_unlock(&a->series_log_lock);
	return true;
}

/* Returns a reference to the current configuration; config_unref() it. */
static struct config *agent_config(struct agent *a)
{
	struct config *c;

	pthread_mutex_lock(&a->cfg_lock);
	c = config_ref(a->cfg);
	pthread_mutex_unlock(&a->cfg_lock);
	return c;
}

/* Ready once every initial list is applied; stays ready afterwards (a
 * relist serves the previous, still valid, view). */
static bool agent_ready(struct agent *a)
{
	if (!atomic_load(&a->ready) && a->kube && agent_kube_ready(a->kube))
		atomic_store(&a->ready, true);
	return atomic_load(&a->ready);
}

static struct config *hook_config(void *arg)
{
	return agent_config(arg);
}

/* A new configuration cycle changed the settings: swap them in (c is
 * borrowed; a reference is taken). HTTP threads pick it up at their next
 * request; the Kubernetes side already acted on the cycle. */
static void hook_config_swap(struct config *c, void *arg)
{
	struct agent *a = arg;
	struct config *old;

	pthread_mutex_lock(&a->cfg_lock);
	old = a->cfg;
	a->cfg = config_ref(c);
	pthread_mutex_unlock(&a->cfg_lock);
	config_unref(old);
}

static int write_node(struct agent *a, const struct config *c, struct buf *out)
{
	struct node_opts o = {
		.procfs = a->flags->procfs, .sysfs = a->flags->sysfs, .rootfs = a->flags->rootfs,
		.mount_points_exclude = c->mount_points_exclude,
		.fs_types_exclude = c->fs_types_exclude,
		.netdev_exclude = c->netdev_exclude,
		/* kube-prometheus excludes the same devices from netclass as from netdev. */
		.netclass_exclude = c->netdev_exclude,
		.netdev_include = c->netdev_include,
		.diskstats_exclude = c->diskstats_exclude,
		.diskstats_include = c->diskstats_include,
		.disabled = c->node_disabled,
		.enabled = c->node_enabled,
		.hwmon_chip_include = c->hwmon_chip_include,
		.hwmon_chip_exclude = c->hwmon_chip_exclude,
		.hwmon_sensor_include = c->hwmon_sensor_include,
		.hwmon_sensor_exclude = c->hwmon_sensor_exclude,
		.powersupply_ignored = c->powersupply_ignored,
		.systemd_unit_include = c->systemd_unit_include,
		.systemd_unit_exclude = c->systemd_unit_exclude,
		.systemd_private = a->flags->systemd_private,
		.systemd_task_metrics = a->flags->systemd_task_metrics,
		.systemd_restarts_metrics = a->flags->systemd_restarts_metrics,
		.systemd_start_time_metrics = a->flags->systemd_start_time_metrics,
		.mount_timeout_ms = a->flags->mount_timeout_ms,
		.textfile_dir = a->flags->textfile_dir,
	};

	if (!(c->collectors & COLLECTOR_NODE))
		return 0;
	return node_collect(a->node, &o, out, a->stats);
}

static int write_container(struct agent *a, const struct config *c, struct buf *out)
{
	struct container_opts o = {
		.procfs = a->flags->procfs, .sysfs = a->flags->sysfs, .rootfs = a->flags->rootfs,
		.podmap = agent_kube_podmap(a->kube), .sandbox_image = a->flags->sandbox_image,
		.crio_socket = a->flags->crio_socket,
	};

	if (!(c->collectors & COLLECTOR_CONTAINER))
		return 0;
	return container_collect(a->container, &o, out, a->stats);
}

static int write_self(struct agent *a, const struct config *c, struct buf *out)
{
	struct label_pair bl[] = { { "version", flags_version() }, { "mode", a->flags->kubernetes ? "kubernetes" : "host" } };
	char coll[128];
	int rc;

	flags_format_collectors(c->collectors, coll, sizeof(coll));
	rc = expo_family(out, "k8smon_build_info", "A metric with a constant '1' value labeled by version and mode.", EXPO_GAUGE);
	if (!rc)
		rc = expo_sample(out, "k8smon_build_info", bl, 2, 1);
	if (!rc)
		rc = expo_family(out, "k8smon_config_info", "Effective configuration: enabled collectors and where they came from.", EXPO_GAUGE);
	if (!rc) {
		struct label_pair cl[] = { { "collectors", coll }, { "source", c->source } };
		rc = expo_sample(out, "k8smon_config_info", cl, 2, 1);
	}
	if (!rc)
		rc = expo_family(out, "k8smon_ready", "1 once the initial lists are synced and the agent serves complete data.", EXPO_GAUGE);
	if (!rc)
		rc = expo_sample(out, "k8smon_ready", NULL, 0, agent_ready(a) ? 1 : 0);
	if (!rc)
		rc = expo_family(out, "k8smon_http_series_limit_exceeded_total",
				 "Metrics responses failed because they had more series than -http.maxSeries (500, or a streamed response ended with an error).",
				 EXPO_COUNTER);
	for (int i = 0; !rc && i < EP_N; i++) {
		struct label_pair l = { "path", ep_paths[i] };

		if (i != EP_SELF)
			rc = expo_sample(out, "k8smon_http_series_limit_exceeded_total", &l, 1,
					 (double)atomic_load(&a->series_over[i]));
	}
	if (!rc)
		rc = expo_family(out, "k8smon_regex_limit_hits_total",
				 "Regular expression matches stopped at the match limit and counted as no match (relabeling, filters).",
				 EXPO_COUNTER);
	if (!rc)
		rc = expo_sample(out, "k8smon_regex_limit_hits_total", NULL, 0, (double)rx_limit_hits());
	if (!rc)
		rc = collect_stats_write(a->stats, out);
	/* Requests are served from inside http_server_start, before it
	 * returned the server: such an early /metrics/self has no http part. */
	if (!rc && atomic_load(&a->http))
		rc = http_server_write_metrics(atomic_load(&a->http), out);
	if (!rc && a->kube)
		rc = agent_kube_write_self(a->kube, out);
	if (!rc && atomic_load(&a->rw))
		rc = rw_write_metrics(atomic_load(&a->rw), out);
	if (!rc)
		rc = process_metrics_write(a->flags->procfs, out);
	return rc;
}

/* Served without authentication: kubelet probes carry no token; the
 * landing page shows only the paths and the version (as
 * kube-rbac-proxy-less node-exporter does). */
static const char *const open_paths[] = { "/", "/healthz", "/readyz" };

/* The streamed part of /metrics, /metrics/kube-state and /metrics/apps:
 * the kube-state store block by block (it can be ~1 GB at 100k pods), the
 * application samples block by block (~170 MB at 1M series), then the self
 * section, rendered when the request came. Owns the config reference the
 * kube-state filter borrows, until the server is done with the response
 * (metrics_stream_free). */
struct metrics_stream {
	struct agent *a;
	enum endpoint ep;
	struct config *c;
	struct agent_ks_stream *ks;     /* NULL: none, or written */
	struct scrape_apps_cursor *apps; /* NULL: none, or written */
	struct scrape_apps_cursor *comps; /* component jobs; NULL: none, or written */
	struct buf tail;
	struct series_count sc;  /* series sent so far, body included */
};

static int metrics_produce(void *ctx, struct buf *out, size_t budget)
{
	struct metrics_stream *m = ctx;
	int rc = HTTP_PRODUCE_MORE;

	if (m->ks) {
		/* negative: error; positive: more (KS_WRITE_MORE); 0: done */
		int k = agent_kube_kube_state_next(m->ks, out, budget);

		if (k < 0)
			return k;
		if (k == 0) {
			agent_kube_kube_state_close(m->ks);
			m->ks = NULL;
		}
	}
	if (!m->ks && m->apps && out->len < budget) {
		int k = scrape_apps_next(m->apps, out, budget - out->len);

		if (k < 0)
			return k;
		if (k == SCRAPE_APPS_DONE) {
			scrape_apps_close(m->apps);
			m->apps = NULL;
		}
	}
	if (!m->ks && !m->apps && m->comps && out->len < budget) {
		int k = scrape_apps_next(m->comps, out, budget - out->len);

		if (k < 0)
			return k;
		if (k == SCRAPE_APPS_DONE) {
			scrape_apps_close(m->comps);
			m->comps = NULL;
		}
	}
	if (!m->ks && !m->apps && !m->comps) {
		int e = buf_add(out, buf_cstr(&m->tail), m->tail.len);

		if (e)
			return e;
		rc = HTTP_PRODUCE_DONE;
	}
	/* Over the cap the stream ends with an error: the scraper sees a
	 * failed transfer, never a silently shortened exposition. */
	if (!m->a->flags->http_max_series)
		return rc; /* no cap: no counting (a memchr per line) either */
	series_count_add(&m->sc, out->data, out->len);
	if (series_over(m->a, m->ep, m->sc.n))
		return KM_ETOOBIG;
	return rc;
}

static void metrics_stream_free(void *ctx)
{
	struct metrics_stream *m = ctx;

	/* Both closers accept NULL, but they live with the Kubernetes-only
	 * code at the far end of the text (Makefile COLD_SRCS): calling them
	 * for every /metrics/node stream made the kernel map that code's
	 * pages (~64-128 KiB of RSS) in host mode. */
	if (m->ks)
		agent_kube_kube_state_close(m->ks);
	if (m->apps)
		scrape_apps_close(m->apps);
	if (m->comps)
		scrape_apps_close(m->comps);
	buf_fini(&m->tail);
	config_unref(m->c);
	free(m);
}

/* The stream takes over the config reference c on success. */
static int metrics_stream_new(struct agent *a, enum endpoint ep, struct config *c,
			      struct metrics_stream **mp)
{
	struct metrics_stream *m = calloc(1, sizeof(*m));

	if (!m)
		return KM_ENOMEM;
	m->a = a;
	m->ep = ep;
	m->c = c;
	buf_init(&m->tail, HTTP_BODY_MAX);
	*mp = m;
	return 0;
}

/* One handler for every metrics endpoint: which sections a path serves.
 * Node and container sections go into the body; when kube-state or the
 * application targets have something to write, they and the self section
 * after them are streamed. */
static int serve_metrics(struct agent *a, enum endpoint ep, struct http_reply *r)
{
	struct config *c = agent_config(a);
	struct metrics_stream *m = NULL;
	struct agent_ks_stream *ks = NULL;
	struct scrape_apps_cursor *apps = NULL, *comps = NULL;
	bool comp_ep = ep == EP_ALL || ep == EP_COMPONENTS || ep >= EP_COMP_FIRST;
	struct buf *out = &r->body;
	int rc = 0;

	r->content_type = EXPO_CONTENT_TYPE;
	r->body.cap = ep == EP_SELF ? CAP_SELF : HTTP_BODY_MAX;
	if (ep == EP_NODE) {
		size_t hint = atomic_load(&a->node_body_hint);

		/* A failure here is harmless: the body grows as it is written. */
		if (hint)
			(void)buf_reserve(&r->body, hint + hint / 16);
		rc = write_node(a, c, &r->body);
		if (!rc)
			atomic_store(&a->node_body_hint, r->body.len);
	} else if (ep == EP_ALL) {
		rc = write_node(a, c, &r->body);
	}
	if (!rc && (ep == EP_ALL || ep == EP_CADVISOR))
		rc = write_container(a, c, &r->body);
	if (!rc && a->kube && (ep == EP_ALL || ep == EP_KUBE_STATE) &&
	    !(rc = agent_kube_kube_state_open(a->kube, c, &ks)) && ks)
		rc = metrics_stream_new(a, ep, c, &m);
	if (m) {
		m->ks = ks;
		ks = NULL;
	}
	/* scrape: application targets (the manager checks COLLECTOR_APP) */
	if (!rc && a->kube && (ep == EP_ALL || ep == EP_APPS) &&
	    !(rc = agent_kube_apps_open(a->kube, &apps)) && apps && !m)
		rc = metrics_stream_new(a, ep, c, &m);
	if (m) {
		m->apps = apps;
		apps = NULL;
		out = &m->tail;
	}
	/* The built-in component jobs: all of them, or one component. */
	if (!rc && a->kube && comp_ep &&
	    !(rc = agent_kube_components_open(a->kube, ep >= EP_COMP_FIRST ?
					      comp_rule_prefix((enum comp_id)(ep - EP_COMP_FIRST)) : NULL, &comps)) &&
	    comps && !m)
		rc = metrics_stream_new(a, ep, c, &m);
	if (m) {
		m->comps = comps;
		comps = NULL;
		out = &m->tail;
	}
	if (!rc && (ep == EP_ALL || ep == EP_SELF))
		rc = write_self(a, c, out);
	if (m && !rc) {
		/* The server calls metrics_stream_free, which drops c. */
		series_count_add(&m->sc, r->body.data, r->body.len);
		r->stream = (struct http_producer){ metrics_produce, m, metrics_stream_free };
		return 0;
	}
	if (!m && !rc && ep != EP_SELF && a->flags->http_max_series) {
		struct series_count sc = { 0 };

		series_count_add(&sc, r->body.data, r->body.len);
		if (series_over(a, ep, sc.n)) {
			buf_reset(&r->body);
			r->status = 500;
			r->content_type = "text/plain; charset=utf-8";
			rc = buf_printf(&r->body,
					"500 internal error: %llu series, over -http.maxSeries=%lld\n",
					(unsigned long long)sc.n, (long long)a->flags->http_max_series);
		}
	}
	/* NULL in host mode; not called then, see metrics_stream_free(). */
	if (ks)
		agent_kube_kube_state_close(ks);
	if (apps)
		scrape_apps_close(apps);
	if (comps)
		scrape_apps_close(comps);
	if (m)
		metrics_stream_free(m);
	else
		config_unref(c);
	return rc;
}

#define METRICS_HANDLER(fn, ep) \
	static int fn(void *ctx, const char *path, struct http_reply *r) \
	{ (void)path; return serve_metrics(ctx, ep, r); }

METRICS_HANDLER(h_metrics, EP_ALL)
METRICS_HANDLER(h_node, EP_NODE)
METRICS_HANDLER(h_cadvisor, EP_CADVISOR)
METRICS_HANDLER(h_kube_state, EP_KUBE_STATE)
METRICS_HANDLER(h_apps, EP_APPS)
METRICS_HANDLER(h_self, EP_SELF)
METRICS_HANDLER(h_components, EP_COMPONENTS)

/* /metrics/kubelet, /metrics/apiserver, ...: the route's path names the
 * component. */
static int h_component(void *ctx, const char *path, struct http_reply *r)
{
	for (int i = EP_COMP_FIRST; i < EP_N; i++)
		if (strcmp(path, ep_paths[i]) == 0)
			return serve_metrics(ctx, (enum endpoint)i, r);
	return KM_EINVAL;
}

static const char *const comp_help[COMP_COUNT] = {
	"this node's kubelet (job=\"kubelet\", each metrics_path)",
	"the API server (job=\"apiserver\"); empty unless this agent leads",
	"kube-scheduler on a control-plane node (job=\"kube-scheduler\")",
	"kube-controller-manager on a control-plane node (job=\"kube-controller-manager\")",
	"kube-proxy of this node (job=\"kube-proxy\")",
	"CoreDNS pods of this node (job=\"kube-dns\")",
	"etcd on a control-plane node (job=\"etcd\"; needs -components.etcd.certFile)",
};

/* The landing page, as node-exporter and kube-state-metrics serve one:
 * every route with its line, from the route table itself. */
static int h_index(void *ctx, const char *path, struct http_reply *r)
{
	struct agent *a = ctx;
	int rc;

	(void)path;
	r->content_type = "text/html; charset=utf-8";
	rc = buf_printf(&r->body,
			"<!DOCTYPE html>\n<html><head><title>k8smon</title></head><body>\n"
			"<h1>k8smon</h1>\n<p>Version %s, %s mode.</p>\n<ul>\n",
			flags_version(), a->flags->kubernetes ? "Kubernetes" : "host");
	for (size_t i = 1; !rc && i < a->nroutes; i++)
		rc = buf_printf(&r->body, "<li><a href=\"%s\">%s</a>: %s</li>\n", a->routes[i].path + 1,
				a->routes[i].path, a->routes[i].help);
	if (!rc)
		rc = buf_adds(&r->body,
			      "</ul>\n<p>With <code>-http.auth=kubernetes</code> every path but /, /healthz and "
			      "/readyz needs a bearer token granted <code>get</code> on it "
			      "(docs/security.md); docs/troubleshooting.md says which to read for what.</p>\n"
			      "</body></html>\n");
	return rc;
}

static int h_healthz(void *ctx, const char *path, struct http_reply *r)
{
	(void)ctx;
	(void)path;
	return buf_adds(&r->body, "ok\n");
}

static int h_readyz(void *ctx, const char *path, struct http_reply *r)
{
	struct agent *a = ctx;

	(void)path;
	if (!agent_ready(a)) {
		r->status = 503;
		return buf_adds(&r->body, "not ready: initial sync in progress\n");
	}
	return buf_adds(&r->body, "ok\n");
}

/* scrape: Prometheus-style target list; /api/v1/targets is the redacted
 * view (any authenticated user may read every /api/ path: docs/security.md), /targets
 * the full one (operator role). */
static int h_targets(void *ctx, const char *path, struct http_reply *r)
{
	struct agent *a = ctx;

	r->content_type = "application/json";
	if (!a->kube)
		return buf_adds(&r->body, "{\"status\":\"success\",\"data\":{\"activeTargets\":[],\"droppedTargets\":[]}}");
	return scrape_mgr_write_targets_view(agent_kube_scrape(a->kube), strcmp(path, "/targets") == 0, &r->body);
}

static int h_config(void *ctx, const char *path, struct http_reply *r)
{
	struct agent *a = ctx;
	struct config *c = agent_config(a);
	json_t *disc = agent_kube_discovery_json(a->kube);
	int rc;

	(void)path;
	r->content_type = "application/json";
	rc = config_write_json(c, a->flags, disc, &r->body);
	json_decref(disc);
	config_unref(c);
	return rc;
}

/* Remote write reads exactly what the endpoints serve: the handler's body,
 * then its stream drained block by block (kube-state and apps can be
 * hundreds of MB; never held whole). */
static int rw_render(void *ctx, enum rw_source src, rw_sink_fn sink, void *sink_ctx)
{
	static const enum endpoint eps[RW_SRC_N] = {
		[RW_SRC_NODE] = EP_NODE, [RW_SRC_CADVISOR] = EP_CADVISOR, [RW_SRC_KUBE_STATE] = EP_KUBE_STATE,
		[RW_SRC_APPS] = EP_APPS, [RW_SRC_COMPONENTS] = EP_COMPONENTS, [RW_SRC_SELF] = EP_SELF,
	};
	struct http_reply r = { .status = 200 };
	struct buf chunk;
	int rc;

	buf_init(&r.body, HTTP_BODY_MAX);
	buf_init(&chunk, HTTP_BODY_MAX);
	rc = serve_metrics(ctx, eps[src], &r);
	if (!rc && r.status != 200)
		rc = KM_ETOOBIG; /* over -http.maxSeries: counted and logged there */
	if (!rc && r.body.len)
		rc = sink(sink_ctx, r.body.data, r.body.len);
	while (!rc && r.stream.fn) {
		int k;

		buf_reset(&chunk);
		k = r.stream.fn(r.stream.ctx, &chunk, HTTP_STREAM_BLOCK);
		if (k < 0) {
			rc = k;
			break;
		}
		if (chunk.len)
			rc = sink(sink_ctx, chunk.data, chunk.len);
		if (k == HTTP_PRODUCE_DONE)
			break;
	}
	if (r.stream.free)
		r.stream.free(r.stream.ctx);
	buf_fini(&chunk);
	buf_fini(&r.body);
	return rc;
}

/* The application samples come encoded from the scrapes (scrape/push.c)
 * instead of rendered and parsed back: rw_collect_fn. */
static int rw_collect(void *ctx, const struct label_pair *ext, size_t next, const char *node,
		      rw_chunks_fn fn, void *fn_ctx)
{
	struct agent *a = ctx;
	struct scrape_mgr *m = agent_kube_scrape(a->kube);
	int rc;

	scrape_mgr_set_stale_markers(m, !a->flags->no_stale_markers);
	rc = scrape_mgr_set_push(m, ext, next, node);
	if (rc || !fn)
		return rc;
	return scrape_mgr_push_collect(m, fn, fn_ctx);
}

/* Replaces the remote-write destinations (starting remote write at the
 * first one); under rw_lock, so agent_stop cannot race a start. */
static int rw_apply_locked(struct agent *a, const struct rw_dest *d, size_t n, char *err, size_t errlen)
{
	const struct flags *f = a->flags;
	struct rw *rw = atomic_load(&a->rw);
	struct rw_opts o = {
		.dests = d, .ndests = n,
		.labels = f->rw_labels.v, .nlabels = f->rw_labels.n,
		.tmp_data_path = f->rw_tmp_data_path, .max_disk_per_url = (uint64_t)f->rw_max_disk_per_url,
		.interval_ms = f->interval_ms, .send_timeout_ms = f->rw_send_timeout_ms,
		.retry_min_ms = f->rw_retry_min_ms, .node_name = f->node_name,
		.render = rw_render, .render_ctx = a, .collect = rw_collect,
		.no_stale_markers = f->no_stale_markers,
	};

	bool labeled = false;

	if (a->rw_closed) {
		snprintf(err, errlen, "the agent is stopping");
		return KM_EAGAIN;
	}
	/* A destination with labels of its own gets the application section
	 * rendered from /metrics/apps (rw.c): the scrapes keep their text. */
	for (size_t i = 0; i < n; i++)
		labeled |= d[i].labels_len > 0;
	scrape_mgr_set_text_wanted(agent_kube_scrape(a->kube), labeled);
	if (rw)
		return rw_set_dests(rw, d, n, err, errlen);
	if (!n)
		return 0;
	if (!dl_curl_loaded() || !dl_snappy_loaded()) {
		snprintf(err, errlen, "remote write needs libsnappy (Debian libsnappy1v5), which could not be loaded at start-up");
		return KM_EINVAL;
	}
	rw = rw_start(&o, err, errlen);
	if (!rw)
		return KM_EINVAL;
	atomic_store(&a->rw, rw);
	return 0;
}

/* The destinations of the -remoteWrite.* flags, applied. */
static int rw_apply_flags_locked(struct agent *a, char *err, size_t errlen)
{
	const struct flags *f = a->flags;
	struct rw_dest *d = NULL;
	char (*hdr)[RW_HEADERS_MAX] = NULL;
	char (*lbl)[RW_DEST_LABELS_MAX] = NULL;
	int rc = KM_EINVAL;

	if (!f->rw_urls.n)
		return rw_apply_locked(a, NULL, 0, err, errlen);
	d = calloc(f->rw_urls.n, sizeof(*d));
	hdr = calloc(f->rw_urls.n, sizeof(*hdr));
	lbl = calloc(f->rw_urls.n, sizeof(*lbl));
	if (!d || !hdr || !lbl) {
		snprintf(err, errlen, "out of memory");
		rc = KM_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < f->rw_urls.n; i++)
		if (flags_rw_dest(f, i, &d[i], hdr[i], sizeof(hdr[i]), lbl[i], sizeof(lbl[i]), err, errlen))
			goto out;
	rc = rw_apply_locked(a, d, f->rw_urls.n, err, errlen);
out:
	free(d);
	free(hdr);
	free(lbl);
	return rc;
}

/* K8sMonitor spec.remoteWrite (agent/rwconf.h), on the Kubernetes loop. */
static int hook_rw_apply(const struct rw_dest *d, size_t n, bool from_flags, void *arg, char *err, size_t errlen)
{
	struct agent *a = arg;
	int rc;

	pthread_mutex_lock(&a->rw_lock);
	rc = from_flags ? rw_apply_flags_locked(a, err, errlen) : rw_apply_locked(a, d, n, err, errlen);
	pthread_mutex_unlock(&a->rw_lock);
	return rc;
}

static int start_remote_write(struct agent *a, char *err, size_t errlen)
{
	int rc;

	if (!a->flags->rw_urls.n)
		return 0;
	pthread_mutex_lock(&a->rw_lock);
	rc = rw_apply_flags_locked(a, err, errlen);
	pthread_mutex_unlock(&a->rw_lock);
	return rc;
}

struct agent *agent_start(const struct flags *f, char *err, size_t errlen)
{
	struct agent *a = NULL;
	struct http_opts ho;
	char why[1024];
	size_t n = 0;

	/* A programming error, not a user's: main loads libcurl before any
	 * thread starts; caught here rather than as a NULL call on the loop. */
	if (f->kubernetes && !dl_curl_loaded()) {
		snprintf(err, errlen, "internal error: libcurl not loaded before agent_start() in Kubernetes mode");
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (!a) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->flags = f;
	pthread_mutex_init(&a->cfg_lock, NULL);
	pthread_mutex_init(&a->rw_lock, NULL);
	pthread_mutex_init(&a->series_log_lock, NULL);
	a->cfg = config_from_flags(f, err, errlen);
	if (!a->cfg)
		goto fail;
	a->stats = collect_stats_new();
	a->node = node_collector_new();
	a->container = container_collector_new();
	if (!a->stats || !a->node || !a->container) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	a->routes[n++] = (struct http_route){ "/", h_index, a, "this page" };
	a->routes[n++] = (struct http_route){ "/metrics", h_metrics, a,
					      "all of the sections below in one exposition" };
	a->routes[n++] = (struct http_route){ "/metrics/node", h_node, a,
					      "node_* series (node-exporter names)" };
	a->routes[n++] = (struct http_route){ "/metrics/cadvisor", h_cadvisor, a,
					      "container_* series (kubelet /metrics/cadvisor names)" };
	a->routes[n++] = (struct http_route){ "/metrics/kube-state", h_kube_state, a,
					      "kube_* series (kube-state-metrics names); empty unless this agent leads" };
	a->routes[n++] = (struct http_route){ "/metrics/apps", h_apps, a,
					      "samples scraped from the targets of ScrapeRules, with up and scrape_*" };
	a->routes[n++] = (struct http_route){ "/metrics/self", h_self, a,
					      "k8smon_* self-metrics and process_*" };
	a->routes[n++] = (struct http_route){ "/metrics/components", h_components, a,
					      "every built-in component job below (kube-prometheus job labels), with up and scrape_*" };
	for (int i = 0; i < COMP_COUNT; i++)
		a->routes[n++] = (struct http_route){ ep_paths[EP_COMP_FIRST + i], h_component, a,
						      comp_help[i] };
	a->routes[n++] = (struct http_route){ "/healthz", h_healthz, a, "liveness" };
	a->routes[n++] = (struct http_route){ "/readyz", h_readyz, a,
					      "readiness: 200 once the initial lists are synced" };
	a->routes[n++] = (struct http_route){ "/config", h_config, a,
					      "effective configuration (JSON): where it came from, and each K8sMonitor "
					      "and ScrapeRule generation in effect or rejected and why" };
	a->routes[n++] = (struct http_route){ "/api/v1/targets", h_targets, a,
					      "discovered scrape targets, health and last error (JSON, redacted)" };
	a->routes[n++] = (struct http_route){ "/targets", h_targets, a,
					      "discovered scrape targets with every label (JSON, operators)" };
	a->nroutes = n;
	ho = (struct http_opts){
		.listen_addr = f->listen_addr,
		.max_connections = (unsigned)f->http_max_connections,
		.max_connections_per_addr = (unsigned)f->http_max_conns_per_addr,
		.header_timeout_ms = f->http_header_timeout_ms,
		.timeout_s = (unsigned)((f->http_timeout_ms + 999) / 1000),
		/* Host mode: collector scrapes are serialised on their mutexes,
		 * so two threads (one in a collector, one for /healthz and the
		 * rest) serve as well as four; each idle one costs ~16 KiB of
		 * touched stack (bench/node.sh). */
		.threads = f->kubernetes ? 4 : 2,
		.routes = a->routes,
		.nroutes = n,
	};
	/* Protected endpoints (issue 9): HTTPS and bearer-token auth. */
	if (f->tls) {
		if (tls_check_files(f->tls_cert_file, f->tls_key_file, err, errlen))
			goto fail;
		ho.tls_cert_file = f->tls_cert_file;
		ho.tls_key_file = f->tls_key_file;
	}
	if (strcmp(f->http_auth, "kubernetes") == 0) {
		a->auth = http_auth_new(&(struct http_auth_opts){ 0 });
		if (!a->auth) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		ho.auth = a->auth;
		ho.open_paths = open_paths;
		ho.nopen_paths = sizeof(open_paths) / sizeof(open_paths[0]);
		if (!f->tls)
			log_warn("http", "-http.auth=kubernetes without -tls: scrapers' bearer tokens cross the network in clear text");
	}
	/* Host mode has nothing to sync: ready as soon as we serve. */
	atomic_store(&a->ready, !f->kubernetes);
	a->http = http_server_start(&ho, why, sizeof(why));
	if (!a->http) {
		snprintf(err, errlen, "-httpListenAddr=%s: %s", f->listen_addr, why);
		goto fail;
	}
	if (f->kubernetes) {
		a->hooks = (struct agent_kube_hooks){ hook_config_swap, hook_config, a, hook_rw_apply };
		a->kube = agent_kube_start(f, &a->hooks, why, sizeof(why));
		if (!a->kube) {
			/* Name the flag only when it was given (kube/conn.h). */
			snprintf(err, errlen, "%s%s", f->kubeconfig[0] ? "-kubeconfig: " : "Kubernetes API: ", why);
			goto fail;
		}
		if (a->auth)
			http_auth_set_client(a->auth, agent_kube_client(a->kube));
	}
	if (start_remote_write(a, err, errlen))
		goto fail;
	log_info("agent", "listening on %s (port %u), mode=%s, node=%s", f->listen_addr,
		 http_server_port(a->http), f->kubernetes ? "kubernetes" : "host", f->node_name);
	return a;
fail:
	agent_stop(a);
	return NULL;
}

void agent_stop(struct agent *a)
{
	if (!a)
		return;
	/* Remote write first: its cycle renders through the handlers. Closed
	 * under the lock: a K8sMonitor cannot start it again meanwhile. */
	pthread_mutex_lock(&a->rw_lock);
	a->rw_closed = true;
	pthread_mutex_unlock(&a->rw_lock);
	rw_stop(atomic_load(&a->rw));
	/* HTTP next: no handler may run while the collectors go away. */
	http_server_stop(a->http);
	agent_kube_stop(a->kube);
	/* After the loop stopped: reviews in flight completed there. */
	http_auth_free(a->auth);
	node_collector_free(a->node);
	container_collector_free(a->container);
	collect_stats_free(a->stats);
	config_unref(a->cfg);
	pthread_mutex_destroy(&a->cfg_lock);
	pthread_mutex_destroy(&a->series_log_lock);
	pthread_mutex_destroy(&a->rw_lock);
	free(a);
}

unsigned agent_port(const struct agent *a)
{
	return http_server_port(a->http);
}
