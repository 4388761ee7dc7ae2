/* Label sets: ordering, set/get/delete semantics (empty value deletes), caps,
 * copy, hashing and comparison for series identity, rendering with
 * exposition escaping, name/UTF-8 validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "base/err.h"
#include "base/utf8.h"
#include "scrape/labels.h"

static void render(const struct labels *l, char *out, size_t n)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	assert_int_equal(labels_render(l, &b), 0);
	snprintf(out, n, "%s", buf_cstr(&b));
	buf_fini(&b);
}

static void test_sorted_set_get_del(void **state)
{
	struct labels l;
	char out[256];
	size_t vlen = 0;

	(void)state;
	labels_init(&l, 0);
	assert_int_equal(labels_set(&l, "zeta", "1"), 0);
	assert_int_equal(labels_set(&l, "alpha", "2"), 0);
	assert_int_equal(labels_set(&l, "mid", "3"), 0);
	assert_int_equal(labels_count(&l), 3);
	assert_string_equal(labels_at(&l, 0).name, "alpha");
	assert_string_equal(labels_at(&l, 1).name, "mid");
	assert_string_equal(labels_at(&l, 2).name, "zeta");
	assert_string_equal(labels_get(&l, "mid"), "3");
	assert_null(labels_get(&l, "nope"));
	assert_string_equal(labels_getn(&l, "zetaX", 4, &vlen), "1");
	assert_int_equal(vlen, 1);
	/* Replace keeps one entry. */
	assert_int_equal(labels_set(&l, "mid", "three"), 0);
	assert_int_equal(labels_count(&l), 3);
	assert_string_equal(labels_get(&l, "mid"), "three");
	render(&l, out, sizeof(out));
	assert_string_equal(out, "{alpha=\"2\",mid=\"three\",zeta=\"1\"}");
	/* Empty value deletes, as Prometheus' Builder.Set. */
	assert_int_equal(labels_set(&l, "alpha", ""), 0);
	assert_null(labels_get(&l, "alpha"));
	assert_int_equal(labels_set(&l, "absent", ""), 0);
	assert_int_equal(labels_del(&l, "zeta"), 0);
	assert_int_equal(labels_del(&l, "zeta"), KM_ENOENT);
	assert_int_equal(labels_count(&l), 1);
	assert_int_equal(labels_set(&l, "", "x"), KM_EINVAL);
	labels_fini(&l);
}

static void test_iteration(void **state)
{
	struct labels l;
	struct label_ref r;
	size_t it = 0, n = 0;
	const char *want[] = { "a", "b", "c" };

	(void)state;
	labels_init(&l, 0);
	labels_set(&l, "c", "3");
	labels_set(&l, "a", "1");
	labels_set(&l, "b", "2");
	while (labels_next(&l, &it, &r)) {
		assert_string_equal(r.name, want[n]);
		assert_int_equal(r.name_len, 1);
		n++;
	}
	assert_int_equal(n, 3);
	labels_fini(&l);
}

static void test_caps(void **state)
{
	struct labels l;
	char name[LABELS_NAME_MAX + 2];
	char value[LABELS_VALUE_MAX + 2];
	int i;

	(void)state;
	labels_init(&l, 3);
	assert_int_equal(labels_set(&l, "a", "1"), 0);
	assert_int_equal(labels_set(&l, "b", "1"), 0);
	assert_int_equal(labels_set(&l, "c", "1"), 0);
	assert_int_equal(labels_set(&l, "d", "1"), KM_ETOOBIG);
	/* Replacing at the cap is fine. */
	assert_int_equal(labels_set(&l, "c", "2"), 0);
	assert_int_equal(labels_count(&l), 3);
	memset(name, 'n', sizeof(name));
	name[LABELS_NAME_MAX + 1] = '\0';
	assert_int_equal(labels_set(&l, name, "v"), KM_ETOOBIG);
	memset(value, 'v', sizeof(value));
	value[LABELS_VALUE_MAX + 1] = '\0';
	assert_int_equal(labels_set(&l, "a", value), KM_ETOOBIG);
	assert_string_equal(labels_get(&l, "a"), "1");
	value[LABELS_VALUE_MAX] = '\0';
	/* Many replacements at full size: garbage is compacted, never
	 * growing past the arena cap. */
	for (i = 0; i < 1000; i++) {
		value[0] = (char)('a' + i % 26);
		assert_int_equal(labels_set(&l, "b", value), 0);
	}
	assert_int_equal(labels_get(&l, "b")[0], 'a' + 999 % 26);
	assert_true(l.arena.len <= l.arena.cap);
	labels_fini(&l);
}

