/* Configuration built from flags + a K8sMonitor: validation with field paths,
 * overrides, ownership (ASan checks the frees), label selectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config/config.h"
#include "config/selector.h"
#include "base/rx.h"
#include "collect/kubestate/crs.h"
#include "collect/components/components.h"
#include "collect/kubestate/kinds.h"

static struct flags flags;

static int setup(void **state)
{
	char err[256];
	char *argv[] = { "k8smon", "-promscrape.kubernetes", "-nodeName=n1" };
	FILE *devnull = fopen("/dev/null", "w");

	(void)state;
	memset(&flags, 0, sizeof(flags));
	flags_parse(&flags, 3, argv, devnull, err, sizeof(err));
	fclose(devnull);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	flags_fini(&flags);
	return 0;
}

static struct config *build(const char *json, char *err, size_t errlen)
{
	json_error_t je;
	json_t *m = json_loads(json, 0, &je);
	struct config *c;

	assert_non_null(m);
	c = config_build(&flags, m, err, errlen);
	json_decref(m);
	return c;
}

/* spec.components over the -components flags: absent fields keep them,
 * bad ones are rejected with their path, a change shows in the diff. */
static void test_components(void **state)
{
	char err[256], what[256];
	struct config *f = config_build(&flags, NULL, err, sizeof(err));
	struct config *c;

	(void)state;
	assert_non_null(f);
	assert_int_equal(f->components, COMP_ALL);
	assert_true(f->comp_drop_lists);
	assert_false(f->comp_kubelet_insecure);
	c = build("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"components\":{\"enabled\":[\"kubelet\",\"coredns\"],"
		  "\"kubelet\":{\"insecureSkipVerify\":true}}}}", err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(c->components, COMP_BIT(COMP_KUBELET) | COMP_BIT(COMP_COREDNS));
	assert_true(c->comp_kubelet_insecure);
	assert_true(c->comp_drop_lists); /* absent: the flag's */
	assert_false(config_components_equal(f, c));
	config_diff(f, c, what, sizeof(what));
	assert_non_null(strstr(what, "components"));
	assert_string_equal(json_string_value(json_object_get(c->from, "components")), "K8sMonitor/m");
	config_unref(c);
	c = build("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"components\":{\"enabled\":[]}}}", err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(c->components, 0);
	config_unref(c);
	assert_null(build("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"components\":{\"enabled\":[\"scheduler\"]}}}",
			  err, sizeof(err)));
	assert_non_null(strstr(err, "spec.components.enabled[0]: not one of"));
	assert_null(build("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"components\":{\"dropLists\":\"no\"}}}", err,
			  sizeof(err)));
	assert_string_equal(err, "spec.components.dropLists: must be a boolean");
	config_unref(f);
}

static void test_flags_only(void **state)
{
	char err[256];
	struct config *c = config_build(&flags, NULL, err, sizeof(err));

	(void)state;
	assert_non_null(c);
	assert_string_equal(c->source, "flags");
	assert_int_equal(c->collectors, COLLECTOR_NODE | COLLECTOR_CONTAINER | COLLECTOR_KUBE_STATE | COLLECTOR_APP);
	assert_int_equal(c->interval_ms, 15000);
	config_unref(c);
}

static void test_monitor_overrides(void **state)
{
	char err[256] = "";
	struct config *c = build(
		"{\"metadata\":{\"name\":\"default\",\"generation\":3},"
		"\"spec\":{\"collectors\":[\"node\",\"kube-state\"],\"interval\":\"30s\","
		"\"excludeNamespaces\":[\"kube-system\"],"
		"\"node\":{\"mountPointsExclude\":\"^/(dev|proc|sys)($|/)\"},"
		"\"kubeState\":{\"resources\":[\"pods\",\"nodes\"],\"metricDenylist\":[\"kube_pod_annotations\"],"
		"\"labelsAllowlist\":{\"pods\":[\"app\"]},"
		"\"annotationsAllowlist\":{\"deployments\":[\"*\"]}}}}", err, sizeof(err));

	(void)state;
	if (!c)
		fail_msg("%s", err);
	assert_string_equal(c->source, "K8sMonitor/default");
	assert_int_equal(c->monitor_generation, 3);
	assert_int_equal(c->collectors, COLLECTOR_NODE | COLLECTOR_KUBE_STATE);
	assert_int_equal(c->interval_ms, 30000);
	assert_false(config_namespace_allowed(c, "kube-system"));
	assert_true(config_namespace_allowed(c, "shop"));
	assert_non_null(c->mount_points_exclude);
	assert_true(rx_match(c->mount_points_exclude, "/proc/sys", 9));
	assert_int_equal(c->ks_resources.n, 2);
	assert_non_null(c->ks_deny);
	assert_true(rx_match(c->ks_deny, "kube_pod_annotations", 20));
	assert_false(rx_match(c->ks_deny, "kube_pod_info", 13));
	assert_null(c->ks_allow);
	assert_non_null(c->ks_labels_allowlist);
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(c->ks_annotations_allowlist, "deployments"), 0)),
			    "*");
	config_unref(c);
}

