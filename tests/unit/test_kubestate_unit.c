/* kube-state collector units: quantities, Go float formatting, label
 * names, HELP/TYPE against reference/ksm.md §4, store operations
 * (replace, delete, clear, rollback on cap, concurrent writers/readers),
 * the streaming cursor (blocks == one write, snapshot across changes),
 * self-metrics, and the bytes-per-object figure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <pthread.h>
#include <unistd.h>

#include "base/err.h"
#include "collect/kubestate/ks_cron.h"
#include "collect/kubestate/tz.h"
#include "collect/kubestate/ks_internal.h"

static int64_t qv(const char *s, int scale)
{
	struct ks_quantity q;

	assert_int_equal(ks_quantity_parse(s, &q), 0);
	return ks_quantity_scaled(&q, scale);
}

static void test_quantity(void **state)
{
	struct ks_quantity q;

	(void)state;
	assert_int_equal(qv("100m", -3), 100);
	assert_int_equal(qv("100m", 0), 1); /* Value() rounds up */
	assert_int_equal(qv("1.5Gi", 0), 1610612736);
	assert_int_equal(qv("1e3", 0), 1000);
	assert_int_equal(qv("1E3", 0), 1000);
	assert_int_equal(qv("0.1", -3), 100);
	assert_int_equal(qv("0.1", 0), 1);
	assert_int_equal(qv("129e6", 0), 129000000);
	assert_int_equal(qv("123Mi", 0), 128974848);
	assert_int_equal(qv("4.3", -3), 4300);
	assert_int_equal(qv("2G", 0), 2000000000);
	assert_int_equal(qv("1k", 0), 1000);
	assert_int_equal(qv("32882864Ki", 0), 33672052736LL);
	assert_int_equal(qv("1.5m", -3), 2); /* MilliValue rounds up */
	assert_int_equal(qv("500n", -3), 1);
	assert_int_equal(qv("0", 0), 0);
	assert_int_equal(qv("1Ei", 0), 1152921504606846976LL);
	assert_int_equal(qv("8Ei", 0), INT64_MAX); /* saturates */
	assert_int_equal(qv("12e-3", -3), 12);
	assert_int_equal(qv(".5", -3), 500);
	assert_int_equal(qv("-1", 0), -1);
	assert_int_equal(qv("+2Ki", 0), 2048);
	assert_int_equal(ks_quantity_parse("", &q), KM_EPARSE);
	assert_int_equal(ks_quantity_parse("abc", &q), KM_EPARSE);
	assert_int_equal(ks_quantity_parse("1Kb", &q), KM_EPARSE);
	assert_int_equal(ks_quantity_parse("1.2.3", &q), KM_EPARSE);
	assert_int_equal(ks_quantity_parse("1e", &q), KM_EPARSE);
}

static double cores(const char *s)
{
	json_t *j = json_string(s);
	double v = -1;

	assert_true(ks_quantity_milli(j, &v));
	json_decref(j);
	return v;
}

/* KSM's convertValueToFloat64: MilliValue()/1000 unless Value() exceeds
 * MaxMilliValue (MaxInt64/1000 = 9223372036854775), then Value(). */
static void test_quantity_cores(void **state)
{
	(void)state;
	assert_true(cores("250m") == 0.25);
	assert_true(cores("1.5") == 1.5);
	assert_true(cores("1.0005") == 1.001); /* MilliValue rounds up */
	assert_true(cores("10000T") == 1e16);  /* a node's 10000T memory: not 9.2e15 */
	/* At the bound Go computes float64(9223372036854775000)/1000, as we do. */
	assert_true(cores("9223372036854775") == (double)9223372036854775000LL / 1000);
	assert_true(cores("9223372036854776") == 9223372036854776.0);
	assert_true(cores("8Ei") == (double)INT64_MAX); /* Value() saturates too */
	assert_true(cores("-1") == -1);
}

static void fmt(double v, const char *want)
{
	char b[EXPO_DOUBLE_MAX];

	ks_fmt_value(b, v);
	assert_string_equal(b, want);
}

static void test_go_format(void **state)
{
	(void)state;
	fmt(0, "0");
	fmt(1, "1");
	fmt(-1, "-1");
	fmt(555, "555");
	fmt(123456, "123456");
	fmt(1e6, "1e+06");
	fmt(1234567, "1.234567e+06");
	fmt(1e8, "1e+08");
	fmt(1.5e9, "1.5e+09");
	fmt(1501888018, "1.501888018e+09");
	fmt(0.2, "0.2");
	fmt(4.3, "4.3");
	fmt(1e-5, "1e-05");
	fmt(0.0001, "0.0001");
	fmt(7.91, "7.91");
	fmt(-62135596800.0, "-6.21355968e+10");
}

static void label_name(const char *key, const char *want)
{
	struct buf b;

	buf_init(&b, 1024);
	assert_int_equal(ks_label_name(&b, "label", key), 0);
	assert_string_equal(buf_cstr(&b), want);
	buf_fini(&b);
}

static void test_label_names(void **state)
{
	(void)state;
	label_name("app", "label_app");
	label_name("app.kubernetes.io/name", "label_app_kubernetes_io_name");
	label_name("camelCase", "label_camel_case");
	label_name("aBC", "label_a_bc");
	label_name("a1B2C", "label_a1_b2_c");
	label_name("ABC", "label_abc");
	label_name("h\xc3\xa9llo", "label_h_llo");
	label_name("excluded_from_alerts", "label_excluded_from_alerts");
	assert_true(ks_res_is_extended("nvidia.com/gpu"));
	assert_true(ks_res_is_extended("example.com/foo"));
	assert_false(ks_res_is_extended("kubernetes.io/batch-cpu"));
	assert_false(ks_res_is_extended("pods"));
	assert_false(ks_res_is_extended("requests.nvidia.com/gpu"));
	assert_false(ks_res_is_extended("Bad_Domain/x"));
}

