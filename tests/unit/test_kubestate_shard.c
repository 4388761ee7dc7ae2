/* Per-node pod state (docs/kube-state-sharding.md): the emitter decision
 * table (mode x role x coverage x duplicates), coverage from agent pods,
 * the store's source tags and filter, and the setting's parsing (flag and
 * K8sMonitor field). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/err.h"
#include "collect/kubestate/kubestate.h"
#include "collect/kubestate/shard.h"
#include "config/config.h"
#include "config/selector.h"

/* An agent pod: namespace ns, node, Ready status ("True", "False" or
 * NULL: no condition), terminating or not, labelled app.kubernetes.io/name
 * = app (NULL: no labels). */
static json_t *agent(const char *ns, const char *name, const char *node, const char *ready, bool terminating,
		     const char *app)
{
	json_t *p = json_pack("{s:{s:s, s:s}, s:{s:s}, s:{s:[]}}", "metadata", "namespace", ns, "name", name, "spec",
			      "nodeName", node, "status", "conditions");

	if (ready)
		json_array_append_new(json_object_get(json_object_get(p, "status"), "conditions"),
				      json_pack("{s:s, s:s}", "type", "Ready", "status", ready));
	if (app)
		json_object_set_new(json_object_get(p, "metadata"), "labels",
				    json_pack("{s:s}", "app.kubernetes.io/name", app));
	if (terminating)
		json_object_set_new(json_object_get(p, "metadata"), "deletionTimestamp",
				    json_string("2026-12-06T07:00:00Z"));
	return p;
}

static struct selector *chart_selector(void)
{
	char err[256];
	json_t *m;
	struct selector *s;

	assert_int_equal(ks_shard_selector_parse("app.kubernetes.io/name=k8smon", &m, err, sizeof(err)), 0);
	s = selector_compile(m, "sel", err, sizeof(err));
	json_decref(m);
	assert_non_null(s);
	return s;
}

