#include "remotewrite/rw.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "expo/writer.h"
#include "remotewrite/chunks.h"
#include "remotewrite/encode.h"
#include "remotewrite/queue.h"
#include "remotewrite/sender.h"
#include "remotewrite/snappy.h"
#include "remotewrite/stale.h"
#include "scrape/labels.h"

#define RW_URLS_MAX 16
#define RW_LABELS_MAX 32
#define URL_LABEL_MAX 512

struct dest {
	struct rw_dest cfg;        /* owned */
	char url[URL_LABEL_MAX];   /* redacted: the url label */
	struct rw_queue *q;
	struct rw_sender *s;
};

/* The destinations with one set of own labels (rw_dest.labels) share one
 * encoding: each group has its encoder (global external labels, then the
 * group's), fed the same rendered text. Most setups have one group. Owned
 * by the collector thread; rebuilt there when the destinations changed. */
struct group {
	struct rw *rw;
	char *labels;                   /* owned copy of the rw_dest.labels: the key */
	size_t labels_len;
	char *mem;                      /* owned: the same, split into "name\0value\0" for ext */
	struct label_pair ext[RW_LABELS_MAX * 2];
	size_t next;
	struct rw_encoder *enc;
	/* Staleness markers of the rendered sections: the series each
	 * pushed last cycle, with this group's labels, and the blocks the
	 * markers are packed into (queued for this group's destinations). */
	struct rw_track track[RW_SRC_N];
	struct rw_packer mpack;
};

struct rw {
	pthread_mutex_t dests_lock;     /* guards d, nd: the collector pushes while a reconfiguration swaps */
	struct dest d[RW_URLS_MAX];
	size_t nd;
	_Atomic uint64_t dests_gen;     /* bumped by rw_set_dests: the groups are rebuilt */
	uint64_t groups_gen;            /* collector thread: the gen the groups were built for */
	struct group g[RW_URLS_MAX];    /* collector thread */
	size_t ng;
	char *tmp_data_path;            /* owned; "" memory queues */
	uint64_t max_disk_per_url;
	int64_t send_timeout_ms, retry_min_ms;
	struct label_pair ext[RW_LABELS_MAX];
	char *ext_mem[RW_LABELS_MAX];   /* owned "name\0value" */
	size_t next;
	struct label_pair tl[RW_SRC_N][4];
	struct rw_target targets[RW_SRC_N];
	char *node;                     /* owned */
	int64_t interval_ms;
	rw_render_fn render;
	void *render_ctx;
	rw_collect_fn collect;
	struct rw_packer pack;          /* application blocks (opts.collect) */
	uint64_t pushed_samples;        /* from the packer's chunks (collector thread) */
	bool sink_labeled_only;         /* collector thread: see sink() */
	bool stale;                     /* markers for the rendered sections (!opts.no_stale_markers) */
	struct buf z;                   /* compressed block */
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	_Atomic uint64_t cycles, cycle_errors, samples, rejected, blocks;
	_Atomic uint64_t last_cycle_us;
	_Atomic uint64_t stale_markers[RW_SRC_N];
	struct log_limit cycle_log;
};

static const char *const src_names[RW_SRC_N] = { "node", "cadvisor", "kube-state", "apps", "components", "self" };

int rw_label_check(const char *kv, char *err, size_t errlen)
{
	const char *eq = strchr(kv, '=');

	if (!eq || eq == kv) {
		snprintf(err, errlen, "want name=value");
		return KM_EINVAL;
	}
	if (!label_name_valid(kv, (size_t)(eq - kv)) || (eq - kv == 8 && strncmp(kv, "__name__", 8) == 0)) {
		snprintf(err, errlen, "\"%.*s\" is not a valid label name", (int)(eq - kv > 64 ? 64 : eq - kv), kv);
		return KM_EINVAL;
	}
	if (!eq[1]) {
		snprintf(err, errlen, "empty value (a label with an empty value does not exist)");
		return KM_EINVAL;
	}
	return 0;
}

void rw_url_redact(const char *url, char *dst, size_t n)
{
	const char *scheme = strstr(url, "://");
	const char *host = scheme ? scheme + 3 : url;
	size_t hostlen = strcspn(host, "/?#");
	const char *at = memchr(host, '@', hostlen);
	const char *rest = at ? at + 1 : host;

	snprintf(dst, n, "%.*s%.*s", (int)(host - url), url, (int)strcspn(rest, "?#"), rest);
}

static bool labels_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && (!alen || memcmp(a, b, alen) == 0);
}

/* Queues one compressed block for every destination whose own labels are
 * labels[0..labels_len). */
