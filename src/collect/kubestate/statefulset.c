/* kube_statefulset_* (KSM internal/store/statefulset.go). Reads
 * metadata.generation, spec.{replicas,ordinals.start}, status.{replicas,
 * availableReplicas,currentReplicas,readyReplicas,updatedReplicas,
 * observedGeneration,currentRevision,updateRevision}. */
#include "collect/kubestate/ks_common.h"

KS_INT_FAMILY(st_replicas, "status.replicas")
KS_INT_FAMILY(st_available, "status.availableReplicas")
KS_INT_FAMILY(st_current, "status.currentReplicas")
KS_INT_FAMILY(st_ready, "status.readyReplicas")
KS_INT_FAMILY(st_updated, "status.updatedReplicas")
KS_INT_FAMILY(st_observed, "status.observedGeneration")
KS_OPT_INT_FAMILY(replicas, "spec.replicas")
KS_INT_FAMILY(generation, "metadata.generation")

static void ordinals_start(struct ks_render *r, const json_t *o)
{
	if (json_is_object(ks_json_path(o, "spec.ordinals")))
		ks_emit_int_or(r, o, "spec.ordinals.start", 0);
}

static void current_revision(struct ks_render *r, const json_t *o)
{
	ks_emit(r, 1, "revision", ks_str(o, "status.currentRevision"), NULL);
}

static void update_revision(struct ks_render *r, const json_t *o)
{
	ks_emit(r, 1, "revision", ks_str(o, "status.updateRevision"), NULL);
}

/* One series when either policy is set ("" for the other). */
static void pvc_retention(struct ks_render *r, const json_t *o)
{
	const char *del = ks_str(o, "spec.persistentVolumeClaimRetentionPolicy.whenDeleted");
	const char *scaled = ks_str(o, "spec.persistentVolumeClaimRetentionPolicy.whenScaled");

	if (*del || *scaled)
		ks_emit(r, 1, "when_deleted", del, "when_scaled", scaled, NULL);
}

const struct ks_family ks_statefulset_families[] = {
	{ "kube_statefulset_created", KS_HELP_CREATED, G, ks_emit_created },
	{ "kube_statefulset_status_replicas", "[STABLE] The number of replicas per StatefulSet.", G,
	  st_replicas },
	{ "kube_statefulset_status_replicas_available",
	  "[STABLE] The number of available replicas per StatefulSet.", G, st_available },
	{ "kube_statefulset_status_replicas_current",
	  "[STABLE] The number of current replicas per StatefulSet.", G, st_current },
	{ "kube_statefulset_status_replicas_ready",
	  "[STABLE] The number of ready replicas per StatefulSet.", G, st_ready },
	{ "kube_statefulset_status_replicas_updated",
	  "[STABLE] The number of updated replicas per StatefulSet.", G, st_updated },
	{ "kube_statefulset_status_observed_generation",
	  "[STABLE] The generation observed by the StatefulSet controller.", G, st_observed },
	{ "kube_statefulset_replicas", "[STABLE] Number of desired pods for a StatefulSet.", G,
	  replicas },
	{ "kube_statefulset_ordinals_start", "[STABLE] Start ordinal of the StatefulSet.", G,
	  ordinals_start },
	{ "kube_statefulset_metadata_generation",
	  "[STABLE] Sequence number representing a specific generation of the desired state for "
	  "the StatefulSet.",
	  G, generation },
	{ "kube_statefulset_persistentvolumeclaim_retention_policy",
	  "[STABLE] Count of retention policy for StatefulSet template PVCs", G, pvc_retention },
	{ "kube_statefulset_annotations",
	  "[STABLE] Kubernetes annotations converted to Prometheus labels.", G,
	  ks_emit_annotations },
	{ "kube_statefulset_labels", KS_HELP_LABELS, G, ks_emit_labels },
	{ "kube_statefulset_status_current_revision",
	  "[STABLE] Indicates the version of the StatefulSet used to generate Pods in the "
	  "sequence [0,currentReplicas).",
	  G, current_revision },
	{ "kube_statefulset_status_update_revision",
	  "[STABLE] Indicates the version of the StatefulSet used to generate Pods in the "
	  "sequence [replicas-updatedReplicas,replicas)",
	  G, update_revision },
	{ "kube_statefulset_deletion_timestamp", "[STABLE] Unix deletion timestamp", G,
	  ks_emit_deletion },
};
const size_t ks_statefulset_nfamilies = KS_NFAM(ks_statefulset_families);
