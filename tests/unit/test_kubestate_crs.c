/* Custom resource state metrics (collect/kubestate/crs.h): configuration
 * errors with field paths, KSM's value conversions and path semantics, the
 * label rules (sorted, base labels filling in, "*" map copies, Go %v
 * values), and the store (headers only with objects, namespace and family
 * filters, replace/delete). The same semantics are compared with the real
 * kube-state-metrics in tests/integration/test_ksm_crs.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/err.h"
#include "base/rx.h"
#include "collect/kubestate/crs.h"
#include "collect/kubestate/kubestate.h"

#define P "customresource_group=\"g.io\",customresource_kind=\"W\",customresource_version=\"v1\""

static json_t *load(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);

	if (!j)
		fail_msg("bad JSON in test: %s: %s", e.text, s);
	return j;
}

/* A config of one resource W (g.io/v1) with the metrics given as JSON. */
static struct crs_config *cfg_of(const char *metrics, const char *extra)
{
	char buf[8192], err[512];
	struct crs_config *c;
	json_t *j;

	snprintf(buf, sizeof(buf),
		 "{\"resources\":[{\"groupVersionKind\":{\"group\":\"g.io\",\"version\":\"v1\",\"kind\":\"W\"}%s,"
		 "\"metrics\":%s}]}", extra, metrics);
	j = load(buf);
	c = crs_compile(j, "x", err, sizeof(err), NULL);
	if (!c)
		fail_msg("compile: %s", err);
	json_decref(j);
	return c;
}

/* Renders obj with a single-metric config and returns the text (free it). */
static char *render1(const char *metric, const char *extra, const char *obj, uint64_t *skipped)
{
	char m[4096];
	struct crs_config *c;
	json_t *o = load(obj);
	uint32_t off[2];
	struct buf out;

	snprintf(m, sizeof(m), "[%s]", metric);
	c = cfg_of(m, extra);
	buf_init(&out, 1 << 20);
	assert_int_equal(crs_render(c, 0, o, &out, off, skipped), 0);
	assert_int_equal(off[0], 0);
	assert_int_equal(off[1], out.len);
	crs_free(c);
	json_decref(o);
	{ char *t = buf_steal(&out); return t ? t : strdup(""); }
}

static void expect_error(const char *spec, const char *want)
{
	char err[512] = "";
	json_t *j = load(spec);
	int rc = 0;

	assert_null(crs_compile(j, "spec.kubeState.customResourceState", err, sizeof(err), &rc));
	assert_int_equal(rc, KM_EINVAL);
	assert_string_equal(err, want);
	json_decref(j);
}

static void test_compile_errors(void **state)
{
	(void)state;
	expect_error("{}", "spec.kubeState.customResourceState.resources: must be a list of at most 64 resources");
	expect_error("{\"resources\":[{\"groupVersionKind\":{\"kind\":\"W\"},\"metrics\":[]}]}",
		     "spec.kubeState.customResourceState.resources[0].groupVersionKind: version and kind are required");
	expect_error("{\"resources\":[{\"groupVersionKind\":{\"group\":\"*\",\"version\":\"v1\",\"kind\":\"W\"},\"metrics\":[]}]}",
		     "spec.kubeState.customResourceState.resources[0].groupVersionKind: wildcards (*) are not supported");
	expect_error("{\"resources\":[{\"groupVersionKind\":{\"version\":\"v1\",\"kind\":\"W\"},\"metrics\":[{\"name\":\"a\","
		     "\"each\":{\"type\":\"Histogram\"}}]}]}",
		     "spec.kubeState.customResourceState.resources[0].metrics[0].each.type: unknown metric type \"Histogram\" (Gauge, StateSet or Info)");
	expect_error("{\"resources\":[{\"groupVersionKind\":{\"version\":\"v1\",\"kind\":\"W\"},\"metrics\":[{\"name\":\"a\","
		     "\"each\":{\"type\":\"Gauge\",\"info\":{}}}]}]}",
		     "spec.kubeState.customResourceState.resources[0].metrics[0].each.gauge: required for type Gauge");
	expect_error("{\"resources\":[{\"groupVersionKind\":{\"version\":\"v1\",\"kind\":\"W\"},\"metrics\":[{\"each\":{}}]}]}",
		     "spec.kubeState.customResourceState.resources[0].metrics[0].name: required");
	expect_error("{\"resources\":[{\"groupVersionKind\":{\"version\":\"v1\",\"kind\":\"W\"},\"metrics\":[{\"name\":\"a\","
		     "\"each\":{\"type\":\"gauge\",\"gauge\":{\"path\":[\"spec\",\"[x]\"]}}}]}]}",
		     "spec.kubeState.customResourceState.resources[0].metrics[0].each.gauge.path[1]: invalid list lookup: [x]");
	expect_error("{\"resources\":[{\"groupVersionKind\":{\"version\":\"v1\",\"kind\":\"W\"},\"metrics\":[{\"name\":\"a\","
		     "\"each\":{\"type\":\"gauge\",\"gauge\":{\"path\":\"spec.x\"}}}]}]}",
		     "spec.kubeState.customResourceState.resources[0].metrics[0].each.gauge.path: must be a list of at most 32 strings");
	expect_error("{\"resources\":[{\"groupVersionKind\":{\"version\":\"v1\",\"kind\":\"W\"},\"metrics\":[{\"name\":\"a\","
		     "\"each\":{\"type\":\"StateSet\",\"stateSet\":{\"list\":[\"A\"]}}}]}]}",
		     "spec.kubeState.customResourceState.resources[0].metrics[0].each.stateSet.labelName: required");
	expect_error("{\"resources\":[{\"groupVersionKind\":{\"version\":\"v1\",\"kind\":\"W\"},\"labelsFromPath\":{\"n\":[1]},"
		     "\"metrics\":[{\"name\":\"a\",\"each\":{\"type\":\"Info\",\"info\":{}}}]}]}",
		     "spec.kubeState.customResourceState.resources[0].labelsFromPath.n[0]: must be a string");
}

