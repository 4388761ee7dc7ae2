/* kube_networkpolicy_* (KSM internal/store/networkpolicy.go; every family
 * ALPHA, so no "[STABLE] " prefix). Reads spec.{ingress,egress} lengths. */
#include "collect/kubestate/ks_common.h"

/* KSM prints the creation time unconditionally: a zero creationTimestamp
 * gives Go's zero time, -62135596800. */
static void created(struct ks_render *r, const json_t *o)
{
	double t;

	if (!ks_parse_time(ks_str(o, "metadata.creationTimestamp"), &t))
		t = KS_GO_ZERO_TIME;
	ks_emit(r, t, NULL);
}

static void ingress_rules(struct ks_render *r, const json_t *o)
{
	ks_emit(r, (double)json_array_size(ks_json_path(o, "spec.ingress")), NULL);
}

static void egress_rules(struct ks_render *r, const json_t *o)
{
	ks_emit(r, (double)json_array_size(ks_json_path(o, "spec.egress")), NULL);
}

const struct ks_family ks_networkpolicy_families[] = {
	{ "kube_networkpolicy_created", "Unix creation timestamp of network policy", G, created },
	{ "kube_networkpolicy_annotations", KS_HELP_ANNOTATIONS, G, ks_emit_annotations },
	{ "kube_networkpolicy_labels", KS_HELP_LABELS_ALPHA, G, ks_emit_labels },
	{ "kube_networkpolicy_spec_ingress_rules", "Number of ingress rules on the networkpolicy",
	  G, ingress_rules },
	{ "kube_networkpolicy_spec_egress_rules", "Number of egress rules on the networkpolicy",
	  G, egress_rules },
};
const size_t ks_networkpolicy_nfamilies = KS_NFAM(ks_networkpolicy_families);
