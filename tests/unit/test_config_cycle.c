/* The configuration cycle: monitor choice and verdicts (one function for
 * selection and status), ScrapeRule last-good, identity by generation, and
 * a seeded state-machine run: thousands of random steps mixing K8sMonitor
 * create/update/delete (every field, several monitors, invalid specs),
 * ScrapeRule changes, node label changes, leadership gained and lost and a
 * dead API server, each applied as the agent applies it (cycle built on the
 * loop thread, kube-state watches subscribed through the shared informer
 * registry with real reflectors), checked after every step against a model
 * written here independently. Under ASan (make asan) every step is also a
 * use-after-free and leak check of the watch lifecycle.
 *
 * K8SMON_CYCLE_STEPS and K8SMON_CYCLE_SEED override the run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/err.h"
#include "base/log.h"
#include "collect/kubestate/shard.h"
#include "collect/kubestate/watch.h"
#include "config/crstatus.h"
#include "config/cycle.h"
#include "config/monitor.h"
#include "config/ruleset.h"
#include "dl/curl.h"
#include "kube/client.h"
#include "kube/conn.h"
#include "kube/informer.h"
#include "kube/loop.h"

static struct flags flags;

static int setup(void **state)
{
	char err[256];
	char *argv[] = { "k8smon", "-promscrape.kubernetes", "-nodeName=n1" };
	FILE *devnull = fopen("/dev/null", "w");

	(void)state;
	memset(&flags, 0, sizeof(flags));
	assert_int_equal(flags_parse(&flags, 3, argv, devnull, err, sizeof(err)), 0);
	fclose(devnull);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	flags_fini(&flags);
	return 0;
}

static json_t *load(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, 0, &je);

	if (!v)
		fail_msg("bad test JSON: %s: %s", je.text, text);
	return v;
}

/* ---- monitor_evaluate: table ---- */

struct mon_case {
	const char *what;
	const char *monitors;   /* key -> object */
	const char *prev_good;  /* NULL = none */
	const char *nodes;      /* array */
	/* expected, per monitor in age order: "name:VERDICT:nodes" joined by ' ' */
	const char *verdicts;
	/* expected winner per node: monitor name or "-" joined by ' ' */
	const char *winners;
};

#define M(name, ts, gen, uid, spec)                                                               \
	"\"" name "\": {\"metadata\": {\"name\": \"" name "\", \"uid\": \"" uid                     \
	"\", \"creationTimestamp\": \"" ts "\", \"generation\": " #gen "}, \"spec\": " spec "}"

static const struct mon_case mon_cases[] = {
	{ "none", "{}", NULL, "[{\"metadata\":{\"name\":\"n1\"}}]", "", "-" },
	{ "one accepted, all nodes",
	  "{" M("a", "2026-01-01T00:00:00Z", 1, "u1", "{}") "}", NULL,
	  "[{\"metadata\":{\"name\":\"n1\"}},{\"metadata\":{\"name\":\"n2\"}}]", "a:ACCEPTED:2", "a a" },
	{ "older wins, younger in conflict where both select",
	  "{" M("young", "2026-02-01T00:00:00Z", 1, "u2", "{}") ","
	      M("old", "2026-01-01T00:00:00Z", 1, "u1", "{\"nodeSelector\":{\"matchLabels\":{\"zone\":\"a\"}}}") "}",
	  NULL,
	  "[{\"metadata\":{\"name\":\"n1\",\"labels\":{\"zone\":\"a\"}}},{\"metadata\":{\"name\":\"n2\"}}]",
	  "old:ACCEPTED:1 young:CONFLICT:1", "old young" },
	{ "same timestamp: name decides",
	  "{" M("b", "2026-01-01T00:00:00Z", 1, "u2", "{}") "," M("a", "2026-01-01T00:00:00Z", 1, "u1", "{}") "}",
	  NULL, "[{\"metadata\":{\"name\":\"n1\"}}]", "a:ACCEPTED:1 b:CONFLICT:0", "a" },
	{ "invalid oldest never accepted: ignored, the next applies",
	  "{" M("old", "2026-01-01T00:00:00Z", 2, "u1", "{\"interval\":\"bogus\"}") ","
	      M("new", "2026-02-01T00:00:00Z", 1, "u2", "{}") "}",
	  NULL, "[{\"metadata\":{\"name\":\"n1\"}}]", "old:INVALID:0 new:ACCEPTED:1", "new" },
	{ "invalid oldest with a last good version: it stays, the next conflicts",
	  "{" M("old", "2026-01-01T00:00:00Z", 2, "u1", "{\"interval\":\"bogus\"}") ","
	      M("new", "2026-02-01T00:00:00Z", 1, "u2", "{}") "}",
	  "{" M("old", "2026-01-01T00:00:00Z", 1, "u1", "{\"interval\":\"30s\"}") "}",
	  "[{\"metadata\":{\"name\":\"n1\"}}]", "old:INVALID:1 new:CONFLICT:0", "old" },
	{ "recreated under the same name (new uid): no last good",
	  "{" M("old", "2026-01-01T00:00:00Z", 1, "u9", "{\"interval\":\"bogus\"}") "}",
	  "{" M("old", "2025-01-01T00:00:00Z", 1, "u1", "{}") "}",
	  "[{\"metadata\":{\"name\":\"n1\"}}]", "old:INVALID:0", "-" },
	{ "node labels decide",
	  "{" M("a", "2026-01-01T00:00:00Z", 1, "u1", "{\"nodeSelector\":{\"matchLabels\":{\"role\":\"x\"}}}") "}",
	  NULL, "[{\"metadata\":{\"name\":\"n1\",\"labels\":{\"role\":\"y\"}}}]", "a:ACCEPTED:0", "-" },
	{ "conflict applies where it is the oldest",
	  "{" M("a", "2026-01-01T00:00:00Z", 1, "u1", "{\"nodeSelector\":{\"matchLabels\":{\"zone\":\"a\"}}}") ","
	      M("b", "2026-01-02T00:00:00Z", 1, "u2", "{}") "}",
	  NULL,
	  "[{\"metadata\":{\"name\":\"n1\",\"labels\":{\"zone\":\"a\"}}},{\"metadata\":{\"name\":\"n2\",\"labels\":{\"zone\":\"b\"}}},{\"metadata\":{\"name\":\"n3\"}}]",
	  "a:ACCEPTED:1 b:CONFLICT:2", "a b b" },
};

