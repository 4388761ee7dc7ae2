/* kube_cronjob_* (KSM internal/store/cronjob.go). The schedule is
 * evaluated by cron.c, in spec.timeZone when set (tz.c). Reads
 * spec.{schedule,concurrencyPolicy,timeZone,suspend,startingDeadlineSeconds,
 * successfulJobsHistoryLimit,failedJobsHistoryLimit}, status.{active,
 * lastScheduleTime,lastSuccessfulTime}, metadata.resourceVersion. */
#include "collect/kubestate/ks_common.h"

#include "base/err.h"
#include "base/parse.h"
#include "collect/kubestate/ks_cron.h"

#include <string.h>

static void info(struct ks_render *r, const json_t *o)
{
	const char *tz = json_string_value(ks_json_path(o, "spec.timeZone"));

	ks_emit(r, 1, "schedule", ks_str(o, "spec.schedule"), "concurrency_policy",
		ks_str(o, "spec.concurrencyPolicy"), "timezone", tz ? tz : "local", NULL);
}

static void active(struct ks_render *r, const json_t *o)
{
	ks_emit(r, (double)json_array_size(ks_json_path(o, "status.active")), NULL);
}

static void time_at(struct ks_render *r, const json_t *o, const char *path)
{
	double t;

	if (ks_parse_time(ks_str(o, path), &t))
		ks_emit(r, t, NULL);
}

static void last_schedule(struct ks_render *r, const json_t *o)
{
	time_at(r, o, "status.lastScheduleTime");
}

static void last_successful(struct ks_render *r, const json_t *o)
{
	time_at(r, o, "status.lastSuccessfulTime");
}

static void suspend(struct ks_render *r, const json_t *o)
{
	ks_emit(r, ks_bool(o, "spec.suspend"), NULL);
}

KS_OPT_INT_FAMILY(starting_deadline, "spec.startingDeadlineSeconds")

static int parse_schedule(const json_t *o, struct ks_cron *c)
{
	return ks_cron_parse(ks_str(o, "spec.schedule"),
			     json_string_value(ks_json_path(o, "spec.timeZone")), c);
}

/* The first run after status.lastScheduleTime, else after the creation
 * time; nothing when suspended, unparsable or neither time is set. This
 * depends only on the object, so it is rendered once like everything else
 * (it changes when the controller updates lastScheduleTime). */
static void next_schedule(struct ks_render *r, const json_t *o)
{
	struct ks_cron c;
	double from;
	int64_t next;
	int rc;

	if (ks_bool(o, "spec.suspend") || parse_schedule(o, &c))
		return;
	if ((!ks_parse_time(ks_str(o, "status.lastScheduleTime"), &from) || from == 0) &&
	    (!ks_parse_time(ks_str(o, "metadata.creationTimestamp"), &from) || from == 0))
		return;
	rc = ks_cron_next(&c, (int64_t)from, &next);
	if (rc == 0)
		ks_emit(r, (double)next, NULL);
	else if (rc == KM_ENOENT)
		ks_emit(r, KS_GO_ZERO_TIME, NULL); /* robfig: no match in 5 years */
}

static void schedule_invalid(struct ks_render *r, const json_t *o)
{
	struct ks_cron c;

	if (parse_schedule(o, &c))
		ks_emit(r, 1, NULL);
}

/* The resourceVersion only when it is a plain integer (KSM parses it). */
static void resource_version(struct ks_render *r, const json_t *o)
{
	const char *rv = ks_str(o, "metadata.resourceVersion");
	int64_t v;

	if (*rv && parse_i64(rv, strlen(rv), &v) == 0)
		ks_emit(r, (double)v, NULL);
}

KS_OPT_INT_FAMILY(successful_limit, "spec.successfulJobsHistoryLimit")
KS_OPT_INT_FAMILY(failed_limit, "spec.failedJobsHistoryLimit")

const struct ks_family ks_cronjob_families[] = {
	{ "kube_cronjob_annotations", KS_HELP_ANNOTATIONS, G, ks_emit_annotations },
	{ "kube_cronjob_labels", KS_HELP_LABELS, G, ks_emit_labels },
	{ "kube_cronjob_info", "[STABLE] Info about cronjob.", G, info },
	{ "kube_cronjob_created", KS_HELP_CREATED, G, ks_emit_created },
	{ "kube_cronjob_status_active", "[STABLE] Active holds pointers to currently running jobs.",
	  G, active },
	{ "kube_cronjob_status_last_schedule_time",
	  "[STABLE] LastScheduleTime keeps information of when was the last time the job was "
	  "successfully scheduled.",
	  G, last_schedule },
	{ "kube_cronjob_status_last_successful_time",
	  "[STABLE] LastSuccessfulTime keeps information of when was the last time the job was "
	  "completed successfully.",
	  G, last_successful },
	{ "kube_cronjob_spec_suspend",
	  "[STABLE] Suspend flag tells the controller to suspend subsequent executions.", G,
	  suspend },
	{ "kube_cronjob_spec_starting_deadline_seconds",
	  "[STABLE] Deadline in seconds for starting the job if it misses scheduled time for any "
	  "reason.",
	  G, starting_deadline },
	{ "kube_cronjob_next_schedule_time",
	  "[STABLE] Next time the cronjob should be scheduled. The time after lastScheduleTime, or "
	  "after the cron job's creation time if it's never been scheduled. Use this to determine "
	  "if the job is delayed.",
	  G, next_schedule },
	{ "kube_cronjob_schedule_invalid",
	  "Emitted with value 1 for cronjobs whose schedule, in its configured timezone, cannot be "
	  "parsed.",
	  G, schedule_invalid },
	{ "kube_cronjob_metadata_resource_version",
	  "[STABLE] Resource version representing a specific version of the cronjob.", G,
	  resource_version },
	{ "kube_cronjob_spec_successful_job_history_limit",
	  "Successful job history limit tells the controller how many completed jobs should be "
	  "preserved.",
	  G, successful_limit },
	{ "kube_cronjob_spec_failed_job_history_limit",
	  "Failed job history limit tells the controller how many failed jobs should be "
	  "preserved.",
	  G, failed_limit },
};
const size_t ks_cronjob_nfamilies = KS_NFAM(ks_cronjob_families);
