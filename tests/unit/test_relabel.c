/* Relabeling: every action with Prometheus' documented behaviour (cases from
 * prometheus/model/relabel/relabel_test.go where they exist), anchoring,
 * Go regexp.Expand rules ($1, ${1}, $name, $1x, $$), empty results,
 * invalid targets after expansion, and compile-time validation errors with
 * field paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "base/err.h"
#include "scrape/relabel.h"

/* "a=foo\nb=bar" -> set. */
static void load(struct labels *l, const char *spec)
{
	while (*spec) {
		const char *nl = strchr(spec, '\n');
		size_t len = nl ? (size_t)(nl - spec) : strlen(spec);
		const char *eq = memchr(spec, '=', len);

		assert_non_null(eq);
		assert_int_equal(labels_setn(l, spec, (size_t)(eq - spec), eq + 1,
					     len - (size_t)(eq - spec) - 1), 0);
		spec += len + (nl ? 1 : 0);
	}
}

/* Applies rules (JSON) to input; checks keep/drop and the rendered result. */
static void check(const char *rules, const char *input, int want_keep, const char *want)
{
	char err[512] = "";
	struct relabel_set *rs = relabel_compile_str(rules, strlen(rules), "spec.relabelings",
						     err, sizeof(err));
	struct labels l;
	struct buf b;
	int rc;

	if (!rs)
		fail_msg("compile failed: %s", err);
	labels_init(&l, 0);
	load(&l, input);
	rc = relabel_apply(rs, &l);
	assert_int_equal(rc, want_keep);
	if (want_keep == RELABEL_KEEP) {
		buf_init(&b, 1 << 16);
		assert_int_equal(labels_render(&l, &b), 0);
		if (strcmp(buf_cstr(&b), want) != 0)
			fail_msg("rules %s\n  got  %s\n  want %s", rules, buf_cstr(&b), want);
		buf_fini(&b);
	}
	labels_fini(&l);
	relabel_free(rs);
}

static void check_err(const char *rules, const char *want)
{
	char err[512] = "";
	struct relabel_set *rs = relabel_compile_str(rules, strlen(rules), "spec.relabelings",
						     err, sizeof(err));

	if (rs) {
		relabel_free(rs);
		fail_msg("compiled, want error %s: %s", want, rules);
	}
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("got error '%s', want prefix '%s'", err, want);
}

#define ABC "a=foo\nb=bar\nc=baz"