static const char *verdict_name(enum monitor_verdict v)
{
	return v == MONITOR_ACCEPTED ? "ACCEPTED" : v == MONITOR_CONFLICT ? "CONFLICT" : "INVALID";
}

static void test_monitor_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(mon_cases) / sizeof(mon_cases[0]); i++) {
		const struct mon_case *tc = &mon_cases[i];
		json_t *mons = load(tc->monitors), *nodes = load(tc->nodes);
		json_t *good = tc->prev_good ? load(tc->prev_good) : NULL;
		struct monitor_result r;
		char got[512] = "", win[256] = "";

		assert_int_equal(monitor_evaluate(&flags, mons, good, nodes, &r), 0);
		for (size_t k = 0; k < r.n; k++) {
			size_t len = strlen(got);
			snprintf(got + len, sizeof(got) - len, "%s%s:%s:%zu", k ? " " : "", r.v[k].name,
				 verdict_name(r.v[k].verdict), r.v[k].nodes);
		}
		for (size_t n = 0; n < r.nnodes; n++) {
			size_t len = strlen(win);
			snprintf(win + len, sizeof(win) - len, "%s%s", n ? " " : "",
				 r.winner[n] < 0 ? "-" : r.v[r.winner[n]].name);
		}
		if (strcmp(got, tc->verdicts) || strcmp(win, tc->winners))
			fail_msg("%s: verdicts '%s' (want '%s'), winners '%s' (want '%s')", tc->what, got,
				 tc->verdicts, win, tc->winners);
		/* Status message: what the leader writes. */
		for (size_t k = 0; k < r.n; k++) {
			if (r.v[k].verdict == MONITOR_CONFLICT)
				assert_non_null(strstr(r.v[k].message, "older K8sMonitor"));
			if (r.v[k].verdict == MONITOR_INVALID)
				assert_non_null(strstr(r.v[k].message, "spec."));
			if (r.v[k].verdict == MONITOR_INVALID && r.v[k].effective)
				assert_non_null(strstr(r.v[k].message, "stays in effect"));
		}
		monitor_result_fini(&r);
		json_decref(mons);
		json_decref(nodes);
		json_decref(good);
	}
}

#define R(ns, name, uid, gen, spec)                                                               \
	"\"" ns "/" name "\": {\"metadata\": {\"namespace\": \"" ns "\", \"name\": \"" name           \
	"\", \"uid\": \"" uid "\", \"generation\": " #gen "}, \"spec\": " spec "}"

/* ---- the status each object gets ---- */

struct puts {
	json_t *by_key; /* key -> status */
};

static void collect_put(const char *key, const char *ns, const char *name, const json_t *obj, json_t *st,
			void *arg)
{
	struct puts *p = arg;

	(void)ns;
	(void)name;
	(void)obj;
	json_object_set_new(p->by_key, key, st);
}

static const char *ready_reason(const json_t *st)
{
	size_t i;
	json_t *c;

	json_array_foreach(json_object_get(st, "conditions"), i, c)
		if (strcmp(json_string_value(json_object_get(c, "type")) ?: "", "Ready") == 0)
			return json_string_value(json_object_get(c, "reason"));
	return "";
}

