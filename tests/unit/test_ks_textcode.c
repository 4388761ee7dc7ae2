/* The kube-state store's line code (src/collect/kubestate/textcode.c):
 * lossless on any bytes (code look-alikes, names at and past the limits, a
 * full name table, "\"} " and ",x=\"" inside values), line ends preserved,
 * a third smaller on real lines; and through the store: an object's
 * exposition is what ks_render_object renders, byte for byte, and pooled
 * segments (shared by objects) survive updates and deletes of their
 * sharers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/err.h"
#include "collect/kubestate/ks_internal.h"
#include "collect/kubestate/textcode.h"

static size_t count_nl(const char *p, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += p[i] == '\n';
	return c;
}

/* Codes in[0..n), checks decode == in and the line count; returns the coded
 * length. */
static size_t roundtrip(struct ks_tc_dict *d, const char *in, size_t n)
{
	struct buf out;
	struct ks_tc_names nm;
	char *dec;
	size_t len, got;

	buf_init(&out, 1u << 20);
	assert_int_equal(ks_tc_encode(d, in, n, &out), 0);
	ks_tc_names_copy(d, &nm);
	len = ks_tc_decoded_len(&nm, out.data ? out.data : "", out.len);
	assert_int_equal(len, n);
	dec = malloc(len + 1);
	assert_non_null(dec);
	got = ks_tc_decode(&nm, out.data ? out.data : "", out.len, dec);
	assert_int_equal(got, n);
	assert_memory_equal(dec, in, n);
	/* a name byte is never '\n': memchr still finds the line ends */
	assert_int_equal(count_nl(out.data ? out.data : "", out.len), count_nl(in, n));
	free(dec);
	got = out.len;
	buf_fini(&out);
	return got;
}

#define RT(d, s) roundtrip(d, s, sizeof(s) - 1)

static void test_roundtrip(void **state)
{
	struct ks_tc_dict d;
	char name62[80], name63[80], bytes[256];

	(void)state;
	assert_int_equal(ks_tc_dict_init(&d), 0);
	RT(&d, "");
	RT(&d, "} 1\n");
	RT(&d, ",container=\"app\",resource=\"cpu\",unit=\"core\"} 0.1\n");
	/* look-alikes inside a value (escaped quotes as the renderer writes them) */
	RT(&d, ",a=\"x\\\",b=\\\"y\\\"} \",c=\"\"} 1\n,a=\"\"} 0\n");
	/* raw code bytes and NUL in values */
	{
		static const char raw[] = ",a=\"\x01\x02\x03\x00\x01\"} 1\n";
		roundtrip(&d, raw, sizeof(raw) - 1);
	}
	/* not names: empty, no quote, cut at the end, a '"' or ',' at the end */
	RT(&d, ",=\"x\"} 1\n,a=x} 1\n,bad-name=\"v\"} 1\n,abc=");
	RT(&d, "\"");
	RT(&d, ",");
	RT(&d, "\",");
	RT(&d, "\"}");
	/* names at and past KS_TC_NAME_MAX */
	memset(name62, 'n', 62);
	memcpy(name62 + 62, "=\"v\"} 1\n", 9);
	memset(name63, 'm', 63);
	memcpy(name63 + 63, "=\"v\"} 1\n", 9);
	assert_true(RT(&d, ",x=\"v\"} 1\n") < 10);
	/* no leading ',': not a label, only the "\"} " is coded */
	assert_int_equal(roundtrip(&d, name62, strlen(name62)), strlen(name62) - 2);
	{
		char line[90];
		line[0] = ',';
		memcpy(line + 1, name62, strlen(name62) + 1);
		assert_true(roundtrip(&d, line, strlen(line)) < strlen(line) - 60);
		memcpy(line + 1, name63, strlen(name63) + 1);
		assert_true(roundtrip(&d, line, strlen(line)) >= strlen(line) - 3); /* plain */
	}
	/* every byte value */
	for (int i = 0; i < 256; i++)
		bytes[i] = (char)i;
	roundtrip(&d, bytes, sizeof(bytes));
	ks_tc_dict_fini(&d);
}

/* Past KS_TC_NAMES names the rest stay plain, and all still round-trip;
 * names 6 and 7 sit on both sides of the byte '\n'. */