static void test_replace(void **state)
{
	(void)state;
	/* relabel_test.go: ${1} twice. */
	check("[{\"sourceLabels\":[\"a\"],\"regex\":\"f(.*)\",\"targetLabel\":\"d\","
	      "\"separator\":\";\",\"replacement\":\"ch${1}-ch${1}\",\"action\":\"replace\"}]",
	      ABC, RELABEL_KEEP, "{a=\"foo\",b=\"bar\",c=\"baz\",d=\"choo-choo\"}");
	/* Two sources joined with the separator. */
	check("[{\"sourceLabels\":[\"a\",\"b\"],\"regex\":\"f(.*);(.*)r\",\"targetLabel\":\"a\","
	      "\"replacement\":\"b${1}${2}m\"}]",
	      ABC, RELABEL_KEEP, "{a=\"boobam\",b=\"bar\",c=\"baz\"}");
	/* Defaults: regex (.*), replacement $1, action replace. */
	check("[{\"sourceLabels\":[\"c\",\"a\"],\"targetLabel\":\"d\"}]", ABC, RELABEL_KEEP,
	      "{a=\"foo\",b=\"bar\",c=\"baz\",d=\"baz;foo\"}");
	/* Custom separator; missing source label is "". */
	check("[{\"sourceLabels\":[\"a\",\"zz\",\"b\"],\"separator\":\"-\",\"targetLabel\":\"d\"}]",
	      ABC, RELABEL_KEEP, "{a=\"foo\",b=\"bar\",c=\"baz\",d=\"foo--bar\"}");
	/* Anchoring: "o" does not match "foo", so nothing happens. */
	check("[{\"sourceLabels\":[\"a\"],\"regex\":\"o\",\"targetLabel\":\"d\",\"replacement\":\"x\"}]",
	      ABC, RELABEL_KEEP, "{a=\"foo\",b=\"bar\",c=\"baz\"}");
	/* Anchoring applies to alternations as a whole. */
	check("[{\"sourceLabels\":[\"a\"],\"regex\":\"f|foo\",\"targetLabel\":\"d\",\"replacement\":\"x\"}]",
	      ABC, RELABEL_KEEP, "{a=\"foo\",b=\"bar\",c=\"baz\",d=\"x\"}");
	/* Empty result deletes the target. */
	check("[{\"sourceLabels\":[\"a\"],\"regex\":\"foo\",\"targetLabel\":\"b\",\"replacement\":\"\"}]",
	      ABC, RELABEL_KEEP, "{a=\"foo\",c=\"baz\"}");
	/* $1 of a regex without groups is empty -> delete. */
	check("[{\"sourceLabels\":[\"a\"],\"regex\":\"foo\",\"targetLabel\":\"c\"}]",
	      ABC, RELABEL_KEEP, "{a=\"foo\",b=\"bar\"}");
	/* Fast path: no source labels, static replacement. */
	check("[{\"targetLabel\":\"job\",\"replacement\":\"static\"}]", ABC, RELABEL_KEEP,
	      "{a=\"foo\",b=\"bar\",c=\"baz\",job=\"static\"}");
	/* Target label with a reference; invalid expansion is skipped. */
	check("[{\"sourceLabels\":[\"a\"],\"regex\":\"(f)(.*)\",\"targetLabel\":\"x_${2}\","
	      "\"replacement\":\"$1\"}]",
	      ABC, RELABEL_KEEP, "{a=\"foo\",b=\"bar\",c=\"baz\",x_oo=\"f\"}");
	check("[{\"sourceLabels\":[\"a\"],\"regex\":\"(.*)\",\"targetLabel\":\"$1\",\"replacement\":\"v\"}]",
	      "a=1abc", RELABEL_KEEP, "{a=\"1abc\"}");
	check("[{\"sourceLabels\":[\"a\"],\"regex\":\"(.*)\",\"targetLabel\":\"${1}\",\"replacement\":\"v\"}]",
	      "a=ok", RELABEL_KEEP, "{a=\"ok\",ok=\"v\"}");
	/* Setting a value containing newlines and quotes keeps it verbatim. */
	check("[{\"targetLabel\":\"q\",\"replacement\":\"a\\\"b\\nc\"}]", "", RELABEL_KEEP,
	      "{q=\"a\\\"b\\nc\"}");
}

static void test_expand_rules(void **state)
{
	(void)state;
	/* "$1x" names group "1x" (absent): empty -> target deleted. */
	check("[{\"sourceLabels\":[\"a\"],\"regex\":\"(f)oo\",\"targetLabel\":\"b\",\"replacement\":\"$1x\"}]",
	      ABC, RELABEL_KEEP, "{a=\"foo\",c=\"baz\"}");
	check("[{\"sourceLabels\":[\"a\"],\"regex\":\"(f)oo\",\"targetLabel\":\"b\",\"replacement\":\"${1}x\"}]",
	      ABC, RELABEL_KEEP, "{a=\"foo\",b=\"fx\",c=\"baz\"}");
	/* Named groups, $name and ${name}. */
	check("[{\"sourceLabels\":[\"a\"],\"regex\":\"(?P<first>f)(?<rest>.*)\",\"targetLabel\":\"b\","
	      "\"replacement\":\"$rest-${first}\"}]",
	      ABC, RELABEL_KEEP, "{a=\"foo\",b=\"oo-f\",c=\"baz\"}");
	/* $$ is a literal $, a malformed $ is literal, $0 is the whole match. */
	check("[{\"sourceLabels\":[\"a\"],\"regex\":\"(f)oo\",\"targetLabel\":\"b\","
	      "\"replacement\":\"$$1 $ ${ $0 ${1\"}]",
	      ABC, RELABEL_KEEP, "{a=\"foo\",b=\"$1 $ ${ foo ${1\",c=\"baz\"}");
	/* Out-of-range group, leading zero ("$01" is a name): empty. */
	check("[{\"sourceLabels\":[\"a\"],\"regex\":\"(f)oo\",\"targetLabel\":\"b\","
	      "\"replacement\":\"[$2][$01][${9}]\"}]",
	      ABC, RELABEL_KEEP, "{a=\"foo\",b=\"[][][]\",c=\"baz\"}");
	/* Unset optional group is empty. */
	check("[{\"sourceLabels\":[\"a\"],\"regex\":\"(x)?(foo)\",\"targetLabel\":\"b\","
	      "\"replacement\":\"<$1|$2>\"}]",
	      ABC, RELABEL_KEEP, "{a=\"foo\",b=\"<|foo>\",c=\"baz\"}");
}