static int64_t three_targets(const struct scrape_rule *r, void *arg)
{
	(void)r;
	(void)arg;
	return 3;
}

static void test_status_of_each(void **state)
{
	json_t *mons = load("{" M("old", "2026-01-01T00:00:00Z", 4, "u1", "{}") ","
			    M("young", "2026-02-01T00:00:00Z", 1, "u2", "{}") ","
			    M("bad", "2026-03-01T00:00:00Z", 2, "u3", "{\"interval\":\"x\"}") "}");
	json_t *nodes = load("[{\"metadata\":{\"name\":\"n1\"}},{\"metadata\":{\"name\":\"n2\"}}]");
	json_t *rules = load("{" R("a", "ok", "u1", 1, "{\"role\":\"pod\"}") "," R("a", "bad", "u2", 1, "{\"role\":\"x\"}") "}");
	struct puts p = { json_object() };
	const json_t *st;

	(void)state;
	assert_int_equal(crstatus_monitors(&flags, mons, NULL, nodes, "2026-12-05T00:00:00Z", collect_put, &p), 0);
	st = json_object_get(p.by_key, "old");
	assert_string_equal(ready_reason(st), "Accepted");
	assert_int_equal(json_integer_value(json_object_get(st, "observedGeneration")), 4);
	assert_int_equal(json_integer_value(json_object_get(st, "nodes")), 2);
	assert_int_equal(json_integer_value(json_object_get(st, "collectors")), 4);
	assert_string_equal(ready_reason(json_object_get(p.by_key, "young")), "Conflict");
	assert_string_equal(ready_reason(json_object_get(p.by_key, "bad")), "InvalidSpec");
	assert_int_equal(crstatus_rules(rules, NULL, three_targets, "2026-12-05T00:00:00Z", collect_put, &p), 0);
	assert_string_equal(ready_reason(json_object_get(p.by_key, "a/ok")), "Accepted");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(p.by_key, "a/ok"), "targets")), 3);
	assert_string_equal(ready_reason(json_object_get(p.by_key, "a/bad")), "InvalidSpec");
	json_decref(p.by_key);
	json_decref(mons);
	json_decref(nodes);
	json_decref(rules);
}

/* ---- ScrapeRule last good ---- */

static void test_ruleset_last_good(void **state)
{
	json_t *v1 = load("{" R("a", "r", "u1", 1, "{\"role\":\"pod\",\"path\":\"/m\"}") "}");
	json_t *v2 = load("{" R("a", "r", "u1", 2, "{\"role\":\"bogus\"}") "}");
	json_t *v3 = load("{" R("a", "r", "u7", 1, "{\"role\":\"bogus\"}") "}");
	struct ruleset *s1, *s2, *s3, *s4;

	(void)state;
	s1 = ruleset_build(v1, NULL);
	assert_non_null(s1);
	assert_int_equal(s1->n, 1);
	/* An invalid edit keeps generation 1 in effect and says so. */
	s2 = ruleset_build(v2, s1);
	assert_int_equal(s2->n, 1);
	assert_int_equal(s2->v[0]->generation, 1);
	assert_true(json_is_true(json_object_get(json_object_get(s2->invalid, "a/r"), "kept")));
	/* The last good survives a second invalid build. */
	s3 = ruleset_build(v2, s2);
	assert_int_equal(s3->n, 1);
	ruleset_unref(s2);
	/* Deleted and created again invalid (new uid): nothing in effect. */
	s4 = ruleset_build(v3, s3);
	assert_int_equal(s4->n, 0);
	assert_false(json_is_true(json_object_get(json_object_get(s4->invalid, "a/r"), "kept")));
	assert_string_equal(json_string_value(json_object_get(s4->view, "from")) ? "x" : "", "x");
	ruleset_unref(s1);
	ruleset_unref(s3);
	ruleset_unref(s4);
	json_decref(v1);
	json_decref(v2);
	json_decref(v3);
}

/* ---- identity: a status write changes nothing ---- */