static void test_table_full(void **state)
{
	struct ks_tc_dict d;
	char line[64];

	(void)state;
	assert_int_equal(ks_tc_dict_init(&d), 0);
	for (int i = 0; i < 300; i++) {
		int n = snprintf(line, sizeof(line), ",label_%d=\"v\"} 1\n", i);
		size_t coded = roundtrip(&d, line, (size_t)n);
		if (i < KS_TC_NAMES)
			assert_int_equal(coded, 2 + 1 + 1 + 2); /* code, v, close, "1\n" */
		else
			assert_int_equal(coded, (size_t)n - 2); /* only "\"} " coded */
	}
	/* the first names still decode after the table filled */
	assert_int_equal(RT(&d, ",label_0=\"v\",label_6=\"w\",label_7=\"x\"} 1\n"), 12);
	ks_tc_dict_fini(&d);
}

/* Real lines (a pod's container families): at least 30% smaller. */
static void test_saves(void **state)
{
	static const char seg[] =
		",container=\"app\",node=\"node-00074\",resource=\"cpu\",unit=\"core\"} 0.1\n"
		",container=\"app\",node=\"node-00074\",resource=\"memory\",unit=\"byte\"} 1.34217728e+08\n"
		",container=\"sidecar\",node=\"node-00074\",resource=\"cpu\",unit=\"core\"} 0.05\n"
		",container=\"sidecar\",node=\"node-00074\",resource=\"memory\",unit=\"byte\"} 6.7108864e+07\n"
		",key=\"node.kubernetes.io/not-ready\",operator=\"Exists\",effect=\"NoExecute\",toleration_seconds=\"300\"} 1\n"
		",condition=\"true\"} 1\n,condition=\"false\"} 0\n,condition=\"unknown\"} 0\n";
	struct ks_tc_dict d;
	size_t coded;

	(void)state;
	assert_int_equal(ks_tc_dict_init(&d), 0);
	coded = RT(&d, seg);
	print_message("[ memory   ] coded %zu of %zu bytes (%.0f%%)\n", coded, sizeof(seg) - 1,
		      100.0 * (double)coded / (double)(sizeof(seg) - 1));
	assert_true(coded * 10 <= (sizeof(seg) - 1) * 7);
	ks_tc_dict_fini(&d);
}

/* Through the store s: every line ks_render_object renders for obj is in
 * ks_store_write's output, and the output has no other series of obj. */
static void check_store_output(struct ks_store *s, json_t *obj, size_t min_text)
{
	const struct ks_kind_def *k = &ks_kinds[KS_POD];
	size_t nfam = *k->nfamilies, lines = 0, series = 0;
	uint32_t *off = calloc(nfam + 1, sizeof(*off));
	struct buf text, out;

	assert_non_null(obj);
	assert_non_null(s);
	assert_non_null(off);
	buf_init(&text, 1u << 24);
	buf_init(&out, 1u << 26);
	assert_int_equal(ks_render_object(KS_POD, obj, NULL, &text, off, NULL), 0);
	assert_true(text.len >= min_text);
	assert_int_equal(ks_store_upsert(s, KS_POD, obj, NULL), 0);
	assert_int_equal(ks_store_write(s, NULL, &out), 0);
	for (size_t i = 0; i < nfam; i++) {
		const char *p = text.data + off[i], *end = text.data + off[i + 1];
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			char want[4096];
			int n;
			assert_non_null(nl);
			n = snprintf(want, sizeof(want), "\n%s{%.*s%.*s", k->families[i].name,
				     (int)off[0], text.data, (int)(nl - p + 1), p);
			assert_true(n > 0 && (size_t)n < sizeof(want));
			if (!strstr(out.data, want))
				fail_msg("missing line: %s", want + 1);
			lines++;
			p = nl + 1;
		}
	}
	assert_int_equal(buf_addc(&text, '\0'), 0); /* off[0] bytes, then a NUL */
	text.data[off[0]] = '\0';
	for (const char *p = out.data; p && *p;) {
		const char *nl = strchr(p, '\n');
		const char *base = strchr(p, '{');
		series += *p != '#' && base && (!nl || base < nl) &&
			  strncmp(base + 1, text.data, off[0]) == 0;
		p = nl ? nl + 1 : NULL;
	}
	assert_true(lines > 10);
	assert_int_equal(series, lines);
	buf_fini(&text);
	buf_fini(&out);
	free(off);
}

