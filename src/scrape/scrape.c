/* The manager: objects per role, the rule list, the reflectors the rules
 * need, and the debounced recompute that turns them into the target set. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "base/clock.h"
#include "base/err.h"
#include "config/selector.h"
#include "kube/event.h"
#include "kube/loop.h"
#include "kube/informer.h"
#include "scrape/scrape_int.h"

static const struct kube_resource role_res[WATCH_COUNT] = {
	[ROLE_POD] = { "", "v1", "pods", true },
	[ROLE_SERVICE] = { "", "v1", "services", true },
	[ROLE_ENDPOINTS] = { "", "v1", "endpoints", true },
	[ROLE_ENDPOINTSLICE] = { "discovery.k8s.io", "v1", "endpointslices", true },
	[ROLE_NODE] = { "", "v1", "nodes", false },
	[ROLE_INGRESS] = { "networking.k8s.io", "v1", "ingresses", true },
	[WATCH_NAMESPACES] = { "", "v1", "namespaces", false },
};

static const json_t *lookup(struct scrape_mgr *m, int kind, const char *ns, const char *name)
{
	char key[600];

	snprintf(key, sizeof(key), "%s/%s", ns ? ns : "", name ? name : "");
	return json_object_get(m->objs[kind], key);
}

static const json_t *get_pod(void *arg, const char *ns, const char *name)
{
	return lookup(arg, ROLE_POD, ns, name);
}

static const json_t *get_service(void *arg, const char *ns, const char *name)
{
	return lookup(arg, ROLE_SERVICE, ns, name);
}

static const json_t *get_namespace(void *arg, const char *name)
{
	return lookup(arg, WATCH_NAMESPACES, NULL, name);
}

/* ---- recompute ----------------------------------------------------------- */

struct collect {
	struct scrape_rule *rule;
	struct target **v;
	size_t n, cap;
	int rc;
	/* "namespace/pod" of every pod a ScrapeRule scrapes: the built-in
	 * rule leaves them alone (docs/discovery.md, precedence). */
	json_t *claimed;
	uint64_t skipped;
};

static int pod_key(const struct disc_target *d, char *key, size_t n)
{
	const char *ns = tl_get(&d->discovered, "__meta_kubernetes_namespace");
	const char *pod = tl_get(&d->discovered, "__meta_kubernetes_pod_name");

	if (!ns || !pod)
		return KM_ENOENT;
	snprintf(key, n, "%s/%s", ns, pod);
	return 0;
}

static int emit(struct disc_target *d, void *arg)
{
	struct collect *c = arg;
	struct target *t;
	char key[600];

	if (c->n == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 64;
		struct target **nv = realloc(c->v, nc * sizeof(*nv));
		if (!nv)
			return KM_ENOMEM;
		c->v = nv;
		c->cap = nc;
	}
	if (c->claimed && pod_key(d, key, sizeof(key)) == 0) {
		if (c->rule->builtin && json_object_get(c->claimed, key)) {
			disc_target_free(d);
			c->skipped++;
			return 0;
		}
		if (!c->rule->builtin && json_object_set_new(c->claimed, key, json_true()))
			return KM_ENOMEM;
	}
	t = target_new(c->rule, d);
	if (!t)
		return KM_ENOMEM;
	c->v[c->n++] = t;
	return 0;
}

static void kick(struct scrape_mgr *m);

static struct disc_target *disc_target_dup(const struct disc_target *d)
{
	struct disc_target *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	tl_init(&x->discovered);
	tl_init(&x->labels);
	x->url = strdup(d->url);
	x->interval_ms = d->interval_ms;
	x->timeout_ms = d->timeout_ms;
	x->refused = d->refused ? strdup(d->refused) : NULL;
	if (!x->url || (d->refused && !x->refused) || tl_copy(&x->discovered, &d->discovered) ||
	    tl_copy(&x->labels, &d->labels)) {
		disc_target_free(x);
		return NULL;
	}
	return x;
}