static void test_status_write_no_rebuild(void **state)
{
	json_t *mons = load("{" M("m", "2026-01-01T00:00:00Z", 3, "u1", "{\"interval\":\"30s\"}") "}");
	json_t *rules = load("{" R("a", "r", "u1", 1, "{\"role\":\"pod\"}") "}");
	struct cycle_inputs in = { .flags = &flags, .monitors = mons, .rules = rules, .leader = true };
	struct cycle *c1, *c2, *c3;
	char err[256];
	json_t *m = json_object_get(mons, "m"), *md = json_object_get(m, "metadata");

	(void)state;
	assert_int_equal(cycle_build(NULL, &in, &c1, err, sizeof(err)), 0);
	assert_int_equal(c1->cfg->interval_ms, 30000);
	/* The leader's status write: new resourceVersion, a status, same generation. */
	json_object_set_new(md, "resourceVersion", json_string("99"));
	json_object_set_new(m, "status", load("{\"observedGeneration\":3}"));
	json_object_set_new(json_object_get(json_object_get(rules, "a/r"), "metadata"), "resourceVersion",
			    json_string("100"));
	assert_int_equal(cycle_build(c1, &in, &c2, err, sizeof(err)), 0);
	assert_int_equal(cycle_changes(c1, c2), 0);
	assert_ptr_equal(c1->cfg, c2->cfg);
	/* A spec change (new generation) is a change. */
	json_object_set_new(md, "generation", json_integer(4));
	json_object_set_new(json_object_get(m, "spec"), "interval", json_string("10s"));
	assert_int_equal(cycle_build(c2, &in, &c3, err, sizeof(err)), 0);
	assert_int_equal(cycle_changes(c2, c3), CYCLE_CONFIG);
	assert_int_equal(c3->cfg->interval_ms, 10000);
	assert_int_equal(c3->cfg->generation, c2->cfg->generation + 1);
	/* A spec changed under the same generation (a tool that writes
	 * objects whole, as the fake's object API does) is a change too. */
	struct cycle *c4;
	json_object_set_new(json_object_get(m, "spec"), "interval", json_string("20s"));
	assert_int_equal(cycle_build(c3, &in, &c4, err, sizeof(err)), 0);
	assert_int_equal(cycle_changes(c3, c4), CYCLE_CONFIG);
	assert_int_equal(c4->cfg->interval_ms, 20000);
	cycle_unref(c1);
	cycle_unref(c2);
	cycle_unref(c3);
	cycle_unref(c4);
	json_decref(mons);
	json_decref(rules);
}

/* ---- the state machine ---- */

#define MAX_MON 5
#define MAX_RULE 4

/* What the test knows about a monitor it created: enough to compute the
 * expected configuration without the code under test. */
struct mmodel {
	bool present;
	char name[16];
	char uid[24];
	int ts;               /* creation order */
	int gen;
	bool valid;
	/* the intended values when valid */
	unsigned collectors;
	int64_t interval_ms;
	int nns;              /* namespaces: 0, 1 ("a") or 2 ("a","b") */
	int zone;             /* nodeSelector zone: 0 none, 1 "a", 2 "b" */
	bool allow_pods;      /* kubeState.labelsAllowlist {pods: [app]} */
	int resources;        /* kubeState.resources: 0 all, 1 [pods], 2 [pods, nodes] */
	int sharding;         /* kubeState.podSharding: 0 absent (flag: leader), 1 leader, 2 node */
	json_t *obj;
	/* last accepted version, kept across invalid edits (same uid) */
	bool has_good;
	struct mmodel *good;
};

struct rmodel {
	bool present;
	char uid[24];
	int gen;
	bool valid;
	bool has_good;
	json_t *obj;
};

struct sm {
	unsigned seed;
	int uid_next;
	int ts_next;
	struct mmodel mon[MAX_MON];
	struct rmodel rule[MAX_RULE];
	int node_zone;        /* 0 none, 1 a, 2 b; -1 node not known */
	bool leader;
	/* the system under test */
	struct kube_loop *loop;
	struct kube_client *client;
	struct kube_informers *reg;
	struct ks_store *ks;
	struct ks_watcher *ksw;
	struct cycle *cycle;
	/* Other readers of the same informers, as the agent has them: the
	 * leader's status writer reads every node (kube-state's node trim),
	 * the scrape manager reads services whole (a wider view than
	 * kube-state's: the informer widens) while rule t/r0 exists. */
	struct kube_sub *status_nodes;
	struct kube_sub *scrape_services;
	/* agent/kube.c's watch of this node's pods, which per-node pod state
	 * reads (ks_watcher_set_identity) */
	struct kube_sub *node_pods;
};

static unsigned rnd(struct sm *s, unsigned n)
{
	s->seed = s->seed * 1103515245u + 12345u;
	return (s->seed >> 8) % n;
}

static const char *const coll_names[] = { "node", "container", "kube-state", "app" };