static void test_hash_cmp_copy(void **state)
{
	struct labels a, b, c;

	(void)state;
	labels_init(&a, 0);
	labels_init(&b, 0);
	labels_init(&c, 0);
	labels_set(&a, "job", "x");
	labels_set(&a, "instance", "y");
	labels_set(&b, "instance", "y");
	labels_set(&b, "job", "x");
	assert_true(labels_equal(&a, &b));
	assert_int_equal(labels_cmp(&a, &b), 0);
	assert_true(labels_hash(&a) == labels_hash(&b));
	/* Separators keep {a="bc"} and {ab="c"} apart. */
	labels_set(&c, "a", "bc");
	labels_reset(&b);
	labels_set(&b, "ab", "c");
	assert_false(labels_equal(&b, &c));
	assert_true(labels_hash(&b) != labels_hash(&c));
	/* Prefix orders first. */
	labels_reset(&b);
	labels_set(&b, "instance", "y");
	assert_true(labels_cmp(&b, &a) < 0);
	assert_true(labels_cmp(&a, &b) > 0);
	assert_int_equal(labels_copy(&c, &a), 0);
	assert_true(labels_equal(&a, &c));
	labels_fini(&a);
	labels_fini(&b);
	labels_fini(&c);
}

static void test_render_escaping(void **state)
{
	struct labels l;
	struct label_pair arr[4];
	struct buf b;
	char out[256];

	(void)state;
	labels_init(&l, 0);
	render(&l, out, sizeof(out));
	assert_string_equal(out, "");
	labels_set(&l, "path", "C:\\dir \"q\"\nx");
	render(&l, out, sizeof(out));
	assert_string_equal(out, "{path=\"C:\\\\dir \\\"q\\\"\\nx\"}");
	buf_init(&b, 10);
	assert_int_equal(labels_render_series(&l, "m", &b), KM_ETOOBIG);
	assert_int_equal(b.len, 0);
	buf_fini(&b);
	buf_init(&b, 1024);
	assert_int_equal(labels_render_series(&l, "metric", &b), 0);
	assert_string_equal(buf_cstr(&b), "metric{path=\"C:\\\\dir \\\"q\\\"\\nx\"}");
	buf_fini(&b);
	assert_int_equal(labels_to_expo(&l, arr, 4), 1);
	assert_string_equal(arr[0].name, "path");
	labels_fini(&l);
}

static void test_validation(void **state)
{
	(void)state;
	assert_true(label_name_valid("a_1", 3));
	assert_true(label_name_valid("_x", 2));
	assert_false(label_name_valid("1a", 2));
	assert_false(label_name_valid("a:b", 3));
	assert_false(label_name_valid("", 0));
	assert_true(metric_name_valid("a:b_c", 5));
	assert_true(metric_name_valid(":x", 2));
	assert_false(metric_name_valid("a-b", 3));
	assert_true(utf8_valid("h\xc3\xa9", 3));
	assert_false(utf8_valid("\xc3", 1));
	assert_false(utf8_valid("\xc0\xaf", 2));         /* overlong */
	assert_false(utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
	assert_false(utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	assert_true(utf8_valid("\xf0\x9f\x98\x80", 4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sorted_set_get_del),
		cmocka_unit_test(test_iteration),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_hash_cmp_copy),
		cmocka_unit_test(test_render_escaping),
		cmocka_unit_test(test_validation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
