/* Prometheus relabeling. Everything that can be decided from the
 * configuration (regexes, template parsing, group-name lookup, validation) is
 * done in relabel_compile(), so relabel_apply() only matches and copies. */
#include "scrape/relabel.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wctype.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/rx.h"
#include "base/utf8.h"
#include "base/vec.h"

/* Longest joined source value relabel_apply() builds: every source label at
 * its full size plus separators. */
#define JOIN_CAP ((size_t)RELABEL_MAX_SOURCE_LABELS * (LABELS_VALUE_MAX + 64 + 1))
/* Longest expansion of a template; past this the step fails with
 * KM_ETOOBIG (the result could not be stored in a label anyway). */
#define EXPAND_CAP ((size_t)LABELS_VALUE_MAX)
#define OVEC_STACK 64

/* One piece of an expansion template: a literal run, or a capture group
 * (group < 0: a name that matches no group, which expands to ""). */
struct tpart {
	const char *lit; /* borrowed from the owning rule's string */
	size_t lit_len;
	bool is_group;
	int group;
};

struct tmpl {
	struct tpart *parts; /* owned */
	size_t n;
	bool has_var;        /* the text contains "$" (Prometheus' varInRegexTemplate) */
};

struct rule {
	enum relabel_action action;
	char **src;          /* owned names */
	size_t nsrc;
	char *sep;           /* owned */
	size_t sep_len;
	struct rx *re;       /* owned, anchored */
	bool default_regex;  /* regex not given: Prometheus' fast path applies */
	char *target;        /* owned, "" when absent */
	struct tmpl target_t;
	char *repl;          /* owned */
	struct tmpl repl_t;
	uint64_t modulus;
	size_t nov;          /* ovector entries for this regex */
};

struct relabel_set {
	struct rule *rules; /* owned */
	size_t n;
	locale_t loc;       /* C.UTF-8 for case mapping; (locale_t)0 = ASCII only */
};

static const char *const action_names[] = {
	[RELABEL_REPLACE] = "replace",
	[RELABEL_KEEP_ACTION] = "keep",
	[RELABEL_DROP_ACTION] = "drop",
	[RELABEL_KEEPEQUAL] = "keepequal",
	[RELABEL_DROPEQUAL] = "dropequal",
	[RELABEL_LABELMAP] = "labelmap",
	[RELABEL_LABELDROP] = "labeldrop",
	[RELABEL_LABELKEEP] = "labelkeep",
	[RELABEL_HASHMOD] = "hashmod",
	[RELABEL_LOWERCASE] = "lowercase",
	[RELABEL_UPPERCASE] = "uppercase",
};
#define NACTIONS (sizeof(action_names) / sizeof(action_names[0]))

const char *relabel_action_name(enum relabel_action a)
{
	if ((unsigned)a >= NACTIONS)
		return "unknown";
	return action_names[a];
}

size_t relabel_count(const struct relabel_set *rs)
{
	return rs ? rs->n : 0;
}

enum relabel_action relabel_action_of(const struct relabel_set *rs, size_t i)
{
	return rs->rules[i].action;
}

static void rule_fini(struct rule *r)
{
	size_t i;

	for (i = 0; i < r->nsrc; i++)
		free(r->src[i]);
	free(r->src);
	free(r->sep);
	rx_free(r->re);
	free(r->target);
	free(r->target_t.parts);
	free(r->repl);
	free(r->repl_t.parts);
}

void relabel_free(struct relabel_set *rs)
{
	size_t i;

	if (!rs)
		return;
	for (i = 0; i < rs->n; i++)
		rule_fini(&rs->rules[i]);
	free(rs->rules);
	if (rs->loc)
		freelocale(rs->loc);
	free(rs);
}

/* ---- templates (Go regexp.Expand) ---- */

/* Length of the run of letters, digits and '_' at s (Go's extract() uses
 * unicode.IsLetter/IsDigit; beyond ASCII the C.UTF-8 classes stand in). */
