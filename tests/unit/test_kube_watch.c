/* Watch-stream pieces: newline framing across awkward chunk splits and
 * oversized lines, event decoding (BOOKMARK, ERROR 410), the store diff on
 * relist, and the self-metrics rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "kube/event.h"
#include "kube/framer.h"
#include "kube/metrics.h"
#include "kube/store.h"

struct lines {
	struct buf all; /* lines joined with '|' */
	int n;
};

static int collect(const char *line, size_t n, void *arg)
{
	struct lines *l = arg;

	if (l->n++)
		buf_addc(&l->all, '|');
	return buf_add(&l->all, line, n);
}

static void test_framer_every_split(void **state)
{
	const char *stream = "{\"a\":1}\n{\"b\":2}\r\n\n{\"c\":3}\n";
	size_t len = strlen(stream);

	(void)state;
	/* Every pair of split points: each line must come out whole, once. */
	for (size_t i = 0; i <= len; i++) {
		for (size_t j = i; j <= len; j++) {
			struct kube_framer f;
			struct lines l = { .n = 0 };

			buf_init(&l.all, 1024);
			kube_framer_init(&f, 64);
			assert_int_equal(kube_framer_feed(&f, stream, i, collect, &l), 0);
			assert_int_equal(kube_framer_feed(&f, stream + i, j - i, collect, &l), 0);
			assert_int_equal(kube_framer_feed(&f, stream + j, len - j, collect, &l), 0);
			assert_string_equal(buf_cstr(&l.all), "{\"a\":1}|{\"b\":2}|{\"c\":3}");
			assert_int_equal(kube_framer_pending(&f), 0);
			kube_framer_fini(&f);
			buf_fini(&l.all);
		}
	}
}

static void test_framer_byte_by_byte_and_partial(void **state)
{
	const char *stream = "line-one\nline-two\npartial";
	struct kube_framer f;
	struct lines l = { .n = 0 };

	(void)state;
	buf_init(&l.all, 1024);
	kube_framer_init(&f, 64);
	for (size_t i = 0; i < strlen(stream); i++)
		assert_int_equal(kube_framer_feed(&f, stream + i, 1, collect, &l), 0);
	assert_string_equal(buf_cstr(&l.all), "line-one|line-two");
	assert_int_equal(kube_framer_pending(&f), 7);
	kube_framer_reset(&f);
	assert_int_equal(kube_framer_pending(&f), 0);
	kube_framer_fini(&f);
	buf_fini(&l.all);
}

static void test_framer_oversized(void **state)
{
	struct kube_framer f;
	struct lines l = { .n = 0 };
	char big[100];

	(void)state;
	memset(big, 'x', sizeof(big));
	buf_init(&l.all, 1024);
	kube_framer_init(&f, 16);
	/* Oversized across chunks... */
	assert_int_equal(kube_framer_feed(&f, big, 10, collect, &l), 0);
	assert_int_equal(kube_framer_feed(&f, big, 10, collect, &l), KM_ETOOBIG);
	assert_int_equal(kube_framer_pending(&f), 0);
	/* ...and inside one chunk, with the newline present. */
	big[50] = '\n';
	assert_int_equal(kube_framer_feed(&f, big, 60, collect, &l), KM_ETOOBIG);
	/* Exactly at the cap is fine. */
	assert_int_equal(kube_framer_feed(&f, "0123456789abcdef\n", 17, collect, &l), 0);
	assert_int_equal(l.n, 1);
	kube_framer_fini(&f);
	buf_fini(&l.all);
}

static int stop_at_second(const char *line, size_t n, void *arg)
{
	int *count = arg;

	(void)line;
	(void)n;
	return ++*count == 2 ? KM_EEXPIRED : 0;
}

static void test_framer_callback_stops(void **state)
{
	struct kube_framer f;
	int count = 0;

	(void)state;
	kube_framer_init(&f, 64);
	assert_int_equal(kube_framer_feed(&f, "a\nb\nc\n", 6, stop_at_second, &count), KM_EEXPIRED);
	assert_int_equal(count, 2);
	kube_framer_fini(&f);
}