/* Every family we print that ksm.md §4 lists has exactly that HELP/TYPE. */
static void test_help_matches_reference(void **state)
{
	FILE *f = fopen("tests/fixtures/kubestate/help_ksm.tsv", "r");
	char line[1024];
	int checked = 0, total = 0;

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *name = line, *help = strchr(line, '\t'), *type;
		if (!help)
			continue;
		*help++ = '\0';
		type = strchr(help, '\t');
		assert_non_null(type);
		*type++ = '\0';
		type[strcspn(type, "\n")] = '\0';
		total++;
		for (int k = 0; k < KS_KIND_COUNT; k++) {
			for (size_t i = 0; i < *ks_kinds[k].nfamilies; i++) {
				const struct ks_family *fam = &ks_kinds[k].families[i];
				if (strcmp(fam->name, name) != 0)
					continue;
				if (strcmp(fam->help, help) != 0)
					fail_msg("%s: HELP '%s' want '%s'", name, fam->help, help);
				assert_string_equal(expo_type_name(fam->type), type);
				checked++;
			}
		}
	}
	fclose(f);
	print_message("[ help     ] %d of %d reference families checked\n", checked, total);
	assert_true(checked >= 60);
}

static json_t *pod(const char *ns, const char *name, const char *node)
{
	return json_pack("{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:[{s:s, s:{s:{s:s, s:s}}}]}, "
			 "s:{s:s, s:s, s:s, s:[{s:s, s:b, s:i, s:{s:{}}}]}}",
			 "kind", "Pod", "metadata", "name", name, "namespace", ns, "uid",
			 "0b9f5c2e-6f0e-4c89-9a53-8c1f1f5b0e11", "spec", "nodeName", node,
			 "containers", "name", "app", "resources", "requests", "cpu", "100m",
			 "memory", "128Mi", "status", "phase", "Running", "hostIP", "10.0.0.1",
			 "podIP", "10.1.2.3", "containerStatuses", "name", "app", "ready", 1,
			 "restartCount", 0, "state", "running");
}

/* kube_pod_labels with allowlist "*": a value over KS_LABEL_VALUE_MAX is
 * left out, and past KS_LABELS_MAX pairs the rest (in key order) too; both
 * are counted in k8smon_kube_state_labels_dropped_total. */
static void test_label_caps(void **state)
{
	static const char *const all[] = { "*" };
	struct ks_store *s = ks_store_new();
	struct ks_opts opts = { 0 };
	struct ks_label_drops d;
	struct buf out, big;
	json_t *p = pod("ns", "a", "n1"), *labels = json_object();
	const char *line, *eol;
	size_t pairs = 0;

	(void)state;
	opts.labels[KS_POD] = (struct ks_allowlist){ all, 1 };
	for (int i = 0; i < 70; i++) {
		char k[16];
		snprintf(k, sizeof(k), "k%02d", i);
		json_object_set_new(labels, k, json_string("v"));
	}
	buf_init(&big, 1 << 20);
	for (int i = 0; i <= KS_LABEL_VALUE_MAX; i++)
		assert_int_equal(buf_addc(&big, 'x'), 0);
	json_object_set_new(labels, "huge", json_string(buf_cstr(&big)));
	buf_fini(&big);
	json_object_set_new(json_object_get(p, "metadata"), "labels", labels);
	assert_int_equal(ks_store_upsert(s, KS_POD, p, &opts), 0);
	ks_store_label_drops(s, &d);
	assert_int_equal(d.value_length, 1);
	assert_int_equal(d.label_count, 70 - KS_LABELS_MAX);
	buf_init(&out, 1 << 20);
	assert_int_equal(ks_store_write(s, NULL, &out), 0);
	line = strstr(buf_cstr(&out), "\nkube_pod_labels{");
	assert_non_null(line);
	eol = strchr(line + 1, '\n');
	for (const char *c = line; c < eol; c++)
		pairs += strncmp(c, ",label_", 7) == 0;
	assert_int_equal(pairs, KS_LABELS_MAX);
	assert_non_null(strstr(line, "label_k63=\"v\""));
	assert_null(strstr(buf_cstr(&out), "label_k64="));
	assert_null(strstr(buf_cstr(&out), "label_huge="));
	buf_reset(&out);
	assert_int_equal(ks_write_store_metrics(&out, s), 0);
	assert_non_null(strstr(buf_cstr(&out),
			       "k8smon_kube_state_labels_dropped_total{reason=\"value_length\"} 1\n"));
	assert_non_null(strstr(buf_cstr(&out),
			       "k8smon_kube_state_labels_dropped_total{reason=\"label_count\"} 6\n"));
	assert_non_null(strstr(buf_cstr(&out), "k8smon_kube_state_render_errors_total 0\n"));
	buf_fini(&out);
	json_decref(p);
	ks_store_free(s);
}