static void test_plural_and_names(void **state)
{
	char err[256];
	json_t *j = load("{\"resources\":["
			 "{\"groupVersionKind\":{\"version\":\"v1\",\"kind\":\"Policy\"},\"metrics\":[]},"
			 "{\"groupVersionKind\":{\"version\":\"v1\",\"kind\":\"Box\"},\"metrics\":[]},"
			 "{\"groupVersionKind\":{\"version\":\"v1\",\"kind\":\"Gateway\"},\"metrics\":[]},"
			 "{\"groupVersionKind\":{\"version\":\"v1\",\"kind\":\"Mouse\"},\"resourcePlural\":\"mice\",\"metricNamePrefix\":\"\","
			 "\"metrics\":[{\"name\":\"n\",\"each\":{\"type\":\"info\",\"info\":{}}}]}]}");
	struct crs_config *c = crs_compile(j, "x", err, sizeof(err), NULL);
	struct crs_resource_info ri;
	const char *want[] = { "policies", "boxes", "gateways", "mice" };

	(void)state;
	assert_non_null(c);
	assert_int_equal(crs_nresources(c), 4);
	for (size_t i = 0; i < 4; i++) {
		crs_resource(c, i, &ri);
		assert_string_equal(ri.plural, want[i]);
	}
	assert_string_equal(crs_family_name(c, 3, 0), "n"); /* prefix "" = none */
	crs_free(c);
	json_decref(j);
}

#define GAUGE(path, more) "{\"name\":\"m\",\"help\":\"h\",\"each\":{\"type\":\"Gauge\",\"gauge\":{\"path\":" path more "}}}"
#define NAME ",\"labelsFromPath\":{\"name\":[\"metadata\",\"name\"]}"

/* value of spec.v as KSM's toFloat64 converts it, or "none" */
static void conv(const char *json_value, const char *want, uint64_t want_skipped)
{
	char obj[512];
	char *got;
	uint64_t skipped = 0;

	snprintf(obj, sizeof(obj), "{\"metadata\":{\"name\":\"a\"},\"spec\":{\"v\":%s}}", json_value);
	got = render1(GAUGE("[\"spec\",\"v\"]", ""), NAME, obj, &skipped);
	if (strcmp(want, "none") == 0) {
		assert_string_equal(got, "");
	} else {
		char line[512];
		snprintf(line, sizeof(line), "kube_customresource_m{" P ",name=\"a\"} %s\n", want);
		assert_string_equal(got, line);
	}
	assert_int_equal(skipped, want_skipped);
	free(got);
}