static int queue_block(struct rw *rw, const char *labels, size_t labels_len, const char *z, size_t zlen)
{
	bool queued = false;
	int rc = 0;

	pthread_mutex_lock(&rw->dests_lock);
	for (size_t i = 0; i < rw->nd; i++) {
		if (!labels_eq(rw->d[i].cfg.labels, rw->d[i].cfg.labels_len, labels, labels_len))
			continue;
		queued = true;
		/* Over the cap or a full disk: counted by the queue; the other
		 * destinations still get the block. */
		rc = rw_queue_push(rw->d[i].q, z, zlen);
		if (rc == KM_ENOMEM)
			break;
		rc = 0;
	}
	pthread_mutex_unlock(&rw->dests_lock);
	if (queued)
		atomic_fetch_add(&rw->blocks, 1);
	return rc;
}

/* Compresses one WriteRequest of group ctx and queues it for every
 * destination with that group's labels. */
static int on_block(void *ctx, const char *pb, size_t len, size_t series)
{
	struct group *g = ctx;
	struct rw *rw = g->rw;
	int rc;

	(void)series;
	buf_reset(&rw->z);
	rc = buf_reserve(&rw->z, rw_snappy_max(len));
	if (rc)
		return rc;
	rw->z.len = rw_snappy_compress(pb, len, rw->z.data);
	return queue_block(rw, g->labels, g->labels_len, rw->z.data, rw->z.len);
}

/* A block packed from the scrapes' chunks: they carry the global labels
 * only, so it goes to the destinations without labels of their own. */
static int on_zblock(void *ctx, const char *z, size_t zlen, size_t series)
{
	(void)series;
	return queue_block(ctx, NULL, 0, z, zlen);
}

/* One target's encoded scrape: its chunks join the block being packed. */
static int on_chunks(void *ctx, struct rw_chunks *k)
{
	struct rw *rw = ctx;
	struct rw_chunk_ref ch;
	size_t off = 0;
	int rc = 0;

	while (!rc && rw_chunks_next(k, &off, &ch))
		rc = rw_packer_add(&rw->pack, &ch);
	if (!rc)
		rw->pushed_samples += k->series;
	rw_chunks_unref(k);
	return rc;
}

/* The application section from the scrapes' chunks (opts.collect). */
static int collect_apps(struct rw *rw)
{
	int rc = rw->collect(rw->render_ctx, rw->ext, rw->next, rw->node, on_chunks, rw);
	int e = rw_packer_flush(&rw->pack);

	return rc ? rc : e;
}

/* A group fed the rendered text: all of them, but for the application
 * section with scrapes encoded at the scrape (collect_apps) only those with
 * labels of their own, which the chunks cannot carry. */
static bool group_fed(const struct rw *rw, const struct group *g)
{
	return !rw->sink_labeled_only || g->labels_len;
}

/* A block of markers of group ctx: for the destinations with its labels. */
static int on_mblock(void *ctx, const char *z, size_t zlen, size_t series)
{
	struct group *g = ctx;

	(void)series;
	return queue_block(g->rw, g->labels, g->labels_len, z, zlen);
}

static int sink(void *ctx, const char *text, size_t n)
{
	struct rw *rw = ctx;
	int rc = 0;

	for (size_t i = 0; i < rw->ng && !rc; i++)
		if (group_fed(rw, &rw->g[i]))
			rc = rw_encoder_feed(rw->g[i].enc, text, n);
	return rc;
}

static void groups_free(struct rw *rw)
{
	for (size_t i = 0; i < rw->ng; i++) {
		for (int s = 0; s < RW_SRC_N; s++)
			rw_track_fini(&rw->g[i].track[s]);
		rw_packer_fini(&rw->g[i].mpack);
		rw_encoder_free(rw->g[i].enc);
		free(rw->g[i].labels);
		free(rw->g[i].mem);
	}
	rw->ng = 0;
}

/* True when the groups are exactly the label sets of the destinations
 * (dests_lock held): a reconfiguration that changed no labels (a Secret
 * re-read, a new cap) keeps the encoders. */
static bool groups_current(const struct rw *rw)
{
	bool used[RW_URLS_MAX] = { false };

	for (size_t i = 0; i < rw->nd; i++) {
		const struct rw_dest *c = &rw->d[i].cfg;
		size_t k = 0;

		while (k < rw->ng && !labels_eq(rw->g[k].labels, rw->g[k].labels_len, c->labels, c->labels_len))
			k++;
		if (k == rw->ng)
			return false;
		used[k] = true;
	}
	for (size_t k = 0; k < rw->ng; k++)
		if (!used[k])
			return false;
	return rw->ng > 0;
}