static void test_keep_drop(void **state)
{
	(void)state;
	check("[{\"sourceLabels\":[\"a\"],\"regex\":\".*o.*\",\"action\":\"drop\"}]", ABC,
	      RELABEL_DROP, NULL);
	check("[{\"sourceLabels\":[\"a\"],\"regex\":\"f\",\"action\":\"drop\"}]", ABC,
	      RELABEL_KEEP, "{a=\"foo\",b=\"bar\",c=\"baz\"}");
	check("[{\"sourceLabels\":[\"a\"],\"regex\":\"no-match\",\"action\":\"keep\"}]", ABC,
	      RELABEL_DROP, NULL);
	check("[{\"sourceLabels\":[\"a\"],\"regex\":\"f.*\",\"action\":\"keep\"}]", ABC,
	      RELABEL_KEEP, "{a=\"foo\",b=\"bar\",c=\"baz\"}");
	/* keep on a missing label matches the empty string only. */
	check("[{\"sourceLabels\":[\"zz\"],\"regex\":\"\",\"action\":\"keep\"}]", ABC,
	      RELABEL_KEEP, "{a=\"foo\",b=\"bar\",c=\"baz\"}");
	check("[{\"sourceLabels\":[\"zz\"],\"regex\":\".+\",\"action\":\"keep\"}]", ABC,
	      RELABEL_DROP, NULL);
	/* Action names are case-insensitive (Prometheus lowercases them). */
	check("[{\"sourceLabels\":[\"a\"],\"regex\":\"foo\",\"action\":\"DROP\"}]", ABC,
	      RELABEL_DROP, NULL);
	/* Steps after a drop do not run; steps before do. */
	check("[{\"targetLabel\":\"x\",\"replacement\":\"1\"},"
	      "{\"sourceLabels\":[\"x\"],\"regex\":\"1\",\"action\":\"keep\"}]",
	      ABC, RELABEL_KEEP, "{a=\"foo\",b=\"bar\",c=\"baz\",x=\"1\"}");
}

static void test_equal(void **state)
{
	(void)state;
	check("[{\"sourceLabels\":[\"a\"],\"targetLabel\":\"b\",\"action\":\"keepequal\"}]",
	      "a=x\nb=x", RELABEL_KEEP, "{a=\"x\",b=\"x\"}");
	check("[{\"sourceLabels\":[\"a\"],\"targetLabel\":\"b\",\"action\":\"keepequal\"}]",
	      "a=x\nb=y", RELABEL_DROP, NULL);
	check("[{\"sourceLabels\":[\"a\"],\"targetLabel\":\"b\",\"action\":\"dropequal\"}]",
	      "a=x\nb=x", RELABEL_DROP, NULL);
	check("[{\"sourceLabels\":[\"a\"],\"targetLabel\":\"b\",\"action\":\"dropequal\"}]",
	      "a=x\nb=y", RELABEL_KEEP, "{a=\"x\",b=\"y\"}");
	/* Both absent: "" == "". */
	check("[{\"sourceLabels\":[\"m\"],\"targetLabel\":\"n\",\"action\":\"keepequal\"}]",
	      "a=x", RELABEL_KEEP, "{a=\"x\"}");
	/* Equal means the whole value: a prefix either way is not equal
	 * (Prometheus compares the strings with ==). */
	check("[{\"sourceLabels\":[\"a\"],\"targetLabel\":\"b\",\"action\":\"keepequal\"}]",
	      "a=ab\nb=abc", RELABEL_DROP, NULL);
	check("[{\"sourceLabels\":[\"a\"],\"targetLabel\":\"b\",\"action\":\"keepequal\"}]",
	      "a=abc\nb=ab", RELABEL_DROP, NULL);
	check("[{\"sourceLabels\":[\"a\"],\"targetLabel\":\"b\",\"action\":\"dropequal\"}]",
	      "a=ab\nb=abc", RELABEL_KEEP, "{a=\"ab\",b=\"abc\"}");
	check("[{\"sourceLabels\":[\"a\"],\"targetLabel\":\"b\",\"action\":\"dropequal\"}]",
	      "a=abc\nb=ab", RELABEL_KEEP, "{a=\"abc\",b=\"ab\"}");
	/* An empty source equals only an absent or empty target. */
	check("[{\"sourceLabels\":[\"m\"],\"targetLabel\":\"b\",\"action\":\"keepequal\"}]",
	      "b=x", RELABEL_DROP, NULL);
	/* Joined sources. */
	check("[{\"sourceLabels\":[\"a\",\"b\"],\"targetLabel\":\"c\",\"action\":\"keepequal\"}]",
	      "a=x\nb=y\nc=x;y", RELABEL_KEEP, "{a=\"x\",b=\"y\",c=\"x;y\"}");
}

