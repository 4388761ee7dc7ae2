/* K8sMonitor validation: the input is a K8sMonitor JSON object, built on
 * top of the default flags. It must be accepted or rejected with a
 * field-path message; never crash or leak. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config/config.h"
#include "config/flags.h"
#include "fuzz/fuzz.h"

int fuzz_config_build(const uint8_t *data, size_t size)
{
	char *argv[] = { (char *)"k8smon", NULL };
	struct flags f;
	struct config *c;
	json_error_t jerr;
	json_t *root;
	char err[512] = "";

	root = json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);
	if (!root)
		return 0;
	memset(&f, 0, sizeof(f));
	FUZZ_CHECK(flags_parse(&f, 1, argv, stderr, err, sizeof(err)) == FLAGS_RUN);
	c = config_build(&f, root, err, sizeof(err));
	if (c) {
		(void)config_namespace_allowed(c, "default");
		config_unref(c);
	} else {
		FUZZ_CHECK(err[0] != '\0');
	}
	flags_fini(&f);
	json_decref(root);
	return 0;
}
