/* kube_horizontalpodautoscaler_* (KSM internal/store/horizontalpodautoscaler.go,
 * autoscaling/v2). Reads metadata.generation, spec.{minReplicas,maxReplicas,
 * scaleTargetRef,metrics,behavior.{scaleUp,scaleDown}.tolerance},
 * status.{currentReplicas,desiredReplicas,conditions,currentMetrics}. */
#include "collect/kubestate/ks_common.h"

#include <string.h>

/* The source object of a metrics[] entry by its type, and the name of the
 * metric it measures; NULL for an unknown type or a missing source. */
static const json_t *metric_source(const json_t *m, const char **name, const char **container)
{
	static const struct {
		const char *type, *field;
		bool resource; /* name at .name, not .metric.name */
	} src[] = {
		{ "Object", "object", false },	 { "Pods", "pods", false },
		{ "Resource", "resource", true }, { "ContainerResource", "containerResource", true },
		{ "External", "external", false },
	};
	const char *type = ks_str(m, "type");

	for (size_t i = 0; i < sizeof(src) / sizeof(src[0]); i++) {
		const json_t *s;
		if (strcmp(type, src[i].type) != 0)
			continue;
		s = json_object_get(m, src[i].field);
		if (!json_is_object(s))
			return NULL;
		*name = ks_str(s, src[i].resource ? "name" : "metric.name");
		*container = ks_str(s, "container");
		return s;
	}
	return NULL;
}

/* spec.metrics[].<source>.target or status.currentMetrics[].<source>.current:
 * one series per set field (value, utilization, average; KSM iterates a Go
 * map, so its order varies). Quantities as convertValueToFloat64. */
static void target_metric(struct ks_render *r, const json_t *o, const char *list,
			  const char *which)
{
	size_t i;
	json_t *m;

	json_array_foreach(ks_json_path(o, list), i, m) {
		const char *name = "", *container = "";
		const json_t *s = metric_source(m, &name, &container), *t;
		double v;

		if (!s)
			continue;
		t = json_object_get(s, which);
		if (ks_render_milli(r, json_object_get(t, "value"), &v))
			ks_emit(r, v, "metric_name", name, "metric_target_type", "value", "container",
				container, NULL);
		if (ks_int(t, "averageUtilization", &v))
			ks_emit(r, v, "metric_name", name, "metric_target_type", "utilization",
				"container", container, NULL);
		if (ks_render_milli(r, json_object_get(t, "averageValue"), &v))
			ks_emit(r, v, "metric_name", name, "metric_target_type", "average",
				"container", container, NULL);
	}
}

static void spec_target_metric(struct ks_render *r, const json_t *o)
{
	target_metric(r, o, "spec.metrics", "target");
}

static void status_target_metric(struct ks_render *r, const json_t *o)
{
	target_metric(r, o, "status.currentMetrics", "current");
}

static void tolerance(struct ks_render *r, const json_t *o, const char *path)
{
	double v;

	if (ks_render_approx(r, ks_json_path(o, path), &v))
		ks_emit(r, v, NULL);
}

static void scale_down_tolerance(struct ks_render *r, const json_t *o)
{
	tolerance(r, o, "spec.behavior.scaleDown.tolerance");
}

static void scale_up_tolerance(struct ks_render *r, const json_t *o)
{
	tolerance(r, o, "spec.behavior.scaleUp.tolerance");
}

/* scaletargetref_api_version leads, and only when set. */
static void info(struct ks_render *r, const json_t *o)
{
	const char *api = ks_str(o, "spec.scaleTargetRef.apiVersion");
	const char *kind = ks_str(o, "spec.scaleTargetRef.kind");
	const char *name = ks_str(o, "spec.scaleTargetRef.name");

	if (*api)
		ks_emit(r, 1, "scaletargetref_api_version", api, "scaletargetref_kind", kind,
			"scaletargetref_name", name, NULL);
	else
		ks_emit(r, 1, "scaletargetref_kind", kind, "scaletargetref_name", name, NULL);
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
	{ "kube_horizontalpodautoscaler_spec_target_metric",
	  "The metric specifications used by this autoscaler when calculating the desired replica "
	  "count.",
	  G, spec_target_metric },
	{ "kube_horizontalpodautoscaler_spec_behavior_scale_down_tolerance",
	  "The tolerance on the ratio between the current and desired metric value below which no "
	  "scale down occurs.",
	  G, scale_down_tolerance },
	{ "kube_horizontalpodautoscaler_spec_behavior_scale_up_tolerance",
	  "The tolerance on the ratio between the current and desired metric value below which no "
	  "scale up occurs.",
	  G, scale_up_tolerance },
	{ "kube_horizontalpodautoscaler_status_target_metric",
	  "[STABLE] The current metric status used by this autoscaler when calculating the desired "
	  "replica count.",
	  G, status_target_metric },
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