static void test_hashmod(void **state)
{
	(void)state;
	/* relabel_test.go: md5("baz") last 8 bytes big-endian % 1000 = 976. */
	check("[{\"sourceLabels\":[\"c\"],\"targetLabel\":\"d\",\"separator\":\";\","
	      "\"action\":\"hashmod\",\"modulus\":1000}]",
	      ABC, RELABEL_KEEP, "{a=\"foo\",b=\"bar\",c=\"baz\",d=\"976\"}");
	check("[{\"sourceLabels\":[\"a\"],\"targetLabel\":\"d\",\"action\":\"hashmod\",\"modulus\":7}]",
	      ABC, RELABEL_KEEP, "{a=\"foo\",b=\"bar\",c=\"baz\",d=\"2\"}");
	/* Sharding idiom: hashmod then keep. */
	check("[{\"sourceLabels\":[\"a\"],\"targetLabel\":\"__tmp_hash\",\"action\":\"hashmod\","
	      "\"modulus\":1000},{\"sourceLabels\":[\"__tmp_hash\"],\"regex\":\"696\",\"action\":\"keep\"},"
	      "{\"regex\":\"__tmp_.*\",\"action\":\"labeldrop\"}]",
	      ABC, RELABEL_KEEP, "{a=\"foo\",b=\"bar\",c=\"baz\"}");
}

static void test_labelmap(void **state)
{
	(void)state;
	check("[{\"regex\":\"__meta_kubernetes_pod_label_(.+)\",\"action\":\"labelmap\"}]",
	      "__meta_kubernetes_pod_label_app=web\n__meta_kubernetes_pod_label_tier=fe\nx=1",
	      RELABEL_KEEP,
	      "{__meta_kubernetes_pod_label_app=\"web\",__meta_kubernetes_pod_label_tier=\"fe\","
	      "app=\"web\",tier=\"fe\",x=\"1\"}");
	/* relabel_test.go: labelmap with a replacement template. */
	check("[{\"regex\":\"(b.*)\",\"replacement\":\"${1}_renamed\",\"action\":\"labelmap\"}]",
	      ABC, RELABEL_KEEP,
	      "{a=\"foo\",b=\"bar\",b_renamed=\"bar\",c=\"baz\"}");
	/* Snapshot: the copy "b_x" is not mapped again to "b_x_x". */
	check("[{\"regex\":\"(.*)\",\"replacement\":\"${1}_x\",\"action\":\"labelmap\"}]",
	      "b=1", RELABEL_KEEP, "{b=\"1\",b_x=\"1\"}");
	/* Mapping onto an existing label overwrites it. */
	check("[{\"regex\":\"a\",\"replacement\":\"b\",\"action\":\"labelmap\"}]", ABC, RELABEL_KEEP,
	      "{a=\"foo\",b=\"foo\",c=\"baz\"}");
}