static size_t name_run(const char *s, size_t n, locale_t loc)
{
	size_t i = 0;

	while (i < n) {
		uint32_t cp;
		size_t len = utf8_decode((const unsigned char *)s + i, n - i, &cp);

		if (len == 0)
			break;
		if (cp < 0x80) {
			if (!((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
			      (cp >= '0' && cp <= '9') || cp == '_'))
				break;
		} else if (!loc || !iswalpha_l((wint_t)cp, loc)) {
			break;
		}
		i += len;
	}
	return i;
}

static int tmpl_push(struct tmpl *t, size_t *alloc, struct tpart part)
{
	/* Bounded by the template: at most one part per byte. */
	int rc = VEC_RESERVE(t->parts, *alloc, t->n + 1, 4, VEC_UNBOUNDED);

	if (rc)
		return rc;
	t->parts[t->n++] = part;
	return 0;
}

/* Splits s (owned by the rule, outliving the template) the way Go's
 * Regexp.expand walks it, resolving group names against re. */
static int tmpl_compile(struct tmpl *t, const char *s, const struct rx *re, locale_t loc)
{
	size_t n = strlen(s), alloc = 0;
	unsigned ngroups = re ? rx_groups(re) : 0;
	int rc;

	memset(t, 0, sizeof(*t));
	t->has_var = memchr(s, '$', n) != NULL;
	while (n > 0) {
		const char *d = memchr(s, '$', n);
		struct tpart part = { 0 };
		size_t pre, i, nl;
		bool brace;
		long num;

		if (!d) {
			part.lit = s;
			part.lit_len = n;
			return tmpl_push(t, &alloc, part);
		}
		pre = (size_t)(d - s);
		if (pre) {
			part.lit = s;
			part.lit_len = pre;
			rc = tmpl_push(t, &alloc, part);
			if (rc)
				return rc;
		}
		s = d + 1;
		n -= pre + 1;
		if (n && s[0] == '$') {
			/* "$$" is a literal "$". */
			part.lit = s;
			part.lit_len = 1;
			rc = tmpl_push(t, &alloc, part);
			if (rc)
				return rc;
			s++;
			n--;
			continue;
		}
		brace = n && s[0] == '{';
		i = brace ? 1 : 0;
		nl = name_run(s + i, n - i, loc);
		if (nl == 0 || (brace && (i + nl >= n || s[i + nl] != '}'))) {
			/* Malformed: the "$" is literal text. */
			part.lit = d;
			part.lit_len = 1;
			rc = tmpl_push(t, &alloc, part);
			if (rc)
				return rc;
			continue;
		}
		num = 0;
		for (size_t k = 0; k < nl; k++) {
			if (s[i + k] < '0' || s[i + k] > '9' || num >= 100000000L) {
				num = -1;
				break;
			}
			num = num * 10 + (s[i + k] - '0');
		}
		if (nl > 1 && s[i] == '0')
			num = -1;
		part.is_group = true;
		if (num >= 0)
			part.group = num <= (long)ngroups ? (int)num : -1;
		else
			part.group = re ? rx_group_number(re, s + i, nl) : -1;
		rc = tmpl_push(t, &alloc, part);
		if (rc)
			return rc;
		s += i + nl + (brace ? 1 : 0);
		n -= i + nl + (brace ? 1 : 0);
	}
	return 0;
}

static int tmpl_expand(const struct tmpl *t, const char *src, const long *ov, size_t nov,
		       struct buf *out)
{
	size_t i;
	int rc = 0;

	buf_reset(out);
	for (i = 0; i < t->n && !rc; i++) {
		const struct tpart *p = &t->parts[i];

		if (!p->is_group) {
			rc = buf_add(out, p->lit, p->lit_len);
			continue;
		}
		if (p->group < 0 || (size_t)p->group * 2 + 1 >= nov || ov[2 * p->group] < 0)
			continue;
		rc = buf_add(out, src + ov[2 * p->group],
			     (size_t)(ov[2 * p->group + 1] - ov[2 * p->group]));
	}
	return rc;
}

/* ---- validation helpers ---- */

/* Prometheus' relabelTarget: ^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$,
 * i.e. letters, "_", digits (not first) and $name / ${name} references. */
static bool target_template_valid(const char *s)
{
	size_t i = 0, n = strlen(s);

#define WORD(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || \
		 ((c) >= '0' && (c) <= '9') || (c) == '_')
	if (n == 0)
		return false;
	while (i < n) {
		char c = s[i];

		if (c == '$') {
			size_t j = i + 1;

			if (j < n && s[j] == '{') {
				size_t k = j + 1;

				while (k < n && WORD(s[k]))
					k++;
				if (k == j + 1 || k >= n || s[k] != '}')
					return false;
				i = k + 1;
			} else {
				size_t k = j;

				while (k < n && WORD(s[k]))
					k++;
				if (k == j)
					return false;
				i = k;
			}
		} else if (c >= '0' && c <= '9') {
			if (i == 0)
				return false;
			i++;
		} else if (WORD(c)) {
			i++;
		} else {
			return false;
		}
	}
	return true;
#undef WORD
}

