/* Golden tests for the kube-state collector.
 *
 * Every tests/fixtures/kubestate/<case>.json is loaded into a store and the
 * exposition compared with <case>.prom the way kube-state-metrics' own tests
 * compare (internal/store/testutils.go): blank lines dropped, lines sorted,
 * so object and series order do not matter; label order inside a line and
 * HELP/TYPE text must match exactly.
 *
 * <case>.json is either one Kubernetes object (with "kind") or
 *   {"objects":[...], "deletes":[{"kind","namespace","name"}],
 *    "labels_allowlist":{"pods":["app"]}, "annotations_allowlist":{...},
 *    "filter":{"namespaces":[],"exclude_namespaces":[],"kinds":[],
 *              "allow":"regex","deny":"regex"}}
 * <case>.prom may start with "# FAMILIES <regex>": only families whose name
 * matches are written (KSM's tests restrict with MetricNames the same way).
 * "# NOTE " lines are comments: the hand_*.prom cases were written by hand
 * from kube-state-metrics' rules and say how each value was computed; the
 * others were bootstrapped by KS_GOLDEN_WRITE and are snapshots (see
 * tests/fixtures/kubestate/README.md), but ksm_f0_full_scrape_pod.prom,
 * which is kube-state-metrics' own TestFullScrapeCycle expectation.
 * Every output is also checked for text-format validity (one HELP/TYPE per
 * family, families contiguous, samples belong to the family above them).
 * KS_GOLDEN_WRITE=1 writes missing .prom files (to bootstrap a new case;
 * review them by hand before committing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <glob.h>

#include "base/err.h"
#include "collect/kubestate/kubestate.h"

#define DIR "tests/fixtures/kubestate/"
#define OUT_CAP (64u << 20)

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *s;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	s = malloc((size_t)n + 1);
	if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
		free(s);
		s = NULL;
	}
	if (s)
		s[n] = '\0';
	fclose(f);
	return s;
}

/* Lines of s (modified in place), leading blanks stripped, empties dropped. */
static size_t split_lines(char *s, char ***out)
{
	size_t n = 0, cap = 64;
	char **v = malloc(cap * sizeof(*v));

	for (char *line = strtok_r(s, "\n", &s); line; line = strtok_r(NULL, "\n", &s)) {
		while (*line == ' ' || *line == '\t')
			line++;
		if (!*line || strncmp(line, "# FAMILIES ", 11) == 0 ||
		    strncmp(line, "# NOTE ", 7) == 0)
			continue;
		if (n == cap)
			v = realloc(v, (cap *= 2) * sizeof(*v));
		v[n++] = line;
	}
	*out = v;
	return n;
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Prometheus text-format structure: each family's HELP and TYPE once, its
 * samples right after them, no family split in two. */
static void check_format(const char *text)
{
	char *copy = strdup(text), *save = copy, *line;
	char seen[4096][128];
	size_t nseen = 0;
	char cur[128] = "";

	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[128];
		if (strncmp(line, "# HELP ", 7) == 0) {
			sscanf(line + 7, "%127s", name);
			for (size_t i = 0; i < nseen; i++)
				if (strcmp(seen[i], name) == 0)
					fail_msg("family %s appears twice", name);
			assert_true(nseen < 4096);
			snprintf(seen[nseen++], sizeof(seen[0]), "%s", name);
			snprintf(cur, sizeof(cur), "%s", name);
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			char type[32];
			assert_int_equal(sscanf(line + 7, "%127s %31s", name, type), 2);
			assert_string_equal(name, cur);
			assert_true(strcmp(type, "gauge") == 0 || strcmp(type, "counter") == 0);
			continue;
		}
		size_t n = strcspn(line, "{ ");
		if (n != strlen(cur) || strncmp(line, cur, n) != 0)
			fail_msg("sample outside its family (%s): %s", cur, line);
		/* value present and no trailing garbage */
		assert_non_null(strrchr(line, ' '));
	}
	free(copy);
}

static const char *const *str_array(json_t *a, size_t *n)
{
	const char **v = calloc(json_array_size(a) + 1, sizeof(*v));
	size_t i;
	json_t *x;

	json_array_foreach(a, i, x)
		v[i] = json_string_value(x);
	*n = json_array_size(a);
	return v;
}

static void fill_allow(json_t *m, struct ks_allowlist *al)
{
	const char *k;
	json_t *v;

	json_object_foreach(m, k, v) {
		enum ks_kind kind;
		assert_int_equal(ks_kind_parse(k, &kind), 0);
		al[kind].keys = str_array(v, &al[kind].n);
	}
}