static void mon_build_obj(struct sm *s, struct mmodel *m)
{
	json_t *spec = json_object(), *md;
	char ts[32];

	json_decref(m->obj);
	snprintf(ts, sizeof(ts), "2026-01-%02dT%02d:%02d:%02dZ", 1 + m->ts / 86400, (m->ts / 3600) % 24, (m->ts / 60) % 60, m->ts % 60);
	if (!m->valid) {
		/* One of the ways a spec is wrong. */
		switch (rnd(s, 4)) {
		case 0:
			json_object_set_new(spec, "interval", json_string("bogus"));
			break;
		case 3:
			json_object_set_new(spec, "kubeState", json_pack("{s:s}", "podSharding", "sideways"));
			break;
		case 1:
			json_object_set_new(spec, "collectors", json_pack("[s]", "nope"));
			break;
		default:
			json_object_set_new(spec, "nodeSelector",
					    json_pack("{s:[{s:s,s:s}]}", "matchExpressions", "key", "zone", "operator", "Bad"));
			break;
		}
	} else {
		if (m->collectors != 0xf || rnd(s, 2)) {
			json_t *c = json_array();
			for (int i = 0; i < 4; i++)
				if (m->collectors & (1u << i))
					json_array_append_new(c, json_string(coll_names[i]));
			json_object_set_new(spec, "collectors", c);
		}
		if (m->interval_ms != 15000 || rnd(s, 2)) {
			char iv[32];
			snprintf(iv, sizeof(iv), "%llds", (long long)(m->interval_ms / 1000));
			json_object_set_new(spec, "interval", json_string(iv));
		}
		if (m->nns)
			json_object_set_new(spec, "namespaces", m->nns == 1 ? json_pack("[s]", "a") : json_pack("[s,s]", "a", "b"));
		if (m->zone)
			json_object_set_new(spec, "nodeSelector",
					    json_pack("{s:{s:s}}", "matchLabels", "zone", m->zone == 1 ? "a" : "b"));
		if (m->allow_pods || m->resources || m->sharding) {
			json_t *ks = json_object();
			if (m->sharding)
				json_object_set_new(ks, "podSharding", json_string(m->sharding == 2 ? "node" : "leader"));
			if (m->allow_pods)
				json_object_set_new(ks, "labelsAllowlist", json_pack("{s:[s]}", "pods", "app"));
			if (m->resources)
				json_object_set_new(ks, "resources", m->resources == 1 ? json_pack("[s]", "pods")
										   : json_pack("[s,s]", "pods", "nodes"));
			json_object_set_new(spec, "kubeState", ks);
		}
	}
	md = json_pack("{s:s, s:s, s:s, s:i, s:s}", "name", m->name, "uid", m->uid, "creationTimestamp", ts,
		       "generation", m->gen, "resourceVersion", "1");
	m->obj = json_pack("{s:o, s:o}", "metadata", md, "spec", spec);
}

static void mon_randomize(struct sm *s, struct mmodel *m)
{
	m->valid = rnd(s, 5) != 0;
	m->collectors = rnd(s, 3) ? 1 + rnd(s, 15) : 0xf;
	m->interval_ms = (int64_t[]){ 15000, 5000, 10000, 30000, 60000 }[rnd(s, 5)];
	m->nns = (int)rnd(s, 3);
	m->zone = rnd(s, 2) ? 0 : 1 + (int)rnd(s, 2);
	m->allow_pods = rnd(s, 2);
	m->resources = (int)rnd(s, 3);
	m->sharding = (int)rnd(s, 3);
}

static void mmodel_free_good(struct mmodel *m)
{
	if (m->good) {
		json_decref(m->good->obj);
		free(m->good);
	}
	m->good = NULL;
	m->has_good = false;
}

/* After a cycle saw every monitor: valid ones become their own last good. */
static void model_remember(struct sm *s)
{
	for (int i = 0; i < MAX_MON; i++) {
		struct mmodel *m = &s->mon[i];
		if (!m->present || !m->valid)
			continue;
		mmodel_free_good(m);
		m->good = malloc(sizeof(*m->good));
		*m->good = *m;
		m->good->good = NULL;
		json_incref(m->obj);
		m->has_good = true;
	}
	for (int i = 0; i < MAX_RULE; i++)
		if (s->rule[i].present && s->rule[i].valid)
			s->rule[i].has_good = true;
}

/* The monitor whose values this node should have, or NULL (flags). */
static const struct mmodel *model_winner(const struct sm *s)
{
	const struct mmodel *best = NULL;

	for (int i = 0; i < MAX_MON; i++) {
		const struct mmodel *m = &s->mon[i];
		const struct mmodel *eff = m->valid ? m : m->has_good ? m->good : NULL;

		if (!m->present || !eff)
			continue;
		/* the test node has no labels before it is known */
		if (eff->zone && eff->zone != (s->node_zone < 0 ? 0 : s->node_zone))
			continue;
		if (!best || m->ts < best->ts)
			best = m;
	}
	if (!best)
		return NULL;
	return best->valid ? best : best->good;
}

static json_t *snapshot_monitors(struct sm *s)
{
	json_t *o = json_object();

	for (int i = 0; i < MAX_MON; i++)
		if (s->mon[i].present)
			json_object_set(o, s->mon[i].name, s->mon[i].obj);
	return o;
}

