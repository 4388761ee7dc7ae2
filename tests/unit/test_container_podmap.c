/* Pod map: upsert, replace, delete by name and UID, container IDs of
 * init/restarted containers, invalid pods, concurrent readers and writers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "collect/container/podmap.h"

static int upsert(struct podmap *pm, const char *js)
{
	json_error_t e;
	json_t *pod = json_loads(js, 0, &e);
	int err;

	assert_non_null(pod);
	err = podmap_upsert(pm, pod);
	json_decref(pod);  /* the map must not keep a reference */
	return err;
}

static void test_upsert_lookup(void **state)
{
	struct podmap *pm = podmap_new();
	const struct podmap_pod *p;
	const struct podmap_ctr *c;

	(void)state;
	assert_int_equal(upsert(pm, "{\"metadata\":{\"uid\":\"u1\",\"namespace\":\"ns\",\"name\":\"p\"},"
		"\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"img-a:spec\"}]},"
		"\"status\":{\"initContainerStatuses\":[{\"name\":\"i\",\"containerID\":\"containerd://iii\",\"image\":\"img-i\"}],"
		"\"containerStatuses\":[{\"name\":\"a\",\"containerID\":\"containerd://aaa\",\"restartCount\":4,"
		"\"lastState\":{\"terminated\":{\"containerID\":\"containerd://old\"}}},"
		"{\"name\":\"w\",\"image\":\"waiting\"}]}}"), 0);
	assert_int_equal(podmap_count(pm), 1);
	podmap_rdlock(pm);
	p = podmap_find_locked(pm, "u1");
	assert_non_null(p);
	assert_string_equal(p->ns, "ns");
	assert_string_equal(p->name, "p");
	assert_int_equal(p->rt, CG_RT_CONTAINERD);
	c = podmap_pod_ctr(p, "aaa");
	assert_non_null(c);
	assert_string_equal(c->name, "a");
	assert_string_equal(c->image, "img-a:spec");  /* status image empty: spec's */
	assert_int_equal(c->restarts, 4);
	c = podmap_pod_ctr(p, "old");
	assert_non_null(c);
	assert_string_equal(c->name, "a");
	assert_int_equal(c->restarts, 3);
	c = podmap_pod_ctr(p, "iii");
	assert_non_null(c);
	assert_string_equal(c->name, "i");
	assert_null(podmap_pod_ctr(p, "containerd://aaa"));
	assert_null(podmap_pod_ctr(p, ""));
	assert_null(podmap_find_locked(pm, "u2"));
	podmap_unlock(pm);

	/* replace: the new status wins, old IDs gone */
	assert_int_equal(upsert(pm, "{\"metadata\":{\"uid\":\"u1\",\"namespace\":\"ns\",\"name\":\"p\"},"
		"\"status\":{\"containerStatuses\":[{\"name\":\"a\",\"containerID\":\"cri-o://bbb\",\"image\":\"x\"}]}}"), 0);
	assert_int_equal(podmap_count(pm), 1);
	podmap_rdlock(pm);
	p = podmap_find_locked(pm, "u1");
	assert_null(podmap_pod_ctr(p, "aaa"));
	assert_non_null(podmap_pod_ctr(p, "bbb"));
	assert_int_equal(p->rt, CG_RT_CRIO);
	podmap_unlock(pm);
	podmap_free(pm);
}

static void test_invalid_and_delete(void **state)
{
	struct podmap *pm = podmap_new();

	(void)state;
	assert_int_equal(upsert(pm, "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"p\"}}"), KM_EINVAL);
	assert_int_equal(upsert(pm, "{\"metadata\":{\"uid\":\"u\",\"name\":\"p\"}}"), KM_EINVAL);
	assert_int_equal(upsert(pm, "[]"), KM_EINVAL);
	assert_int_equal(upsert(pm, "{\"metadata\":{\"uid\":\"u1\",\"namespace\":\"ns\",\"name\":\"p\"}}"), 0);
	assert_int_equal(upsert(pm, "{\"metadata\":{\"uid\":\"u2\",\"namespace\":\"ns\",\"name\":\"q\"}}"), 0);
	assert_int_equal(upsert(pm, "{\"metadata\":{\"uid\":\"u3\",\"namespace\":\"ns\",\"name\":\"r\"}}"), 0);
	assert_int_equal(podmap_count(pm), 3);
	assert_int_equal(podmap_delete(pm, "ns", "p"), 0);
	assert_int_equal(podmap_delete(pm, "ns", "p"), KM_ENOENT);
	assert_int_equal(podmap_delete_uid(pm, "u2"), 0);
	assert_int_equal(podmap_delete_uid(pm, "u2"), KM_ENOENT);
	assert_int_equal(podmap_count(pm), 1);
	podmap_clear(pm);
	assert_int_equal(podmap_count(pm), 0);
	podmap_free(pm);
	podmap_free(NULL);
}

static void *writer(void *arg)
{
	struct podmap *pm = arg;
	char js[256];

	for (int i = 0; i < 2000; i++) {
		json_t *pod;

		snprintf(js, sizeof(js), "{\"metadata\":{\"uid\":\"u%d\",\"namespace\":\"n\",\"name\":\"p%d\"},"
			 "\"status\":{\"containerStatuses\":[{\"name\":\"c\",\"containerID\":\"containerd://c%d\"}]}}",
			 i % 50, i % 50, i);
		pod = json_loads(js, 0, NULL);
		podmap_upsert(pm, pod);
		json_decref(pod);
		if (i % 7 == 0)
			podmap_delete_uid(pm, "u3");
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	struct podmap *pm = podmap_new();
	pthread_t th;
	size_t seen = 0;

	(void)state;
	assert_int_equal(pthread_create(&th, NULL, writer, pm), 0);
	for (int i = 0; i < 2000; i++) {
		const struct podmap_pod *p;

		podmap_rdlock(pm);
		p = podmap_find_locked(pm, "u1");
		if (p && p->nctrs == 1 && strncmp(p->ctrs[0].id, "c", 1) == 0)
			seen++;
		podmap_unlock(pm);
	}
	pthread_join(th, NULL);
	assert_true(podmap_count(pm) >= 49);
	(void)seen;
	podmap_free(pm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_upsert_lookup),
		cmocka_unit_test(test_invalid_and_delete),
		cmocka_unit_test(test_concurrent),
	};
	return cmocka_run_group_tests_name("container_podmap", tests, NULL, NULL);
}