/* The static targets join the discovered ones at every recompute (copies:
 * the set owns its targets). */
static void emit_statics(struct scrape_mgr *m, struct collect *c)
{
	for (size_t i = 0; i < m->nstatics; i++) {
		struct disc_target *d = disc_target_dup(m->statics[i].d);
		c->rule = m->statics[i].rule;
		if (!d || emit(d, c)) {
			disc_target_free(d);
			c->rc = KM_ENOMEM;
			return;
		}
	}
}

void scrape_static_free(struct scrape_static *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		scrape_rule_unref(v[i].rule);
		disc_target_free(v[i].d);
	}
	free(v);
}

struct static_msg {
	struct scrape_mgr *m;
	struct scrape_static *v;
	size_t n;
};

static void static_on_loop(void *arg)
{
	struct static_msg *x = arg;
	struct scrape_mgr *m = x->m;

	scrape_static_free(m->statics, m->nstatics);
	m->statics = x->v;
	m->nstatics = x->n;
	free(x);
	kick(m);
}

int scrape_mgr_set_static(struct scrape_mgr *m, struct scrape_static *v, size_t n)
{
	struct static_msg *x;
	int rc;

	if (!m) {
		scrape_static_free(v, n);
		return KM_EINVAL;
	}
	x = malloc(sizeof(*x));
	if (!x) {
		scrape_static_free(v, n);
		return KM_ENOMEM;
	}
	*x = (struct static_msg){ m, v, n };
	rc = kube_loop_post(m->loop, static_on_loop, x);
	if (rc) {
		scrape_static_free(v, n);
		free(x);
	}
	return rc;
}

/* The rules in effect: every ScrapeRule, then the built-in one unless the
 * policy turned it off. *owned is to be freed by the caller. */
static size_t active_rules(struct scrape_mgr *m, struct scrape_rule ***owned)
{
	size_t n = m->nrules;
	struct scrape_rule **v = malloc((n + 1) * sizeof(*v));

	*owned = v;
	if (!v)
		return 0;
	for (size_t i = 0; i < n; i++)
		v[i] = m->rules[i];
	if (m->policy.builtin_rule)
		v[n++] = m->builtin;
	return n;
}

/* Target count limits, per agent and per namespace (the target's namespace
 * label). Targets that run already keep running; new ones over a limit are
 * refused (down, with the reason), so a flood never displaces what was
 * scraped before it. Refused addresses do not count. */
static void apply_limits(struct scrape_mgr *m)
{
	const struct scrape_policy *p = &m->policy;
	json_t *per_ns = json_object();
	char **msg = calloc(m->set.n ? m->set.n : 1, sizeof(*msg));
	size_t total = 0;

	/* Out of memory: no counting, but every target still starts. */
	for (int pass = 0; per_ns && msg && pass < 2; pass++) {
		for (size_t i = 0; i < m->set.n; i++) {
			struct target *t = m->set.v[i];
			const struct tstate *s = t->state;
			bool running = s && s->refuse == REFUSE_NONE;
			const char *ns = tl_get(&t->d->labels, "namespace");
			json_int_t have;
			char why[256];

			if (t->d->refused || running != (pass == 0))
				continue;
			ns = ns ? ns : "";
			have = json_integer_value(json_object_get(per_ns, ns));
			why[0] = 0;
			if (p->max_targets && total >= p->max_targets)
				snprintf(why, sizeof(why), "target limit exceeded: this agent has %u targets "
					 "(K8sMonitor spec.scrape.maxTargets)", p->max_targets);
			else if (p->max_targets_per_namespace && (uint64_t)have >= p->max_targets_per_namespace)
				snprintf(why, sizeof(why), "target limit exceeded: namespace \"%s\" has %u targets on this "
					 "agent (K8sMonitor spec.scrape.maxTargetsPerNamespace)", ns,
					 p->max_targets_per_namespace);
			if (why[0]) {
				msg[i] = strdup(why);
				continue;
			}
			total++;
			json_object_set_new(per_ns, ns, json_integer(have + 1));
		}
	}
	for (size_t i = 0; i < m->set.n; i++) {
		struct target *t = m->set.v[i];
		const char *why = msg ? msg[i] : NULL;
		if (t->state && tstate_stale(m, t, why)) {
			pthread_mutex_lock(&m->lock);
			tstate_stop(t, m);
			pthread_mutex_unlock(&m->lock);
		}
		if (!t->state && tstate_start(m, t, why))
			log_warn("scrape", "cannot start a target: out of memory");
	}
	if (msg)
		for (size_t i = 0; i < m->set.n; i++)
			free(msg[i]);
	free(msg);
	json_decref(per_ns);
}