static void expect_error(const char *json, const char *want)
{
	char err[256] = "";
	struct config *c = build(json, err, sizeof(err));

	if (c) {
		config_unref(c);
		fail_msg("accepted invalid monitor %s", json);
	}
	if (strcmp(err, want) != 0)
		fail_msg("error \"%s\", want \"%s\"", err, want);
}

static void test_invalid_specs(void **state)
{
	(void)state;
	expect_error("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"interval\":\"15\"}}",
		     "spec.interval: \"15\" is not a duration between 1s and 1h (e.g. \"30s\")");
	expect_error("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"interval\":15}}",
		     "spec.interval: 15 is not a duration between 1s and 1h (e.g. \"30s\")");
	expect_error("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"collectors\":[\"node\",\"gpu\"]}}",
		     "spec.collectors[1]: unknown collector \"gpu\" (known: node, container, kube-state, app)");
	expect_error("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"namespaces\":\"a\"}}",
		     "spec.namespaces: must be a list of strings");
	expect_error("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"node\":{\"netdevExclude\":\"(veth\"}}}",
		     "spec.node.netdevExclude: invalid regex (veth: missing closing parenthesis at offset 5");
	expect_error("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"kubeState\":{\"resources\":[\"pods\",\"widgets\"]}}}",
		     "spec.kubeState.resources[1]: unknown resource \"widgets\"");
	expect_error("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"kubeState\":{\"metricAllowlist\":[\"kube_pod_.*\",\"[\"]}}}",
		     "spec.kubeState.metricAllowlist[1]: invalid regex [: missing terminating ] for character class at offset 1");
	expect_error("{\"metadata\":{},\"spec\":{}}", "metadata.name: required");
	expect_error("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"scrape\":{\"allowLoopback\":\"yes\"}}}",
		     "spec.scrape.allowLoopback: must be true or false");
	expect_error("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"scrape\":{\"memoryBudget\":\"64MB\"}}}",
		     "spec.scrape.memoryBudget: must be a byte count up to 1Ti (e.g. 64Mi or 67108864)");
	expect_error("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"scrape\":{\"crossNamespaceRules\":[\"a\",\"\"]}}}",
		     "spec.scrape.crossNamespaceRules[1]: must be a namespace name (1-63 characters) or \"*\"");
	expect_error("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"scrape\":{\"maxTargets\":-1}}}",
		     "spec.scrape.maxTargets: must be an integer in [0, 1000000]");
	expect_error("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"scrape\":{\"defaultSampleLimit\":300000}}}",
		     "spec.scrape.defaultSampleLimit: 300000 is above spec.scrape.maxSampleLimit 200000 "
		     "(0 = no limit is above every maximum)");
	/* What the CRD's CEL rules forbid is refused here too. */
	expect_error("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"namespaces\":[\"a\",\"b\"],\"excludeNamespaces\":[\"c\",\"b\"]}}",
		     "spec.excludeNamespaces[1]: \"b\" is also in spec.namespaces (a namespace must not be both in namespaces and excludeNamespaces)");
	expect_error("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"kubeState\":{\"annotationsAllowlist\":{\"pods\":\"app\"}}}}",
		     "spec.kubeState.annotationsAllowlist.pods: must be a list");
	expect_error("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"kubeState\":{\"metricAllowlist\":[\"a\"],\"metricDenylist\":[\"b\"]}}}",
		     "spec.kubeState: metricAllowlist and metricDenylist are mutually exclusive");
}

/* spec.scrape: absent fields keep the defaults (and the flag for
 * allowLoopback); present ones replace them. */
