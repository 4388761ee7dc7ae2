/* Kubernetes resource.Quantity parsing (kube-state) and scaling. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect/kubestate/ks_internal.h"
#include "fuzz/fuzz.h"

int fuzz_quantity(const uint8_t *data, size_t size)
{
	static const int scales[] = { -9, -6, -3, 0, 3, 6, 9 };
	struct ks_quantity q;
	char *s;
	size_t i;

	if (size > 256)
		return 0;
	s = malloc(size + 1);
	FUZZ_CHECK(s != NULL);
	memcpy(s, data, size);
	s[size] = '\0';
	memset(&q, 0, sizeof(q));
	if (ks_quantity_parse(s, &q) == 0)
		for (i = 0; i < sizeof(scales) / sizeof(scales[0]); i++)
			(void)ks_quantity_scaled(&q, scales[i]);
	free(s);
	return 0;
}