/* Lets the connection caches keep one idle connection per target (plus
 * the API server's), within half the file descriptor limit: libcurl's
 * default limit (4 x the handles in flight) is far smaller than a target
 * set whose scrapes are spread over the interval, so every scrape would
 * reconnect. The limit applies to each of the caches the targets are
 * spread over (scrape_int.h SCRAPE_CONN_CACHES), which hold about as many
 * targets each, so it is the overall one divided among them. */
static void size_conn_cache(struct scrape_mgr *m)
{
	struct rlimit rl;
	long want = (long)m->set.n + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)want > rl.rlim_cur / 2)
		want = (long)(rl.rlim_cur / 2);
	want = (want + SCRAPE_CONN_CACHES - 1) / SCRAPE_CONN_CACHES;
	if (want == m->conn_cache)
		return;
	m->conn_cache = want;
	curl_multi_setopt(kube_loop_multi(m->loop), CURLMOPT_MAXCONNECTS, want);
}

static void recompute(void *arg)
{
	struct scrape_mgr *m = arg;
	struct collect c = { 0 };
	struct disc_ctx ctx = {
		.node_name = m->node_name,
		.leader = m->leader,
		.interval_ms = m->interval_ms,
		.get_pod = get_pod,
		.get_service = get_service,
		.get_namespace = get_namespace,
		.arg = m,
		.policy = &m->policy,
		.node_addrs = &m->node_addrs,
		.api_addrs = &m->api_addrs,
	};
	struct scrape_rule **rules = NULL;
	size_t nrules, added = 0, removed = 0, retuned = 0;
	uint64_t confined = 0, honor_denied = 0;
	const struct tset_cbs cbs = { tstate_stop, tstate_retune, m };

	m->recompute_timer = 0;
	if (m->stopping)
		return;
	nrules = active_rules(m, &rules);
	c.claimed = json_object();
	/* The node's addresses change (DHCP, a new pod bridge): read them anew,
	 * at most every NODE_ADDRS_REFRESH_MS (a node has a veth per pod, and
	 * recomputes follow pod churn). */
	if (!m->node_addrs_ms || clock_mono_ms() - m->node_addrs_ms >= NODE_ADDRS_REFRESH_MS) {
		m->node_addrs_ms = clock_mono_ms();
		if (addr_set_local(&m->node_addrs))
			log_limited(&m->scrape_log, 60000, LOG_WARN, "scrape", "cannot list this node's addresses");
	}
	for (size_t i = 0; i < nrules; i++) {
		const struct scrape_rule *r = rules[i];
		if (r->builtin || scrape_policy_cross_ns(&m->policy, r->namespace))
			continue;
		if (r->role == ROLE_NODE || r->ns_selector)
			confined++;
		if (r->honor_labels && !scrape_policy_honor(&m->policy, r->namespace))
			honor_denied++;
	}
	atomic_store(&m->rules_confined, confined);
	atomic_store(&m->honor_denied, honor_denied);
	if (atomic_load(&m->enabled) && rules && c.claimed) {
		for (size_t i = 0; i < nrules; i++) {
			const char *key;
			json_t *obj;
			c.rule = rules[i];
			json_object_foreach(m->objs[rules[i]->role], key, obj) {
				int rc = discover(rules[i], rules[i]->role, obj, &ctx, emit, &c);
				if (rc == KM_EINVAL)
					atomic_fetch_add(&m->discovery_errors, 1);
				else if (rc)
					c.rc = rc;
			}
		}
	}
	if (atomic_load(&m->enabled))
		emit_statics(m, &c);
	atomic_store(&m->builtin_skipped, c.skipped);
	pthread_mutex_lock(&m->lock);
	if (tset_update(&m->set, c.v, c.n, &cbs, &added, &removed, &retuned))
		c.rc = KM_ENOMEM;
	pthread_mutex_unlock(&m->lock);
	free(c.v);
	free(rules);
	json_decref(c.claimed);
	apply_limits(m);
	size_conn_cache(m);
	if (c.rc)
		log_warn("scrape", "discovery incomplete: %s", km_strerror(c.rc));
	if (added || removed || retuned)
		log_debug("scrape", "targets: %zu (+%zu -%zu, %zu retuned)", m->set.n, added, removed, retuned);
}