static void test_scrape_policy(void **state)
{
	char err[256] = "";
	struct config *c;

	(void)state;
	c = build("{\"metadata\":{\"name\":\"m\"},\"spec\":{}}", err, sizeof(err));
	assert_non_null(c);
	assert_false(c->scrape.allow_loopback);
	assert_true(c->scrape.builtin_rule);
	assert_int_equal(c->scrape.default_sample_limit, SCRAPE_DEFAULT_SAMPLE_LIMIT);
	assert_int_equal(c->scrape.memory_budget, SCRAPE_MEMORY_BUDGET);
	assert_false(c->scrape.keep_apps_text);
	config_unref(c);
	c = build("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"scrape\":{\"allowLoopback\":true,\"builtinRule\":false,"
		  "\"keepAppsText\":true,"
		  "\"crossNamespaceRules\":[\"monitoring\"],\"honorLabelsNamespaces\":[\"*\"],\"memoryBudget\":\"3Mi\","
		  "\"maxSampleLimit\":0,\"defaultSampleLimit\":0,\"maxTargetsPerNamespace\":7}}}", err, sizeof(err));
	assert_non_null(c);
	assert_true(c->scrape.allow_loopback);
	assert_false(c->scrape.builtin_rule);
	assert_true(c->scrape.keep_apps_text);
	assert_true(scrape_policy_cross_ns(&c->scrape, "monitoring"));
	assert_false(scrape_policy_cross_ns(&c->scrape, "shop"));
	assert_true(scrape_policy_honor(&c->scrape, "shop"));
	assert_int_equal(c->scrape.memory_budget, 3 << 20);
	assert_int_equal(c->scrape.max_targets_per_namespace, 7);
	assert_int_equal(c->scrape.max_targets, SCRAPE_MAX_TARGETS);
	config_unref(c);
}

/* The reconfiguration log line names what changed. */
static void test_diff(void **state)
{
	char err[256], what[160];
	struct config *a = build("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"interval\":\"20s\"}}", err, sizeof(err));
	struct config *b = build("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"interval\":\"20s\",\"collectors\":[\"node\"],"
				 "\"kubeState\":{\"resources\":[\"pods\"]}}}", err, sizeof(err));

	(void)state;
	config_diff(a, b, what, sizeof(what));
	assert_string_equal(what, "collectors -container -kube-state -app, kubeState");
	config_diff(b, a, what, sizeof(what));
	assert_string_equal(what, "collectors +container +kube-state +app, kubeState");
	config_diff(a, a, what, sizeof(what));
	assert_string_equal(what, "");
	config_diff(NULL, a, what, sizeof(what));
	assert_string_equal(what, "collectors,interval,namespaces,excludeNamespaces,node,kubeState,scrape,remoteWrite,components");
	config_diff(a, b, what, 12); /* truncated, terminated */
	assert_string_equal(what, "collectors ");
	config_unref(b);
	b = build("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"interval\":\"1m\",\"namespaces\":[\"x\",\"y\"]}}",
		  err, sizeof(err));
	config_diff(a, b, what, sizeof(what));
	assert_string_equal(what, "interval 20s\u2192" "1m, namespaces []\u2192[x,y]");
	config_unref(a);
	config_unref(b);
}

/* Kinds past bit 31 of the kind set are selected on their own (the set was
 * 32 bits wide before there were 33 kinds). */
static void test_endpointslices_with_others(void **state)
{
	char err[256] = "";
	struct config *c = build("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"kubeState\":"
				 "{\"resources\":[\"endpointslices\",\"volumeattachments\"]}}}",
				 err, sizeof(err));

	(void)state;
	assert_non_null(c);
	assert_int_equal(c->ks_resources.n, 2);
	assert_true(ks_kind_mask(c->ks_resources.v, c->ks_resources.n) ==
		    (KS_KIND_BIT(KS_ENDPOINTSLICE) | KS_KIND_BIT(KS_VOLUMEATTACHMENT)));
	assert_true(KS_KIND_BIT(KS_VOLUMEATTACHMENT) > UINT32_MAX);
	config_unref(c);
}

static void test_reconfigure_many(void **state)
{
	/* 1000 builds and frees: ASan/LSan catch any leak in the swap path. */
	char err[256];
	(void)state;
	for (int i = 0; i < 1000; i++) {
		struct config *c = build(i % 2 ? "{\"metadata\":{\"name\":\"m\"},\"spec\":{\"interval\":\"20s\",\"kubeState\":{\"metricAllowlist\":[\"kube_.*\"]}}}"
					       : "{\"metadata\":{\"name\":\"m\"},\"spec\":{\"interval\":\"x\"}}",
					 err, sizeof(err));
		assert_true((c != NULL) == (i % 2 == 1));
		config_unref(c);
	}
}