static bool lname_valid(const char *s)
{
	return label_name_valid(s, strlen(s));
}

/* ---- compile ---- */

struct fields {
	const json_t *src, *sep, *target, *regex, *modulus, *repl, *action;
};

static int get_string(const json_t *v, const char *path, size_t i, const char *field,
		      const char **out, char *err, size_t errlen)
{
	if (!json_is_string(v)) {
		snprintf(err, errlen, "%s[%zu].%s: must be a string", path, i, field);
		return KM_EINVAL;
	}
	*out = json_string_value(v);
	return 0;
}

static int compile_rule(struct relabel_set *rs, struct rule *r, const json_t *obj,
			const char *path, size_t idx, char *err, size_t errlen)
{
	struct fields f = { 0 };
	const char *key;
	const char *act = "replace", *an;
	const char *regex = "(.*)";
	const char *repl_s = "$1", *target_s = "", *sep_s = ";";
	json_t *v;
	size_t a, j;
	char rxerr[512];
	int rc;

	if (!json_is_object(obj)) {
		snprintf(err, errlen, "%s[%zu]: must be an object", path, idx);
		return KM_EINVAL;
	}
	json_object_foreach((json_t *)obj, key, v) {
		if (strcmp(key, "sourceLabels") == 0)
			f.src = v;
		else if (strcmp(key, "separator") == 0)
			f.sep = v;
		else if (strcmp(key, "targetLabel") == 0)
			f.target = v;
		else if (strcmp(key, "regex") == 0)
			f.regex = v;
		else if (strcmp(key, "modulus") == 0)
			f.modulus = v;
		else if (strcmp(key, "replacement") == 0)
			f.repl = v;
		else if (strcmp(key, "action") == 0)
			f.action = v;
		else {
			snprintf(err, errlen, "%s[%zu].%s: unknown field", path, idx, key);
			return KM_EINVAL;
		}
	}
	/* JSON null counts as absent, as the API server treats it. */
	if (f.action && !json_is_null(f.action)) {
		rc = get_string(f.action, path, idx, "action", &act, err, errlen);
		if (rc)
			return rc;
	}
	for (a = 0; a < NACTIONS; a++)
		if (strcasecmp(act, action_names[a]) == 0)
			break;
	if (a == NACTIONS) {
		snprintf(err, errlen, "%s[%zu].action: unknown relabel action \"%s\"", path, idx, act);
		return KM_EINVAL;
	}
	r->action = (enum relabel_action)a;
	an = action_names[a];
#define ABSENT(x) (!(x) || json_is_null(x))
	if (!ABSENT(f.sep) && (rc = get_string(f.sep, path, idx, "separator", &sep_s, err, errlen)))
		return rc;
	if (!ABSENT(f.target) &&
	    (rc = get_string(f.target, path, idx, "targetLabel", &target_s, err, errlen)))
		return rc;
	if (!ABSENT(f.repl) &&
	    (rc = get_string(f.repl, path, idx, "replacement", &repl_s, err, errlen)))
		return rc;
	if (!ABSENT(f.regex) && (rc = get_string(f.regex, path, idx, "regex", &regex, err, errlen)))
		return rc;
	if (!ABSENT(f.modulus)) {
		json_int_t m;

		if (!json_is_integer(f.modulus) || (m = json_integer_value(f.modulus)) < 1) {
			snprintf(err, errlen, "%s[%zu].modulus: must be a positive integer", path, idx);
			return KM_EINVAL;
		}
		r->modulus = (uint64_t)m;
	}
	if (!ABSENT(f.src)) {
		if (!json_is_array(f.src)) {
			snprintf(err, errlen, "%s[%zu].sourceLabels: must be an array", path, idx);
			return KM_EINVAL;
		}
		if (json_array_size(f.src) > RELABEL_MAX_SOURCE_LABELS) {
			snprintf(err, errlen, "%s[%zu].sourceLabels: at most %d labels", path, idx,
				 RELABEL_MAX_SOURCE_LABELS);
			return KM_EINVAL;
		}
		r->src = calloc(json_array_size(f.src) + 1, sizeof(*r->src));
		if (!r->src)
			goto nomem;
		json_array_foreach(f.src, j, v) {
			if (!json_is_string(v) || !lname_valid(json_string_value(v))) {
				snprintf(err, errlen, "%s[%zu].sourceLabels[%zu]: invalid label name%s%s%s",
					 path, idx, j, json_is_string(v) ? " \"" : "",
					 json_is_string(v) ? json_string_value(v) : "",
					 json_is_string(v) ? "\"" : "");
				return KM_EINVAL;
			}
			r->src[j] = strdup(json_string_value(v));
			if (!r->src[j])
				goto nomem;
			r->nsrc = j + 1;
		}
	}

	/* The regex is compiled while decoding, before Validate, as in
	 * Prometheus. */
	r->default_regex = f.regex == NULL || json_is_null(f.regex);
	r->re = rx_new(regex, rxerr, sizeof(rxerr));
	if (!r->re) {
		snprintf(err, errlen, "%s[%zu].regex: %s", path, idx, rxerr);
		return KM_EINVAL;
	}

	/* Prometheus' Config.Validate, in its order. */
	if (r->action == RELABEL_HASHMOD && r->modulus == 0) {
		snprintf(err, errlen, "%s[%zu].modulus: required for hashmod", path, idx);
		return KM_EINVAL;
	}
	if ((r->action == RELABEL_REPLACE || r->action == RELABEL_HASHMOD ||
	     r->action == RELABEL_LOWERCASE || r->action == RELABEL_UPPERCASE ||
	     r->action == RELABEL_KEEPEQUAL || r->action == RELABEL_DROPEQUAL) &&
	    target_s[0] == '\0') {
		snprintf(err, errlen, "%s[%zu].targetLabel: required for action %s", path, idx, an);
		return KM_EINVAL;
	}
	if (r->action == RELABEL_REPLACE &&
	    (strchr(target_s, '$') ? !target_template_valid(target_s) : !lname_valid(target_s))) {
		snprintf(err, errlen, "%s[%zu].targetLabel: \"%s\" is invalid for action %s", path,
			 idx, target_s, an);
		return KM_EINVAL;
	}
	if ((r->action == RELABEL_LOWERCASE || r->action == RELABEL_UPPERCASE ||
	     r->action == RELABEL_KEEPEQUAL || r->action == RELABEL_DROPEQUAL ||
	     r->action == RELABEL_HASHMOD) && !lname_valid(target_s)) {
		snprintf(err, errlen, "%s[%zu].targetLabel: \"%s\" is invalid for action %s", path,
			 idx, target_s, an);
		return KM_EINVAL;
	}
	if ((r->action == RELABEL_LOWERCASE || r->action == RELABEL_UPPERCASE ||
	     r->action == RELABEL_KEEPEQUAL || r->action == RELABEL_DROPEQUAL) &&
	    strcmp(repl_s, "$1") != 0) {
		snprintf(err, errlen, "%s[%zu].replacement: cannot be set for action %s", path, idx, an);
		return KM_EINVAL;
	}
	if (r->action == RELABEL_LABELMAP && !target_template_valid(repl_s)) {
		snprintf(err, errlen, "%s[%zu].replacement: \"%s\" is invalid for action %s", path,
			 idx, repl_s, an);
		return KM_EINVAL;
	}
	if (r->action == RELABEL_KEEPEQUAL || r->action == RELABEL_DROPEQUAL) {
		const char *bad = !ABSENT(f.regex) ? "regex" : r->modulus ? "modulus" :
				  strcmp(sep_s, ";") ? "separator" : NULL;

		if (bad) {
			snprintf(err, errlen,
				 "%s[%zu].%s: not allowed for action %s (only sourceLabels and targetLabel)",
				 path, idx, bad, an);
			return KM_EINVAL;
		}
	}
	if (r->action == RELABEL_LABELDROP || r->action == RELABEL_LABELKEEP) {
		const char *bad = !ABSENT(f.src) ? "sourceLabels" : target_s[0] ? "targetLabel" :
				  r->modulus ? "modulus" : strcmp(sep_s, ";") ? "separator" :
				  strcmp(repl_s, "$1") ? "replacement" : NULL;

		if (bad) {
			snprintf(err, errlen, "%s[%zu].%s: not allowed for action %s (only regex)",
				 path, idx, bad, an);
			return KM_EINVAL;
		}
	}
#undef ABSENT

	r->nov = 2 * ((size_t)rx_groups(r->re) + 1);
	r->sep = strdup(sep_s);
	r->target = strdup(target_s);
	r->repl = strdup(repl_s);
	if (!r->sep || !r->target || !r->repl)
		goto nomem;
	r->sep_len = strlen(r->sep);
	rc = tmpl_compile(&r->target_t, r->target, r->re, rs->loc);
	if (!rc)
		rc = tmpl_compile(&r->repl_t, r->repl, r->re, rs->loc);
	if (rc)
		goto nomem;
	return 0;
nomem:
	snprintf(err, errlen, "%s[%zu]: out of memory", path, idx);
	return KM_ENOMEM;
}

