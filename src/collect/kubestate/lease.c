/* kube_lease_* (KSM internal/store/lease.go). Reads metadata.ownerReferences,
 * spec.holderIdentity and spec.renewTime. KSM's only default label is
 * lease; namespace comes after the family's own labels (families.c:
 * KS_NS_NONE). */
#include "collect/kubestate/ks_common.h"

#include <stdbool.h>

/* One series per ownerReference, one with empty owner labels when none. */
static void owner(struct ks_render *r, const json_t *o)
{
	const json_t *refs = ks_json_path(o, "metadata.ownerReferences");
	const char *ns = ks_str(o, "metadata.namespace");
	const char *holder = ks_str(o, "spec.holderIdentity");
	size_t i;
	json_t *ref;

	if (json_array_size(refs) == 0) {
		ks_emit(r, 1, "owner_kind", "", "owner_name", "", "namespace", ns, "lease_holder",
			holder, NULL);
		return;
	}
	json_array_foreach(refs, i, ref)
		ks_emit(r, 1, "owner_kind", ks_str(ref, "kind"), "owner_name", ks_str(ref, "name"),
			"namespace", ns, "lease_holder", holder, NULL);
}

/* spec.renewTime in unix seconds (a MicroTime: the fraction is dropped, as
 * Go's Time.Unix()); nothing when unset. */
static void renew_time(struct ks_render *r, const json_t *o)
{
	double t;

	if (ks_parse_time(ks_str(o, "spec.renewTime"), &t) && t != 0)
		ks_emit(r, t, "namespace", ks_str(o, "metadata.namespace"), NULL);
}

const struct ks_family ks_lease_families[] = {
	{ "kube_lease_owner", "Information about the Lease's owner.", G, owner },
	{ "kube_lease_renew_time", "Kube lease renew time.", G, renew_time },
};
const size_t ks_lease_nfamilies = KS_NFAM(ks_lease_families);