/* Lines of out whose text contains needle, sorted, joined: one object's series. */
static char *lines_with(const char *out, const char *needle)
{
	struct buf b;
	const char *l = out;

	buf_init(&b, 1 << 22);
	while (l && *l) {
		const char *e = strchr(l, '\n');
		size_t n = e ? (size_t)(e - l) : strlen(l);
		if (memmem(l, n, needle, strlen(needle))) {
			assert_int_equal(buf_add(&b, l, n), 0);
			assert_int_equal(buf_addc(&b, '\n'), 0);
		}
		l = e ? e + 1 : NULL;
	}
	return buf_steal(&b);
}

/* Issue 17, bad input: fields of the wrong type, a 2 MB annotation, 10,000
 * labels, quantities that do not parse. Each object is rendered with what
 * parses (dropped pairs and skipped quantities counted, which the watcher
 * logs rate-limited), and a good object's series are exactly what they are
 * in a store without the bad ones. */
static void test_bad_input(void **state)
{
	static const char *const all[] = { "*" };
	struct ks_store *good = ks_store_new(), *s = ks_store_new();
	struct ks_opts opts = { 0 };
	struct ks_label_drops d;
	struct buf out, big;
	json_t *p0 = pod("ns", "p0", "n1"), *wrong, *huge = pod("ns", "huge", "n1"), *many = pod("ns", "many", "n1");
	json_t *badq = pod("ns", "badq", "n1"), *labels = json_object(), *node;
	char *want, *got;

	(void)state;
	opts.labels[KS_POD] = (struct ks_allowlist){ all, 1 };
	opts.annotations[KS_POD] = (struct ks_allowlist){ all, 1 };
	opts.labels[KS_NODE] = (struct ks_allowlist){ all, 1 };
	assert_int_equal(ks_store_upsert(good, KS_POD, p0, &opts), 0);
	assert_int_equal(ks_store_upsert(s, KS_POD, p0, &opts), 0);

	/* wrong types everywhere: rendered from what is usable, nothing dropped */
	wrong = json_loads("{\"kind\":\"Pod\",\"metadata\":{\"name\":\"wrong\",\"namespace\":\"ns\","
			   "\"labels\":[\"a\"],\"annotations\":{\"a\":7},\"creationTimestamp\":5,"
			   "\"ownerReferences\":{\"kind\":\"x\"}},\"spec\":\"not an object\","
			   "\"status\":{\"phase\":7,\"containerStatuses\":{\"name\":\"c\"},"
			   "\"conditions\":[1,\"x\",null]}}", 0, NULL);
	assert_non_null(wrong);
	assert_int_equal(ks_store_upsert(s, KS_POD, wrong, &opts), 0);

	/* a 2 MB annotation: that pair left out, the others kept */
	buf_init(&big, 3 << 20);
	for (int i = 0; i < 2 << 20; i++)
		assert_int_equal(buf_addc(&big, 'x'), 0);
	json_object_set_new(json_object_get(huge, "metadata"), "annotations",
			    json_pack("{s:s, s:s}", "big", buf_cstr(&big), "small", "ok"));
	buf_fini(&big);
	assert_int_equal(ks_store_upsert(s, KS_POD, huge, &opts), 0);

	/* 10,000 labels: the first KS_LABELS_MAX in key order kept */
	for (int i = 0; i < 10000; i++) {
		char k[16];
		snprintf(k, sizeof(k), "k%05d", i);
		json_object_set_new(labels, k, json_string("v"));
	}
	json_object_set_new(json_object_get(many, "metadata"), "labels", labels);
	assert_int_equal(ks_store_upsert(s, KS_POD, many, &opts), 0);

	/* quantities that do not parse: those series skipped and counted */
	json_object_set_new(json_object_get(json_object_get(json_array_get(
				    json_object_get(json_object_get(badq, "spec"), "containers"), 0),
								 "resources"), "requests"),
			    "cpu", json_string("12x"));
	assert_int_equal(ks_store_upsert(s, KS_POD, badq, &opts), 0);
	node = json_loads("{\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\"},\"status\":{"
			  "\"capacity\":{\"memory\":\"1.2.3\",\"cpu\":\"4\"},\"allocatable\":{\"pods\":[]}}}",
			  0, NULL);
	assert_int_equal(ks_store_upsert(s, KS_NODE, node, &opts), 0);

	ks_store_label_drops(s, &d);
	assert_int_equal(d.value_length, 1);
	assert_int_equal(d.label_count, 10000 - KS_LABELS_MAX);
	assert_int_equal(d.bad_quantity, 3); /* "12x", "1.2.3", [] */

	buf_init(&out, 16 << 20);
	assert_int_equal(ks_store_write(s, NULL, &out), 0);
	assert_non_null(strstr(buf_cstr(&out), "kube_pod_info{namespace=\"ns\",pod=\"wrong\""));
	assert_non_null(strstr(buf_cstr(&out), ",annotation_small=\"ok\"} 1\n"));
	assert_null(strstr(buf_cstr(&out), "annotation_big="));
	assert_non_null(strstr(buf_cstr(&out), "label_k00063=\"v\""));
	assert_null(strstr(buf_cstr(&out), "label_k00064="));
	got = lines_with(buf_cstr(&out), "pod=\"badq\"");
	assert_non_null(strstr(got, "kube_pod_container_resource_requests{namespace=\"ns\",pod=\"badq\""));
	assert_non_null(strstr(got, "resource=\"memory\""));
	assert_null(strstr(got, "resource=\"cpu\""));
	free(got);
	got = lines_with(buf_cstr(&out), "{node=\"n1\",resource=\""); /* the node's own */
	assert_non_null(strstr(got, "kube_node_status_capacity{node=\"n1\",resource=\"cpu\",unit=\"core\"} 4\n"));
	assert_null(strstr(got, "resource=\"memory\""));
	assert_null(strstr(got, "resource=\"pods\""));
	free(got);
	/* the rest of the store is unaffected: p0 renders as in a store of its own */
	got = lines_with(buf_cstr(&out), "pod=\"p0\"");
	buf_reset(&out);
	assert_int_equal(ks_store_write(good, NULL, &out), 0);
	want = lines_with(buf_cstr(&out), "pod=\"p0\"");
	assert_true(strlen(want) > 1000);
	assert_string_equal(got, want);
	free(got);
	free(want);
	buf_reset(&out);
	assert_int_equal(ks_write_store_metrics(&out, s), 0);
	assert_non_null(strstr(buf_cstr(&out),
			       "k8smon_kube_state_values_skipped_total{reason=\"bad_quantity\"} 3\n"));
	buf_fini(&out);
	json_decref(p0);
	json_decref(wrong);
	json_decref(huge);
	json_decref(many);
	json_decref(badq);
	json_decref(node);
	ks_store_free(good);
	ks_store_free(s);
}