/* One group per distinct label set of the destinations (dests_lock held). */
static int groups_build(struct rw *rw)
{
	if (groups_current(rw))
		return 0;
	groups_free(rw);
	for (size_t i = 0; i < rw->nd; i++) {
		const struct rw_dest *c = &rw->d[i].cfg;
		struct group *g;
		size_t k = 0;

		while (k < rw->ng && !labels_eq(rw->g[k].labels, rw->g[k].labels_len, c->labels, c->labels_len))
			k++;
		if (k < rw->ng)
			continue;
		g = &rw->g[rw->ng];
		memset(g, 0, sizeof(*g));
		g->rw = rw;
		if (c->labels_len) {
			g->labels = malloc(c->labels_len);
			g->mem = malloc(c->labels_len);
			if (!g->labels || !g->mem) {
				free(g->labels);
				free(g->mem);
				goto oom;
			}
			memcpy(g->labels, c->labels, c->labels_len);
			memcpy(g->mem, c->labels, c->labels_len);
			g->labels_len = c->labels_len;
		}
		/* Global labels first: the encoder lets a later one of the same
		 * name win, so the destination's own override them. */
		memcpy(g->ext, rw->ext, rw->next * sizeof(rw->ext[0]));
		g->next = rw->next;
		for (size_t at = 0; at < g->labels_len && g->next < RW_LABELS_MAX * 2;) {
			char *kv = g->mem + at;
			size_t l = strlen(kv);
			char *eq = strchr(kv, '=');

			/* "name=value" (rw_dest_check): split in the group's own copy */
			at += l + 1;
			if (!eq)
				continue;
			*eq = '\0';
			g->ext[g->next++] = (struct label_pair){ kv, eq + 1 };
		}
		g->enc = rw_encoder_new(RW_BLOCK_SERIES, g->ext, g->next, on_block, g);
		if (!g->enc) {
			free(g->labels);
			free(g->mem);
			goto oom;
		}
		/* A new group (its destinations' labels changed) has no last
		 * cycle: series the old one pushed get no marker. */
		for (int s = 0; s < RW_SRC_N; s++)
			rw_track_init(&g->track[s]);
		rw_packer_init(&g->mpack, RW_BLOCK_SERIES, RW_BLOCK_BYTES, on_mblock, g);
		rw->ng++;
	}
	return 0;
oom:
	groups_free(rw);
	return KM_ENOMEM;
}

/* Ends section src of group g: the markers of its series that vanished
 * (or were not pushed because the section failed) go to the group's
 * marker blocks; counted once, for the group that counts samples (cg). */
static void stale_end(struct rw *rw, struct group *g, const struct group *cg, enum rw_source src, int64_t ts)
{
	struct rw_chunk_ref ch;
	struct rw_chunks *mk;
	size_t off = 0;
	uint64_t n;
	int rc;

	mk = rw_track_end(&g->track[src], ts, &n, &rc);
	while (!rc && mk && rw_chunks_next(mk, &off, &ch))
		rc = rw_packer_add(&g->mpack, &ch);
	rw_chunks_unref(mk);
	if (rc) {
		log_limited(&rw->cycle_log, 60000, LOG_WARN, "remotewrite", "section %s: staleness markers lost: %s",
			    src_names[src], km_strerror(rc));
		return;
	}
	if (g == cg)
		atomic_fetch_add(&rw->stale_markers[src], n);
}