static void test_conversions(void **state)
{
	(void)state;
	conv("3", "3", 0);
	conv("2.5", "2.5", 0);
	conv("1e21", "1e+21", 0);
	conv("true", "1", 0);
	conv("false", "0", 0);
	conv("\"Yes\"", "1", 0);
	conv("\"TRUE\"", "1", 0);
	conv("\"no\"", "0", 0);
	conv("\"Unknown\"", "0", 0);
	conv("\"2024-05-01T10:20:30Z\"", "1.71455883e+09", 0);
	conv("\"2024-05-01T10:20:30.999+02:00\"", "1.71455163e+09", 0);
	conv("\"1Gi\"", "1.073741824e+09", 0);
	conv("\"250m\"", "0.25", 0);
	conv("\"1e3\"", "1000", 0);
	conv("\"50%\"", "0.5", 0);
	conv("\"-1.5\"", "-1.5", 0);
	conv("\"+Inf\"", "+Inf", 0);
	conv("\"0x1p-2\"", "0.25", 0);
	conv("\"0x10\"", "none", 1);
	conv("\"12x\"", "none", 1);
	conv("\"\"", "none", 1);
	conv("{\"a\":1}", "1", 0);       /* a map: each value (no labelFromKey) */
	conv("{\"a\":\"x\"}", "none", 0); /* ... one that does not convert is dropped silently */
	conv("[1]", "1", 0); /* a list: each element converted, here one */
	conv("null", "none", 1); /* nil without nilIsZero: "got nil while resolving path" */
}

static void test_paths(void **state)
{
	const char *obj = "{\"metadata\":{\"name\":\"a\"},\"kind\":\"W\",\"spec\":{"
			  "\"ports\":[{\"port\":80,\"name\":\"http\",\"up\":true,\"n\":5},{\"port\":\"53\",\"name\":\"dns\",\"n\":6}],"
			  "\"limits\":{\"cpu\":\"500m\",\"memory\":\"1Ki\",\"bad\":\"x\"},"
			  "\"phase\":\"Running\",\"mode\":\"on\"}}";
	uint64_t sk = 0;
	char *got;

	(void)state;
	/* [key=value]: string, number (both sides converted) and boolean matches */
	got = render1(GAUGE("[\"spec\",\"ports\",\"[name=dns]\"]", ",\"valueFrom\":[\"n\"]"), NAME, obj, &sk);
	assert_string_equal(got, "kube_customresource_m{" P ",name=\"a\"} 6\n");
	free(got);
	got = render1(GAUGE("[\"spec\",\"ports\",\"[port=53]\"]", ",\"valueFrom\":[\"n\"]"), NAME, obj, &sk);
	assert_string_equal(got, "kube_customresource_m{" P ",name=\"a\"} 6\n");
	free(got);
	got = render1(GAUGE("[\"spec\",\"ports\",\"[up=true]\"]", ",\"valueFrom\":[\"n\"]"), NAME, obj, &sk);
	assert_string_equal(got, "kube_customresource_m{" P ",name=\"a\"} 5\n");
	free(got);
	/* negative index; out of range resolves to nothing */
	got = render1(GAUGE("[\"spec\",\"ports\",\"-1\",\"n\"]", ""), NAME, obj, &sk);
	assert_string_equal(got, "kube_customresource_m{" P ",name=\"a\"} 6\n");
	free(got);
	got = render1(GAUGE("[\"spec\",\"ports\",\"-3\",\"n\"]", ",\"nilIsZero\":true"), NAME, obj, &sk);
	assert_string_equal(got, "kube_customresource_m{" P ",name=\"a\"} 0\n");
	free(got);
	/* a list: one series per element, labels from the element */
	got = render1(GAUGE("[\"spec\",\"ports\"]", ",\"valueFrom\":[\"n\"],\"labelsFromPath\":{\"port\":[\"port\"],\"up\":[\"up\"]}"),
		      NAME, obj, &sk);
	assert_string_equal(got, "kube_customresource_m{" P ",name=\"a\",port=\"80\",up=\"true\"} 5\n"
				 "kube_customresource_m{" P ",name=\"a\",port=\"53\"} 6\n");
	free(got);
	/* a map with labelFromKey: an entry that does not convert is dropped silently (as KSM) */
	sk = 0;
	got = render1(GAUGE("[\"spec\",\"limits\"]", ",\"labelFromKey\":\"resource\""), NAME, obj, &sk);
	assert_string_equal(got, "kube_customresource_m{" P ",name=\"a\",resource=\"cpu\"} 0.5\n"
				 "kube_customresource_m{" P ",name=\"a\",resource=\"memory\"} 1024\n");
	assert_int_equal(sk, 0);
	free(got);
	/* a map with a one-element valueFrom naming a key */
	got = render1(GAUGE("[\"spec\",\"limits\"]", ",\"valueFrom\":[\"memory\"]"), NAME, obj, &sk);
	assert_string_equal(got, "kube_customresource_m{" P ",name=\"a\"} 1024\n");
	free(got);
	/* "k=v": the value when it matches, else the key "k=v" (absent) */
	got = render1("{\"name\":\"m\",\"each\":{\"type\":\"Info\",\"info\":{\"labelsFromPath\":{\"on\":[\"spec\",\"mode=on\"],"
		      "\"off\":[\"spec\",\"mode=off\"]}}}}", NAME, obj, &sk);
	assert_string_equal(got, "kube_customresource_m{" P ",name=\"a\",on=\"on\"} 1\n");
	free(got);
	/* metric-level labelsFromPath are read from the object root, not the element */
	got = render1("{\"name\":\"m\",\"labelsFromPath\":{\"k\":[\"kind\"]},\"each\":{\"type\":\"Gauge\",\"gauge\":{\"path\":"
		      "[\"spec\",\"ports\",\"0\"],\"valueFrom\":[\"n\"]}}}", NAME, obj, &sk);
	assert_string_equal(got, "kube_customresource_m{" P ",k=\"W\",name=\"a\"} 5\n");
	free(got);
}