static void test_store_ops(void **state)
{
	struct ks_store *s = ks_store_new();
	struct buf out;
	json_t *p = pod("ns", "a", "n1"), *p2 = pod("ns", "a", "n2");
	json_t *bad = json_pack("{s:{s:s}}", "metadata", "name", "x");

	(void)state;
	assert_int_equal(ks_store_upsert(s, KS_POD, p, NULL), 0);
	assert_int_equal(ks_store_upsert(s, KS_POD, p2, NULL), 0); /* replaces */
	assert_int_equal(ks_store_count(s, KS_POD), 1);
	assert_int_equal(ks_store_upsert(s, KS_POD, bad, NULL), KM_EINVAL); /* no namespace */
	assert_int_equal(ks_store_upsert(s, KS_NODE, bad, NULL), 0);
	buf_init(&out, 1 << 20);
	assert_int_equal(ks_store_write(s, NULL, &out), 0);
	assert_non_null(strstr(buf_cstr(&out), "node=\"n2\""));
	assert_null(strstr(buf_cstr(&out), "node=\"n1\""));
	/* A cap too small rolls the output back to its length on entry. */
	{
		struct buf small;
		buf_init(&small, 100);
		buf_adds(&small, "keep");
		assert_int_equal(ks_store_write(s, NULL, &small), KM_ETOOBIG);
		assert_string_equal(buf_cstr(&small), "keep");
		buf_fini(&small);
	}
	assert_int_equal(ks_store_delete(s, KS_POD, "ns", "a"), 0);
	assert_int_equal(ks_store_delete(s, KS_POD, "ns", "a"), KM_ENOENT);
	assert_int_equal(ks_store_clear_kind(s, KS_NODE), 0);
	buf_reset(&out);
	assert_int_equal(ks_store_write(s, NULL, &out), 0);
	assert_int_equal(out.len, 0); /* no objects: not even headers */
	buf_fini(&out);
	json_decref(p);
	json_decref(p2);
	json_decref(bad);
	ks_store_free(s);
}

/* kube_ingress_tls from a hand-written Ingress, the expected series written
 * out by hand from kube-state-metrics' definition (one series per TLS host,
 * labelled with its entry's secretName, value 1): an oracle independent of
 * the golden snapshots (tests/fixtures/kubestate/README.md). */
static void test_ingress_tls_by_hand(void **state)
{
	struct ks_store *s = ks_store_new();
	struct buf out;
	json_t *ing = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:{s:[{s:[s, s], s:s}, {s:[s], s:s}]}}",
				"apiVersion", "networking.k8s.io/v1", "kind", "Ingress",
				"metadata", "name", "web", "namespace", "shop", "uid", "u-1",
				"spec", "tls", "hosts", "a.shop.example", "b.shop.example", "secretName", "ab-cert",
				"hosts", "c.shop.example", "secretName", "c-cert");
	const char *want[] = {
		"kube_ingress_tls{namespace=\"shop\",ingress=\"web\",tls_host=\"a.shop.example\",secret=\"ab-cert\"} 1\n",
		"kube_ingress_tls{namespace=\"shop\",ingress=\"web\",tls_host=\"b.shop.example\",secret=\"ab-cert\"} 1\n",
		"kube_ingress_tls{namespace=\"shop\",ingress=\"web\",tls_host=\"c.shop.example\",secret=\"c-cert\"} 1\n",
	};
	const char *p;
	int n = 0;

	(void)state;
	assert_non_null(ing);
	assert_int_equal(ks_store_upsert(s, KS_INGRESS, ing, NULL), 0);
	buf_init(&out, 1 << 20);
	assert_int_equal(ks_store_write(s, NULL, &out), 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_non_null(strstr(buf_cstr(&out), want[i]));
	/* Exactly those three series. */
	for (p = buf_cstr(&out); (p = strstr(p, "\nkube_ingress_tls{")); p++)
		n++;
	assert_int_equal(n, 3);
	buf_fini(&out);
	json_decref(ing);
	ks_store_free(s);
}

struct race {
	struct ks_store *s;
	int stop;
};

static void *reader(void *arg)
{
	struct race *r = arg;
	struct buf out;

	buf_init(&out, 64u << 20);
	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		buf_reset(&out);
		ks_store_write(r->s, NULL, &out);
		/* consistent: one HELP line per family, never two */
		const char *h = strstr(buf_cstr(&out), "# HELP kube_pod_info ");
		if (h)
			assert_null(strstr(h + 1, "# HELP kube_pod_info "));
	}
	buf_fini(&out);
	return NULL;
}