static void cycle(struct rw *rw)
{
	int64_t t0 = clock_mono_ns(), ts = clock_wall_ms();
	uint64_t gen = atomic_load(&rw->dests_gen), samples0, rejected0;
	struct group *cg = NULL;
	int rc = 0;
	size_t nd;

	/* No destination (a K8sMonitor removed them all): nothing to render. */
	pthread_mutex_lock(&rw->dests_lock);
	nd = rw->nd;
	if (nd && (gen != rw->groups_gen || !rw->ng)) {
		rc = groups_build(rw);
		rw->groups_gen = gen;
	}
	pthread_mutex_unlock(&rw->dests_lock);
	if (!nd || !rw->ng) {
		if (rc)
			log_limited(&rw->cycle_log, 60000, LOG_WARN, "remotewrite", "cycle skipped: out of memory");
		return;
	}
	/* Every group encodes the same samples: one counts them, the group
	 * without labels of its own when there is one (with opts.collect its
	 * application samples are the packed chunks'). */
	for (size_t i = 0; i < rw->ng; i++)
		if (!rw->g[i].labels_len)
			cg = &rw->g[i];
	if (!cg || !rw->collect)
		cg = &rw->g[0];
	samples0 = rw_encoder_samples(cg->enc) + (cg->labels_len ? 0 : rw->pushed_samples);
	rejected0 = rw_encoder_rejected(cg->enc);
	for (int s = 0; s < RW_SRC_N; s++) {
		const struct group *mcg;
		bool fed = false;
		int e = 0;

		rw->sink_labeled_only = s == RW_SRC_APPS && rw->collect;
		/* Called even with no destination to pack for: it hands over
		 * (and frees) what the scrapes encoded since the last cycle. */
		if (rw->sink_labeled_only)
			e = collect_apps(rw);
		for (size_t i = 0; i < rw->ng; i++)
			if (group_fed(rw, &rw->g[i])) {
				rw_encoder_begin(rw->g[i].enc, &rw->targets[s], ts);
				if (rw->stale) {
					rw_track_begin(&rw->g[i].track[s]);
					rw_encoder_track(rw->g[i].enc, &rw->g[i].track[s]);
				}
				fed = true;
			}
		if (fed) {
			int er = rw->render(rw->render_ctx, (enum rw_source)s, sink, rw);

			if (!e)
				e = er;
		}
		/* markers counted for one group: cg, or one that is fed when
		 * cg is not (the application section of labeled groups) */
		mcg = cg;
		for (size_t i = rw->ng; !group_fed(rw, mcg) && i-- > 0;)
			if (group_fed(rw, &rw->g[i]))
				mcg = &rw->g[i];
		for (size_t i = 0; i < rw->ng; i++) {
			int ee = group_fed(rw, &rw->g[i]) ? rw_encoder_end(rw->g[i].enc) : 0;

			if (!e)
				e = ee;
			if (rw->stale && group_fed(rw, &rw->g[i]))
				stale_end(rw, &rw->g[i], mcg, (enum rw_source)s, ts);
		}
		rw->sink_labeled_only = false;
		if (e) {
			rc = e;
			log_limited(&rw->cycle_log, 60000, LOG_WARN, "remotewrite",
				    "section %s not sent this cycle: %s", src_names[s], km_strerror(e));
		}
	}
	for (size_t i = 0; i < rw->ng; i++)
		if (rw_encoder_flush(rw->g[i].enc) || rw_packer_flush(&rw->g[i].mpack))
			rc = KM_EIO;
	atomic_fetch_add(&rw->samples, rw_encoder_samples(cg->enc) + (cg->labels_len ? 0 : rw->pushed_samples) - samples0);
	atomic_fetch_add(&rw->rejected, rw_encoder_rejected(cg->enc) - rejected0);
	atomic_fetch_add(&rw->cycles, 1);
	if (rc)
		atomic_fetch_add(&rw->cycle_errors, 1);
	atomic_store(&rw->last_cycle_us, (uint64_t)((clock_mono_ns() - t0) / 1000));
}

static void *run(void *arg)
{
	struct rw *rw = arg;
	int64_t next = clock_mono_ms();

	pthread_mutex_lock(&rw->lock);
	while (!rw->stop) {
		int64_t now = clock_mono_ms();

		if (now >= next) {
			pthread_mutex_unlock(&rw->lock);
			cycle(rw);
			pthread_mutex_lock(&rw->lock);
			/* On the grid; a cycle longer than the interval skips ticks. */
			next += rw->interval_ms;
			now = clock_mono_ms();
			if (next <= now)
				next += ((now - next) / rw->interval_ms + 1) * rw->interval_ms;
			continue;
		} else {
			struct timespec ts;
			int64_t wait = next - now;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += (time_t)(wait / 1000);
			ts.tv_nsec += (long)(wait % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&rw->cond, &rw->lock, &ts);
		}
	}
	pthread_mutex_unlock(&rw->lock);
	return NULL;
}

static int add_ext(struct rw *rw, const char *kv)
{
	char *m = strdup(kv);
	char *eq;

	if (!m)
		return KM_ENOMEM;
	eq = strchr(m, '=');
	*eq = '\0';
	rw->ext_mem[rw->next] = m;
	rw->ext[rw->next++] = (struct label_pair){ m, eq + 1 };
	return 0;
}