static void test_stateset_info_labels(void **state)
{
	const char *obj = "{\"metadata\":{\"name\":\"a\",\"labels\":{\"app.kubernetes.io/name\":\"w\",\"t\":\"x\"},"
			  "\"annotations\":{\"ünï\":\"q\\\"b\\\\s\\nn\"}},"
			  "\"spec\":{\"phase\":\"Running\",\"v\":2.5,\"m\":{\"b\":[1,true],\"a\":null},\"f\":{\"x\":true,\"y\":false}}}";
	uint64_t sk = 0;
	char *got;

	(void)state;
	got = render1("{\"name\":\"m\",\"each\":{\"type\":\"StateSet\",\"stateSet\":{\"path\":[\"spec\"],\"valueFrom\":[\"phase\"],"
		      "\"labelName\":\"phase\",\"list\":[\"Pending\",\"Running\"]}}}", NAME, obj, &sk);
	assert_string_equal(got, "kube_customresource_m{" P ",name=\"a\",phase=\"Pending\"} 0\n"
				 "kube_customresource_m{" P ",name=\"a\",phase=\"Running\"} 1\n");
	free(got);
	/* "label_*" copies a map with a prefix, names sanitized; values as Go's %v */
	got = render1("{\"name\":\"m\",\"each\":{\"type\":\"Info\",\"info\":{\"labelsFromPath\":{\"label_*\":[\"metadata\",\"labels\"],"
		      "\"v\":[\"spec\",\"v\"],\"m\":[\"spec\",\"m\"]}}}}", NAME, obj, &sk);
	assert_string_equal(got, "kube_customresource_m{" P ",label_app_kubernetes_io_name=\"w\",label_t=\"x\","
				 "m=\"map[a:<nil> b:[1 true]]\",name=\"a\",v=\"2.5\"} 1\n");
	free(got);
	/* "*" copies a map as is; a multi-byte rune is one "_"; values escaped */
	got = render1("{\"name\":\"m\",\"each\":{\"type\":\"Info\",\"info\":{\"labelsFromPath\":{\"*\":[\"metadata\",\"annotations\"]}}}}",
		      NAME, obj, &sk);
	assert_string_equal(got, "kube_customresource_m{_n_=\"q\\\"b\\\\s\\nn\"," P ",name=\"a\"} 1\n");
	free(got);
	/* Info over a map: one series per key with labelFromKey */
	got = render1("{\"name\":\"m\",\"each\":{\"type\":\"Info\",\"info\":{\"path\":[\"spec\",\"f\"],\"labelFromKey\":\"feature\"}}}",
		      NAME, obj, &sk);
	assert_string_equal(got, "kube_customresource_m{" P ",feature=\"x\",name=\"a\"} 1\n"
				 "kube_customresource_m{" P ",feature=\"y\",name=\"a\"} 1\n");
	free(got);
	/* commonLabels: the metric's override the GVK labels (KSM merges them last) */
	got = render1("{\"name\":\"m\",\"commonLabels\":{\"customresource_group\":\"o\",\"z\":\"1\"},\"each\":{\"type\":\"Gauge\","
		      "\"gauge\":{\"path\":[\"spec\",\"v\"]}}}", ",\"commonLabels\":{\"team\":\"t\"}", obj, &sk);
	assert_string_equal(got, "kube_customresource_m{customresource_group=\"o\",customresource_kind=\"W\","
				 "customresource_version=\"v1\",team=\"t\",z=\"1\"} 2.5\n");
	free(got);
}