static void test_store_concurrent(void **state)
{
	struct race r = { ks_store_new(), 0 };
	pthread_t t[3];
	char name[32];

	(void)state;
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, reader, &r);
	for (int i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "p%d", i % 300);
		json_t *p = pod("ns", name, "n1");
		assert_int_equal(ks_store_upsert(r.s, KS_POD, p, NULL), 0);
		json_decref(p);
		if (i % 7 == 0)
			ks_store_delete(r.s, KS_POD, "ns", name);
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	ks_store_free(r.s);
}

/* Streaming cursor: blocks of any budget concatenate to exactly one
 * ks_store_write, with and without filters, and with deletes, replaces and
 * a cleared kind between blocks (the cursor's snapshot is the store at its
 * first call). */
static void fill_store(struct ks_store *s)
{
	static const char *const nss[] = { "shop", "kube-system", "default" };
	char name[32];

	for (int i = 0; i < 60; i++) {
		snprintf(name, sizeof(name), "p%02d", i);
		json_t *p = pod(nss[i % 3], name, i % 2 ? "n1" : "n2");
		assert_int_equal(ks_store_upsert(s, KS_POD, p, NULL), 0);
		json_decref(p);
	}
	for (int i = 0; i < 3; i++) {
		json_t *n = json_pack("{s:{s:s}}", "metadata", "name", nss[i]);
		assert_int_equal(ks_store_upsert(s, KS_NAMESPACE, n, NULL), 0);
		assert_int_equal(ks_store_upsert(s, KS_NODE, n, NULL), 0);
		json_decref(n);
	}
}

static void stream_all(struct ks_store *s, const struct ks_filter *f, size_t budget,
		       struct buf *got, int mutate_after)
{
	struct ks_cursor c;
	struct buf block;
	int rc, blocks = 0;

	ks_cursor_init(&c);
	buf_init(&block, 64u << 20);
	do {
		buf_reset(&block);
		rc = ks_store_write_next(s, &c, f, &block, budget);
		assert_true(rc == KS_WRITE_MORE || rc == KS_WRITE_DONE);
		/* a block ends at a line boundary */
		if (block.len)
			assert_int_equal(block.data[block.len - 1], '\n');
		assert_int_equal(buf_add(got, block.data ? block.data : "", block.len), 0);
		if (++blocks == mutate_after) {
			char name[32];
			for (int i = 0; i < 60; i += 4) {
				snprintf(name, sizeof(name), "p%02d", i);
				ks_store_delete(s, KS_POD, (const char *[]){ "shop", "kube-system", "default" }[i % 3], name);
			}
			json_t *p = pod("shop", "p03", "n-replaced");
			assert_int_equal(ks_store_upsert(s, KS_POD, p, NULL), 0);
			json_decref(p);
			p = pod("shop", "new-pod", "n9");
			assert_int_equal(ks_store_upsert(s, KS_POD, p, NULL), 0);
			json_decref(p);
			assert_int_equal(ks_store_clear_kind(s, KS_NODE), 0);
		}
	} while (rc == KS_WRITE_MORE);
	assert_int_equal(ks_store_write_next(s, &c, f, &block, budget), KS_WRITE_DONE);
	ks_cursor_fini(&c);
	ks_cursor_fini(&c); /* twice is fine */
	buf_fini(&block);
}

static void test_store_cursor(void **state)
{
	static const size_t budgets[] = { 0, 1, 7, 100, 333, 4096, 1u << 20 };
	const char *excl[] = { "kube-system" };
	char err[128];
	struct rx *deny = rx_new("kube_pod_(status_.*|labels)", err, sizeof(err));
	struct ks_filter filters[3] = {
		{ 0 },
		{ .exclude_namespaces = excl, .nexclude_namespaces = 1, .metric_deny = deny },
		{ .kinds = KS_KIND_BIT(KS_POD) | KS_KIND_BIT(KS_NODE) },
	};
	struct buf want, got;

	(void)state;
	assert_non_null(deny);
	buf_init(&want, 64u << 20);
	buf_init(&got, 64u << 20);
	for (int fi = -1; fi < 3; fi++) {
		const struct ks_filter *f = fi < 0 ? NULL : &filters[fi];
		for (size_t bi = 0; bi < sizeof(budgets) / sizeof(budgets[0]); bi++) {
			for (int mutate = 0; mutate <= 2; mutate++) {
				struct ks_store *s = ks_store_new();
				fill_store(s);
				buf_reset(&want);
				buf_reset(&got);
				assert_int_equal(ks_store_write(s, f, &want), 0);
				assert_true(want.len > 0);
				stream_all(s, f, budgets[bi], &got, mutate);
				assert_int_equal(got.len, want.len);
				assert_memory_equal(got.data, want.data, want.len);
				ks_store_free(s);
			}
		}
	}
	/* A cursor outlives the store (it holds references, not the table). */
	{
		struct ks_store *s = ks_store_new();
		struct ks_cursor c;
		fill_store(s);
		buf_reset(&want);
		buf_reset(&got);
		assert_int_equal(ks_store_write(s, NULL, &want), 0);
		ks_cursor_init(&c);
		assert_int_equal(ks_store_write_next(s, &c, NULL, &got, 10), KS_WRITE_MORE);
		ks_cursor_fini(&c);
		ks_store_free(s);
	}
	/* Empty store: done at once, nothing written. */
	{
		struct ks_store *s = ks_store_new();
		struct ks_cursor c;
		buf_reset(&got);
		ks_cursor_init(&c);
		assert_int_equal(ks_store_write_next(s, &c, NULL, &got, 10), KS_WRITE_DONE);
		assert_int_equal(got.len, 0);
		ks_cursor_fini(&c);
		ks_store_free(s);
	}
	buf_fini(&want);
	buf_fini(&got);
	rx_free(deny);
}

