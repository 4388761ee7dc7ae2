/* kube_horizontalpodautoscaler_* (KSM internal/store/horizontalpodautoscaler.go,
 * autoscaling/v2). Reads metadata.generation, spec.{minReplicas,maxReplicas,
 * scaleTargetRef}, status.{currentReplicas,desiredReplicas,conditions}. */
#include "collect/kubestate/ks_common.h"

static void info(struct ks_render *r, const json_t *o)
{
	ks_emit(r, 1, "scaletargetref_kind", ks_str(o, "spec.scaleTargetRef.kind"),
		"scaletargetref_name", ks_str(o, "spec.scaleTargetRef.name"), NULL);
}

KS_INT_FAMILY(generation, "metadata.generation")
KS_INT_FAMILY(max_replicas, "spec.maxReplicas")
KS_INT_FAMILY(current, "status.currentReplicas")
KS_INT_FAMILY(desired, "status.desiredReplicas")

static void min_replicas(struct ks_render *r, const json_t *o)
{
	ks_emit_int_or(r, o, "spec.minReplicas", 1); /* nil means the default, 1 */
}

static void condition(struct ks_render *r, const json_t *o)
{
	size_t i;
	json_t *c;

	json_array_foreach(ks_json_path(o, "status.conditions"), i, c)
		ks_emit_condition(r, ks_str(c, "status"), "condition", ks_str(c, "type"), NULL,
				  NULL, "status");
}

const struct ks_family ks_hpa_families[] = {
	{ "kube_horizontalpodautoscaler_info", "Information about this autoscaler.", G, info },
	{ "kube_horizontalpodautoscaler_metadata_generation",
	  "[STABLE] The generation observed by the HorizontalPodAutoscaler controller.", G,
	  generation },
	{ "kube_horizontalpodautoscaler_spec_max_replicas",
	  "[STABLE] Upper limit for the number of pods that can be set by the autoscaler; cannot "
	  "be smaller than MinReplicas.",
	  G, max_replicas },
	{ "kube_horizontalpodautoscaler_spec_min_replicas",
	  "[STABLE] Lower limit for the number of pods that can be set by the autoscaler, default "
	  "1.",
	  G, min_replicas },
	{ "kube_horizontalpodautoscaler_status_current_replicas",
	  "[STABLE] Current number of replicas of pods managed by this autoscaler.", G, current },
	{ "kube_horizontalpodautoscaler_status_desired_replicas",
	  "[STABLE] Desired number of replicas of pods managed by this autoscaler.", G, desired },
	{ "kube_horizontalpodautoscaler_annotations", KS_HELP_ANNOTATIONS, G,
	  ks_emit_annotations },
	{ "kube_horizontalpodautoscaler_labels", KS_HELP_LABELS, G, ks_emit_labels },
	{ "kube_horizontalpodautoscaler_status_condition", "[STABLE] The condition of this autoscaler.",
	  G, condition },
	{ "kube_horizontalpodautoscaler_created", KS_HELP_CREATED_ALPHA, G, ks_emit_created },
	{ "kube_horizontalpodautoscaler_deletion_timestamp", KS_HELP_DELETION, G,
	  ks_emit_deletion },
};
const size_t ks_hpa_nfamilies = KS_NFAM(ks_hpa_families);