static void test_store(void **state)
{
	struct crs_config *c = cfg_of("[" GAUGE("[\"spec\",\"v\"]", "") ",{\"name\":\"other\",\"help\":\"o\\\\x\\ny\","
				      "\"each\":{\"type\":\"StateSet\",\"stateSet\":{\"labelName\":\"s\",\"list\":[\"A\"],\"valueFrom\":[\"spec\",\"s\"]}}}]",
				      ",\"labelsFromPath\":{\"ns\":[\"metadata\",\"namespace\"]}");
	struct crs_store *s = crs_store_new();
	const char *excl[] = { "hidden" };
	struct ks_filter f = { .exclude_namespaces = excl, .nexclude_namespaces = 1 };
	json_t *a = load("{\"metadata\":{\"name\":\"a\",\"namespace\":\"n1\"},\"spec\":{\"v\":1,\"s\":\"A\"}}");
	json_t *a2 = load("{\"metadata\":{\"name\":\"a\",\"namespace\":\"n1\"},\"spec\":{\"v\":2,\"s\":\"B\"}}");
	json_t *h = load("{\"metadata\":{\"name\":\"h\",\"namespace\":\"hidden\"},\"spec\":{\"v\":9}}");
	struct buf out;
	char err[256];

	(void)state;
	buf_init(&out, 1 << 20);
	assert_int_equal(crs_store_set_config(s, c), 0);
	crs_free(c); /* the store keeps its own reference */
	/* no objects: nothing at all, not even headers */
	assert_int_equal(crs_store_write(s, &f, &out), 0);
	assert_int_equal(out.len, 0);
	assert_int_equal(crs_store_upsert(s, 0, h), 0);
	assert_int_equal(crs_store_write(s, &f, &out), 0);
	assert_int_equal(out.len, 0); /* only an excluded namespace's object */
	assert_int_equal(crs_store_upsert(s, 0, a), 0);
	assert_int_equal(crs_store_upsert(s, 0, a2), 0); /* replaces */
	assert_int_equal(crs_store_upsert(s, 1, a), KM_EINVAL);
	assert_int_equal(crs_store_write(s, &f, &out), 0);
	assert_string_equal(buf_cstr(&out),
			    "# HELP kube_customresource_m h\n# TYPE kube_customresource_m gauge\n"
			    "kube_customresource_m{" P ",ns=\"n1\"} 2\n"
			    "# HELP kube_customresource_other o\\\\x\\ny\n# TYPE kube_customresource_other gauge\n"
			    "kube_customresource_other{" P ",ns=\"n1\",s=\"A\"} 0\n");
	/* the family filter: anywhere in the name, as KSM's */
	buf_reset(&out);
	f.metric_deny = rx_new_search("other", err, sizeof(err));
	assert_non_null(f.metric_deny);
	assert_int_equal(crs_store_write(s, &f, &out), 0);
	assert_null(strstr(buf_cstr(&out), "other"));
	assert_non_null(strstr(buf_cstr(&out), "kube_customresource_m{"));
	rx_free((struct rx *)f.metric_deny);
	/* delete; a new configuration starts over */
	assert_int_equal(crs_store_delete(s, 0, "n1", "a"), 0);
	assert_int_equal(crs_store_delete(s, 0, "n1", "a"), KM_ENOENT);
	buf_reset(&out);
	assert_int_equal(crs_store_write(s, NULL, &out), 0);
	assert_non_null(strstr(buf_cstr(&out), "ns=\"hidden\"} 9\n"));
	assert_int_equal(crs_store_set_config(s, NULL), 0);
	buf_reset(&out);
	assert_int_equal(crs_store_write(s, NULL, &out), 0);
	assert_int_equal(out.len, 0);
	/* a cap on out: rolled back */
	assert_int_equal(crs_store_set_config(s, c = cfg_of("[" GAUGE("[\"spec\",\"v\"]", "") "]", "")), 0);
	crs_free(c);
	assert_int_equal(crs_store_upsert(s, 0, a), 0);
	buf_fini(&out);
	buf_init(&out, 40);
	assert_int_equal(buf_adds(&out, "x"), 0);
	assert_int_equal(crs_store_write(s, NULL, &out), KM_ETOOBIG);
	assert_string_equal(buf_cstr(&out), "x");
	buf_fini(&out);
	crs_store_free(s);
	json_decref(a);
	json_decref(a2);
	json_decref(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compile_errors),
		cmocka_unit_test(test_plural_and_names),
		cmocka_unit_test(test_conversions),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_stateset_info_labels),
		cmocka_unit_test(test_store),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
