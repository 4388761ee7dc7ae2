/* kube_replicationcontroller_* (KSM internal/store/replicationcontroller.go).
 * Reads metadata.{generation,ownerReferences}, spec.replicas and
 * status.{replicas,fullyLabeledReplicas,readyReplicas,availableReplicas,
 * observedGeneration}. KSM has no labels/annotations families here. */
#include "collect/kubestate/ks_common.h"

KS_INT_FAMILY(st_replicas, "status.replicas")
KS_INT_FAMILY(st_fully_labeled, "status.fullyLabeledReplicas")
KS_INT_FAMILY(st_ready, "status.readyReplicas")
KS_INT_FAMILY(st_available, "status.availableReplicas")
KS_INT_FAMILY(st_observed, "status.observedGeneration")
KS_OPT_INT_FAMILY(spec_replicas, "spec.replicas")
KS_INT_FAMILY(generation, "metadata.generation")

static void owner(struct ks_render *r, const json_t *o)
{
	ks_emit_owners(r, o, true);
}

const struct ks_family ks_replicationcontroller_families[] = {
	{ "kube_replicationcontroller_created", KS_HELP_CREATED, G, ks_emit_created },
	{ "kube_replicationcontroller_status_replicas",
	  "[STABLE] The number of replicas per ReplicationController.", G, st_replicas },
	{ "kube_replicationcontroller_status_fully_labeled_replicas",
	  "[STABLE] The number of fully labeled replicas per ReplicationController.", G,
	  st_fully_labeled },
	{ "kube_replicationcontroller_status_ready_replicas",
	  "[STABLE] The number of ready replicas per ReplicationController.", G, st_ready },
	{ "kube_replicationcontroller_status_available_replicas",
	  "[STABLE] The number of available replicas per ReplicationController.", G,
	  st_available },
	{ "kube_replicationcontroller_status_observed_generation",
	  "[STABLE] The generation observed by the ReplicationController controller.", G,
	  st_observed },
	{ "kube_replicationcontroller_spec_replicas",
	  "[STABLE] Number of desired pods for a ReplicationController.", G, spec_replicas },
	{ "kube_replicationcontroller_metadata_generation",
	  "[STABLE] Sequence number representing a specific generation of the desired state.", G,
	  generation },
	{ "kube_replicationcontroller_owner",
	  "Information about the ReplicationController's owner.", G, owner },
};
const size_t ks_replicationcontroller_nfamilies = KS_NFAM(ks_replicationcontroller_families);
