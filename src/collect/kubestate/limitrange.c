/* kube_limitrange_* (KSM internal/store/limitrange.go). Reads
 * spec.limits[].{type,min,max,default,defaultRequest,maxLimitRequestRatio}. */
#include "collect/kubestate/ks_common.h"

#include <string.h>

/* One series per resource of each constraint map, valued as KSM's
 * convertValueToFloat64; resource names are label values, unsanitized. */
static void limits(struct ks_render *r, const json_t *o)
{
	static const char *const constraints[] = { "min", "max", "default", "defaultRequest",
						   "maxLimitRequestRatio" };
	size_t i;
	json_t *l;

	json_array_foreach(ks_json_path(o, "spec.limits"), i, l) {
		for (size_t c = 0; c < sizeof(constraints) / sizeof(constraints[0]); c++) {
			const char *res;
			json_t *q;

			json_object_foreach(json_object_get(l, constraints[c]), res, q) {
				double v;

				if (ks_render_milli(r, q, &v))
					ks_emit(r, v, "resource", res, "type", ks_str(l, "type"),
						"constraint", constraints[c], NULL);
			}
		}
	}
}

const struct ks_family ks_limitrange_families[] = {
	{ "kube_limitrange", "[STABLE] Information about limit range.", G, limits },
	{ "kube_limitrange_created", KS_HELP_CREATED, G, ks_emit_created },
};
const size_t ks_limitrange_nfamilies = KS_NFAM(ks_limitrange_families);