/* Cursors on reader threads while the store changes: every block is whole
 * lines and each family is written once per scrape. */
static void *cursor_reader(void *arg)
{
	struct race *r = arg;
	struct buf out, block;

	buf_init(&out, 64u << 20);
	buf_init(&block, 1u << 20);
	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		struct ks_cursor c;
		int rc;
		buf_reset(&out);
		ks_cursor_init(&c);
		do {
			buf_reset(&block);
			rc = ks_store_write_next(r->s, &c, NULL, &block, 512);
			assert_true(rc >= 0);
			buf_add(&out, block.data ? block.data : "", block.len);
		} while (rc == KS_WRITE_MORE);
		ks_cursor_fini(&c);
		const char *h = strstr(buf_cstr(&out), "# HELP kube_pod_info ");
		if (h)
			assert_null(strstr(h + 1, "# HELP kube_pod_info "));
	}
	buf_fini(&out);
	buf_fini(&block);
	return NULL;
}

static void test_store_cursor_concurrent(void **state)
{
	struct race r = { ks_store_new(), 0 };
	pthread_t t[2];
	char name[32];

	(void)state;
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, cursor_reader, &r);
	for (int i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "p%d", i % 300);
		json_t *p = pod("ns", name, "n1");
		assert_int_equal(ks_store_upsert(r.s, KS_POD, p, NULL), 0);
		json_decref(p);
		if (i % 7 == 0)
			ks_store_delete(r.s, KS_POD, "ns", name);
		if (i % 500 == 0)
			ks_store_clear_kind(r.s, KS_POD);
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	ks_store_free(r.s);
}

/* A segment whose worst-case reservation passes KS_SEGMENT_RESERVE_MAX
 * (600 containers: one kube_pod_container_info line each) is written line
 * by line; whole and streamed writes give every line with its prefix. */
static void test_store_big_segment(void **state)
{
	struct ks_store *s = ks_store_new();
	json_t *pod = json_pack("{s:{s:s,s:s,s:s},s:{s:[]},s:{s:[]}}", "metadata", "name", "big",
				"namespace", "ns", "uid", "u-1", "spec", "containers", "status",
				"containerStatuses");
	json_t *ctrs = json_object_get(json_object_get(pod, "spec"), "containers");
	json_t *sts = json_object_get(json_object_get(pod, "status"), "containerStatuses");
	struct buf whole, block, streamed;
	struct ks_cursor c;
	char line[128];
	int rc, n = 0;

	(void)state;
	for (int i = 0; i < 600; i++) {
		snprintf(line, sizeof(line), "c%03d", i);
		json_array_append_new(ctrs, json_pack("{s:s,s:s}", "name", line, "image", "img"));
		json_array_append_new(sts, json_pack("{s:s,s:s}", "name", line, "image", "img"));
	}
	assert_int_equal(ks_store_upsert(s, KS_POD, pod, NULL), 0);
	buf_init(&whole, 64u << 20);
	buf_init(&streamed, 64u << 20);
	buf_init(&block, 64u << 20);
	assert_int_equal(ks_store_write(s, NULL, &whole), 0);
	for (const char *p = buf_cstr(&whole); (p = strstr(p, "\nkube_pod_container_info{")); p++) {
		snprintf(line, sizeof(line),
			 "\nkube_pod_container_info{namespace=\"ns\",pod=\"big\",uid=\"u-1\",container=\"c%03d\",", n);
		assert_memory_equal(p, line, strlen(line));
		n++;
	}
	assert_int_equal(n, 600);
	ks_cursor_init(&c);
	do {
		buf_reset(&block);
		rc = ks_store_write_next(s, &c, NULL, &block, 4096);
		assert_true(rc == KS_WRITE_MORE || rc == KS_WRITE_DONE);
		assert_int_equal(buf_add(&streamed, buf_cstr(&block), block.len), 0);
	} while (rc == KS_WRITE_MORE);
	ks_cursor_fini(&c);
	assert_int_equal(streamed.len, whole.len);
	assert_memory_equal(streamed.data, whole.data, whole.len);
	buf_fini(&whole);
	buf_fini(&streamed);
	buf_fini(&block);
	json_decref(pod);
	ks_store_free(s);
}

static void test_self_metrics(void **state)
{
	struct ks_self_counts c[2] = { { ks_kind_go_type(KS_POD), 3, 1, 5, 0 },
				       { ks_kind_go_type(KS_HPA), 1, 0, 1, 0 } };
	struct buf out;

	(void)state;
	buf_init(&out, 1 << 16);
	assert_int_equal(ks_write_self(&out, c, 2, 0, 1), 0);
	assert_non_null(strstr(buf_cstr(&out),
			       "# HELP kube_state_metrics_list_total Number of total resource list "
			       "calls in kube-state-metrics\n# TYPE kube_state_metrics_list_total "
			       "counter\n"));
	assert_non_null(strstr(buf_cstr(&out),
			       "kube_state_metrics_list_total{resource=\"*v1.Pod\",result=\"error\"} 1\n"));
	assert_non_null(strstr(buf_cstr(&out),
			       "kube_state_metrics_watch_total{resource=\"*v2.HorizontalPodAutoscaler\","
			       "result=\"success\"} 1\n"));
	assert_non_null(strstr(buf_cstr(&out),
			       "kube_state_metrics_shard_ordinal{shard_ordinal=\"0\"} 0\n"));
	assert_non_null(strstr(buf_cstr(&out), "\nkube_state_metrics_total_shards 1\n"));
	buf_fini(&out);
}