static void test_event_decode(void **state)
{
	struct kube_event ev;
	const char *added = "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"resourceVersion\":\"12\"}}}";
	const char *bm = "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"resourceVersion\":\"99\",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}}}}";
	const char *gone = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":\"too old resource version: 5 (100)\",\"reason\":\"Expired\",\"code\":410}}";
	const char *gone_old = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"reason\":\"Gone\"}}";
	const char *err500 = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":500,\"reason\":\"InternalError\"}}";

	(void)state;
	assert_int_equal(kube_event_decode(added, strlen(added), &ev), 0);
	assert_int_equal(ev.type, KUBE_EV_ADDED);
	assert_string_equal(ev.rv, "12");
	assert_string_equal(kube_obj_name(ev.object), "p");
	assert_string_equal(kube_obj_namespace(ev.object), "ns");
	kube_event_fini(&ev);

	assert_int_equal(kube_event_decode(bm, strlen(bm), &ev), 0);
	assert_int_equal(ev.type, KUBE_EV_BOOKMARK);
	assert_string_equal(ev.rv, "99");
	assert_false(kube_event_expired(&ev));
	kube_event_fini(&ev);

	assert_int_equal(kube_event_decode(gone, strlen(gone), &ev), 0);
	assert_int_equal(ev.type, KUBE_EV_ERROR);
	assert_int_equal(ev.code, 410);
	assert_true(kube_event_expired(&ev));
	assert_string_equal(ev.message, "too old resource version: 5 (100)");
	kube_event_fini(&ev);

	assert_int_equal(kube_event_decode(gone_old, strlen(gone_old), &ev), 0);
	assert_true(kube_event_expired(&ev));
	kube_event_fini(&ev);

	assert_int_equal(kube_event_decode(err500, strlen(err500), &ev), 0);
	assert_false(kube_event_expired(&ev));
	kube_event_fini(&ev);

	/* Garbage, unknown types, objects without an RV are rejected. */
	assert_int_equal(kube_event_decode("garbage", 7, &ev), KM_EPARSE);
	assert_int_equal(kube_event_decode("{\"type\":\"ADDED\"", 15, &ev), KM_EPARSE);
	assert_int_equal(kube_event_decode("{\"type\":\"WHAT\",\"object\":{}}", 27, &ev), KM_EPARSE);
	assert_int_equal(kube_event_decode("{\"type\":\"ADDED\",\"object\":{\"metadata\":{}}}", 41, &ev), KM_EPARSE);
	assert_int_equal(kube_event_decode("[1]", 3, &ev), KM_EPARSE);
}

static json_t *pod(const char *ns, const char *name, const char *rv)
{
	return json_pack("{s:s, s:{s:s, s:s, s:s}}", "kind", "Pod", "metadata", "namespace", ns,
			 "name", name, "resourceVersion", rv);
}

struct changes {
	struct buf log;
};

static void on_change(enum kube_change ch, const char *key, json_t *o, json_t *n, void *arg)
{
	struct changes *c = arg;
	const char *names[] = { "add", "update", "delete" };

	buf_printf(&c->log, "%s:%s:%s:%s;", names[ch], key, o ? kube_obj_rv(o) : "-",
		   n ? kube_obj_rv(n) : "-");
}

static int count_fn(const char *key, json_t *obj, void *arg)
{
	(void)key;
	(void)obj;
	(*(int *)arg)++;
	return 0;
}

