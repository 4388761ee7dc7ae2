/* The kind table (src/collect/kubestate/kinds.c) against the CRD: the names
 * spec.kubeState.resources accepts (its enum in crds/ *k8smonitor*.yaml)
 * must be exactly the table's names, so that no accepted name is unknown to
 * the agent and no kind is unreachable from the CRD. */
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/err.h"
#include "collect/kubestate/kinds.h"

#define CRD_MAX (1u << 20)
#define NAMES_MAX 64
#define SEPS ", \t\r\n"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s = malloc(CRD_MAX + 1);
	size_t n = 0;

	assert_non_null(f);
	assert_non_null(s);
	n = fread(s, 1, CRD_MAX, f);
	assert_true(feof(f));
	fclose(f);
	s[n] = '\0';
	return s;
}

/* Splits the flow sequence after "enum:" of the first "resources:" after
 * "kubeState:" into names[]; returns how many. Text extraction: the CRD
 * writes that enum as one flow sequence, maybe wrapped over lines. */
static size_t crd_resources_enum(char *crd, char *names[NAMES_MAX])
{
	char *p = strstr(crd, "kubeState:"), *end;
	size_t n = 0;

	assert_non_null(p);
	p = strstr(p, "resources:");
	assert_non_null(p);
	p = strstr(p, "enum:");
	assert_non_null(p);
	p = strchr(p, '[');
	assert_non_null(p);
	end = strchr(p, ']');
	assert_non_null(end);
	*end = '\0';
	for (p++; *(p += strspn(p, SEPS));) {
		size_t len = strcspn(p, SEPS);

		assert_true(n < NAMES_MAX);
		names[n++] = p;
		p += len;
		if (*p)
			*p++ = '\0';
	}
	return n;
}

static void test_table_equals_crd_enum(void **state)
{
	glob_t g;

	(void)state;
	assert_int_equal(glob("crds/*k8smonitor*.yaml", 0, NULL, &g), 0);
	assert_true(g.gl_pathc >= 1);
	for (size_t f = 0; f < g.gl_pathc; f++) {
		char *crd = slurp(g.gl_pathv[f]);
		char *names[NAMES_MAX];
		size_t n = crd_resources_enum(crd, names);

		/* CRD -> table */
		for (size_t i = 0; i < n; i++) {
			if (!ks_kind_by_name(names[i]))
				fail_msg("%s: \"%s\" is in the CRD enum but not in ks_kind_table", g.gl_pathv[f],
					 names[i]);
		}
		/* table -> CRD */
		for (size_t k = 0; k < KS_KIND_NAMES; k++) {
			size_t i = 0;

			while (i < n && strcmp(names[i], ks_kind_table[k].name) != 0)
				i++;
			if (i == n)
				fail_msg("%s: \"%s\" is in ks_kind_table but not in the CRD enum", g.gl_pathv[f],
					 ks_kind_table[k].name);
		}
		assert_int_equal(n, KS_KIND_NAMES); /* no duplicates on either side */
		free(crd);
	}
	globfree(&g);
}

static void test_table_rows(void **state)
{
	enum ks_kind k;

	(void)state;
	for (int i = 0; i < KS_KIND_COUNT; i++) {
		const struct kube_resource *api = ks_kind_api((enum ks_kind)i);

		assert_non_null(api);
		assert_true(ks_kind_table[i].families);
		assert_string_equal(api->resource, ks_kind_resource((enum ks_kind)i));
		assert_int_equal(api->namespaced, ks_kind_namespaced((enum ks_kind)i));
		assert_int_equal(ks_kind_parse(ks_kind_resource((enum ks_kind)i), &k), 0);
		assert_int_equal(k, i);
		assert_int_equal(ks_kind_parse(ks_kind_name((enum ks_kind)i), &k), 0);
		assert_int_equal(k, i);
		/* KSM's scrape order: alphabetical by plural. */
		if (i > 0)
			assert_true(strcmp(ks_kind_table[i - 1].name, ks_kind_table[i].name) < 0);
	}
	assert_null(ks_kind_api(KS_KIND_COUNT));
	assert_string_equal(ks_kind_api(KS_HPA)->group, "autoscaling");
	assert_string_equal(ks_kind_api(KS_HPA)->version, "v2");
	assert_false(ks_kind_api(KS_NODE)->namespaced);
	assert_string_equal(ks_kind_go_type(KS_POD), "*v1.Pod");
	assert_int_equal(ks_kind_parse("pvc", &k), 0);
	assert_int_equal(k, KS_PVC);
	assert_int_equal(ks_kind_parse("endpointslices", &k), 0);
	assert_int_equal(k, KS_ENDPOINTSLICE);
	assert_int_equal(ks_kind_parse("validatingadmissionpolicy", &k), 0);
	assert_int_equal(k, KS_VALIDATINGADMISSIONPOLICY);
	assert_int_equal(ks_kind_parse("mutatingadmissionpolicy", &k), 0);
	assert_int_equal(k, KS_MUTATINGADMISSIONPOLICY);
	assert_int_equal(ks_kind_parse("widgets", &k), KM_ENOENT);
	/* 33 kinds: the set is 64 bits, the last kind's bit is above 31. */
	assert_true(KS_KINDS_ALL == (KS_KIND_BIT(KS_KIND_COUNT) - 1));
	assert_true(KS_KIND_BIT(KS_VOLUMEATTACHMENT) >> 32 != 0);
	{
		char *one[] = { "volumeattachments" };
		assert_true(ks_kind_mask(one, 1) == KS_KIND_BIT(KS_VOLUMEATTACHMENT));
		assert_true(ks_kind_mask(NULL, 0) == KS_KINDS_ALL);
	}
	assert_null(ks_kind_by_name("pod")); /* the resources list takes plurals only */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_equals_crd_enum),
		cmocka_unit_test(test_table_rows),
	};
	return cmocka_run_group_tests_name("kubestate_kinds", tests, NULL, NULL);
}