/* The memory figure DESIGN.md §5 asks for: bytes held per typical pod
 * (one container, requests, running) and per node. */
static void test_bytes_per_object(void **state)
{
	struct ks_store *s = ks_store_new();
	char name[32];
	size_t before, n = 1000;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "web-7d4b9c8f6d-%05zu", i);
		json_t *p = pod("production", name, "ip-10-0-1-23.ec2.internal");
		assert_int_equal(ks_store_upsert(s, KS_POD, p, NULL), 0);
		json_decref(p);
	}
	before = ks_store_bytes(s);
	print_message("[ memory   ] pod: %zu bytes/object rendered (1 container, %zu pods)\n",
		      before / n, n);
	assert_true(before / n < 8192);
	ks_store_free(s);
}

static int64_t cron_next(const char *spec, const char *tz, int64_t after)
{
	struct ks_cron c;
	int64_t next = -1;

	assert_int_equal(ks_cron_parse(spec, tz, &c), 0);
	assert_int_equal(ks_cron_next(&c, after, &next), 0);
	return next;
}

/* robfig/cron ParseStandard: what parses, what does not, and Next(). */
static void test_cron(void **state)
{
	static const char *const bad[] = {
		"", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *",
		"* * * 13 *", "* * * * 7", "5-1 * * * *", "*/0 * * * *", "1/2/3 * * * *",
		"a * * * *", "1,,2 * * * *", "1, * * * *", "@reboot", "@every", "@every 5x",
		"-1 * * * *", "1-2-3 * * * *",
	};
	const int64_t t0 = 1704067200; /* 2024-01-01T00:00:00Z, a Monday */
	struct ks_cron c;
	int64_t next;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ks_cron_parse(bad[i], NULL, &c) == 0)
			fail_msg("'%s' parsed", bad[i]);
	assert_int_equal(ks_cron_parse("* * * * *", "No/Such_Zone", &c), KM_EPARSE);
	assert_int_equal(ks_cron_parse("TZ=UTC 0 * * * *", NULL, &c), 0);
	/* strictly after: a time on the schedule gives the next one */
	assert_int_equal(cron_next("0 * * * *", NULL, t0), t0 + 3600);
	assert_int_equal(cron_next("* * * * *", NULL, t0 + 30), t0 + 60);
	assert_int_equal(cron_next("?/15 * * * *", NULL, t0 + 1), t0 + 900);
	assert_int_equal(cron_next("7/20 * * * *", NULL, t0), t0 + 7 * 60);
	assert_int_equal(cron_next("0 0 * * sun", NULL, t0), t0 + 6 * 86400);
	assert_int_equal(cron_next("0 0 1 * *", NULL, t0), 1706745600);    /* Feb 1 */
	assert_int_equal(cron_next("0 0 29 2 *", NULL, t0), 1709164800);   /* 2024-02-29 */
	assert_int_equal(cron_next("@yearly", NULL, t0), 1735689600);      /* 2025-01-01 */
	assert_int_equal(cron_next("@weekly", NULL, t0), t0 + 6 * 86400);
	assert_int_equal(cron_next("@hourly", "UTC", t0 + 59), t0 + 3600);
	assert_int_equal(cron_next("@every 90s", NULL, t0), t0 + 90);
	assert_int_equal(cron_next("@every 100ms", NULL, t0), t0 + 1);
	/* a zone: the fields are its wall-clock time (test_cron_zone) */
	assert_int_equal(ks_cron_parse("0 * * * *", "Etc/UTC", &c), 0);
	assert_false(c.non_utc);
	assert_int_equal(ks_cron_parse("0 0 31 4 *", NULL, &c), 0); /* April 31 */
	assert_int_equal(ks_cron_next(&c, t0, &next), KM_ENOENT);
}

static void put32(FILE *f, uint32_t v)
{
	unsigned char b[4] = { v >> 24, v >> 16, v >> 8, v };
	assert_int_equal(fwrite(b, 1, 4, f), 4);
}

/* A TZif v2 file (RFC 8536 layout): +1h until `at`, then +2h, +1h again
 * from at + 5 days, +2h from at + 10 days. */
static void write_zone(const char *path, int64_t at)
{
	FILE *f = fopen(path, "wb");
	unsigned char zero15[15] = { 0 };

	assert_non_null(f);
	/* v1 header + block: no transitions, one type, 4 chars */
	fwrite("TZif2", 1, 5, f);
	fwrite(zero15, 1, 15, f);
	put32(f, 0), put32(f, 0), put32(f, 0), put32(f, 0), put32(f, 1), put32(f, 4);
	put32(f, 3600), fputc(0, f), fputc(0, f), fwrite("ZZ1\0", 1, 4, f);
	/* v2 header + block: three transitions */
	fwrite("TZif2", 1, 5, f);
	fwrite(zero15, 1, 15, f);
	put32(f, 0), put32(f, 0), put32(f, 0), put32(f, 3), put32(f, 2), put32(f, 8);
	for (int i = 0; i < 3; i++) {
		int64_t t = at + (int64_t)i * 5 * 86400;
		put32(f, (uint32_t)((uint64_t)t >> 32)), put32(f, (uint32_t)t);
	}
	fputc(1, f), fputc(0, f), fputc(1, f);
	put32(f, 3600), fputc(0, f), fputc(0, f);
	put32(f, 7200), fputc(1, f), fputc(4, f);
	fwrite("ZZ1\0ZZ2\0", 1, 8, f);
	fwrite("\nZZ1\n", 1, 5, f);
	fclose(f);
}