static void test_store_relist_diff(void **state)
{
	struct kube_store *s = kube_store_new();
	json_t *items = json_object(), *o, *old = NULL;
	struct changes c;
	struct buf key;
	int n = 0;

	(void)state;
	buf_init(&c.log, 4096);
	buf_init(&key, 256);
	o = pod("ns", "a", "1");
	assert_int_equal(kube_store_key(o, &key), 0);
	assert_string_equal(buf_cstr(&key), "ns/a");
	assert_int_equal(kube_store_put(s, "ns/a", o, &old), 0);
	assert_null(old);
	json_decref(o);
	o = pod("ns", "b", "2");
	kube_store_put(s, "ns/b", o, NULL);
	json_decref(o);
	o = pod("ns", "c", "3");
	kube_store_put(s, "ns/c", o, NULL);
	json_decref(o);
	assert_int_equal(kube_store_len(s), 3);

	/* Relist: a unchanged, b changed, c vanished, d new. */
	json_object_set_new(items, "ns/a", pod("ns", "a", "1"));
	json_object_set_new(items, "ns/b", pod("ns", "b", "7"));
	json_object_set_new(items, "ns/d", pod("ns", "d", "8"));
	assert_int_equal(kube_store_replace(s, items, on_change, &c), 0);
	assert_non_null(strstr(buf_cstr(&c.log), "update:ns/b:2:7;"));
	assert_non_null(strstr(buf_cstr(&c.log), "add:ns/d:-:8;"));
	assert_non_null(strstr(buf_cstr(&c.log), "delete:ns/c:3:-;"));
	assert_null(strstr(buf_cstr(&c.log), "ns/a"));
	assert_int_equal(kube_store_len(s), 3);
	o = kube_store_get(s, "ns/b");
	assert_string_equal(kube_obj_rv(o), "7");
	json_decref(o);
	assert_null(kube_store_get(s, "ns/c"));
	kube_store_foreach(s, count_fn, &n);
	assert_int_equal(n, 3);
	assert_int_equal(kube_store_del(s, "ns/a", &old), 0);
	assert_string_equal(kube_obj_rv(old), "1");
	json_decref(old);
	assert_int_equal(kube_store_del(s, "ns/a", NULL), KM_ENOENT);
	o = kube_store_snapshot(s);
	assert_int_equal(json_object_size(o), 2);
	json_decref(o);

	buf_reset(&key);
	o = json_pack("{s:{s:s}}", "metadata", "name", "node1");
	assert_int_equal(kube_store_key(o, &key), 0);
	assert_string_equal(buf_cstr(&key), "node1");
	json_decref(o);
	json_decref(items);
	buf_fini(&key);
	buf_fini(&c.log);
	kube_store_free(s);
}

static void test_backoff_bounds(void **state)
{
	struct backoff bo;

	(void)state;
	backoff_init(&bo, 800, 30000, 42);
	for (int i = 0; i < 50; i++) {
		int64_t d = backoff_next(&bo);

		assert_true(d >= 400 && d <= 30000);
		if (i > 10)
			assert_true(d >= 15000);
	}
	backoff_reset(&bo);
	assert_true(backoff_next(&bo) <= 800);
}

static void test_metrics_render(void **state)
{
	struct kube_metrics m;
	struct buf out;

	(void)state;
	kube_metrics_init(&m);
	buf_init(&out, 1 << 16);
	kube_metrics_add(&m, KUBE_M_REQUESTS, 1, "LIST", "pods", "200");
	kube_metrics_add(&m, KUBE_M_REQUESTS, 2, "LIST", "pods", "200");
	kube_metrics_add(&m, KUBE_M_EVENTS, 1, "pods", "ADDED", NULL);
	kube_metrics_set(&m, KUBE_M_OBJECTS, 5, "pods", NULL, NULL);
	kube_metrics_set(&m, KUBE_M_LEADER, 1, "kube-system/k8smon", NULL, NULL);
	kube_metrics_observe(&m, "LIST", 0.02);
	assert_int_equal(kube_metrics_render(&m, &out), 0);
	assert_non_null(strstr(buf_cstr(&out), "k8smon_kube_requests_total{verb=\"LIST\",resource=\"pods\",code=\"200\"} 3\n"));
	assert_non_null(strstr(buf_cstr(&out), "k8smon_kube_watch_events_total{resource=\"pods\",type=\"ADDED\"} 1\n"));
	assert_non_null(strstr(buf_cstr(&out), "k8smon_kube_store_objects{resource=\"pods\"} 5\n"));
	assert_non_null(strstr(buf_cstr(&out), "k8smon_leader{lease=\"kube-system/k8smon\"} 1\n"));
	assert_non_null(strstr(buf_cstr(&out), "k8smon_kube_request_duration_seconds_bucket{verb=\"LIST\",le=\"0.025\"} 1\n"));
	assert_non_null(strstr(buf_cstr(&out), "k8smon_kube_request_duration_seconds_bucket{verb=\"LIST\",le=\"0.01\"} 0\n"));
	assert_non_null(strstr(buf_cstr(&out), "k8smon_kube_request_duration_seconds_count{verb=\"LIST\"} 1\n"));
	assert_true(kube_metrics_get(&m, KUBE_M_REQUESTS, "LIST", "pods", "200") == 3);
	buf_fini(&out);
	kube_metrics_fini(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_framer_every_split),
		cmocka_unit_test(test_framer_byte_by_byte_and_partial),
		cmocka_unit_test(test_framer_oversized),
		cmocka_unit_test(test_framer_callback_stops),
		cmocka_unit_test(test_event_decode),
		cmocka_unit_test(test_store_relist_diff),
		cmocka_unit_test(test_backoff_bounds),
		cmocka_unit_test(test_metrics_render),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
