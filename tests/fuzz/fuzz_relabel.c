/* Relabeling: the input is "<rules JSON>\0<label lines name=value\n...>".
 * Compilation must reject or accept without crashing; an accepted set is
 * applied, and the result must still be a well-formed label set (valid,
 * unique, sorted names; no empty values). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "scrape/relabel.h"
#include "fuzz/fuzz.h"

int fuzz_relabel(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *nul = memchr(s, '\0', size);
	size_t jlen = nul ? (size_t)(nul - s) : size;
	char err[512];
	struct relabel_set *rs;
	struct labels l;
	size_t i;
	int rc;

	rs = relabel_compile_str(s, jlen, "spec.relabelings", err, sizeof(err));
	if (!rs) {
		FUZZ_CHECK(err[0] != '\0');
		return 0;
	}
	labels_init(&l, 16);
	if (nul) {
		const char *p = nul + 1, *end = s + size;

		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			const char *le = nl ? nl : end;
			const char *eq = memchr(p, '=', (size_t)(le - p));

			if (eq && label_name_valid(p, (size_t)(eq - p)))
				(void)labels_setn(&l, p, (size_t)(eq - p), eq + 1, (size_t)(le - eq - 1));
			p = le + 1;
		}
	}
	rc = relabel_apply(rs, &l);
	FUZZ_CHECK(rc == RELABEL_KEEP || rc == RELABEL_DROP || rc == KM_ETOOBIG ||
		   rc == KM_ENOMEM);
	if (rc == RELABEL_KEEP) {
		for (i = 0; i < labels_count(&l); i++) {
			struct label_ref r = labels_at(&l, i);

			FUZZ_CHECK(label_name_valid(r.name, r.name_len));
			FUZZ_CHECK(r.value_len > 0);
			if (i)
				FUZZ_CHECK(strcmp(labels_at(&l, i - 1).name, r.name) < 0);
		}
	}
	/* Applying twice must be safe too (compiled sets are reusable). */
	(void)relabel_apply(rs, &l);
	labels_fini(&l);
	relabel_free(rs);
	return 0;
}
