/* The leader's node-mode watches (unscheduled pods, agent pods, nodes:
 * docs/kube-state-sharding.md) are retried every 1 s when subscribing
 * fails, as the other kube-state watches are: an allocation failure must
 * not stop the leader's pod output for good. The subscription function is
 * swapped for one that fails the first calls (ks_watcher_set_subscribe);
 * the API server is a dead address, so only subscribing matters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/log.h"
#include "collect/kubestate/shard.h"
#include "collect/kubestate/watch.h"
#include "config/cycle.h"
#include "config/flags.h"
#include "dl/curl.h"
#include "kube/client.h"
#include "kube/conn.h"
#include "kube/informer.h"
#include "kube/loop.h"

struct env {
	struct flags flags;
	struct kube_loop *loop;
	struct kube_client *client;
	struct kube_informers *reg;
	struct ks_store *ks;
	struct ks_watcher *ksw;
	struct cycle *cycle;
	struct kube_sub *node_pods;
	size_t pods, nodes;
};

/* Calls left to fail; loop thread only (the watcher calls it there). */
static int fails_left;

static struct kube_sub *failing_subscribe(struct kube_informers *reg, const struct kube_informer_key *key,
					  const struct kube_reflector_cbs *cbs, json_t *(*trim)(const json_t *obj))
{
	if (fails_left > 0) {
		fails_left--;
		return NULL;
	}
	return kube_informer_subscribe(reg, key, cbs, trim);
}

static void apply_on_loop(void *arg)
{
	struct env *e = arg;
	/* kube-state of pods only: the nodes' informer is then the
	 * sharding's alone (the node kind would share it) */
	json_t *mons = json_pack("{s:{s:s, s:s, s:{s:s, s:s, s:s, s:i}, s:{s:[s], s:{s:[s], s:s}}}}", "m",
				 "apiVersion", "k8smon.io/v1alpha1", "kind", "K8sMonitor", "metadata", "name", "m",
				 "uid", "u1", "creationTimestamp", "2026-01-01T00:00:00Z", "generation", 1, "spec",
				 "collectors", "kube-state", "kubeState", "resources", "pods", "podSharding", "node");
	json_t *node = json_pack("{s:{s:s}}", "metadata", "name", "n1");
	struct cycle_inputs in = { .flags = &e->flags, .monitors = mons, .node = node, .leader = true };
	char err[256];

	assert_int_equal(cycle_build(NULL, &in, &e->cycle, err, sizeof(err)), 0);
	assert_int_equal(e->cycle->cfg->ks_pod_sharding, KS_SHARD_NODE);
	ks_watcher_apply(e->ksw, e->cycle);
	json_decref(mons);
	json_decref(node);
}

static void count_on_loop(void *arg)
{
	struct env *e = arg;

	e->pods = kube_informers_count(e->reg, "pods");
	e->nodes = kube_informers_count(e->reg, "nodes");
}

static void identity_on_loop(void *arg)
{
	struct env *e = arg;

	struct kube_informer_key key = { .res = { "", "v1", "pods", true }, .field_selector = "spec.nodeName=n1" };
	struct kube_reflector_cbs cbs = { 0 };

	/* agent/kube.c's watch of this node's pods */
	e->node_pods = kube_informer_subscribe(e->reg, &key, &cbs, NULL);
	assert_non_null(e->node_pods);
	ks_watcher_set_subscribe(e->ksw, failing_subscribe);
	assert_int_equal(ks_watcher_set_identity(e->ksw, e->node_pods, "n1", "k8smon-n1", "monitoring",
						 "app.kubernetes.io/name=k8smon"), 0);
}

static void cancel_on_loop(void *arg)
{
	struct env *e = arg;

	kube_sub_cancel(e->node_pods);
}

static void test_leader_watches_retried(void **state)
{
	char *argv[] = { "k8smon", "-promscrape.kubernetes", "-nodeName=n1", "-kubeState.podSharding=node",
			 "-promscrape.kubernetes.collectors=kube-state" };
	struct kube_conn conn = { .server = (char *)"https://127.0.0.1:1", .token = (char *)"t" };
	FILE *devnull = fopen("/dev/null", "w");
	struct env e;
	char err[256];
	int i;

	(void)state;
	memset(&e, 0, sizeof(e));
	assert_int_equal(flags_parse(&e.flags, 5, argv, devnull, err, sizeof(err)), 0);
	fclose(devnull);
	e.loop = kube_loop_new();
	e.client = kube_client_new(&conn, e.loop, err, sizeof(err));
	assert_non_null(e.client);
	e.reg = kube_informers_new(e.client);
	e.ks = ks_store_new();
	e.ksw = ks_watcher_new(e.reg, e.loop, e.ks, NULL, NULL);
	assert_non_null(e.ksw);
	assert_int_equal(kube_loop_start(e.loop), 0);
	kube_loop_call(e.loop, identity_on_loop, &e);
	/* The unscheduled pods' watch, the agent pods' and the nodes' all fail
	 * at first (three calls), and the first retry's unscheduled one too. */
	fails_left = 4;
	kube_loop_call(e.loop, apply_on_loop, &e);
	kube_loop_call(e.loop, count_on_loop, &e);
	assert_int_equal(e.pods, 1); /* this node's */
	assert_int_equal(e.nodes, 0);
	/* Polled with a generous bound (retries are 1 s apart): the
	 * node's pods, the unscheduled pods and the agent pods, and the nodes. */
	for (i = 0; i < 300 && (e.pods != 3 || e.nodes != 1); i++) {
		nanosleep(&(struct timespec){ 0, 100 * 1000 * 1000 }, NULL);
		kube_loop_call(e.loop, count_on_loop, &e);
	}
	assert_int_equal(e.pods, 3);
	assert_int_equal(e.nodes, 1);
	assert_int_equal(fails_left, 0);

	kube_loop_call(e.loop, cancel_on_loop, &e);
	kube_loop_stop(e.loop);
	kube_informers_free(e.reg);
	ks_watcher_free(e.ksw);
	ks_store_free(e.ks);
	kube_client_free(e.client);
	kube_loop_free(e.loop);
	cycle_unref(e.cycle);
	flags_fini(&e.flags);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leader_watches_retried),
	};
	char err[256];

	if (dl_curl_load(err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	log_setup(LOG_FATAL, LOG_FMT_LOGFMT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