/* The labels of the chart's PodMonitor endpoints (helm/k8smon/templates/podmonitor.yaml). */
static void set_targets(struct rw *rw)
{
	const char *n = rw->node;
	struct label_pair (*t)[4] = rw->tl;

	t[RW_SRC_NODE][0] = (struct label_pair){ "job", "node-exporter" };
	t[RW_SRC_NODE][1] = (struct label_pair){ "instance", n };
	t[RW_SRC_NODE][2] = (struct label_pair){ "node", n };
	rw->targets[RW_SRC_NODE] = (struct rw_target){ t[RW_SRC_NODE], 3, false };
	t[RW_SRC_CADVISOR][0] = (struct label_pair){ "job", "kubelet" };
	t[RW_SRC_CADVISOR][1] = (struct label_pair){ "metrics_path", "/metrics/cadvisor" };
	t[RW_SRC_CADVISOR][2] = (struct label_pair){ "instance", n };
	t[RW_SRC_CADVISOR][3] = (struct label_pair){ "node", n };
	rw->targets[RW_SRC_CADVISOR] = (struct rw_target){ t[RW_SRC_CADVISOR], 4, true };
	/* The chart drops the agent pod's own labels here: cluster-level
	 * series must not change with the leader. */
	t[RW_SRC_KUBE_STATE][0] = (struct label_pair){ "job", "kube-state-metrics" };
	rw->targets[RW_SRC_KUBE_STATE] = (struct rw_target){ t[RW_SRC_KUBE_STATE], 1, true };
	/* job and instance come with the samples (target labels). */
	t[RW_SRC_APPS][0] = (struct label_pair){ "node", n };
	rw->targets[RW_SRC_APPS] = (struct rw_target){ t[RW_SRC_APPS], 1, true };
	/* The component jobs' samples already carry kube-prometheus's labels
	 * (job, instance, node, metrics_path, ...), exactly as
	 * /metrics/components serves them: nothing added. A node label on the
	 * API server's (leader-only) series would change with the leader. */
	rw->targets[RW_SRC_COMPONENTS] = (struct rw_target){ NULL, 0, true };
	t[RW_SRC_SELF][0] = (struct label_pair){ "job", "k8smon" };
	t[RW_SRC_SELF][1] = (struct label_pair){ "instance", n };
	t[RW_SRC_SELF][2] = (struct label_pair){ "node", n };
	rw->targets[RW_SRC_SELF] = (struct rw_target){ t[RW_SRC_SELF], 3, false };
}