/* Coalesces bursts of changes (a relist, a rollout) into one recompute. */
static void kick(struct scrape_mgr *m)
{
	if (!m->recompute_timer && !m->stopping)
		m->recompute_timer = kube_loop_timer(m->loop, DISCOVERY_DEBOUNCE_MS, recompute, m);
}

/* ---- objects ---------------------------------------------------------------- */

/* An object change handed from the thread that watches (the API loop) to
 * the scrape loop: the message holds a reference to the object. */
struct obj_msg {
	struct scrape_mgr *m;
	json_t *obj;
	int kind;
	bool del;
	uint64_t seq; /* the reflector that saw it (0: scrape_mgr_upsert/delete) */
};

static void obj_on_loop(void *arg)
{
	struct obj_msg *msg = arg;
	struct scrape_mgr *m = msg->m;
	char key[600];

	/* Events of a reflector stopped since (its objects were dropped) or
	 * queued behind the manager's stop are stale. */
	if (!m->stopping && (!msg->seq || msg->seq == m->refl_seq[msg->kind])) {
		snprintf(key, sizeof(key), "%s/%s", kube_obj_namespace(msg->obj) ?: "",
			 kube_obj_name(msg->obj) ?: "");
		if (msg->del)
			json_object_del(m->objs[msg->kind], key);
		else
			json_object_set(m->objs[msg->kind], key, msg->obj);
		kick(m);
	}
	json_decref(msg->obj);
	free(msg);
}

static void post_obj(struct scrape_mgr *m, int kind, json_t *obj, bool del, uint64_t seq)
{
	struct obj_msg *msg = malloc(sizeof(*msg));

	if (!msg) {
		log_error("scrape", "object change lost: out of memory");
		return;
	}
	*msg = (struct obj_msg){ m, json_incref(obj), kind, del, seq };
	if (kube_loop_post(m->loop, obj_on_loop, msg)) {
		json_decref(msg->obj);
		free(msg);
	}
}

void scrape_mgr_upsert(struct scrape_mgr *m, enum scrape_role role, json_t *obj)
{
	if (m && role < ROLE_COUNT)
		post_obj(m, (int)role, obj, false, 0);
}

void scrape_mgr_delete(struct scrape_mgr *m, enum scrape_role role, json_t *obj)
{
	if (m && role < ROLE_COUNT)
		post_obj(m, (int)role, obj, true, 0);
}

/* Callbacks of the manager's own reflectors: on the API loop. */
static void r_add(json_t *obj, void *arg)
{
	struct scrape_role_arg *ra = arg;
	post_obj(ra->m, ra->kind, obj, false, ra->seq);
}

static void r_update(json_t *old_obj, json_t *new_obj, void *arg)
{
	(void)old_obj;
	r_add(new_obj, arg);
}

static void r_delete(json_t *obj, void *arg)
{
	struct scrape_role_arg *ra = arg;
	post_obj(ra->m, ra->kind, obj, true, ra->seq);
}

