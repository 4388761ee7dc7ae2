#include "scrape/rule_relabel.h"

#include <string.h>

#include "base/err.h"
#include "scrape/labels.h"
#include "scrape/relabel.h"

/* struct relabel_cfg is the engine's compiled set under another name, so
 * rule.h does not pull in the engine's headers. */
int rule_relabel_compile(const json_t *arr, const char *path, struct relabel_cfg **out,
			 char *err, size_t errlen)
{
	struct relabel_set *rs;

	*out = NULL;
	if (!arr || json_is_null(arr) || (json_is_array(arr) && json_array_size(arr) == 0))
		return 0;
	rs = relabel_compile(arr, path, err, errlen);
	if (!rs)
		return KM_EINVAL;
	*out = (struct relabel_cfg *)rs;
	return 0;
}

void rule_relabel_free(struct relabel_cfg *c)
{
	relabel_free((struct relabel_set *)c);
}

int rule_relabel_apply(const struct relabel_cfg *c, struct tlabels *l)
{
	struct labels ls;
	struct tlabels res;
	struct label_ref ref;
	size_t it = 0;
	int rc;

	if (!c)
		return RELABEL_KEEP;
	/* Targets carry every __meta_ label: room for all of them. */
	labels_init(&ls, l->n + 64);
	tl_init(&res);
	for (size_t i = 0; i < l->n; i++)
		if ((rc = labels_set(&ls, l->v[i].name, l->v[i].value)) && rc != KM_ETOOBIG)
			goto out;
	rc = relabel_apply((const struct relabel_set *)c, &ls);
	if (rc != RELABEL_KEEP)
		goto out;
	while (labels_next(&ls, &it, &ref)) {
		int e = tl_setn(&res, ref.name, ref.value, ref.value_len);
		if (e) {
			rc = e;
			goto out;
		}
	}
	tl_fini(l);
	*l = res;
	tl_init(&res);
out:
	tl_fini(&res);
	labels_fini(&ls);
	return rc;
}