/* tmpDataPath/<FNV-1a of the URL>: stable across restarts for one URL. */
static void queue_dir(const char *base, const char *url, char *dst, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (const char *p = url; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	snprintf(dst, n, "%s/%016" PRIx64, base, h);
}

/* Opens the queue and starts the sender of cfg into *d. */
static int dest_open(struct rw *rw, struct dest *d, const struct rw_dest *cfg, char *err, size_t errlen)
{
	char why[300], dir[1100];

	memset(d, 0, sizeof(*d));
	if (rw_dest_copy(&d->cfg, cfg)) {
		snprintf(err, errlen, "out of memory");
		return KM_ENOMEM;
	}
	rw_url_redact(cfg->url, d->url, sizeof(d->url));
	dir[0] = '\0';
	if (rw->tmp_data_path[0])
		queue_dir(rw->tmp_data_path, cfg->url, dir, sizeof(dir));
	d->q = rw_queue_open(dir, cfg->max_disk ? cfg->max_disk : rw->max_disk_per_url, why, sizeof(why));
	if (!d->q) {
		snprintf(err, errlen, "-remoteWrite.tmpDataPath: queue of %s: %s", d->url, why);
		rw_dest_fini(&d->cfg);
		return KM_EIO;
	}
	d->s = rw_sender_start(&(struct rw_sender_opts){
		.dest = cfg, .send_timeout_ms = cfg->send_timeout_ms ? cfg->send_timeout_ms : rw->send_timeout_ms,
		.retry_min_ms = rw->retry_min_ms, .q = d->q,
	}, why, sizeof(why));
	if (!d->s) {
		snprintf(err, errlen, "remote write to %s: %s", d->url, why);
		rw_queue_close(d->q);
		rw_dest_fini(&d->cfg);
		return KM_ENOMEM;
	}
	if (dir[0])
		log_info("remotewrite", "%s: queue in %s", d->url, dir);
	return 0;
}

static void dest_close(struct dest *d)
{
	rw_sender_stop(d->s);
	rw_queue_close(d->q);
	rw_dest_fini(&d->cfg);
	memset(d, 0, sizeof(*d));
}

/* The same destination with new settings: the queue stays, the sender is
 * replaced (an in-flight POST is aborted; its block stays first). */
static int dest_update(struct rw *rw, struct dest *d, const struct rw_dest *cfg, char *err, size_t errlen)
{
	struct rw_dest copy;
	struct rw_sender *s;
	char why[300];

	if (rw_dest_copy(&copy, cfg)) {
		snprintf(err, errlen, "out of memory");
		return KM_ENOMEM;
	}
	rw_sender_stop(d->s);
	d->s = NULL;
	s = rw_sender_start(&(struct rw_sender_opts){
		.dest = cfg, .send_timeout_ms = cfg->send_timeout_ms ? cfg->send_timeout_ms : rw->send_timeout_ms,
		.retry_min_ms = rw->retry_min_ms, .q = d->q,
	}, why, sizeof(why));
	if (!s) {
		snprintf(err, errlen, "remote write to %s: %s", d->url, why);
		rw_dest_fini(&copy);
		return KM_ENOMEM;
	}
	d->s = s;
	rw_dest_fini(&d->cfg);
	d->cfg = copy;
	return 0;
}

/* The same destination with a new queue cap or own labels: the sender
 * stays; a lower cap drops the oldest blocks over it at once (counted). */
static int dest_requeue(struct rw *rw, struct dest *d, const struct rw_dest *cfg, char *err, size_t errlen)
{
	if (!rw_dest_same_queue(&d->cfg, cfg)) {
		struct rw_dest copy;

		if (rw_dest_copy(&copy, cfg)) {
			snprintf(err, errlen, "out of memory");
			return KM_ENOMEM;
		}
		/* The sender borrows nothing of cfg's strings after its start
		 * (sender.h), so the old copy can go. */
		rw_dest_fini(&d->cfg);
		d->cfg = copy;
	}
	rw_queue_set_cap(d->q, cfg->max_disk ? cfg->max_disk : rw->max_disk_per_url);
	return 0;
}

int rw_set_dests(struct rw *rw, const struct rw_dest *dests, size_t n, char *err, size_t errlen)
{
	struct dest next[RW_URLS_MAX];
	bool kept[RW_URLS_MAX] = { false };
	size_t nn = 0;
	int rc = 0, e;
	char later[300];   /* errors after the first, which err keeps */

	if (n > RW_URLS_MAX) {
		snprintf(err, errlen, "at most %d remote-write destinations", RW_URLS_MAX);
		return KM_EINVAL;
	}
	pthread_mutex_lock(&rw->dests_lock);
	for (size_t j = 0; j < n; j++) {
		size_t i = 0;

		while (i < rw->nd && (kept[i] || strcmp(rw->d[i].cfg.url, dests[j].url) != 0))
			i++;
		if (i < rw->nd) {
			kept[i] = true;
			e = rw_dest_equal(&rw->d[i].cfg, &dests[j]) ? 0 :
			    dest_update(rw, &rw->d[i], &dests[j], rc ? later : err, rc ? sizeof(later) : errlen);
			if (!e && rw->d[i].s)
				e = dest_requeue(rw, &rw->d[i], &dests[j], rc ? later : err, rc ? sizeof(later) : errlen);
			if (e && !rc)
				rc = e;
			if (!rw->d[i].s) {
				/* No sender: the queue closes (its files stay on disk). */
				dest_close(&rw->d[i]);
				continue;
			}
			next[nn++] = rw->d[i];
			continue;
		}
		e = dest_open(rw, &next[nn], &dests[j], rc ? later : err, rc ? sizeof(later) : errlen);
		if (e) {
			if (!rc)
				rc = e;
			continue;
		}
		log_info("remotewrite", "%s: destination added", next[nn].url);
		nn++;
	}
	for (size_t i = 0; i < rw->nd; i++) {
		if (!kept[i]) {
			log_info("remotewrite", "%s: destination removed", rw->d[i].url);
			dest_close(&rw->d[i]);
		}
	}
	memcpy(rw->d, next, nn * sizeof(next[0]));
	rw->nd = nn;
	atomic_fetch_add(&rw->dests_gen, 1);
	pthread_mutex_unlock(&rw->dests_lock);
	return rc;
}

struct rw *rw_start(const struct rw_opts *o, char *err, size_t errlen)
{
	struct rw *rw;

	if (o->ndests > RW_URLS_MAX || o->nlabels > RW_LABELS_MAX) {
		snprintf(err, errlen, "at most %d -remoteWrite.url and %d -remoteWrite.label", RW_URLS_MAX, RW_LABELS_MAX);
		return NULL;
	}
	rw = calloc(1, sizeof(*rw));
	if (!rw) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&rw->lock, NULL);
	pthread_mutex_init(&rw->dests_lock, NULL);
	pthread_cond_init(&rw->cond, NULL);
	buf_init(&rw->z, 128u << 20);
	rw->interval_ms = o->interval_ms;
	rw->render = o->render;
	rw->render_ctx = o->render_ctx;
	rw->collect = o->collect;
	rw->stale = !o->no_stale_markers;
	rw_packer_init(&rw->pack, RW_BLOCK_SERIES, RW_BLOCK_BYTES, on_zblock, rw);
	rw->max_disk_per_url = o->max_disk_per_url;
	rw->send_timeout_ms = o->send_timeout_ms;
	rw->retry_min_ms = o->retry_min_ms;
	rw->node = strdup(o->node_name);
	rw->tmp_data_path = strdup(o->tmp_data_path);
	if (!rw->node || !rw->tmp_data_path)
		goto oom;
	for (size_t i = 0; i < o->nlabels; i++)
		if (add_ext(rw, o->labels[i]))
			goto oom;
	set_targets(rw);
	if (o->tmp_data_path[0] && mkdir(o->tmp_data_path, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "-remoteWrite.tmpDataPath=%s: %s", o->tmp_data_path, strerror(errno));
		goto fail;
	}
	/* At start-up every destination must work: a flag error stops the agent. */
	if (rw_set_dests(rw, o->dests, o->ndests, err, errlen))
		goto fail;
	/* Scrapes from now on encode their samples: the first cycle has
	 * what finished before it. */
	if (rw->collect && rw->collect(rw->render_ctx, rw->ext, rw->next, rw->node, NULL, NULL))
		goto oom;
	if (pthread_create(&rw->thread, NULL, run, rw) != 0) {
		snprintf(err, errlen, "cannot start the remote-write thread");
		goto fail;
	}
	rw->started = true;
	return rw;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	rw_stop(rw);
	return NULL;
}

