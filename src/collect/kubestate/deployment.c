/* kube_deployment_* (KSM internal/store/deployment.go). Reads
 * metadata.{generation,ownerReferences}, spec.{replicas,paused,
 * strategy.rollingUpdate.{maxUnavailable,maxSurge}}, status.{replicas,
 * readyReplicas,availableReplicas,unavailableReplicas,updatedReplicas,
 * terminatingReplicas,observedGeneration,conditions}. */
#include "collect/kubestate/ks_common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/parse.h"

static void owner(struct ks_render *r, const json_t *o)
{
	ks_emit_owners(r, o, false);
}

KS_INT_FAMILY(st_replicas, "status.replicas")
KS_INT_FAMILY(st_ready, "status.readyReplicas")
KS_INT_FAMILY(st_available, "status.availableReplicas")
KS_INT_FAMILY(st_unavailable, "status.unavailableReplicas")
KS_INT_FAMILY(st_updated, "status.updatedReplicas")
KS_OPT_INT_FAMILY(st_terminating, "status.terminatingReplicas")
KS_INT_FAMILY(st_observed, "status.observedGeneration")
KS_OPT_INT_FAMILY(spec_replicas, "spec.replicas")
KS_INT_FAMILY(generation, "metadata.generation")

static const char *const allowed_reasons[] = {
	"ReplicaSetUpdated",	"ReplicaSetCreateError",   "NewReplicaSetCreated",
	"FoundNewReplicaSet",	"NewReplicaSetAvailable",  "ProgressDeadlineExceeded",
	"DeploymentPaused",	"DeploymentResumed",	   "MinimumReplicasAvailable",
	"MinimumReplicasUnavailable", "",
};

static void condition(struct ks_render *r, const json_t *o)
{
	size_t i;
	json_t *c;

	json_array_foreach(ks_json_path(o, "status.conditions"), i, c) {
		const char *reason = ks_str(c, "reason");
		bool ok = false;
		for (size_t j = 0; j < KS_NFAM(allowed_reasons); j++)
			ok = ok || strcmp(reason, allowed_reasons[j]) == 0;
		ks_emit_condition(r, ks_str(c, "status"), "reason", ok ? reason : "unknown",
				  "condition", ks_str(c, "type"), "status");
	}
}

static void paused(struct ks_render *r, const json_t *o)
{
	ks_emit(r, ks_bool(o, "spec.paused"), NULL);
}

/* intstr.GetScaledValueFromIntOrPercent: an int as is; "N%" scaled by
 * replicas, rounded up or down; anything else is an error (no series). */
static bool scaled(const json_t *v, double replicas, bool round_up, double *out)
{
	const char *s = json_string_value(v);
	size_t n;
	int64_t pct;

	if (json_is_integer(v)) {
		*out = (double)json_integer_value(v);
		return true;
	}
	if (!s)
		return false;
	n = strlen(s);
	if (n < 2 || s[n - 1] != '%' || parse_i64(s, n - 1, &pct))
		return false;
	*out = round_up ? ceil((double)pct * replicas / 100) : floor((double)pct * replicas / 100);
	return true;
}

static void rolling(struct ks_render *r, const json_t *o, const char *field, bool round_up)
{
	const json_t *ru = ks_json_path(o, "spec.strategy.rollingUpdate");
	double replicas, v;

	if (!json_is_object(ru) || !ks_int(o, "spec.replicas", &replicas))
		return;
	if (scaled(json_object_get(ru, field), replicas, round_up, &v))
		ks_emit(r, v, NULL);
}

static void max_unavailable(struct ks_render *r, const json_t *o)
{
	rolling(r, o, "maxUnavailable", false);
}

static void max_surge(struct ks_render *r, const json_t *o)
{
	rolling(r, o, "maxSurge", true);
}

const struct ks_family ks_deployment_families[] = {
	{ "kube_deployment_owner", "Information about the Deployment's owner.", G, owner },
	{ "kube_deployment_created", KS_HELP_CREATED, G, ks_emit_created },
	{ "kube_deployment_status_replicas", "[STABLE] The number of replicas per deployment.", G,
	  st_replicas },
	{ "kube_deployment_status_replicas_ready",
	  "[STABLE] The number of ready replicas per deployment.", G, st_ready },
	{ "kube_deployment_status_replicas_available",
	  "[STABLE] The number of available replicas per deployment.", G, st_available },
	{ "kube_deployment_status_replicas_unavailable",
	  "[STABLE] The number of unavailable replicas per deployment.", G, st_unavailable },
	{ "kube_deployment_status_replicas_updated",
	  "[STABLE] The number of updated replicas per deployment.", G, st_updated },
	{ "kube_deployment_status_terminating_replicas",
	  "The number of terminating replicas per deployment.", G, st_terminating },
	{ "kube_deployment_status_observed_generation",
	  "[STABLE] The generation observed by the deployment controller.", G, st_observed },
	{ "kube_deployment_status_condition",
	  "[STABLE] The current status conditions of a deployment.", G, condition },
	{ "kube_deployment_spec_replicas", "[STABLE] Number of desired pods for a deployment.", G,
	  spec_replicas },
	{ "kube_deployment_spec_paused",
	  "[STABLE] Whether the deployment is paused and will not be processed by the deployment "
	  "controller.",
	  G, paused },
	{ "kube_deployment_spec_strategy_rollingupdate_max_unavailable",
	  "[STABLE] Maximum number of unavailable replicas during a rolling update of a "
	  "deployment.",
	  G, max_unavailable },
	{ "kube_deployment_spec_strategy_rollingupdate_max_surge",
	  "[STABLE] Maximum number of replicas that can be scheduled above the desired number of "
	  "replicas during a rolling update of a deployment.",
	  G, max_surge },
	{ "kube_deployment_metadata_generation",
	  "[STABLE] Sequence number representing a specific generation of the desired state.", G,
	  generation },
	{ "kube_deployment_deletion_timestamp", KS_HELP_DELETION, G, ks_emit_deletion },
	{ "kube_deployment_annotations", KS_HELP_ANNOTATIONS, G, ks_emit_annotations },
	{ "kube_deployment_labels", KS_HELP_LABELS, G, ks_emit_labels },
};
const size_t ks_deployment_nfamilies = KS_NFAM(ks_deployment_families);