struct relabel_set *relabel_compile(const json_t *rules, const char *path,
				    char *err, size_t errlen)
{
	struct relabel_set *rs = NULL;
	size_t i, n;

	if (!path)
		path = "relabelings";
	if (rules && !json_is_null(rules) && !json_is_array(rules)) {
		snprintf(err, errlen, "%s: must be an array", path);
		return NULL;
	}
	n = rules && json_is_array(rules) ? json_array_size(rules) : 0;
	if (n > RELABEL_MAX_RULES) {
		snprintf(err, errlen, "%s: at most %d rules", path, RELABEL_MAX_RULES);
		return NULL;
	}
	rs = calloc(1, sizeof(*rs));
	if (!rs || (n && !(rs->rules = calloc(n, sizeof(*rs->rules))))) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	/* Case mapping and template names need Unicode classes; a missing
	 * C.UTF-8 locale degrades to ASCII rather than failing. */
	rs->loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	for (i = 0; i < n; i++) {
		rs->n = i + 1;
		if (compile_rule(rs, &rs->rules[i], json_array_get(rules, i), path, i, err, errlen))
			goto fail;
	}
	return rs;
fail:
	relabel_free(rs);
	return NULL;
}

struct relabel_set *relabel_compile_str(const char *json, size_t len, const char *path,
					char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(json, len, JSON_DECODE_ANY, &jerr);
	struct relabel_set *rs;

	if (!root) {
		snprintf(err, errlen, "%s: invalid JSON: %s", path ? path : "relabelings", jerr.text);
		return NULL;
	}
	rs = relabel_compile(root, path, err, errlen);
	json_decref(root);
	return rs;
}