static void test_selector(void **state)
{
	char err[256] = "";
	json_t *sel = json_loads("{\"matchLabels\":{\"role\":\"worker\"},\"matchExpressions\":["
				 "{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"a\",\"b\"]},"
				 "{\"key\":\"gpu\",\"operator\":\"DoesNotExist\"},"
				 "{\"key\":\"tier\",\"operator\":\"NotIn\",\"values\":[\"edge\"]}]}", 0, NULL);
	json_t *l1 = json_loads("{\"role\":\"worker\",\"zone\":\"a\"}", 0, NULL);
	json_t *l2 = json_loads("{\"role\":\"worker\",\"zone\":\"c\"}", 0, NULL);
	json_t *l3 = json_loads("{\"role\":\"worker\",\"zone\":\"b\",\"gpu\":\"1\"}", 0, NULL);
	json_t *l4 = json_loads("{\"role\":\"worker\",\"zone\":\"b\",\"tier\":\"edge\"}", 0, NULL);
	json_t *bad = json_loads("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Near\"}]}", 0, NULL);
	json_t *plain = json_loads("{\"kubernetes.io/os\":\"linux\"}", 0, NULL);
	struct selector *s = selector_compile(sel, "spec.nodeSelector", err, sizeof(err));

	(void)state;
	assert_non_null(s);
	assert_true(selector_matches(s, l1));
	assert_false(selector_matches(s, l2));
	assert_false(selector_matches(s, l3));
	assert_false(selector_matches(s, l4));
	assert_false(selector_matches(s, NULL));
	selector_free(s);
	assert_null(selector_compile(bad, "spec.nodeSelector", err, sizeof(err)));
	assert_string_equal(err, "spec.nodeSelector.matchExpressions[0].operator: \"Near\" is not one of In, NotIn, Exists, DoesNotExist");
	s = selector_compile(plain, "spec.nodeSelector", err, sizeof(err));
	assert_non_null(s);
	assert_false(selector_matches(s, l1));
	selector_free(s);
	s = selector_compile(NULL, "spec.nodeSelector", err, sizeof(err));
	assert_true(selector_empty(s));
	assert_true(selector_matches(s, NULL));
	selector_free(s);
	json_decref(sel); json_decref(l1); json_decref(l2); json_decref(l3); json_decref(l4);
	json_decref(bad); json_decref(plain);
}

/* /config: which part came from where, the options as given, discovery. */
static void test_config_json_sources(void **state)
{
	char err[256];
	struct config *c = build("{\"metadata\":{\"name\":\"m\",\"generation\":3},"
				 "\"spec\":{\"interval\":\"20s\",\"kubeState\":{\"metricDenylist\":[\"kube_pod_.*\"]}}}",
				 err, sizeof(err));
	json_t *disc = json_pack("{s:s, s:[]}", "from", "ScrapeRules", "scrapeRules");
	struct buf out;
	json_t *j, *from;

	(void)state;
	assert_non_null(c);
	buf_init(&out, 1 << 20);
	assert_int_equal(config_write_json(c, &flags, disc, &out), 0);
	j = json_loads(buf_cstr(&out), 0, NULL);
	assert_non_null(j);
	from = json_object_get(j, "from");
	assert_string_equal(json_string_value(json_object_get(j, "source")), "K8sMonitor/m");
	assert_int_equal(json_integer_value(json_object_get(j, "monitorGeneration")), 3);
	assert_string_equal(json_string_value(json_object_get(from, "interval")), "K8sMonitor/m");
	assert_string_equal(json_string_value(json_object_get(from, "kubeState")), "K8sMonitor/m");
	/* Fields the monitor leaves out keep the flag values. */
	assert_string_equal(json_string_value(json_object_get(from, "collectors")), "flags");
	assert_string_equal(json_string_value(json_object_get(from, "namespaces")), "flags");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "effective"), "collectorsFrom")), "flags");
	assert_true(json_is_null(json_object_get(json_object_get(j, "effective"), "node")));
	assert_string_equal(json_string_value(json_array_get(json_object_get(json_object_get(json_object_get(j, "effective"),
		"kubeState"), "metricDenylist"), 0)), "kube_pod_.*");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "discovery"), "from")), "ScrapeRules");
	json_decref(j);
	buf_fini(&out);
	config_unref(c);
	/* Flags only: every part from the flags, no discovery when not given. */
	c = config_build(&flags, NULL, err, sizeof(err));
	buf_init(&out, 1 << 20);
	assert_int_equal(config_write_json(c, &flags, NULL, &out), 0);
	j = json_loads(buf_cstr(&out), 0, NULL);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "from"), "interval")), "flags");
	assert_null(json_object_get(j, "discovery"));
	json_decref(j);
	buf_fini(&out);
	config_unref(c);
	json_decref(disc);
}