/* A container name with code look-alikes goes through the code. */
static void test_store_output(void **state)
{
	const char *js =
		"{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"uid\":\"u\"},"
		"\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\\u0001\\u0002\\u0003\\\"},x=\\\"y\","
		"\"image\":\"img\",\"resources\":{\"requests\":{\"cpu\":\"100m\"}}}]},"
		"\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"c\\u0001\\u0002\\u0003\\\"},x=\\\"y\","
		"\"image\":\"img\",\"ready\":true,\"restartCount\":3,\"state\":{\"running\":{}}}]}}";
	json_t *obj = json_loads(js, 0, NULL);

	struct ks_store *s = ks_store_new();

	(void)state;
	check_store_output(s, obj, 0);
	json_decref(obj);
	ks_store_free(s);
}

/* An object whose text passes 64 KiB: its offsets are 32-bit. Pooled
 * segments are pointers in the text, so first 600 pods with unique
 * containers (long names: segments past KS_SHARE_MIN) stop the pooling of
 * the container families; the big pod's container lines then stay in it. */
static void test_store_output_wide(void **state)
{
	struct ks_store *s = ks_store_new();
	json_t *obj = json_loads("{\"metadata\":{\"name\":\"big\",\"namespace\":\"ns\","
				 "\"uid\":\"u\"},\"spec\":{\"nodeName\":\"n1\"},"
				 "\"status\":{\"phase\":\"Running\"}}", 0, NULL);
	json_t *cs = json_array(), *st = json_array();
	char name[32];

	(void)state;
	assert_non_null(obj);
	assert_non_null(s);
	for (int i = 0; i < 600; i++) {
		char id[16];
		json_t *p;
		snprintf(id, sizeof(id), "%d", i);
		p = json_pack("{s:{s:s+,s:s,s:s+},s:{s:s,s:[{s:s+,s:s+}]},"
				      "s:{s:s,s:[{s:s+,s:s+,s:b,s:i,s:{s:{}}}]}}",
				      "metadata", "name", "w", id, "namespace", "ns", "uid",
				      "u", id, "spec", "nodeName", "n1", "containers",
				      "name", "warm-up-container-", id, "image", "img", id, "status",
				      "phase", "Running", "containerStatuses", "name",
				      "warm-up-container-", id, "image", "img", id, "ready", 1,
				      "restartCount", i, "state", "running");
		assert_non_null(p);
		assert_int_equal(ks_store_upsert(s, KS_POD, p, NULL), 0);
		json_decref(p);
	}
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "container-%04d", i);
		json_array_append_new(cs, json_pack("{s:s,s:s,s:{s:{s:s,s:s}}}", "name", name,
						    "image", "registry.example.com/team/app:v1.2.3",
						    "resources", "requests", "cpu", "100m",
						    "memory", "128Mi"));
		json_array_append_new(st, json_pack("{s:s,s:s,s:b,s:i,s:{s:{}}}", "name", name,
						    "image", "img", "ready", 1, "restartCount", i,
						    "state", "running"));
	}
	json_object_set_new(json_object_get(obj, "spec"), "containers", cs);
	json_object_set_new(json_object_get(obj, "status"), "containerStatuses", st);
	check_store_output(s, obj, 200000);
	json_decref(obj);
	ks_store_free(s);
}