static json_t *snapshot_rules(struct sm *s)
{
	json_t *o = json_object();

	for (int i = 0; i < MAX_RULE; i++) {
		char key[16];
		if (!s->rule[i].present)
			continue;
		snprintf(key, sizeof(key), "t/r%d", i);
		json_object_set(o, key, s->rule[i].obj);
	}
	return o;
}

static void rule_build_obj(struct sm *s, int i)
{
	struct rmodel *r = &s->rule[i];
	char name[8];

	snprintf(name, sizeof(name), "r%d", i);
	json_decref(r->obj);
	r->obj = json_pack("{s:{s:s,s:s,s:s,s:i}, s:{s:s,s:s}}", "metadata", "namespace", "t", "name", name,
			   "uid", r->uid, "generation", r->gen, "spec", "role", r->valid ? "pod" : "bogus",
			   "path", rnd(s, 2) ? "/a" : "/b");
}

struct step_ctx {
	struct sm *s;
	unsigned changes;
	int rc;
};

/* One step as the agent's rebuild job runs it, on the loop thread. */
static void apply_on_loop(void *arg)
{
	struct step_ctx *x = arg;
	struct sm *s = x->s;
	json_t *mons = snapshot_monitors(s), *rules = snapshot_rules(s), *node = NULL;
	struct cycle *c;
	char err[256];

	if (s->node_zone >= 0)
		node = s->node_zone ? json_pack("{s:{s:s,s:{s:s}}}", "metadata", "name", "n1", "labels", "zone",
						s->node_zone == 1 ? "a" : "b")
				    : json_pack("{s:{s:s}}", "metadata", "name", "n1");
	struct cycle_inputs in = { .flags = &flags, .monitors = mons, .node = node, .rules = rules,
				   .leader = s->leader };
	x->rc = cycle_build(s->cycle, &in, &c, err, sizeof(err));
	if (s->leader && !s->status_nodes) {
		struct kube_informer_key key = { .res = { "", "v1", "nodes", false } };
		struct kube_reflector_cbs cbs = { 0 };
		s->status_nodes = kube_informer_subscribe(s->reg, &key, &cbs, ks_trim_node);
	} else if (!s->leader && s->status_nodes) {
		kube_sub_cancel(s->status_nodes);
		s->status_nodes = NULL;
	}
	if (s->rule[0].present && !s->scrape_services) {
		struct kube_informer_key key = { .res = { "", "v1", "services", true } };
		struct kube_reflector_cbs cbs = { 0 };
		s->scrape_services = kube_informer_subscribe(s->reg, &key, &cbs, NULL);
	} else if (!s->rule[0].present && s->scrape_services) {
		kube_sub_cancel(s->scrape_services);
		s->scrape_services = NULL;
	}
	if (!x->rc) {
		x->changes = cycle_changes(s->cycle, c);
		if (x->changes)
			ks_watcher_apply(s->ksw, c);
		cycle_unref(s->cycle);
		s->cycle = c;
	}
	json_decref(mons);
	json_decref(rules);
	json_decref(node);
}

static void noop(void *arg)
{
	(void)arg;
}

struct count_ctx {
	struct sm *s;
	size_t informers, pods, nodes, services;
};

static void count_on_loop(void *arg)
{
	struct count_ctx *c = arg;

	c->informers = kube_informers_count(c->s->reg, NULL);
	c->pods = kube_informers_count(c->s->reg, "pods");
	c->nodes = kube_informers_count(c->s->reg, "nodes");
	c->services = kube_informers_count(c->s->reg, "services");
}