/* The decision table, every row: what an agent writes. */
static void test_emit_table(void **state)
{
	static const struct {
		enum ks_pod_sharding mode;
		bool leader;
		enum ks_shard_self self;
		bool others, leader_pods, own_pods;
	} rows[] = {
		/* leader mode: the Lease holder writes everything, no one else anything */
		{ KS_SHARD_LEADER, true, KS_SELF_EMITTER, true, true, false },
		{ KS_SHARD_LEADER, true, KS_SELF_NO_POD, true, true, false },
		{ KS_SHARD_LEADER, false, KS_SELF_EMITTER, false, false, false },
		{ KS_SHARD_LEADER, false, KS_SELF_NO_POD, false, false, false },
		{ KS_SHARD_LEADER, false, KS_SELF_OTHER, false, false, false },
		/* node mode, leader: its watches always, its node's pods when its node's emitter */
		{ KS_SHARD_NODE, true, KS_SELF_EMITTER, true, true, true },
		{ KS_SHARD_NODE, true, KS_SELF_OTHER, true, true, false },
		{ KS_SHARD_NODE, true, KS_SELF_NONE, true, true, false },
		{ KS_SHARD_NODE, true, KS_SELF_NO_POD, true, true, false },
		/* node mode, other agents: their node's pods only, and only as its emitter */
		{ KS_SHARD_NODE, false, KS_SELF_EMITTER, false, false, true },
		{ KS_SHARD_NODE, false, KS_SELF_OTHER, false, false, false },
		{ KS_SHARD_NODE, false, KS_SELF_NONE, false, false, false },
		{ KS_SHARD_NODE, false, KS_SELF_NO_POD, false, false, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct ks_emit e = ks_shard_emit(rows[i].mode, rows[i].leader, rows[i].self);

		if (e.others != rows[i].others || e.leader_pods != rows[i].leader_pods || e.own_pods != rows[i].own_pods)
			fail_msg("row %zu: got others=%d leader_pods=%d own_pods=%d", i, e.others, e.leader_pods,
				 e.own_pods);
	}
}

static void test_self_state(void **state)
{
	(void)state;
	assert_int_equal(ks_shard_self_state("k8smon-a", "k8smon-a"), KS_SELF_EMITTER);
	assert_int_equal(ks_shard_self_state("k8smon-a", "k8smon-b"), KS_SELF_OTHER);
	assert_int_equal(ks_shard_self_state(NULL, "k8smon-b"), KS_SELF_NONE);
	assert_int_equal(ks_shard_self_state(NULL, ""), KS_SELF_NO_POD);
	assert_int_equal(ks_shard_self_state("k8smon-a", NULL), KS_SELF_NO_POD);
}

/* Who covers a node: Ready, not terminating, in the namespace, matching
 * the selector; the smallest name among several; duplicates reported. */
static void test_coverage(void **state)
{
	struct selector *sel = chart_selector();
	json_t *pods = json_object(), *dups = NULL, *cov;

	(void)state;
	json_object_set_new(pods, "mon/k8smon-b", agent("mon", "k8smon-b", "n1", "True", false, "k8smon"));
	json_object_set_new(pods, "mon/k8smon-a", agent("mon", "k8smon-a", "n1", "True", false, "k8smon"));
	json_object_set_new(pods, "mon/k8smon-0", agent("mon", "k8smon-0", "n1", "False", false, "k8smon"));
	json_object_set_new(pods, "mon/k8smon-c", agent("mon", "k8smon-c", "n2", "True", true, "k8smon"));
	json_object_set_new(pods, "mon/k8smon-d", agent("mon", "k8smon-d", "n3", NULL, false, "k8smon"));
	json_object_set_new(pods, "other/k8smon-e", agent("other", "k8smon-e", "n4", "True", false, "k8smon"));
	json_object_set_new(pods, "mon/app-f", agent("mon", "app-f", "n5", "True", false, "app"));
	json_object_set_new(pods, "mon/k8smon-g", agent("mon", "k8smon-g", "n6", "True", false, "k8smon"));
	cov = ks_shard_coverage(pods, "mon", sel, &dups);
	assert_non_null(cov);
	assert_string_equal(json_string_value(json_object_get(cov, "n1")), "k8smon-a");
	assert_null(json_object_get(cov, "n2")); /* terminating */
	assert_null(json_object_get(cov, "n3")); /* no Ready condition */
	assert_null(json_object_get(cov, "n4")); /* another namespace */
	assert_null(json_object_get(cov, "n5")); /* not matched by the selector */
	assert_string_equal(json_string_value(json_object_get(cov, "n6")), "k8smon-g");
	assert_int_equal(json_object_size(cov), 2);
	assert_int_equal(json_object_size(dups), 1);
	assert_int_equal(json_array_size(json_object_get(dups, "n1")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(dups, "n1"), 1)), "k8smon-b");
	json_decref(cov);
	json_decref(dups);
	/* No selector: every pod in the namespace counts. */
	cov = ks_shard_coverage(pods, "mon", NULL, NULL);
	assert_string_equal(json_string_value(json_object_get(cov, "n5")), "app-f");
	json_decref(cov);
	json_decref(pods);
	selector_free(sel);
}

static void test_selector_parse(void **state)
{
	char err[256];
	json_t *m;

	(void)state;
	assert_int_equal(ks_shard_selector_parse("a=b,c.io/d==e", &m, err, sizeof(err)), 0);
	assert_string_equal(json_string_value(json_object_get(m, "a")), "b");
	assert_string_equal(json_string_value(json_object_get(m, "c.io/d")), "e");
	json_decref(m);
	assert_int_equal(ks_shard_selector_parse("", &m, err, sizeof(err)), 0);
	assert_int_equal(json_object_size(m), 0);
	json_decref(m);
	assert_int_equal(ks_shard_selector_parse("a!=b", &m, err, sizeof(err)), KM_EINVAL);
	assert_non_null(strstr(err, "equality"));
	assert_int_equal(ks_shard_selector_parse("a in (b)", &m, err, sizeof(err)), KM_EINVAL);
	assert_int_equal(ks_shard_selector_parse("a=b c", &m, err, sizeof(err)), KM_EINVAL);
	assert_null(m);
}