/* Which kinds this agent must watch for the current rules: endpoint roles
 * need their Services on every agent (addresses are sharded by node);
 * service and ingress targets have no node, so only the leader watches. */
static unsigned needed_roles(struct scrape_mgr *m)
{
	struct scrape_rule **rules = NULL;
	size_t n = active_rules(m, &rules);
	bool leader = m->leader;
	unsigned need = 0;

	if (!atomic_load(&m->enabled)) {
		free(rules);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		switch (rules[i]->role) {
		case ROLE_ENDPOINTS:
		case ROLE_ENDPOINTSLICE:
			need |= 1u << rules[i]->role | 1u << ROLE_SERVICE;
			break;
		case ROLE_SERVICE:
		case ROLE_INGRESS:
			if (leader)
				need |= 1u << rules[i]->role;
			break;
		case ROLE_NODE:
			/* A tenant's node rule selects nothing: no watch for it. */
			if (rules[i]->builtin || scrape_policy_cross_ns(&m->policy, rules[i]->namespace))
				need |= 1u << ROLE_NODE;
			break;
		default:
			break;
		}
		/* Namespace labels other than the name are only known from the
		 * Namespace objects (node targets have no namespace). */
		if (rules[i]->role != ROLE_NODE && rules[i]->ns_selector &&
		    !selector_empty(rules[i]->ns_selector))
			need |= 1u << WATCH_NAMESPACES;
	}
	free(rules);
	return need;
}

/* Subscribing and cancelling belong on the registry's loop (the API loop):
 * the scrape loop waits for them there (the API loop never waits for the
 * scrape loop, so this cannot deadlock). */
struct sub_msg {
	struct scrape_mgr *m;
	int kind;
	bool subscribe;
};

static void sub_on_api_loop(void *arg)
{
	struct sub_msg *x = arg;
	struct scrape_mgr *m = x->m;
	int r = x->kind;

	if (!x->subscribe) {
		kube_sub_cancel(m->sub[r]);
		m->sub[r] = NULL;
	} else {
		char sel[320];
		struct kube_informer_key key = { .res = role_res[r] };
		struct kube_reflector_cbs cbs = { r_add, r_update, r_delete, NULL, &m->role_args[r] };

		if (r == ROLE_NODE && m->node_name[0]) {
			snprintf(sel, sizeof(sel), "metadata.name=%s", m->node_name);
			key.field_selector = sel;
		}
		m->sub[r] = kube_informer_subscribe(m->informers, &key, &cbs, NULL);
	}
}

static void sub_set(struct scrape_mgr *m, int kind, bool subscribe)
{
	struct sub_msg x = { m, kind, subscribe };

	kube_loop_call(m->api_loop, sub_on_api_loop, &x);
}

/* Posted (never inside a curl callback): subscribes to / leaves the shared
 * informers of the kinds the rules need. */
static void reconcile_watches(void *arg)
{
	struct scrape_mgr *m = arg;
	unsigned need;

	if (m->stopping || !m->informers)
		goto out;
	need = needed_roles(m);
	for (int r = ROLE_SERVICE; r < WATCH_COUNT; r++) {
		bool want = need & (1u << r);
		if (want && !m->sub[r]) {
			/* No callback of an earlier subscription of this kind
			 * runs any more (cancelled before); events it queued
			 * here carry the old number and are dropped. */
			m->refl_seq[r] = ++m->next_seq;
			m->role_args[r] = (struct scrape_role_arg){ m, r, m->refl_seq[r] };
			sub_set(m, r, true);
			if (m->sub[r])
				log_info("scrape", "watching %s for scrape rules", role_res[r].resource);
			else
				log_error("scrape", "cannot watch %s: out of memory", role_res[r].resource);
		} else if (!want && m->sub[r]) {
			sub_set(m, r, false);
			m->refl_seq[r] = 0; /* its queued events are dropped */
			json_object_clear(m->objs[r]);
			log_info("scrape", "stopped watching %s", role_res[r].resource);
		}
	}
out:
	kick(m);
}

