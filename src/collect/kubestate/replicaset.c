/* kube_replicaset_* (KSM internal/store/replicaset.go). Reads
 * metadata.{generation,ownerReferences}, spec.replicas, status.{replicas,
 * fullyLabeledReplicas,readyReplicas,terminatingReplicas,observedGeneration}. */
#include "collect/kubestate/ks_common.h"

KS_INT_FAMILY(st_replicas, "status.replicas")
KS_INT_FAMILY(st_fully_labeled, "status.fullyLabeledReplicas")
KS_INT_FAMILY(st_ready, "status.readyReplicas")
KS_OPT_INT_FAMILY(st_terminating, "status.terminatingReplicas")
KS_INT_FAMILY(st_observed, "status.observedGeneration")
KS_OPT_INT_FAMILY(spec_replicas, "spec.replicas")
KS_INT_FAMILY(generation, "metadata.generation")

static void owner(struct ks_render *r, const json_t *o)
{
	ks_emit_owners(r, o, true);
}

const struct ks_family ks_replicaset_families[] = {
	{ "kube_replicaset_created", KS_HELP_CREATED, G, ks_emit_created },
	{ "kube_replicaset_status_replicas", "[STABLE] The number of replicas per ReplicaSet.", G,
	  st_replicas },
	{ "kube_replicaset_status_fully_labeled_replicas",
	  "[STABLE] The number of fully labeled replicas per ReplicaSet.", G, st_fully_labeled },
	{ "kube_replicaset_status_ready_replicas",
	  "[STABLE] The number of ready replicas per ReplicaSet.", G, st_ready },
	{ "kube_replicaset_status_terminating_replicas",
	  "The number of terminating replicas per ReplicaSet.", G, st_terminating },
	{ "kube_replicaset_status_observed_generation",
	  "[STABLE] The generation observed by the ReplicaSet controller.", G, st_observed },
	{ "kube_replicaset_spec_replicas", "[STABLE] Number of desired pods for a ReplicaSet.", G,
	  spec_replicas },
	{ "kube_replicaset_metadata_generation",
	  "[STABLE] Sequence number representing a specific generation of the desired state.", G,
	  generation },
	{ "kube_replicaset_owner", "[STABLE] Information about the ReplicaSet's owner.", G, owner },
	{ "kube_replicaset_annotations", KS_HELP_ANNOTATIONS, G, ks_emit_annotations },
	{ "kube_replicaset_labels", KS_HELP_LABELS, G, ks_emit_labels },
};
const size_t ks_replicaset_nfamilies = KS_NFAM(ks_replicaset_families);