static void test_labeldrop_keep_case(void **state)
{
	(void)state;
	check("[{\"regex\":\"a|b\",\"action\":\"labeldrop\"}]", ABC, RELABEL_KEEP, "{c=\"baz\"}");
	/* Anchored: "a" does not drop "ab". */
	check("[{\"regex\":\"a\",\"action\":\"labeldrop\"}]", "a=1\nab=2", RELABEL_KEEP, "{ab=\"2\"}");
	check("[{\"regex\":\"a|b\",\"action\":\"labelkeep\"}]", ABC, RELABEL_KEEP,
	      "{a=\"foo\",b=\"bar\"}");
	check("[{\"regex\":\"zzz\",\"action\":\"labelkeep\"}]", ABC, RELABEL_KEEP, "");
	check("[{\"sourceLabels\":[\"a\"],\"targetLabel\":\"u\",\"action\":\"uppercase\"}]",
	      "a=AbCd-\xc3\xa9", RELABEL_KEEP, "{a=\"AbCd-\xc3\xa9\",u=\"ABCD-\xc3\x89\"}");
	check("[{\"sourceLabels\":[\"a\",\"b\"],\"targetLabel\":\"l\",\"action\":\"lowercase\"}]",
	      "a=AbCd\nb=\xc3\x80X", RELABEL_KEEP,
	      "{a=\"AbCd\",b=\"\xc3\x80X\",l=\"abcd;\xc3\xa0x\"}");
	/* Lowercase of nothing deletes the target. */
	check("[{\"sourceLabels\":[\"zz\"],\"targetLabel\":\"a\",\"action\":\"lowercase\"}]",
	      "a=X", RELABEL_KEEP, "");
}

static void test_empty_and_null(void **state)
{
	char err[256];
	struct relabel_set *rs = relabel_compile(NULL, "spec.relabelings", err, sizeof(err));
	struct labels l;

	(void)state;
	assert_non_null(rs);
	assert_int_equal(relabel_count(rs), 0);
	labels_init(&l, 0);
	assert_int_equal(relabel_apply(rs, &l), RELABEL_KEEP);
	assert_int_equal(relabel_apply(NULL, &l), RELABEL_KEEP);
	relabel_free(rs);
	rs = relabel_compile_str("[{\"action\":\"labeldrop\",\"regex\":\"x\"}]",
				 strlen("[{\"action\":\"labeldrop\",\"regex\":\"x\"}]"), "p", err,
				 sizeof(err));
	assert_non_null(rs);
	assert_int_equal(relabel_count(rs), 1);
	assert_int_equal(relabel_action_of(rs, 0), RELABEL_LABELDROP);
	assert_string_equal(relabel_action_name(RELABEL_HASHMOD), "hashmod");
	relabel_free(rs);
	labels_fini(&l);
}

static void test_caps_at_apply(void **state)
{
	char err[256];
	const char *r = "[{\"targetLabel\":\"new\",\"replacement\":\"v\"}]";
	struct relabel_set *rs = relabel_compile_str(r, strlen(r), "p", err, sizeof(err));
	struct labels l;

	(void)state;
	assert_non_null(rs);
	labels_init(&l, 1);
	labels_set(&l, "a", "1");
	/* A set at its cap cannot take a new label: an error, not a crash. */
	assert_int_equal(relabel_apply(rs, &l), KM_ETOOBIG);
	labels_fini(&l);
	relabel_free(rs);
}