/* ---- configuration ------------------------------------------------------- */

struct apply_msg {
	struct scrape_mgr *m;
	struct scrape_settings s;   /* rules points at own, policy at the copy */
	struct scrape_policy policy;
	struct scrape_rule **own;   /* references taken; NULL when nrules == 0 */
};

static void apply_msg_free(struct apply_msg *msg)
{
	for (size_t i = 0; msg->own && i < msg->s.nrules; i++)
		scrape_rule_unref(msg->own[i]);
	free(msg->own);
	free(msg);
}

/* The one swap: every setting of the snapshot at once, then the watches
 * and targets follow (reconcile_watches kicks a recompute). */
static void apply_on_loop(void *arg)
{
	struct apply_msg *msg = arg;
	struct scrape_mgr *m = msg->m;
	struct scrape_rule **old = m->rules;
	size_t nold = m->nrules;

	m->rules = msg->own;
	m->nrules = msg->s.nrules;
	m->leader = msg->s.leader;
	m->interval_ms = msg->s.interval_ms > 0 ? msg->s.interval_ms : 15000;
	if (msg->s.policy) {
		m->policy = msg->policy;
		atomic_store(&m->memory_budget, m->policy.memory_budget);
	}
	atomic_store(&m->enabled, msg->s.enabled);
	msg->own = old;
	msg->s.nrules = nold;
	apply_msg_free(msg);
	reconcile_watches(m);
}

int scrape_mgr_apply(struct scrape_mgr *m, const struct scrape_settings *s)
{
	struct apply_msg *msg;
	int rc;

	if (!m || !s || (s->nrules && !s->rules))
		return KM_EINVAL;
	msg = calloc(1, sizeof(*msg));
	if (!msg)
		return KM_ENOMEM;
	msg->m = m;
	msg->s = *s;
	msg->s.rules = NULL;
	msg->s.nrules = 0;
	if (s->policy) {
		msg->policy = *s->policy;
		msg->s.policy = &msg->policy;
	}
	if (s->nrules) {
		msg->own = calloc(s->nrules, sizeof(*msg->own));
		if (!msg->own) {
			free(msg);
			return KM_ENOMEM;
		}
		for (size_t i = 0; i < s->nrules; i++)
			msg->own[i] = scrape_rule_ref(s->rules[i]);
		msg->s.nrules = s->nrules;
	}
	msg->s.rules = msg->own;
	/* Posted, never waited for: the caller may be the API loop, and the
	 * scrape loop may be busy (or waiting for the API loop itself, when
	 * it stops a reflector); on the scrape loop itself the caller may be
	 * inside a transfer callback. */
	rc = kube_loop_post(m->loop, apply_on_loop, msg);
	if (rc)
		apply_msg_free(msg);
	return rc;
}

static void post_reconcile(struct scrape_mgr *m)
{
	if (kube_loop_post(m->loop, reconcile_watches, m))
		log_warn("scrape", "change not applied: loop stopping");
}

/* ---- lifecycle ------------------------------------------------------------ */

/* Thousands of targets need thousands of sockets: the soft limit on open
 * files is raised to the hard one (as the Go runtime does for vmagent). */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			log_debug("scrape", "cannot raise the open files limit");
	}
}

