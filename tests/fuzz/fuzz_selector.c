/* Label selectors: input JSON [selector, labels] (or just a selector,
 * matched against a fixed label map). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config/selector.h"
#include "fuzz/fuzz.h"

int fuzz_selector(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	json_t *root, *sel, *lbls, *fixed;
	struct selector *s;
	char err[512] = "";

	root = json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);
	if (!root)
		return 0;
	fixed = json_pack("{s:s,s:s}", "app", "web", "tier", "frontend");
	if (json_is_array(root) && json_array_size(root) == 2) {
		sel = json_array_get(root, 0);
		lbls = json_array_get(root, 1);
	} else {
		sel = root;
		lbls = fixed;
	}
	s = selector_compile(sel, "spec.selector", err, sizeof(err));
	if (s) {
		(void)selector_matches(s, json_is_object(lbls) ? lbls : NULL);
		(void)selector_matches(s, NULL);
		(void)selector_empty(s);
		selector_free(s);
	} else {
		FUZZ_CHECK(err[0] != '\0');
	}
	json_decref(fixed);
	json_decref(root);
	return 0;
}