static void run_case(const char *json_path)
{
	char prom_path[512], *expected_text, *got_text;
	json_error_t jerr;
	json_t *root = json_load_file(json_path, 0, &jerr), *objs, *filt, *x;
	struct ks_opts opts = { 0 };
	struct ks_filter f = { 0 };
	struct rx *allow = NULL, *deny = NULL;
	struct ks_store *s = ks_store_new();
	struct buf out;
	char **exp_lines, **got_lines;
	size_t nexp, ngot, i;
	char err[256];

	if (!root)
		fail_msg("%s: %s", json_path, jerr.text);
	snprintf(prom_path, sizeof(prom_path), "%.*s.prom", (int)(strlen(json_path) - 5), json_path);
	objs = json_object_get(root, "objects");
	if (!objs) {
		objs = json_array();
		json_array_append(objs, root);
	} else {
		json_incref(objs);
	}
	fill_allow(json_object_get(root, "labels_allowlist"), opts.labels);
	fill_allow(json_object_get(root, "annotations_allowlist"), opts.annotations);
	json_array_foreach(objs, i, x) {
		enum ks_kind kind;
		assert_int_equal(ks_kind_parse(json_string_value(json_object_get(x, "kind")), &kind), 0);
		assert_int_equal(ks_store_upsert(s, kind, x, &opts), 0);
	}
	json_array_foreach(json_object_get(root, "deletes"), i, x) {
		enum ks_kind kind;
		assert_int_equal(ks_kind_parse(json_string_value(json_object_get(x, "kind")), &kind), 0);
		assert_int_equal(ks_store_delete(s, kind,
						 json_string_value(json_object_get(x, "namespace")),
						 json_string_value(json_object_get(x, "name"))),
				 0);
	}
	filt = json_object_get(root, "filter");
	f.namespaces = str_array(json_object_get(filt, "namespaces"), &f.nnamespaces);
	f.exclude_namespaces = str_array(json_object_get(filt, "exclude_namespaces"),
					 &f.nexclude_namespaces);
	json_array_foreach(json_object_get(filt, "kinds"), i, x) {
		enum ks_kind kind;
		assert_int_equal(ks_kind_parse(json_string_value(x), &kind), 0);
		f.kinds |= KS_KIND_BIT(kind);
	}
	expected_text = slurp(prom_path);
	if (json_is_string(json_object_get(filt, "allow")))
		allow = rx_new(json_string_value(json_object_get(filt, "allow")), err, sizeof(err));
	else if (expected_text && strncmp(expected_text, "# FAMILIES ", 11) == 0) {
		char re[1024];
		sscanf(expected_text + 11, "%1023[^\n]", re);
		allow = rx_new(re, err, sizeof(err));
	}
	if (json_is_string(json_object_get(filt, "deny")))
		deny = rx_new(json_string_value(json_object_get(filt, "deny")), err, sizeof(err));
	f.metric_allow = allow;
	f.metric_deny = deny;

	buf_init(&out, OUT_CAP);
	assert_int_equal(ks_store_write(s, &f, &out), 0);
	check_format(buf_cstr(&out));
	if (getenv("KS_GOLDEN_WRITE") &&
	    (!expected_text || !strchr(expected_text, '\n') ||
	     !strchr(expected_text, '\n')[1])) {
		/* Missing, or only the "# FAMILIES" line: write header + output. */
		FILE *w = fopen(prom_path, "w");
		if (expected_text)
			fputs(expected_text, w);
		fputs(buf_cstr(&out), w);
		fclose(w);
		free(expected_text);
		expected_text = slurp(prom_path);
	}
	if (!expected_text)
		fail_msg("missing %s", prom_path);
	got_text = strdup(buf_cstr(&out));
	nexp = split_lines(expected_text, &exp_lines);
	ngot = split_lines(got_text, &got_lines);
	qsort(exp_lines, nexp, sizeof(*exp_lines), cmp_line);
	qsort(got_lines, ngot, sizeof(*got_lines), cmp_line);
	for (i = 0; i < nexp || i < ngot; i++) {
		const char *e = i < nexp ? exp_lines[i] : "<none>";
		const char *g = i < ngot ? got_lines[i] : "<none>";
		if (strcmp(e, g) != 0) {
			print_error("%s: first difference (sorted line %zu)\n  want: %s\n  got:  %s\n"
				    "--- full output ---\n%s",
				    prom_path, i, e, g, buf_cstr(&out));
			fail();
		}
	}
	free(exp_lines);
	free(got_lines);
	free(expected_text);
	free(got_text);
	buf_fini(&out);
	rx_free(allow);
	rx_free(deny);
	free((void *)f.namespaces);
	free((void *)f.exclude_namespaces);
	for (int k = 0; k < KS_KIND_COUNT; k++) {
		free((void *)opts.labels[k].keys);
		free((void *)opts.annotations[k].keys);
	}
	ks_store_free(s);
	json_decref(objs);
	json_decref(root);
}

static void test_golden(void **state)
{
	glob_t g;
	int n = 0;

	(void)state;
	assert_int_equal(glob(DIR "*.json", 0, NULL, &g), 0);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		print_message("[ case     ] %s\n", g.gl_pathv[i]);
		run_case(g.gl_pathv[i]);
		n++;
	}
	globfree(&g);
	print_message("[ golden   ] %d cases\n", n);
	assert_true(n >= 40);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
