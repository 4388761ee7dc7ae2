/* kube_daemonset_* (KSM internal/store/daemonset.go). Reads
 * metadata.generation and status.{currentNumberScheduled,
 * desiredNumberScheduled,numberAvailable,numberMisscheduled,numberReady,
 * numberUnavailable,observedGeneration,updatedNumberScheduled}. */
#include "collect/kubestate/ks_common.h"

KS_INT_FAMILY(current, "status.currentNumberScheduled")
KS_INT_FAMILY(desired, "status.desiredNumberScheduled")
KS_INT_FAMILY(available, "status.numberAvailable")
KS_INT_FAMILY(misscheduled, "status.numberMisscheduled")
KS_INT_FAMILY(ready, "status.numberReady")
KS_INT_FAMILY(unavailable, "status.numberUnavailable")
KS_INT_FAMILY(observed, "status.observedGeneration")
KS_INT_FAMILY(updated, "status.updatedNumberScheduled")
KS_INT_FAMILY(generation, "metadata.generation")

const struct ks_family ks_daemonset_families[] = {
	{ "kube_daemonset_created", KS_HELP_CREATED, G, ks_emit_created },
	{ "kube_daemonset_status_current_number_scheduled",
	  "[STABLE] The number of nodes running at least one daemon pod and are supposed to.", G,
	  current },
	{ "kube_daemonset_status_desired_number_scheduled",
	  "[STABLE] The number of nodes that should be running the daemon pod.", G, desired },
	{ "kube_daemonset_status_number_available",
	  "[STABLE] The number of nodes that should be running the daemon pod and have one or "
	  "more of the daemon pod running and available",
	  G, available },
	{ "kube_daemonset_status_number_misscheduled",
	  "[STABLE] The number of nodes running a daemon pod but are not supposed to.", G,
	  misscheduled },
	{ "kube_daemonset_status_number_ready",
	  "[STABLE] The number of nodes that should be running the daemon pod and have one or "
	  "more of the daemon pod running and ready.",
	  G, ready },
	{ "kube_daemonset_status_number_unavailable",
	  "[STABLE] The number of nodes that should be running the daemon pod and have none of "
	  "the daemon pod running and available",
	  G, unavailable },
	{ "kube_daemonset_status_observed_generation",
	  "[STABLE] The most recent generation observed by the daemon set controller.", G,
	  observed },
	{ "kube_daemonset_status_updated_number_scheduled",
	  "[STABLE] The total number of nodes that are running updated daemon pod", G, updated },
	{ "kube_daemonset_metadata_generation",
	  "[STABLE] Sequence number representing a specific generation of the desired state.", G,
	  generation },
	{ "kube_daemonset_deletion_timestamp", KS_HELP_DELETION, G, ks_emit_deletion },
	{ "kube_daemonset_annotations", KS_HELP_ANNOTATIONS, G, ks_emit_annotations },
	{ "kube_daemonset_labels", KS_HELP_LABELS, G, ks_emit_labels },
};
const size_t ks_daemonset_nfamilies = KS_NFAM(ks_daemonset_families);