void rw_stop(struct rw *rw)
{
	if (!rw)
		return;
	if (rw->started) {
		pthread_mutex_lock(&rw->lock);
		rw->stop = true;
		pthread_cond_broadcast(&rw->cond);
		pthread_mutex_unlock(&rw->lock);
		pthread_join(rw->thread, NULL);
		/* Each cycle queued its blocks before this line: with what is
		 * left in the queues, it accounts for every sample (tests use it). */
		log_info("remotewrite", "stopped after %llu cycles (%llu blocks)",
			 (unsigned long long)atomic_load(&rw->cycles), (unsigned long long)atomic_load(&rw->blocks));
	}
	for (size_t i = 0; i < rw->nd; i++)
		dest_close(&rw->d[i]);
	groups_free(rw);
	rw_packer_fini(&rw->pack);
	for (size_t i = 0; i < rw->next; i++)
		free(rw->ext_mem[i]);
	free(rw->node);
	free(rw->tmp_data_path);
	buf_fini(&rw->z);
	pthread_cond_destroy(&rw->cond);
	pthread_mutex_destroy(&rw->dests_lock);
	pthread_mutex_destroy(&rw->lock);
	free(rw);
}

#define FAM(name, help, type) do { if (!rc) rc = expo_family(out, name, help, type); } while (0)