/* KSM v2.20's pkg/allowdenylist matches each entry anywhere in the family
 * name (no ^...$ added): the lists select what KSM's flags select. */
static bool rx_has(const struct rx *r, const char *s)
{
	return rx_match(r, s, strlen(s));
}

static void test_metric_lists_unanchored(void **state)
{
	char err[256];
	struct config *c = build("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"kubeState\":{\"metricAllowlist\":"
				 "[\"kube_pod_status_ready\",\"^kube_node_info$\",\"deploy\"]}}}", err, sizeof(err));

	(void)state;
	assert_non_null(c);
	assert_non_null(c->ks_allow);
	assert_true(rx_has(c->ks_allow, "kube_pod_status_ready"));
	assert_true(rx_has(c->ks_allow, "kube_pod_status_ready_time"));
	assert_true(rx_has(c->ks_allow, "kube_deployment_created"));
	assert_true(rx_has(c->ks_allow, "kube_node_info"));
	assert_false(rx_has(c->ks_allow, "kube_node_infos"));
	assert_false(rx_has(c->ks_allow, "kube_pod_info"));
	config_unref(c);
	c = build("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"kubeState\":{\"metricDenylist\":[\"_created\"]}}}",
		  err, sizeof(err));
	assert_non_null(c);
	assert_true(rx_has(c->ks_deny, "kube_pod_created"));
	assert_false(rx_has(c->ks_deny, "kube_pod_info"));
	config_unref(c);
}

/* kubeState.customResourceState: compiled with the config, errors named by
 * field path (the K8sMonitor then gets InvalidSpec and the last good
 * config stays), shown as given in /config's effective kubeState. */
static void test_custom_resource_state(void **state)
{
	char err[512];
	struct crs_resource_info ri;
	struct config *c = build("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"kubeState\":{\"customResourceState\":"
				 "{\"resources\":[{\"groupVersionKind\":{\"group\":\"e.io\",\"version\":\"v1\",\"kind\":\"Policy\"},"
				 "\"metrics\":[{\"name\":\"n\",\"each\":{\"type\":\"Info\",\"info\":{}}}]}]}}}}", err, sizeof(err));

	(void)state;
	assert_non_null(c);
	assert_int_equal(crs_nresources(c->ks_crs), 1);
	crs_resource(c->ks_crs, 0, &ri);
	assert_string_equal(ri.plural, "policies");
	assert_string_equal(crs_family_name(c->ks_crs, 0, 0), "kube_customresource_n");
	assert_non_null(json_object_get(c->ks_crs_spec, "resources"));
	config_unref(c);
	c = build("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"kubeState\":{}}}", err, sizeof(err));
	assert_non_null(c);
	assert_null(c->ks_crs);
	config_unref(c);
	expect_error("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"kubeState\":{\"customResourceState\":{\"resources\":[{"
		     "\"groupVersionKind\":{\"version\":\"v1\",\"kind\":\"W\"},\"metrics\":[{\"name\":\"n\",\"each\":{\"type\":\"Counter\"}}]}]}}}}",
		     "spec.kubeState.customResourceState.resources[0].metrics[0].each.type: unknown metric type \"Counter\" (Gauge, StateSet or Info)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flags_only),
		cmocka_unit_test(test_monitor_overrides),
		cmocka_unit_test(test_invalid_specs),
		cmocka_unit_test(test_metric_lists_unanchored),
		cmocka_unit_test(test_custom_resource_state),
		cmocka_unit_test(test_scrape_policy),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_endpointslices_with_others),
		cmocka_unit_test(test_reconfigure_many),
		cmocka_unit_test(test_selector),
		cmocka_unit_test(test_config_json_sources),
		cmocka_unit_test(test_components),
	};
	return cmocka_run_group_tests_name("config", tests, setup, teardown);
}