static json_t *churn_pod(int i, const char *phase, bool ready)
{
	char js[1024];

	snprintf(js, sizeof(js),
		 "{\"metadata\":{\"name\":\"p%d\",\"namespace\":\"ns%d\",\"uid\":\"u%d\"},"
		 "\"spec\":{\"nodeName\":\"n%d\",\"containers\":[{\"name\":\"app\",\"image\":\"img\"}]},"
		 "\"status\":{\"phase\":\"%s\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"%s\"}],"
		 "\"containerStatuses\":[{\"name\":\"app\",\"image\":\"img\",\"ready\":%s,"
		 "\"restartCount\":%d,\"state\":{\"running\":{}}}]}}",
		 i, i % 7, i, i % 5, phase, ready ? "True" : "False", ready ? "true" : "false", i % 3);
	return json_loads(js, 0, NULL);
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The exposition's lines, sorted (two stores order buckets differently). */
static char **sorted_lines(struct ks_store *s, size_t *n, struct buf *out)
{
	char **v = NULL;
	size_t cap = 0;

	buf_reset(out);
	assert_int_equal(ks_store_write(s, NULL, out), 0);
	*n = 0;
	for (char *p = out->data, *nl; p && *p; p = nl + 1) {
		nl = strchr(p, '\n');
		assert_non_null(nl);
		*nl = '\0';
		if (*n == cap) {
			cap = cap ? cap * 2 : 1024;
			v = realloc(v, cap * sizeof(*v));
			assert_non_null(v);
		}
		v[(*n)++] = p;
	}
	qsort(v, *n, sizeof(*v), cmp_line);
	return v;
}

/* 1,000 pods sharing most segments (past KS_SHARE_PROBE), then half
 * deleted, a third changed (same-length segments with other values), some
 * re-added: the store says what a fresh store of the final objects says,
 * streamed or not. */
static void test_pool_churn(void **state)
{
	struct ks_store *a = ks_store_new(), *b = ks_store_new();
	struct buf oa, ob;
	char **la, **lb, name[16], ns[16];
	size_t na, nb;
	struct ks_cursor c;
	struct buf blocks;
	int rc;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	for (int i = 0; i < 1000; i++) {
		json_t *p = churn_pod(i, "Running", true);
		assert_int_equal(ks_store_upsert(a, KS_POD, p, NULL), 0);
		json_decref(p);
	}
	for (int i = 0; i < 1000; i++) {
		json_t *p;
		if (i % 2 == 0) {
			snprintf(name, sizeof(name), "p%d", i);
			snprintf(ns, sizeof(ns), "ns%d", i % 7);
			assert_int_equal(ks_store_delete(a, KS_POD, ns, name), 0);
			continue;
		}
		p = churn_pod(i, i % 3 == 0 ? "Pending" : "Running", i % 3 != 0);
		if (i % 3 == 0)
			assert_int_equal(ks_store_upsert(a, KS_POD, p, NULL), 0);
		assert_int_equal(ks_store_upsert(b, KS_POD, p, NULL), 0);
		json_decref(p);
	}
	for (int i = 0; i < 100; i += 4) {
		json_t *p = churn_pod(i, "Failed", false);
		assert_int_equal(ks_store_upsert(a, KS_POD, p, NULL), 0);
		assert_int_equal(ks_store_upsert(b, KS_POD, p, NULL), 0);
		json_decref(p);
	}
	/* pooled: the store is smaller than the same objects unpooled would be */
	print_message("[ memory   ] %zu bytes for %zu pods\n", ks_store_bytes(a),
		      ks_store_count(a, KS_POD));
	buf_init(&oa, 1u << 26);
	buf_init(&ob, 1u << 26);
	la = sorted_lines(a, &na, &oa);
	lb = sorted_lines(b, &nb, &ob);
	assert_int_equal(na, nb);
	for (size_t i = 0; i < na; i++)
		if (strcmp(la[i], lb[i]) != 0)
			fail_msg("line %zu: '%s' != '%s'", i, la[i], lb[i]);
	assert_true(na > 5000);
	/* streamed from a snapshot that outlives the store: the same bytes */
	buf_init(&blocks, 1u << 26);
	buf_reset(&oa);
	assert_int_equal(ks_store_write(a, NULL, &oa), 0);
	ks_cursor_init(&c);
	assert_int_equal(ks_store_write_next(a, &c, NULL, &blocks, 4096), KS_WRITE_MORE);
	ks_store_free(a);
	/* the cursor reads only its snapshot now; the store argument is a
	 * live handle for the API's NULL check */
	while ((rc = ks_store_write_next(b, &c, NULL, &blocks, 4096)) == KS_WRITE_MORE)
		;
	assert_int_equal(rc, KS_WRITE_DONE);
	assert_int_equal(blocks.len, oa.len);
	assert_memory_equal(blocks.data, oa.data, oa.len);
	ks_cursor_fini(&c);
	free(la);
	free(lb);
	buf_fini(&oa);
	buf_fini(&ob);
	buf_fini(&blocks);
	ks_store_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_table_full),
		cmocka_unit_test(test_saves),
		cmocka_unit_test(test_store_output),
		cmocka_unit_test(test_store_output_wide),
		cmocka_unit_test(test_pool_churn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