/* ---- apply ---- */

static int case_map(const struct relabel_set *rs, const char *s, size_t n, bool upper,
		    struct buf *out)
{
	size_t i = 0;
	int rc = 0;

	buf_reset(out);
	while (i < n && !rc) {
		unsigned char c = (unsigned char)s[i];
		char enc[4];
		uint32_t cp;
		size_t len;

		if (c < 0x80 || !rs->loc) {
			if (upper && c >= 'a' && c <= 'z')
				c = (unsigned char)(c - 32);
			else if (!upper && c >= 'A' && c <= 'Z')
				c = (unsigned char)(c + 32);
			rc = buf_addc(out, (char)c);
			i++;
			continue;
		}
		len = utf8_decode((const unsigned char *)s + i, n - i, &cp);
		if (len == 0) {
			/* Go's strings.Map writes U+FFFD for an invalid byte. */
			rc = buf_add(out, UTF8_REPLACEMENT, 3);
			i++;
			continue;
		}
		cp = upper ? (uint32_t)towupper_l((wint_t)cp, rs->loc)
			   : (uint32_t)towlower_l((wint_t)cp, rs->loc);
		rc = buf_add(out, enc, utf8_put(cp, enc));
		i += len;
	}
	return rc;
}

static uint64_t hashmod(const char *s, size_t n, uint64_t modulus)
{
	unsigned char md[16];
	uint64_t v = 0;
	int i;

	/* GnuTLS is mapped by libmicrohttpd anyway; OpenSSL would be mapped
	 * only for this digest (dl/curl.h). */
	if (gnutls_hash_get_len(GNUTLS_DIG_MD5) != sizeof(md) || gnutls_hash_fast(GNUTLS_DIG_MD5, s, n, md) < 0)
		return 0;
	/* The last 8 bytes, big-endian, as Prometheus (for stable sharding). */
	for (i = 8; i < 16; i++)
		v = (v << 8) | md[i];
	return v % modulus;
}

