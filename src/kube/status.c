#include "kube/status.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

struct cond {
	const char *type;
	bool status;
	const char *reason;
	const char *message;
};

void status_time(double t, char *out, size_t n)
{
	time_t s = (time_t)t;
	struct tm tm;

	gmtime_r(&s, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const json_t *find_cond(const json_t *status, const char *type)
{
	const json_t *conds = json_object_get(status, "conditions"), *c;
	size_t i;

	json_array_foreach(conds, i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));
		if (t && strcmp(t, type) == 0)
			return c;
	}
	return NULL;
}

static int add_cond(json_t *arr, const json_t *cur, const struct cond *c, int64_t gen, const char *now)
{
	const json_t *old = find_cond(cur, c->type);
	const char *st = c->status ? "True" : "False";
	const char *old_st = json_string_value(json_object_get(old, "status"));
	const char *old_time = json_string_value(json_object_get(old, "lastTransitionTime"));
	/* metav1.Condition: the transition time moves only when status flips. */
	const char *when = old_st && old_time && strcmp(old_st, st) == 0 ? old_time : now;
	json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "type", c->type, "status", st,
			      "observedGeneration", (json_int_t)gen, "lastTransitionTime", when,
			      "reason", c->reason, "message", c->message);

	if (!o)
		return -1;
	return json_array_append_new(arr, o);
}

json_t *status_build(const json_t *cur, const struct status_input *in, const char *now)
{
	const char *msg = in->message ? in->message : "";
	struct cond conds[4];
	size_t n = 0;
	json_t *st = NULL, *arr = NULL;

	switch (in->verdict) {
	case STATUS_ACCEPTED:
	case STATUS_NO_TARGETS: {
		const char *why = in->verdict == STATUS_ACCEPTED ? "Accepted" : "NoTargets";
		conds[n++] = (struct cond){ "Ready", true, why, msg };
		conds[n++] = (struct cond){ "Reconciling", false, why, "" };
		conds[n++] = (struct cond){ "Stalled", false, why, "" };
		if (in->verdict == STATUS_NO_TARGETS)
			conds[n++] = (struct cond){ "TargetsSelected", false, "NoTargets", msg };
		else if (in->count_field && strcmp(in->count_field, "targets") == 0)
			conds[n++] = (struct cond){ "TargetsSelected", true, "TargetsFound", "" };
		break;
	}
	case STATUS_INVALID:
	case STATUS_CONFLICT: {
		const char *why = in->verdict == STATUS_INVALID ? "InvalidSpec" : "Conflict";
		conds[n++] = (struct cond){ "Ready", false, why, msg };
		conds[n++] = (struct cond){ "Reconciling", false, why, "" };
		conds[n++] = (struct cond){ "Stalled", true, why, msg };
		break;
	}
	}
	st = json_object();
	arr = json_array();
	if (!st || !arr)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if (add_cond(arr, cur, &conds[i], in->generation, now))
			goto fail;
	if (json_object_set_new(st, "observedGeneration", json_integer(in->generation)) ||
	    json_object_set(st, "conditions", arr))
		goto fail;
	if (in->count_field && json_object_set_new(st, in->count_field, json_integer(in->count)))
		goto fail;
	if (in->extra_field && json_object_set_new(st, in->extra_field, json_integer(in->extra)))
		goto fail;
	json_decref(arr);
	return st;
fail:
	json_decref(arr);
	json_decref(st);
	return NULL;
}

bool status_same(const json_t *a, const json_t *b)
{
	/* Conditions are built with the old transition times, so a plain deep
	 * comparison is exact: only real changes differ. */
	if (!a || !b)
		return a == b;
	return json_equal((json_t *)a, (json_t *)b);
}
