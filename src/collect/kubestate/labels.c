/* kube_<kind>_labels / kube_<kind>_annotations: allow-listed Kubernetes
 * label/annotation keys turned into Prometheus label names the way KSM
 * does it (internal/store/utils.go mapToPrometheusLabels):
 *   name = prefix "_" toSnakeCase(SanitizeLabelName(key)), keys sorted;
 *   the first collision renames the earlier label to <name>_conflict1 and
 *   gives the new one _conflict2; later ones take the next free suffix. */
#include "collect/kubestate/ks_internal.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"

/* Label-name scratch cap: keys are at most 316 bytes in Kubernetes. */
#define KS_LABEL_NAME_MAX 4096

static bool valid_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

int ks_sanitize(struct buf *b, const char *s)
{
	int rc = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
		/* Go's regexp works on runes: a multi-byte UTF-8 sequence is
		 * one invalid character, so its continuation bytes are skipped. */
		if ((*p & 0xC0) == 0x80)
			continue;
		rc = buf_addc(b, valid_char(*p) ? (char)*p : '_');
	}
	return rc;
}

static bool is_lower_digit(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

int ks_label_name(struct buf *b, const char *prefix, const char *key)
{
	struct buf san;
	const char *s;
	int rc;

	buf_init(&san, KS_LABEL_NAME_MAX);
	rc = ks_sanitize(&san, key);
	if (rc)
		goto out;
	rc = buf_adds(b, prefix);
	if (!rc)
		rc = buf_addc(b, '_');
	s = buf_cstr(&san);
	/* toSnakeCase: regexp ([a-z0-9])([A-Z]) -> $1_$2 over non-overlapping
	 * matches, then lower-case. */
	for (size_t i = 0; !rc && s[i];) {
		if (is_lower_digit(s[i]) && s[i + 1] >= 'A' && s[i + 1] <= 'Z') {
			rc = buf_addc(b, s[i]);
			if (!rc)
				rc = buf_addc(b, '_');
			if (!rc)
				rc = buf_addc(b, lower(s[i + 1]));
			i += 2;
		} else {
			rc = buf_addc(b, lower(s[i]));
			i++;
		}
	}
out:
	buf_fini(&san);
	return rc;
}

/* One "*" at most (KSM MaxPartialWildcardsPerLabel = 1); more: ignored. */
static bool glob_match(const char *pat, const char *s)
{
	const char *star = strchr(pat, '*');
	size_t pre, suf, n = strlen(s);

	if (!star)
		return strcmp(pat, s) == 0;
	if (strchr(star + 1, '*'))
		return false;
	pre = (size_t)(star - pat);
	suf = strlen(star + 1);
	return n >= pre + suf && strncmp(s, pat, pre) == 0 &&
	       strcmp(s + n - suf, star + 1) == 0;
}

static bool allowed(const struct ks_allowlist *al, const char *key)
{
	if (al->n && strcmp(al->keys[0], "*") == 0)
		return true;
	for (size_t i = 0; i < al->n; i++)
		if (strcmp(al->keys[i], "*") != 0 && glob_match(al->keys[i], key))
			return true;
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int find(char **names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return (int)i;
	return -1;
}

/* Next "<base>_conflict<count>" not yet used; returns a new string. */
static char *next_free(const char *base, int *count, char **names, size_t n)
{
	struct buf b;

	buf_init(&b, KS_LABEL_NAME_MAX);
	for (;;) {
		buf_reset(&b);
		++*count;
		if (buf_printf(&b, "%s_conflict%d", base, *count)) {
			buf_fini(&b);
			return NULL;
		}
		if (find(names, n, buf_cstr(&b)) < 0)
			return buf_steal(&b);
	}
}

static void emit_map(struct ks_render *r, const json_t *map, const struct ks_allowlist *al,
		     const char *prefix)
{
	const char **keys = NULL, **vals = NULL;
	char **names = NULL, **bases = NULL;
	int *counts = NULL;
	size_t n = 0, cap = json_object_size(map);
	struct buf b;
	const char *k;
	json_t *v;
	int rc = 0;

	if (al->n == 0 || r->err)
		return;
	buf_init(&b, KS_LABEL_NAME_MAX);
	if (cap) {
		keys = calloc(cap, sizeof(*keys));
		vals = calloc(cap, sizeof(*vals));
		names = calloc(cap, sizeof(*names));
		bases = calloc(cap, sizeof(*bases));
		counts = calloc(cap, sizeof(*counts));
		if (!keys || !vals || !names || !bases || !counts) {
			rc = KM_ENOMEM;
			goto out;
		}
	}
	json_object_foreach((json_t *)map, k, v) {
		if (!json_is_string(v) || !allowed(al, k))
			continue;
		if (json_string_length(v) > KS_LABEL_VALUE_MAX) {
			r->drops->value_length++;
			continue;
		}
		keys[n++] = k;
	}
	if (n) /* keys may be NULL when nothing matched: qsort(NULL, 0) is UB */
		qsort(keys, n, sizeof(*keys), cmp_str);
	if (n > KS_LABELS_MAX) {
		/* The first KS_LABELS_MAX in key order: the same ones every time. */
		r->drops->label_count += n - KS_LABELS_MAX;
		n = KS_LABELS_MAX;
	}
	for (size_t i = 0; i < n; i++) {
		int idx, j;

		vals[i] = json_string_value(json_object_get(map, keys[i]));
		buf_reset(&b);
		rc = ks_label_name(&b, prefix, keys[i]);
		if (rc)
			goto out;
		bases[i] = strdup(buf_cstr(&b));
		if (!bases[i]) {
			rc = KM_ENOMEM;
			goto out;
		}
		/* counts[] is kept on the first entry with a given base. */
		for (j = 0; j < (int)i && strcmp(bases[j], bases[i]) != 0; j++)
			;
		if (j < (int)i && counts[j] > 0) {
			names[i] = next_free(bases[i], &counts[j], names, i);
		} else if ((idx = find(names, i, bases[i])) >= 0) {
			int c = 0;
			char *renamed = next_free(bases[i], &c, names, i);
			if (!renamed) {
				rc = KM_ENOMEM;
				goto out;
			}
			free(names[idx]);
			names[idx] = renamed;
			names[i] = next_free(bases[i], &c, names, i);
			counts[j < (int)i ? j : (int)i] = c;
		} else {
			names[i] = strdup(bases[i]);
		}
		if (!names[i]) {
			rc = KM_ENOMEM;
			goto out;
		}
	}
	ks_emitv(r, 1, (const char *const *)names, vals, n);
out:
	for (size_t i = 0; i < n; i++) {
		if (names)
			free(names[i]);
		if (bases)
			free(bases[i]);
	}
	free(keys);
	free(vals);
	free(names);
	free(bases);
	free(counts);
	buf_fini(&b);
	if (rc && !r->err)
		r->err = rc;
}

void ks_emit_labels(struct ks_render *r, const json_t *obj)
{
	emit_map(r, ks_json_path(obj, "metadata.labels"), r->labels_allow, "label");
}

void ks_emit_annotations(struct ks_render *r, const json_t *obj)
{
	emit_map(r, ks_json_path(obj, "metadata.annotations"), r->annotations_allow,
		 "annotation");
}

void ks_emit_map_all(struct ks_render *r, const json_t *obj, const char *path,
		     const char *prefix)
{
	static const char *const star[] = { "*" };
	static const struct ks_allowlist all = { star, 1 };

	/* An absent or empty map still gives its one series (no extra labels). */
	emit_map(r, ks_json_path(obj, path), &all, prefix);
}

/* DNS-1123 subdomain: lower-case alphanumerics, '-' and '.', <= 253. */
static bool dns_subdomain(const char *s, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool an = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!an && c != '-' && c != '.')
			return false;
		if ((i == 0 || i == n - 1) && !an)
			return false;
	}
	return true;
}

/* Qualified-name "name" part: <= 63, [A-Za-z0-9] at both ends, [-_.] inside. */
static bool qualified_part(const char *s, size_t n)
{
	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool an = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!an && c != '-' && c != '_' && c != '.')
			return false;
		if ((i == 0 || i == n - 1) && !an)
			return false;
	}
	return true;
}

bool ks_res_is_extended(const char *name)
{
	const char *slash = strchr(name, '/');
	size_t plen;

	/* Native: no "/" or a kubernetes.io/ prefix; "requests." is quota syntax. */
	if (!slash || strstr(name, "kubernetes.io/") || strncmp(name, "requests.", 9) == 0)
		return false;
	/* IsQualifiedName("requests." + name): prefix / name. */
	plen = (size_t)(slash - name) + 9;
	if (plen > 253 || !dns_subdomain(name, (size_t)(slash - name)))
		return false;
	return qualified_part(slash + 1, strlen(slash + 1));
}