/* CronJob spec.timeZone: schedules match the zone's wall clock, across an
 * offset change; a zone file that is missing or not TZif is not evaluated. */
static void test_cron_zone(void **state)
{
	const int64_t t0 = 1704067200;              /* 2024-01-01T00:00:00Z */
	const int64_t change = t0 + 10 * 3600;      /* +1h -> +2h at 10:00Z */
	char dir[] = "/tmp/k8smon-tz-XXXXXX", path[256];
	struct ks_cron c;
	struct ks_tz tz;
	int64_t next;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/Test", dir);
	write_zone(path, change);
	assert_int_equal(ks_tz_load(dir, "Test", 4, &tz), 0);
	assert_int_equal(ks_tz_offset(&tz, t0 - 86400 * 365), 3600);
	assert_int_equal(ks_tz_offset(&tz, change - 1), 3600);
	assert_int_equal(ks_tz_offset(&tz, change), 7200);
	assert_int_equal(ks_tz_offset(&tz, change + 5 * 86400 - 1), 7200);
	assert_int_equal(ks_tz_offset(&tz, change + 5 * 86400), 3600); /* exactly at a transition */
	assert_int_equal(ks_tz_offset(&tz, change + 10 * 86400), 7200);
	assert_int_equal(ks_tz_offset(&tz, change + 86400 * 3650), 7200);
	ks_tz_free(&tz);
	assert_int_equal(ks_tz_load(dir, "Missing", 7, &tz), KM_ENOENT);
	assert_int_equal(ks_tz_load(dir, "../etc", 6, &tz), KM_ENOENT);

	assert_int_equal(ks_cron_parse("0 3 * * *", NULL, &c), 0);
	c.non_utc = true;
	snprintf(c.zone, sizeof(c.zone), "Test");
	/* 00:00Z is 01:00 wall: 03:00 wall = 02:00Z */
	assert_int_equal(ks_cron_next_in(&c, dir, t0, &next), 0);
	assert_int_equal(next, t0 + 2 * 3600);
	/* every minute: the next whole minute, whatever the zone */
	assert_int_equal(ks_cron_parse("* * * * *", NULL, &c), 0);
	c.non_utc = true;
	snprintf(c.zone, sizeof(c.zone), "Test");
	assert_int_equal(ks_cron_next_in(&c, dir, t0 + 30, &next), 0);
	assert_int_equal(next, t0 + 60);
	assert_int_equal(ks_cron_parse("0 3 * * *", NULL, &c), 0);
	c.non_utc = true;
	snprintf(c.zone, sizeof(c.zone), "Test");
	/* after the change (+2h): 03:00 wall next day = 01:00Z */
	assert_int_equal(ks_cron_next_in(&c, dir, t0 + 12 * 3600, &next), 0);
	assert_int_equal(next, t0 + 86400 + 3600);
	/* the wall time 11:00 does not exist (10:00Z jumps from 11:00 to 12:00
	 * wall); "30 11" then runs at the instant the offset before it gives */
	assert_int_equal(ks_cron_parse("30 11 1 1 *", NULL, &c), 0);
	c.non_utc = true;
	snprintf(c.zone, sizeof(c.zone), "Test");
	assert_int_equal(ks_cron_next_in(&c, dir, t0, &next), 0);
	assert_true(next > t0 && next <= change + 3600);
	/* @every ignores the zone */
	assert_int_equal(ks_cron_parse("@every 1m", NULL, &c), 0);
	assert_int_equal(ks_cron_next_in(&c, dir, t0, &next), 0);
	assert_int_equal(next, t0 + 60);
	/* not TZif: not evaluated */
	{
		FILE *f = fopen(path, "wb");
		assert_non_null(f);
		fputs("not a zone file at all, long enough to pass the size check..........", f);
		fclose(f);
	}
	assert_int_equal(ks_tz_load(dir, "Test", 4, &tz), KM_EPARSE);
	assert_int_equal(ks_cron_parse("0 3 * * *", NULL, &c), 0);
	c.non_utc = true;
	snprintf(c.zone, sizeof(c.zone), "Test");
	assert_int_equal(ks_cron_next_in(&c, dir, t0, &next), KM_EINVAL);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quantity),
		cmocka_unit_test(test_quantity_cores),
		cmocka_unit_test(test_go_format),
		cmocka_unit_test(test_label_names),
		cmocka_unit_test(test_help_matches_reference),
		cmocka_unit_test(test_store_ops),
		cmocka_unit_test(test_store_concurrent),
		cmocka_unit_test(test_ingress_tls_by_hand),
		cmocka_unit_test(test_store_cursor),
		cmocka_unit_test(test_store_cursor_concurrent),
		cmocka_unit_test(test_store_big_segment),
		cmocka_unit_test(test_self_metrics),
		cmocka_unit_test(test_bytes_per_object),
		cmocka_unit_test(test_cron),
		cmocka_unit_test(test_cron_zone),
		cmocka_unit_test(test_label_caps),
		cmocka_unit_test(test_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