static void check_step(struct sm *s, int step)
{
	const struct mmodel *w = model_winner(s);
	const struct config *cfg = s->cycle->cfg;
	unsigned want_coll = w ? w->collectors : flags.collectors;
	int64_t want_iv = w ? w->interval_ms : flags.interval_ms;
	size_t want_ns = w ? (size_t)w->nns : 0;
	size_t want_rules = 0, want_inf = 0;
	struct count_ctx cc = { .s = s };

	if (cfg->collectors != want_coll || cfg->interval_ms != want_iv || cfg->namespaces.n != want_ns)
		fail_msg("step %d (seed %u): config collectors=%#x interval=%lld ns=%zu, model %s: %#x %lld %zu",
			 step, s->seed, cfg->collectors, (long long)cfg->interval_ms, cfg->namespaces.n,
			 w ? w->name : "flags", want_coll, (long long)want_iv, want_ns);
	for (int i = 0; i < MAX_RULE; i++)
		want_rules += s->rule[i].present && (s->rule[i].valid || s->rule[i].has_good);
	if (s->cycle->rules->n != want_rules)
		fail_msg("step %d: %zu rules in effect, model %zu", step, s->cycle->rules->n, want_rules);
	assert_int_equal(s->cycle->leader, s->leader);
	/* Watches: exactly one informer per selected kind while leading with
	 * kube-state on, none otherwise. The reconcile job ran: the drain
	 * below is queued after it. */
	kube_loop_call(s->loop, noop, NULL);
	kube_loop_call(s->loop, count_on_loop, &cc);
	bool ks_on = s->leader && (want_coll & COLLECTOR_KUBE_STATE);
	int ks_res = w ? w->resources : 0;
	bool ks_nodes = ks_on && ks_res != 1, ks_services = ks_on && ks_res == 0;
	size_t want_nodes = ks_nodes || s->leader, want_services = ks_services || s->rule[0].present;
	/* podSharding=node (every selection here has pods): no cluster-wide
	 * pod watch; the leader watches unscheduled pods and the agents' pods
	 * (nodes: shared with the status reader; uncovered nodes: none, the
	 * API server is dead so nothing is ever listed). */
	int want_mode = w && w->sharding == 2 ? KS_SHARD_NODE : KS_SHARD_LEADER;
	bool node_mode = want_mode == KS_SHARD_NODE && (want_coll & COLLECTOR_KUBE_STATE);
	bool shard_leader = node_mode && s->leader;
	size_t want_pods = (ks_on && !node_mode) + 2 * shard_leader + 1;

	if (cfg->ks_pod_sharding != want_mode)
		fail_msg("step %d (seed %u): podSharding %d, model %d", step, s->seed, cfg->ks_pod_sharding, want_mode);
	if (ks_on)
		want_inf = ks_res == 0 ? KS_KIND_COUNT : (size_t)ks_res;
	if (shard_leader)
		want_inf += 1;  /* - cluster-wide pods + unscheduled + agents */
	/* The extra readers share kube-state's informers where it has one. */
	want_inf += (s->leader && !ks_nodes) + (s->rule[0].present && !ks_services) + 1 /* node pods */;
	if (cc.informers != want_inf || cc.pods != want_pods || cc.nodes != want_nodes ||
	    cc.services != want_services)
		fail_msg("step %d (seed %u): %zu informers (pods %zu, nodes %zu, services %zu), model %zu (%d %zu %zu)",
			 step, s->seed, cc.informers, cc.pods, cc.nodes, cc.services, want_inf, ks_on, want_nodes,
			 want_services);
}

static void sm_step(struct sm *s, int step)
{
	unsigned what = rnd(s, 100);
	struct step_ctx x = { .s = s };
	int i;

	if (what < 35) { /* create or update a monitor */
		struct mmodel *m = &s->mon[rnd(s, MAX_MON)];
		if (!m->present) {
			memset(m, 0, sizeof(*m));
			m->present = true;
			snprintf(m->name, sizeof(m->name), "m%d", (int)(m - s->mon));
			snprintf(m->uid, sizeof(m->uid), "u%d", ++s->uid_next);
			m->ts = ++s->ts_next;
		}
		m->gen++;
		mon_randomize(s, m);
		mon_build_obj(s, m);
	} else if (what < 45) { /* delete a monitor */
		struct mmodel *m = &s->mon[rnd(s, MAX_MON)];
		if (m->present) {
			json_decref(m->obj);
			mmodel_free_good(m);
			memset(m, 0, sizeof(*m));
		}
	} else if (what < 50) { /* the leader's status write: only resourceVersion */
		for (i = 0; i < MAX_MON; i++)
			if (s->mon[i].present)
				json_object_set_new(json_object_get(s->mon[i].obj, "metadata"), "resourceVersion",
						    json_string("2"));
	} else if (what < 70) { /* ScrapeRule create/update/delete */
		struct rmodel *r = &s->rule[i = (int)rnd(s, MAX_RULE)];
		if (r->present && rnd(s, 4) == 0) {
			json_decref(r->obj);
			memset(r, 0, sizeof(*r));
		} else {
			if (!r->present) {
				memset(r, 0, sizeof(*r));
				r->present = true;
				snprintf(r->uid, sizeof(r->uid), "ru%d", ++s->uid_next);
			}
			r->gen++;
			r->valid = rnd(s, 4) != 0;
			rule_build_obj(s, i);
		}
	} else if (what < 82) { /* node labels */
		s->node_zone = (int)rnd(s, 3);
	} else { /* leadership gained or lost */
		s->leader = !s->leader;
	}
	kube_loop_call(s->loop, apply_on_loop, &x);
	assert_int_equal(x.rc, 0);
	if (what >= 45 && what < 50 && x.changes)
		fail_msg("step %d: a status write changed the cycle (%#x)", step, x.changes);
	model_remember(s);
	check_step(s, step);
}

static void watch_node_pods(void *arg)
{
	struct sm *s = arg;
	struct kube_informer_key key = { .res = { "", "v1", "pods", true }, .field_selector = "spec.nodeName=n1" };
	struct kube_reflector_cbs cbs = { 0 };

	s->node_pods = kube_informer_subscribe(s->reg, &key, &cbs, NULL);
	assert_int_equal(ks_watcher_set_identity(s->ksw, s->node_pods, "n1", "k8smon-n1", "monitoring",
						 "app.kubernetes.io/name=k8smon"), 0);
}

