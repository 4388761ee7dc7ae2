/* kube_{validating,mutating}admissionpolicy{,binding}_* (KSM
 * internal/store/{validating,mutating}admissionpolicy{,binding}.go): four
 * kinds of admissionregistration.k8s.io/v1 whose families differ only in
 * a label or a family, so they share this file. Reads spec.{paramKind,
 * failurePolicy, reinvocationPolicy} of a policy and spec.{policyName,
 * paramRef, validationActions} of a binding. Default labels: namespace
 * (always "": cluster-scoped), then the name (families.c: KS_NS_FIRST). */
#include "collect/kubestate/ks_common.h"

static void vap_info(struct ks_render *r, const json_t *o)
{
	ks_emit(r, 1, "param_api_version", ks_str(o, "spec.paramKind.apiVersion"), "param_kind",
		ks_str(o, "spec.paramKind.kind"), "failure_policy", ks_str(o, "spec.failurePolicy"),
		NULL);
}

static void map_info(struct ks_render *r, const json_t *o)
{
	ks_emit(r, 1, "param_api_version", ks_str(o, "spec.paramKind.apiVersion"), "param_kind",
		ks_str(o, "spec.paramKind.kind"), "failure_policy", ks_str(o, "spec.failurePolicy"),
		"reinvocation_policy", ks_str(o, "spec.reinvocationPolicy"), NULL);
}

static void binding_info(struct ks_render *r, const json_t *o)
{
	ks_emit(r, 1, "policy_name", ks_str(o, "spec.policyName"), "param_name",
		ks_str(o, "spec.paramRef.name"), "param_namespace",
		ks_str(o, "spec.paramRef.namespace"), "param_not_found_action",
		ks_str(o, "spec.paramRef.parameterNotFoundAction"), NULL);
}

/* One series per spec.validationActions entry. */
static void validation_action(struct ks_render *r, const json_t *o)
{
	size_t i;
	json_t *a;

	json_array_foreach(ks_json_path(o, "spec.validationActions"), i, a)
		ks_emit(r, 1, "action", json_is_string(a) ? json_string_value(a) : "", NULL);
}

#define CREATED_HELP "Unix creation timestamp."

const struct ks_family ks_validatingadmissionpolicy_families[] = {
	{ "kube_validatingadmissionpolicy_info", "Information about the ValidatingAdmissionPolicy.",
	  G, vap_info },
	{ "kube_validatingadmissionpolicy_created", CREATED_HELP, G, ks_emit_created },
};
const size_t ks_validatingadmissionpolicy_nfamilies =
	KS_NFAM(ks_validatingadmissionpolicy_families);

const struct ks_family ks_validatingadmissionpolicybinding_families[] = {
	{ "kube_validatingadmissionpolicybinding_info",
	  "Information about the ValidatingAdmissionPolicyBinding.", G, binding_info },
	{ "kube_validatingadmissionpolicybinding_created", CREATED_HELP, G, ks_emit_created },
	{ "kube_validatingadmissionpolicybinding_validation_action",
	  "Validation actions for the ValidatingAdmissionPolicyBinding.", G, validation_action },
};
const size_t ks_validatingadmissionpolicybinding_nfamilies =
	KS_NFAM(ks_validatingadmissionpolicybinding_families);

const struct ks_family ks_mutatingadmissionpolicy_families[] = {
	{ "kube_mutatingadmissionpolicy_info", "Information about the MutatingAdmissionPolicy.", G,
	  map_info },
	{ "kube_mutatingadmissionpolicy_created", CREATED_HELP, G, ks_emit_created },
};
const size_t ks_mutatingadmissionpolicy_nfamilies = KS_NFAM(ks_mutatingadmissionpolicy_families);

const struct ks_family ks_mutatingadmissionpolicybinding_families[] = {
	{ "kube_mutatingadmissionpolicybinding_info",
	  "Information about the MutatingAdmissionPolicyBinding.", G, binding_info },
	{ "kube_mutatingadmissionpolicybinding_created", CREATED_HELP, G, ks_emit_created },
};
const size_t ks_mutatingadmissionpolicybinding_nfamilies =
	KS_NFAM(ks_mutatingadmissionpolicybinding_families);