/* A buffer-full during expansion means the result exceeds any label. */
static int cap_rc(int rc)
{
	return rc == KM_ETOOBIG || rc == KM_ENOMEM ? rc : KM_EINVAL;
}

static int apply_rule(const struct relabel_set *rs, const struct rule *r, struct labels *l,
		      struct buf *val, struct buf *t1, struct buf *t2)
{
	long ovs[OVEC_STACK];
	long *ov = ovs;
	struct labels snap;
	size_t i;
	int rc = 0, keep = RELABEL_KEEP;

	labels_init(&snap, l->max);
	if (r->nov > OVEC_STACK) {
		ov = malloc(r->nov * sizeof(*ov));
		if (!ov)
			return KM_ENOMEM;
	}
	buf_reset(val);
	for (i = 0; i < r->nsrc && !rc; i++) {
		const char *v = labels_get(l, r->src[i]);

		if (i)
			rc = buf_add(val, r->sep, r->sep_len);
		if (!rc && v)
			rc = buf_adds(val, v);
	}
	if (rc)
		goto out;

	switch (r->action) {
	case RELABEL_DROP_ACTION:
		if (rx_match(r->re, val->data ? val->data : "", val->len))
			keep = RELABEL_DROP;
		break;
	case RELABEL_KEEP_ACTION:
		if (!rx_match(r->re, val->data ? val->data : "", val->len))
			keep = RELABEL_DROP;
		break;
	case RELABEL_DROPEQUAL:
	case RELABEL_KEEPEQUAL: {
		size_t tl = 0;
		const char *tv = labels_getn(l, r->target, strlen(r->target), &tl);
		bool eq = tv ? tl == val->len && memcmp(tv, buf_cstr(val), tl) == 0 : val->len == 0;

		if (eq == (r->action == RELABEL_DROPEQUAL))
			keep = RELABEL_DROP;
		break;
	}
	case RELABEL_REPLACE:
		if (val->len == 0 && r->default_regex && !r->target_t.has_var && !r->repl_t.has_var) {
			rc = labels_set(l, r->target, r->repl);
			break;
		}
		if (!rx_match_groups(r->re, buf_cstr(val), val->len, ov, r->nov))
			break;
		rc = tmpl_expand(&r->target_t, buf_cstr(val), ov, r->nov, t1);
		if (rc) {
			/* A target that long cannot be a label name: skipped. */
			rc = 0;
			break;
		}
		if (!label_name_valid(buf_cstr(t1), t1->len))
			break;
		rc = tmpl_expand(&r->repl_t, buf_cstr(val), ov, r->nov, t2);
		if (rc) {
			rc = cap_rc(rc);
			break;
		}
		if (t2->len == 0) {
			labels_deln(l, buf_cstr(t1), t1->len);
			break;
		}
		rc = labels_setn(l, buf_cstr(t1), t1->len, t2->data, t2->len);
		break;
	case RELABEL_LOWERCASE:
	case RELABEL_UPPERCASE:
		rc = case_map(rs, buf_cstr(val), val->len, r->action == RELABEL_UPPERCASE, t1);
		if (!rc)
			rc = labels_setn(l, r->target, strlen(r->target), buf_cstr(t1), t1->len);
		break;
	case RELABEL_HASHMOD: {
		char num[24];

		snprintf(num, sizeof(num), "%llu",
			 (unsigned long long)hashmod(buf_cstr(val), val->len, r->modulus));
		rc = labels_set(l, r->target, num);
		break;
	}
	case RELABEL_LABELMAP:
		/* Prometheus ranges over the labels as they were before the
		 * step, so copies made here are not matched again. */
		rc = labels_copy(&snap, l);
		for (i = 0; !rc && i < labels_count(&snap); i++) {
			struct label_ref lr = labels_at(&snap, i);

			if (!rx_match_groups(r->re, lr.name, lr.name_len, ov, r->nov))
				continue;
			if (tmpl_expand(&r->repl_t, lr.name, ov, r->nov, t1))
				continue;
			if (!label_name_valid(buf_cstr(t1), t1->len))
				continue;
			rc = labels_setn(l, buf_cstr(t1), t1->len, lr.value, lr.value_len);
		}
		break;
	case RELABEL_LABELDROP:
	case RELABEL_LABELKEEP:
		for (i = labels_count(l); i-- > 0;) {
			struct label_ref lr = labels_at(l, i);
			bool m = rx_match(r->re, lr.name, lr.name_len);

			if (m == (r->action == RELABEL_LABELDROP))
				labels_deln(l, lr.name, lr.name_len);
		}
		break;
	}
out:
	labels_fini(&snap);
	if (ov != ovs)
		free(ov);
	return rc ? rc : keep;
}

int relabel_apply(const struct relabel_set *rs, struct labels *lbls)
{
	struct buf val, t1, t2;
	size_t i;
	int rc = RELABEL_KEEP;

	if (!rs || rs->n == 0)
		return RELABEL_KEEP;
	buf_init(&val, JOIN_CAP);
	buf_init(&t1, EXPAND_CAP + 1);
	buf_init(&t2, EXPAND_CAP + 1);
	for (i = 0; i < rs->n && rc == RELABEL_KEEP; i++)
		rc = apply_rule(rs, &rs->rules[i], lbls, &val, &t1, &t2);
	buf_fini(&val);
	buf_fini(&t1);
	buf_fini(&t2);
	return rc;
}