static void sm_init(struct sm *s, unsigned seed)
{
	struct kube_conn conn = { 0 };
	char err[256];

	memset(s, 0, sizeof(*s));
	s->seed = seed;
	s->node_zone = -1;
	/* A dead API server: every watch fails and retries with backoff
	 * while the steps start, relist and stop them. */
	conn.server = (char *)"https://127.0.0.1:1";
	conn.token = (char *)"t";
	s->loop = kube_loop_new();
	s->client = kube_client_new(&conn, s->loop, err, sizeof(err));
	assert_non_null(s->client);
	s->reg = kube_informers_new(s->client);
	s->ks = ks_store_new();
	s->ksw = ks_watcher_new(s->reg, s->loop, s->ks, NULL, NULL);
	assert_non_null(s->ksw);
	assert_int_equal(kube_loop_start(s->loop), 0);
	kube_loop_call(s->loop, watch_node_pods, s);
	assert_non_null(s->node_pods);
}

static void cancel_extra(void *arg)
{
	struct sm *s = arg;

	kube_sub_cancel(s->status_nodes);
	kube_sub_cancel(s->scrape_services);
	kube_sub_cancel(s->node_pods);
}

static void sm_fini(struct sm *s)
{
	kube_loop_call(s->loop, cancel_extra, s);
	kube_loop_stop(s->loop);
	kube_informers_free(s->reg);
	ks_watcher_free(s->ksw);
	ks_store_free(s->ks);
	kube_client_free(s->client);
	kube_loop_free(s->loop);
	cycle_unref(s->cycle);
	for (int i = 0; i < MAX_MON; i++) {
		json_decref(s->mon[i].obj);
		mmodel_free_good(&s->mon[i]);
	}
	for (int i = 0; i < MAX_RULE; i++)
		json_decref(s->rule[i].obj);
}

static void test_state_machine(void **state)
{
	const char *e = getenv("K8SMON_CYCLE_STEPS"), *se = getenv("K8SMON_CYCLE_SEED");
	int steps = e ? atoi(e) : 5000;
	unsigned seed = se ? (unsigned)strtoul(se, NULL, 10) : 20261205u;
	struct sm s;

	(void)state;
	sm_init(&s, seed);
	for (int i = 0; i < steps; i++)
		sm_step(&s, i);
	printf("[ cycle    ] %d steps, seed %u, %llu cycles, %d monitor uids\n", steps, seed,
	       (unsigned long long)s.cycle->number, s.uid_next);
	sm_fini(&s);
}

/* The crash of issue 13: one K8sMonitor change that at once drops the
 * label allowlist (relist every kube-state watch) and turns kube-state
 * off (stop them), on a leader, applied in one pass. */
static void test_allowlist_and_collector_off_at_once(void **state)
{
	struct sm s;
	struct mmodel *m;

	(void)state;
	sm_init(&s, 1);
	s.leader = true;
	m = &s.mon[0];
	m->present = true;
	snprintf(m->name, sizeof(m->name), "default");
	snprintf(m->uid, sizeof(m->uid), "u1");
	m->ts = 1;
	for (int round = 0; round < 20; round++) {
		struct step_ctx x = { .s = &s };
		/* kube-state on with an allowlist ... */
		m->gen++;
		m->valid = true;
		m->collectors = 0xf;
		m->interval_ms = 15000;
		m->allow_pods = true;
		m->resources = 0;
		mon_build_obj(&s, m);
		kube_loop_call(s.loop, apply_on_loop, &x);
		model_remember(&s);
		check_step(&s, round * 2);
		/* ... then collectors [node, container, app], interval 10s, no kubeState */
		m->gen++;
		m->collectors = COLLECTOR_NODE | COLLECTOR_CONTAINER | COLLECTOR_APP;
		m->interval_ms = 10000;
		m->allow_pods = false;
		mon_build_obj(&s, m);
		kube_loop_call(s.loop, apply_on_loop, &x);
		model_remember(&s);
		check_step(&s, round * 2 + 1);
	}
	sm_fini(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_monitor_table),
		cmocka_unit_test(test_ruleset_last_good),
		cmocka_unit_test(test_status_of_each),
		cmocka_unit_test(test_status_write_no_rebuild),
		cmocka_unit_test(test_allowlist_and_collector_off_at_once),
		cmocka_unit_test(test_state_machine),
	};
	char err[256];

	if (dl_curl_load(err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	/* Every watch fails against the dead server: only errors matter. */
	log_setup(LOG_FATAL, LOG_FMT_LOGFMT);
	return cmocka_run_group_tests(tests, setup, teardown);
}
