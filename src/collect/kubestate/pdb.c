/* kube_poddisruptionbudget_* (KSM internal/store/poddisruptionbudget.go).
 * Reads status.{currentHealthy,desiredHealthy,disruptionsAllowed,
 * expectedPods,observedGeneration}. */
#include "collect/kubestate/ks_common.h"

KS_INT_FAMILY(current, "status.currentHealthy")
KS_INT_FAMILY(desired, "status.desiredHealthy")
KS_INT_FAMILY(allowed, "status.disruptionsAllowed")
KS_INT_FAMILY(expected, "status.expectedPods")
KS_INT_FAMILY(observed, "status.observedGeneration")

const struct ks_family ks_pdb_families[] = {
	{ "kube_poddisruptionbudget_annotations", KS_HELP_ANNOTATIONS, G, ks_emit_annotations },
	{ "kube_poddisruptionbudget_labels", KS_HELP_LABELS_ALPHA, G, ks_emit_labels },
	{ "kube_poddisruptionbudget_created", KS_HELP_CREATED, G, ks_emit_created },
	{ "kube_poddisruptionbudget_status_current_healthy", "[STABLE] Current number of healthy pods",
	  G, current },
	{ "kube_poddisruptionbudget_status_desired_healthy",
	  "[STABLE] Minimum desired number of healthy pods", G, desired },
	{ "kube_poddisruptionbudget_status_pod_disruptions_allowed",
	  "[STABLE] Number of pod disruptions that are currently allowed", G, allowed },
	{ "kube_poddisruptionbudget_status_expected_pods",
	  "[STABLE] Total number of pods counted by this disruption budget", G, expected },
	{ "kube_poddisruptionbudget_status_observed_generation",
	  "[STABLE] Most recent generation observed when updating this PDB status", G, observed },
	{ "kube_poddisruptionbudget_deletion_timestamp", KS_HELP_DELETION, G, ks_emit_deletion },
};
const size_t ks_pdb_nfamilies = KS_NFAM(ks_pdb_families);