static json_t *pod_on(const char *name, const char *node)
{
	return json_pack("{s:{s:s, s:s, s:s}, s:{s:s, s:[{s:s, s:s}]}, s:{s:s}}", "metadata", "namespace", "ns",
			 "name", name, "uid", name, "spec", "nodeName", node, "containers", "name", "c", "image", "i",
			 "status", "phase", "Running");
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* Two watches hold one pod (it is being scheduled): the first delete
 * keeps it, the second removes it; the filter shows a pod only to the
 * sources asked for; clearing a source drops only what it alone held. */
static void test_store_sources(void **state)
{
	struct ks_store *s = ks_store_new();
	json_t *p = pod_on("p", "n1"), *q = pod_on("q", "n2");
	struct ks_filter node_only = { .srcs = KS_SRC_NODE }, leader_only = { .srcs = KS_SRC_UNSCHED };
	struct buf out;

	(void)state;
	buf_init(&out, 1 << 20);
	assert_int_equal(ks_store_upsert_src(s, KS_POD, p, NULL, KS_SRC_UNSCHED), 0);
	assert_int_equal(ks_store_upsert_src(s, KS_POD, p, NULL, KS_SRC_NODE), 0);
	assert_int_equal(ks_store_upsert_src(s, KS_POD, q, NULL, KS_SRC_UNCOVERED), 0);
	assert_int_equal(ks_store_count(s, KS_POD), 2);
	assert_int_equal(ks_store_count_src(s, KS_POD, KS_SRC_NODE), 1);
	assert_int_equal(ks_store_count_src(s, KS_POD, KS_SRC_NODE | KS_SRC_UNCOVERED), 2);
	assert_int_equal(ks_store_write(s, &node_only, &out), 0);
	assert_int_equal(count(buf_cstr(&out), "kube_pod_info{"), 1);
	assert_non_null(strstr(buf_cstr(&out), "pod=\"p\""));
	/* the unscheduled watch lets it go: the node watch still holds it */
	assert_int_equal(ks_store_delete_src(s, KS_POD, "ns", "p", KS_SRC_UNSCHED), 0);
	assert_int_equal(ks_store_count(s, KS_POD), 2);
	buf_reset(&out);
	assert_int_equal(ks_store_write(s, &leader_only, &out), 0);
	assert_int_equal(out.len, 0);
	buf_reset(&out);
	assert_int_equal(ks_store_write(s, &node_only, &out), 0);
	assert_int_equal(count(buf_cstr(&out), "kube_pod_info{"), 1);
	/* clearing the uncovered nodes' watches drops q, keeps p */
	assert_int_equal(ks_store_clear_src(s, KS_POD, KS_SRC_UNCOVERED), 0);
	assert_int_equal(ks_store_count(s, KS_POD), 1);
	assert_int_equal(ks_store_delete_src(s, KS_POD, "ns", "p", KS_SRC_NODE), 0);
	assert_int_equal(ks_store_count(s, KS_POD), 0);
	assert_int_equal(ks_store_delete_src(s, KS_POD, "ns", "p", KS_SRC_NODE), KM_ENOENT);
	/* a filter without sources shows every object (the default) */
	assert_int_equal(ks_store_upsert_src(s, KS_POD, q, NULL, KS_SRC_NODE), 0);
	buf_reset(&out);
	assert_int_equal(ks_store_write(s, NULL, &out), 0);
	assert_int_equal(count(buf_cstr(&out), "kube_pod_info{"), 1);
	buf_fini(&out);
	json_decref(p);
	json_decref(q);
	ks_store_free(s);
}

/* A K8sMonitor with spec (stolen). */
static json_t *mon(json_t *spec)
{
	return json_pack("{s:{s:s}, s:o}", "metadata", "name", "m", "spec", spec);
}

/* The setting: the flag's default and values, the K8sMonitor field over
 * it, a bad value rejected with its path. */
static void test_config_parse(void **state)
{
	char *argv[] = { "k8smon", "-promscrape.kubernetes", "-nodeName=n1", "-kubeState.podSharding=node" };
	char *bad[] = { "k8smon", "-kubeState.podSharding=nodes" };
	char *badsel[] = { "k8smon", "-kubeState.agentSelector=app notin (x)" };
	char err[256];
	struct flags f;
	struct config *c;
	json_t *m;
	FILE *devnull = fopen("/dev/null", "w");

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(flags_parse(&f, 3, argv, devnull, err, sizeof(err)), FLAGS_RUN);
	assert_string_equal(f.ks_pod_sharding, "leader");
	assert_string_equal(f.ks_agent_selector, "app.kubernetes.io/name=k8smon");
	c = config_build(&f, NULL, err, sizeof(err));
	assert_int_equal(c->ks_pod_sharding, KS_SHARD_LEADER);
	config_unref(c);
	m = mon(json_pack("{s:{s:s}}", "kubeState", "podSharding", "node"));
	c = config_build(&f, m, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(c->ks_pod_sharding, KS_SHARD_NODE);
	config_unref(c);
	json_decref(m);
	flags_fini(&f);
	memset(&f, 0, sizeof(f));
	assert_int_equal(flags_parse(&f, 4, argv, devnull, err, sizeof(err)), FLAGS_RUN);
	c = config_build(&f, NULL, err, sizeof(err));
	assert_int_equal(c->ks_pod_sharding, KS_SHARD_NODE);
	config_unref(c);
	/* the monitor wins; absent keeps the flag */
	m = mon(json_pack("{s:{s:s}}", "kubeState", "podSharding", "leader"));
	c = config_build(&f, m, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(c->ks_pod_sharding, KS_SHARD_LEADER);
	config_unref(c);
	json_decref(m);
	m = mon(json_pack("{s:{s:[s]}}", "kubeState", "resources", "pods"));
	c = config_build(&f, m, err, sizeof(err));
	assert_int_equal(c->ks_pod_sharding, KS_SHARD_NODE);
	config_unref(c);
	json_decref(m);
	m = mon(json_pack("{s:{s:s}}", "kubeState", "podSharding", "Node"));
	assert_null(config_build(&f, m, err, sizeof(err)));
	assert_string_equal(err, "spec.kubeState.podSharding: must be \"node\" or \"leader\"");
	json_decref(m);
	m = mon(json_pack("{s:{s:i}}", "kubeState", "podSharding", 1));
	assert_null(config_build(&f, m, err, sizeof(err)));
	json_decref(m);
	flags_fini(&f);
	memset(&f, 0, sizeof(f));
	assert_int_equal(flags_parse(&f, 2, bad, devnull, err, sizeof(err)), FLAGS_EXIT_USAGE);
	assert_non_null(strstr(err, "-kubeState.podSharding"));
	flags_fini(&f);
	memset(&f, 0, sizeof(f));
	assert_int_equal(flags_parse(&f, 2, badsel, devnull, err, sizeof(err)), FLAGS_EXIT_USAGE);
	assert_non_null(strstr(err, "-kubeState.agentSelector"));
	flags_fini(&f);
	fclose(devnull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_emit_table),
		cmocka_unit_test(test_self_state),
		cmocka_unit_test(test_coverage),
		cmocka_unit_test(test_selector_parse),
		cmocka_unit_test(test_store_sources),
		cmocka_unit_test(test_config_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
