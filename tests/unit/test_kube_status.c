/* Custom-resource status: conditions per verdict, transition times kept when
 * a condition's status does not flip, and "same" detection so unchanged
 * status is never rewritten. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "kube/status.h"

static const char *cond_field(const json_t *st, const char *type, const char *field)
{
	size_t i;
	json_t *c;

	json_array_foreach(json_object_get(st, "conditions"), i, c)
		if (strcmp(json_string_value(json_object_get(c, "type")), type) == 0)
			return json_string_value(json_object_get(c, field));
	return NULL;
}

static void test_accepted(void **state)
{
	struct status_input in = { STATUS_ACCEPTED, "applied on 3 node(s)", 4, "collectors", 4, "nodes", 3 };
	json_t *st = status_build(NULL, &in, "2026-01-01T00:00:00Z");

	(void)state;
	assert_non_null(st);
	assert_int_equal(json_integer_value(json_object_get(st, "observedGeneration")), 4);
	assert_int_equal(json_integer_value(json_object_get(st, "collectors")), 4);
	assert_int_equal(json_integer_value(json_object_get(st, "nodes")), 3);
	assert_string_equal(cond_field(st, "Ready", "status"), "True");
	assert_string_equal(cond_field(st, "Ready", "reason"), "Accepted");
	assert_string_equal(cond_field(st, "Stalled", "status"), "False");
	assert_string_equal(cond_field(st, "Reconciling", "status"), "False");
	assert_null(cond_field(st, "TargetsSelected", "status"));
	json_decref(st);
}

static void test_invalid_and_conflict(void **state)
{
	struct status_input bad = { STATUS_INVALID, "spec.interval: \"15\" is not a duration", 2, NULL, 0, NULL, 0 };
	struct status_input con = { STATUS_CONFLICT, "node n1 is also selected by the older K8sMonitor a", 1, NULL, 0, NULL, 0 };
	json_t *a = status_build(NULL, &bad, "t0"), *b = status_build(NULL, &con, "t0");

	(void)state;
	assert_string_equal(cond_field(a, "Ready", "status"), "False");
	assert_string_equal(cond_field(a, "Ready", "reason"), "InvalidSpec");
	assert_string_equal(cond_field(a, "Ready", "message"), "spec.interval: \"15\" is not a duration");
	assert_string_equal(cond_field(a, "Stalled", "status"), "True");
	assert_string_equal(cond_field(a, "Reconciling", "status"), "False");
	assert_string_equal(cond_field(a, "Stalled", "message"), "spec.interval: \"15\" is not a duration");
	/* A Conflict is stalled too: nothing changes until a user acts
	 * (statuses, not only reasons: kstatus and Argo CD read the status). */
	assert_string_equal(cond_field(b, "Ready", "status"), "False");
	assert_string_equal(cond_field(b, "Ready", "reason"), "Conflict");
	assert_string_equal(cond_field(b, "Reconciling", "status"), "False");
	assert_string_equal(cond_field(b, "Stalled", "status"), "True");
	assert_string_equal(cond_field(b, "Stalled", "reason"), "Conflict");
	assert_string_equal(cond_field(b, "Stalled", "message"), "node n1 is also selected by the older K8sMonitor a");
	assert_null(cond_field(b, "TargetsSelected", "status"));
	json_decref(a);
	json_decref(b);
}

static void test_no_targets(void **state)
{
	struct status_input none = { STATUS_NO_TARGETS, "no object matches", 1, "targets", 0, NULL, 0 };
	struct status_input some = { STATUS_ACCEPTED, "3 targets", 1, "targets", 3, NULL, 0 };
	json_t *a = status_build(NULL, &none, "t0"), *b = status_build(NULL, &some, "t0");

	(void)state;
	assert_string_equal(cond_field(a, "Ready", "status"), "True");
	assert_string_equal(cond_field(a, "Ready", "reason"), "NoTargets");
	assert_string_equal(cond_field(a, "TargetsSelected", "status"), "False");
	assert_string_equal(cond_field(a, "TargetsSelected", "reason"), "NoTargets");
	assert_string_equal(cond_field(b, "TargetsSelected", "status"), "True");
	json_decref(a);
	json_decref(b);
}

static void test_transition_times_and_same(void **state)
{
	struct status_input ok = { STATUS_ACCEPTED, "applied on 1 node(s)", 1, "collectors", 2, NULL, 0 };
	struct status_input bad = { STATUS_INVALID, "x", 2, NULL, 0, NULL, 0 };
	json_t *s1 = status_build(NULL, &ok, "t1");
	json_t *s2 = status_build(s1, &ok, "t2");
	json_t *s3 = status_build(s2, &bad, "t3");

	(void)state;
	/* Nothing changed: same object, old times kept, so no write. */
	assert_true(status_same(s1, s2));
	assert_string_equal(cond_field(s2, "Ready", "lastTransitionTime"), "t1");
	/* Ready flipped: new time; Reconciling stayed False: old time kept. */
	assert_false(status_same(s2, s3));
	assert_string_equal(cond_field(s3, "Ready", "lastTransitionTime"), "t3");
	assert_string_equal(cond_field(s3, "Reconciling", "lastTransitionTime"), "t1");
	assert_false(status_same(NULL, s1));
	json_decref(s1);
	json_decref(s2);
	json_decref(s3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_invalid_and_conflict),
		cmocka_unit_test(test_no_targets),
		cmocka_unit_test(test_transition_times_and_same),
	};
	return cmocka_run_group_tests_name("kube_status", tests, NULL, NULL);
}
