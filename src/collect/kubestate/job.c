/* kube_job_* (KSM internal/store/job.go). Reads metadata.ownerReferences,
 * spec.{parallelism,completions,activeDeadlineSeconds}, status.{succeeded,
 * failed,active,ready,startTime,completionTime,conditions}. */
#include "collect/kubestate/ks_common.h"

#include <string.h>

static void info(struct ks_render *r, const json_t *o)
{
	(void)o;
	ks_emit(r, 1, NULL);
}

KS_OPT_INT_FAMILY(parallelism, "spec.parallelism")
KS_OPT_INT_FAMILY(completions, "spec.completions")
KS_OPT_INT_FAMILY(deadline, "spec.activeDeadlineSeconds")
KS_INT_FAMILY(succeeded, "status.succeeded")
KS_INT_FAMILY(active, "status.active")
/* KSM prints 0 when status.ready is unset (nil pointer), not nothing. */
KS_INT_FAMILY(ready_pods, "status.ready")

static const char *const failure_reasons[] = { "BackoffLimitExceeded", "DeadlineExceeded",
					       "Evicted" };

/* With failures: per Failed condition one series per known reason (0/1),
 * plus reason="" carrying the count when no known reason matched. */
static void status_failed(struct ks_render *r, const json_t *o)
{
	double failed = 0;
	bool known = false;
	size_t i;
	json_t *c;

	ks_int(o, "status.failed", &failed);
	if (failed == 0) {
		ks_emit(r, 0, NULL);
		return;
	}
	json_array_foreach(ks_json_path(o, "status.conditions"), i, c) {
		if (strcmp(ks_str(c, "type"), "Failed") != 0)
			continue;
		for (size_t j = 0; j < KS_NFAM(failure_reasons); j++) {
			bool m = strcmp(ks_str(c, "reason"), failure_reasons[j]) == 0;
			known = known || m;
			ks_emit(r, m, "reason", failure_reasons[j], NULL);
		}
	}
	if (!known)
		ks_emit(r, failed, "reason", "", NULL);
}

static void condition(struct ks_render *r, const json_t *o, const char *type)
{
	size_t i;
	json_t *c;

	json_array_foreach(ks_json_path(o, "status.conditions"), i, c) {
		if (strcmp(ks_str(c, "type"), type) == 0)
			ks_emit_condition(r, ks_str(c, "status"), NULL, NULL, NULL, NULL,
					  "condition");
	}
}

static void complete(struct ks_render *r, const json_t *o)
{
	condition(r, o, "Complete");
}

static void failed(struct ks_render *r, const json_t *o)
{
	condition(r, o, "Failed");
}

/* One series per Suspended condition: 1 when True, else 0 (KSM reads the
 * condition, not spec.suspend). */
static void suspended(struct ks_render *r, const json_t *o)
{
	size_t i;
	json_t *c;

	json_array_foreach(ks_json_path(o, "status.conditions"), i, c) {
		if (strcmp(ks_str(c, "type"), "Suspended") == 0)
			ks_emit(r, strcmp(ks_str(c, "status"), "True") == 0 ? 1 : 0, NULL);
	}
}

static void time_at(struct ks_render *r, const json_t *o, const char *path)
{
	double t;

	if (ks_parse_time(ks_str(o, path), &t))
		ks_emit(r, t, NULL);
}

static void start_time(struct ks_render *r, const json_t *o)
{
	time_at(r, o, "status.startTime");
}

static void completion_time(struct ks_render *r, const json_t *o)
{
	time_at(r, o, "status.completionTime");
}

static void owner(struct ks_render *r, const json_t *o)
{
	ks_emit_owners(r, o, true);
}

const struct ks_family ks_job_families[] = {
	{ "kube_job_annotations", KS_HELP_ANNOTATIONS, G, ks_emit_annotations },
	{ "kube_job_labels", KS_HELP_LABELS, G, ks_emit_labels },
	{ "kube_job_info", "[STABLE] Information about job.", G, info },
	{ "kube_job_created", KS_HELP_CREATED, G, ks_emit_created },
	{ "kube_job_spec_parallelism",
	  "[STABLE] The maximum desired number of pods the job should run at any given time.", G,
	  parallelism },
	{ "kube_job_spec_completions",
	  "[STABLE] The desired number of successfully finished pods the job should be run with.",
	  G, completions },
	{ "kube_job_spec_active_deadline_seconds",
	  "[STABLE] The duration in seconds relative to the startTime that the job may be active "
	  "before the system tries to terminate it.",
	  G, deadline },
	{ "kube_job_status_succeeded", "[STABLE] The number of pods which reached Phase Succeeded.",
	  G, succeeded },
	{ "kube_job_status_failed",
	  "[STABLE] The number of pods which reached Phase Failed and the reason for failure.", G,
	  status_failed },
	{ "kube_job_status_active", "[STABLE] The number of actively running pods.", G, active },
	{ "kube_job_status_ready", "The number of ready pods that belong to this Job.", G,
	  ready_pods },
	{ "kube_job_complete", "[STABLE] The job has completed its execution.", G, complete },
	{ "kube_job_failed", "[STABLE] The job has failed its execution.", G, failed },
	{ "kube_job_status_start_time",
	  "[STABLE] StartTime represents time when the job was acknowledged by the Job Manager.",
	  G, start_time },
	{ "kube_job_status_completion_time",
	  "[STABLE] CompletionTime represents time when the job was completed.", G,
	  completion_time },
	{ "kube_job_status_suspended", "The number of pods which reached Phase Suspended.", G,
	  suspended },
	{ "kube_job_owner", "[STABLE] Information about the Job's owner.", G, owner },
};
const size_t ks_job_nfamilies = KS_NFAM(ks_job_families);