int rw_write_metrics(struct rw *rw, struct buf *out)
{
	struct rw_queue_stats qs[RW_URLS_MAX];
	struct rw_sender_stats ss[RW_URLS_MAX];
	int rc = 0;

	/* Held to the end: the url labels are the destinations'. */
	pthread_mutex_lock(&rw->dests_lock);
	for (size_t i = 0; i < rw->nd; i++) {
		rw_queue_stats(rw->d[i].q, &qs[i]);
		rw_sender_stats(rw->d[i].s, &ss[i]);
	}
#define PER_URL(name, help, type, expr) do { \
		FAM(name, help, type); \
		for (size_t i = 0; !rc && i < rw->nd; i++) { \
			struct label_pair l = { "url", rw->d[i].url }; \
			rc = expo_sample(out, name, &l, 1, (double)(expr)); \
		} } while (0)
	PER_URL("k8smon_remotewrite_queue_bytes", "Bytes of blocks queued for the destination (on disk with -remoteWrite.tmpDataPath).",
		EXPO_GAUGE, qs[i].bytes);
	PER_URL("k8smon_remotewrite_queue_blocks", "Blocks (compressed WriteRequests) queued for the destination.",
		EXPO_GAUGE, qs[i].blocks);
	PER_URL("k8smon_remotewrite_blocks_sent_total", "Blocks the destination accepted (2xx).", EXPO_COUNTER,
		ss[i].blocks_sent);
	PER_URL("k8smon_remotewrite_bytes_sent_total", "Compressed bytes the destination accepted.", EXPO_COUNTER,
		ss[i].bytes_sent);
	PER_URL("k8smon_remotewrite_retries_total",
		"Send attempts that failed and will be retried (429, 5xx, connection error, timeout).", EXPO_COUNTER,
		ss[i].retries);
	FAM("k8smon_remotewrite_blocks_dropped_total",
	    "Blocks dropped without being sent: rejected (a 4xx other than 429), overflow (oldest dropped at -remoteWrite.maxDiskUsagePerURL), "
	    "corrupt (damaged queue file), io (queue file not writable or readable).", EXPO_COUNTER);
	for (size_t i = 0; !rc && i < rw->nd; i++) {
		static const char *const reasons[] = { "rejected", "overflow", "corrupt", "io" };
		uint64_t v[] = { ss[i].dropped_rejected, qs[i].dropped_overflow, qs[i].dropped_corrupt, qs[i].dropped_io };

		for (int r = 0; !rc && r < 4; r++) {
			struct label_pair l[2] = { { "reason", reasons[r] }, { "url", rw->d[i].url } };

			rc = expo_sample(out, "k8smon_remotewrite_blocks_dropped_total", l, 2, (double)v[r]);
		}
	}
	FAM("k8smon_remotewrite_send_duration_seconds", "Wall time of send attempts.", EXPO_SUMMARY);
	for (size_t i = 0; !rc && i < rw->nd; i++) {
		struct label_pair l = { "url", rw->d[i].url };

		rc = expo_sample(out, "k8smon_remotewrite_send_duration_seconds_sum", &l, 1, ss[i].duration_sum_s);
		if (!rc)
			rc = expo_sample(out, "k8smon_remotewrite_send_duration_seconds_count", &l, 1, (double)ss[i].requests);
	}
	PER_URL("k8smon_remotewrite_last_error_timestamp_seconds", "Unix time of the last failed send attempt; 0: none.",
		EXPO_GAUGE, ss[i].last_error_s);
	PER_URL("k8smon_remotewrite_last_success_timestamp_seconds", "Unix time of the last accepted block; 0: none.",
		EXPO_GAUGE, ss[i].last_success_s);
	PER_URL("k8smon_remotewrite_vm_protocol",
		"1: blocks go out zstd-compressed (VictoriaMetrics remote-write protocol); 0: snappy (Prometheus).",
		EXPO_GAUGE, ss[i].vm_proto ? 1 : 0);
#undef PER_URL
	pthread_mutex_unlock(&rw->dests_lock);
	FAM("k8smon_remotewrite_samples_total", "Samples encoded for remote write (each queued for every destination).", EXPO_COUNTER);
	if (!rc)
		rc = expo_sample(out, "k8smon_remotewrite_samples_total", NULL, 0, (double)atomic_load(&rw->samples));
	FAM("k8smon_remotewrite_stale_markers_total",
	    "Staleness markers made for series of a rendered section that its last cycle pushed and this one did not "
	    "(apps: those of destinations with labels of their own; the scrapes' own: k8smon_scrape_stale_markers_total).", EXPO_COUNTER);
	for (int s = 0; !rc && s < RW_SRC_N; s++) {
		struct label_pair l = { "source", src_names[s] };

		rc = expo_sample(out, "k8smon_remotewrite_stale_markers_total", &l, 1,
				 (double)atomic_load(&rw->stale_markers[s]));
	}
	FAM("k8smon_remotewrite_blocks_total", "Blocks made (each queued for every destination with the block's own labels; one per label set).", EXPO_COUNTER);
	if (!rc)
		rc = expo_sample(out, "k8smon_remotewrite_blocks_total", NULL, 0, (double)atomic_load(&rw->blocks));
	FAM("k8smon_remotewrite_cycles_total", "Collection cycles for remote write (one per interval).", EXPO_COUNTER);
	if (!rc)
		rc = expo_sample(out, "k8smon_remotewrite_cycles_total", NULL, 0, (double)atomic_load(&rw->cycles));
	FAM("k8smon_remotewrite_cycle_errors_total", "Cycles in which a section could not be rendered or encoded (logged).", EXPO_COUNTER);
	if (!rc)
		rc = expo_sample(out, "k8smon_remotewrite_cycle_errors_total", NULL, 0, (double)atomic_load(&rw->cycle_errors));
	FAM("k8smon_remotewrite_rejected_lines_total", "Exposition lines the encoder could not parse or label (not sent).", EXPO_COUNTER);
	if (!rc)
		rc = expo_sample(out, "k8smon_remotewrite_rejected_lines_total", NULL, 0, (double)atomic_load(&rw->rejected));
	FAM("k8smon_remotewrite_last_cycle_seconds", "Time the last cycle took to render, encode, compress and queue.", EXPO_GAUGE);
	if (!rc)
		rc = expo_sample(out, "k8smon_remotewrite_last_cycle_seconds", NULL, 0, (double)atomic_load(&rw->last_cycle_us) / 1e6);
	return rc;
}