static void test_validation(void **state)
{
	(void)state;
	check_err("[{\"action\":\"hashmod\",\"sourceLabels\":[\"a\"],\"targetLabel\":\"h\"}]",
		  "spec.relabelings[0].modulus: required for hashmod");
	check_err("[{\"action\":\"keep\"},{\"action\":\"drop\"},{\"regex\":\"(\"}]",
		  "spec.relabelings[2].regex: invalid regex (");
	/* RE2 syntax, as the CRD documents: what RE2 lacks is named. */
	check_err("[{\"sourceLabels\":[\"a\"],\"regex\":\"foo(?=bar)\",\"action\":\"keep\"}]",
		  "spec.relabelings[0].regex: invalid regex foo(?=bar): a lookahead (?=...) is not supported (RE2 syntax) at offset 3");
	check_err("[{\"sourceLabels\":[\"a\"],\"regex\":\"(a)\\\\1\",\"action\":\"keep\"}]",
		  "spec.relabelings[0].regex: invalid regex (a)\\1: a backreference (\\1 .. \\9) is not supported (RE2 syntax) at offset 3");
	check_err("[{\"action\":\"frobnicate\"}]",
		  "spec.relabelings[0].action: unknown relabel action \"frobnicate\"");
	check_err("[{\"sourceLabels\":[\"a\"]}]",
		  "spec.relabelings[0].targetLabel: required for action replace");
	check_err("[{\"action\":\"lowercase\",\"sourceLabels\":[\"a\"]}]",
		  "spec.relabelings[0].targetLabel: required for action lowercase");
	check_err("[{\"targetLabel\":\"1bad\"}]",
		  "spec.relabelings[0].targetLabel: \"1bad\" is invalid for action replace");
	check_err("[{\"targetLabel\":\"x-${1}\"}]",
		  "spec.relabelings[0].targetLabel: \"x-${1}\" is invalid for action replace");
	check_err("[{\"action\":\"hashmod\",\"modulus\":3,\"targetLabel\":\"$1\"}]",
		  "spec.relabelings[0].targetLabel: \"$1\" is invalid for action hashmod");
	check_err("[{\"action\":\"uppercase\",\"targetLabel\":\"u\",\"replacement\":\"x\"}]",
		  "spec.relabelings[0].replacement: cannot be set for action uppercase");
	check_err("[{\"action\":\"labelmap\",\"regex\":\"(.*)\",\"replacement\":\"a-$1\"}]",
		  "spec.relabelings[0].replacement: \"a-$1\" is invalid for action labelmap");
	check_err("[{\"action\":\"keepequal\",\"targetLabel\":\"t\",\"regex\":\"x\"}]",
		  "spec.relabelings[0].regex: not allowed for action keepequal");
	check_err("[{\"action\":\"dropequal\",\"targetLabel\":\"t\",\"separator\":\",\"}]",
		  "spec.relabelings[0].separator: not allowed for action dropequal");
	check_err("[{\"action\":\"labeldrop\",\"sourceLabels\":[\"a\"]}]",
		  "spec.relabelings[0].sourceLabels: not allowed for action labeldrop");
	check_err("[{\"action\":\"labelkeep\",\"targetLabel\":\"a\"}]",
		  "spec.relabelings[0].targetLabel: not allowed for action labelkeep");
	check_err("[{\"sourceLabels\":[\"ok\",\"not-ok\"],\"targetLabel\":\"t\"}]",
		  "spec.relabelings[0].sourceLabels[1]: invalid label name \"not-ok\"");
	check_err("[{\"sourceLabels\":\"a\",\"targetLabel\":\"t\"}]",
		  "spec.relabelings[0].sourceLabels: must be an array");
	check_err("[{\"action\":\"hashmod\",\"targetLabel\":\"t\",\"modulus\":-1}]",
		  "spec.relabelings[0].modulus: must be a positive integer");
	check_err("[{\"action\":\"hashmod\",\"targetLabel\":\"t\",\"modulus\":1.5}]",
		  "spec.relabelings[0].modulus: must be a positive integer");
	check_err("[{\"targetLabel\":\"t\",\"sourcelabels\":[\"a\"]}]",
		  "spec.relabelings[0].sourcelabels: unknown field");
	check_err("[{\"targetLabel\":5}]", "spec.relabelings[0].targetLabel: must be a string");
	check_err("[1]", "spec.relabelings[0]: must be an object");
	check_err("{}", "spec.relabelings: must be an array");
	check_err("[", "spec.relabelings: invalid JSON");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_expand_rules),
		cmocka_unit_test(test_keep_drop),
		cmocka_unit_test(test_equal),
		cmocka_unit_test(test_hashmod),
		cmocka_unit_test(test_labelmap),
		cmocka_unit_test(test_labeldrop_keep_case),
		cmocka_unit_test(test_empty_and_null),
		cmocka_unit_test(test_caps_at_apply),
		cmocka_unit_test(test_validation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
