/* kube_certificatesigningrequest_* (KSM internal/store/certificatesigningrequest.go).
 * Reads spec.signerName (a default label, see families.c),
 * status.conditions[].type and the length of status.certificate. */
#include "collect/kubestate/ks_common.h"

#include <string.h>

/* Counts of Approved, Denied and Failed conditions, always three series. */
static void condition(struct ks_render *r, const json_t *o)
{
	static const char *const types[] = { "Approved", "Denied", "Failed" };
	static const char *const labels[] = { "approved", "denied", "failed" };

	for (size_t t = 0; t < 3; t++) {
		double n = 0;
		size_t i;
		json_t *c;

		json_array_foreach(ks_json_path(o, "status.conditions"), i, c) {
			if (strcmp(ks_str(c, "type"), types[t]) == 0)
				n++;
		}
		ks_emit(r, n, "condition", labels[t], NULL);
	}
}

/* len(status.certificate) of the decoded []byte: the API carries it as
 * padded base64, 3 bytes per 4 characters less the padding. */
static void cert_length(struct ks_render *r, const json_t *o)
{
	const char *b64 = ks_str(o, "status.certificate");
	size_t n = strlen(b64), pad = 0;

	if (n >= 1 && b64[n - 1] == '=')
		pad++;
	if (n >= 2 && b64[n - 2] == '=')
		pad++;
	ks_emit(r, (double)(n / 4 * 3 - (n % 4 ? 0 : pad)), NULL);
}

const struct ks_family ks_csr_families[] = {
	{ "kube_certificatesigningrequest_annotations", KS_HELP_ANNOTATIONS, G,
	  ks_emit_annotations },
	{ "kube_certificatesigningrequest_labels", KS_HELP_LABELS, G, ks_emit_labels },
	{ "kube_certificatesigningrequest_created", KS_HELP_CREATED, G, ks_emit_created },
	{ "kube_certificatesigningrequest_condition",
	  "[STABLE] The number of each certificatesigningrequest condition", G, condition },
	{ "kube_certificatesigningrequest_cert_length", "[STABLE] Length of the issued cert", G,
	  cert_length },
};
const size_t ks_csr_nfamilies = KS_NFAM(ks_csr_families);