struct scrape_mgr *scrape_mgr_new(struct kube_loop *api_loop, const struct scrape_opts *o)
{
	struct scrape_mgr *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	raise_nofile();
	m->api_loop = api_loop;
	m->loop = kube_loop_new();
	m->informers = o->informers;
	m->node_name = strdup(o->node_name ? o->node_name : "");
	m->self_prefix = strdup(o->self_prefix ? o->self_prefix : "k8smon_scrape");
	m->body_max = o->body_max ? o->body_max : SCRAPE_BODY_MAX_DEFAULT;
	m->interval_ms = o->interval_ms > 0 ? o->interval_ms : 15000;
	m->leader = o->leader;
	atomic_store(&m->enabled, o->enabled);
	pthread_mutex_init(&m->lock, NULL);
	tset_init(&m->set);
	scrape_policy_default(&m->policy);
	if (o->policy)
		m->policy = *o->policy;
	atomic_store(&m->memory_budget, m->policy.memory_budget);
	if (o->api_server) {
		/* The API server's host: a target there would read with the
		 * agent's network position what the tenant cannot. */
		const char *srv = o->api_server, *h = strstr(srv, "://");
		char host[256];
		size_t n;
		if (h) {
			h += 3;
			if (*h == '[') {
				h++;
				n = strcspn(h, "]");
			} else {
				n = strcspn(h, ":/");
			}
			if (n < sizeof(host)) {
				memcpy(host, h, n);
				host[n] = 0;
				if (addr_set_add_host(&m->api_addrs, host))
					log_warn("scrape", "cannot resolve the API server's host %s", host);
			}
		}
	}
	m->builtin = scrape_rule_builtin();
	m->headers = curl_slist_append(NULL, SCRAPE_ACCEPT_HEADER);
	for (int r = 0; r < WATCH_COUNT; r++)
		m->objs[r] = json_object();
	for (int r = 0; r < WATCH_COUNT; r++) {
		if (!m->objs[r]) {
			scrape_mgr_free(m);
			return NULL;
		}
	}
	if (!m->loop || !m->node_name || !m->self_prefix || !m->builtin || !m->headers || kube_loop_start(m->loop)) {
		scrape_mgr_free(m);
		return NULL;
	}
	post_reconcile(m);
	return m;
}

static void stop_on_loop(void *arg)
{
	struct scrape_mgr *m = arg;

	m->stopping = true;
	if (m->recompute_timer)
		kube_loop_timer_cancel(m->loop, m->recompute_timer);
	m->recompute_timer = 0;
	for (int r = 0; r < WATCH_COUNT; r++) {
		if (m->sub[r])
			sub_set(m, r, false);
	}
	pthread_mutex_lock(&m->lock);
	tset_fini(&m->set, tstate_stop, m);
	pthread_mutex_unlock(&m->lock);
	pslot_pool_free(m);
	push_pool_free(m);
}

void scrape_mgr_free(struct scrape_mgr *m)
{
	if (!m)
		return;
	if (m->loop) {
		kube_loop_call(m->loop, stop_on_loop, m);
		/* Runs what is still queued (object changes are dropped, since
		 * m->stopping) and joins the thread. */
		kube_loop_stop(m->loop);
		kube_loop_free(m->loop);
	}
	/* After every easy handle using them (tstate_stop): a cache still
	 * in use would refuse to go. */
	for (size_t i = 0; i < SCRAPE_CONN_CACHES; i++)
		if (m->conn_caches[i])
			curl_share_cleanup(m->conn_caches[i]);
	for (size_t i = 0; i < m->nrules; i++)
		scrape_rule_unref(m->rules[i]);
	free(m->rules);
	scrape_rule_unref(m->builtin);
	scrape_static_free(m->statics, m->nstatics);
	for (int r = 0; r < WATCH_COUNT; r++)
		json_decref(m->objs[r]);
	curl_slist_free_all(m->headers);
	scrape_push_free(m);
	pthread_mutex_destroy(&m->lock);
	free(m->node_name);
	free(m->self_prefix);
	free(m);
}

size_t scrape_mgr_rule_targets(struct scrape_mgr *m, const char *ns, const char *name)
{
	size_t n = 0;

	if (!m)
		return 0;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->set.n; i++) {
		const struct scrape_rule *r = m->set.v[i]->rule;
		if (strcmp(r->namespace, ns) == 0 && strcmp(r->name, name) == 0)
			n++;
	}
	pthread_mutex_unlock(&m->lock);
	return n;
}
