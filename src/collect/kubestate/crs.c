/* Custom resource state metrics (crs.h): the configuration compiled into
 * families, and one object rendered the way KSM v2.20's
 * pkg/customresourcestate/registry_factory.go renders it. Paths and label
 * maps are kept as JSON (deep copies) and walked per object: a CR store is
 * small next to the built-in kinds, and walking the same JSON the config
 * was written in keeps the semantics one-to-one with KSM's. */
#include "collect/kubestate/crs.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "collect/kubestate/ks_internal.h"
#include "expo/writer.h"

enum crs_type { CRS_GAUGE, CRS_STATESET, CRS_INFO };

struct crs_family {
	char *name;           /* prefix_name */
	char *help;
	enum crs_type type;
	json_t *common;       /* merged commonLabels incl. customresource_*: {k: v} */
	json_t *base_from;    /* merged labelsFromPath: {label: [path]} */
	json_t *path;         /* each.<type>.path: [..] */
	json_t *value_from;   /* each.<type>.valueFrom: [..] (may be empty) */
	json_t *each_from;    /* each.<type>.labelsFromPath */
	json_t *list;         /* stateSet list: [strings] */
	char *label_name;     /* stateSet labelName */
	char *label_from_key; /* gauge/info labelFromKey, "" when unset */
	bool nil_is_zero;
};

struct crs_res {
	char *group, *version, *kind, *plural;
	struct crs_family *fams;
	size_t nfams;
};

struct crs_config {
	_Atomic int refs;
	struct crs_res *res;
	size_t nres;
};

/* Per-object rendering state; errors sticky as in struct ks_render. */
struct crs_out {
	struct buf *out;
	const struct crs_family *f;
	uint64_t skipped;
	int err;
};

/* ---------- configuration ---------- */

static void family_fini(struct crs_family *f)
{
	free(f->name);
	free(f->help);
	free(f->label_name);
	free(f->label_from_key);
	json_decref(f->common);
	json_decref(f->base_from);
	json_decref(f->path);
	json_decref(f->value_from);
	json_decref(f->each_from);
	json_decref(f->list);
}

struct crs_config *crs_ref(struct crs_config *c)
{
	if (c)
		atomic_fetch_add(&c->refs, 1);
	return c;
}

void crs_free(struct crs_config *c)
{
	if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	for (size_t i = 0; i < c->nres; i++) {
		struct crs_res *r = &c->res[i];
		for (size_t j = 0; j < r->nfams; j++)
			family_fini(&r->fams[j]);
		free(r->fams);
		free(r->group);
		free(r->version);
		free(r->kind);
		free(r->plural);
	}
	free(c->res);
	free(c);
}

static const char *opt_str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* A path: absent/null = [], else a list of at most CRS_PATH_MAX strings;
 * "[k=v]" elements must hold a "=". New reference in *out. */
static int compile_path(const json_t *v, const char *where, char *err, size_t errlen, json_t **out)
{
	size_t i;
	json_t *e;

	*out = NULL;
	if (!v || json_is_null(v)) {
		*out = json_array();
		return *out ? 0 : KM_ENOMEM;
	}
	if (!json_is_array(v) || json_array_size(v) > CRS_PATH_MAX) {
		snprintf(err, errlen, "%s: must be a list of at most %d strings", where, CRS_PATH_MAX);
		return KM_EINVAL;
	}
	json_array_foreach(v, i, e) {
		const char *s = json_string_value(e);
		size_t n = s ? strlen(s) : 0;
		if (!s) {
			snprintf(err, errlen, "%s[%zu]: must be a string", where, i);
			return KM_EINVAL;
		}
		if (n >= 2 && s[0] == '[' && s[n - 1] == ']' && !memchr(s, '=', n)) {
			snprintf(err, errlen, "%s[%zu]: invalid list lookup: %s", where, i, s);
			return KM_EINVAL;
		}
	}
	*out = json_deep_copy(v);
	return *out ? 0 : KM_ENOMEM;
}

/* {label: path} validated and merged into dst (later keys win, as KSM's
 * Labels.Merge). */
static int merge_paths(json_t *dst, const json_t *src, const char *where, char *err, size_t errlen)
{
	const char *k;
	json_t *v;
	char sub[600];
	int rc;

	if (!src || json_is_null(src))
		return 0;
	if (!json_is_object(src)) {
		snprintf(err, errlen, "%s: must be a map of label name to path", where);
		return KM_EINVAL;
	}
	json_object_foreach((json_t *)src, k, v) {
		json_t *p;
		snprintf(sub, sizeof(sub), "%.400s.%s", where, k);
		rc = compile_path(v, sub, err, errlen, &p);
		if (rc)
			return rc;
		if (json_object_set_new(dst, k, p))
			return KM_ENOMEM;
	}
	return 0;
}

static int merge_common(json_t *dst, const json_t *src, const char *where, char *err, size_t errlen)
{
	const char *k;
	json_t *v;

	if (!src || json_is_null(src))
		return 0;
	if (!json_is_object(src)) {
		snprintf(err, errlen, "%s: must be a map of label name to value", where);
		return KM_EINVAL;
	}
	json_object_foreach((json_t *)src, k, v) {
		if (!json_is_string(v)) {
			snprintf(err, errlen, "%s.%s: must be a string", where, k);
			return KM_EINVAL;
		}
		if (json_object_set(dst, k, v))
			return KM_ENOMEM;
	}
	return 0;
}

static char *lower_dup(const char *s)
{
	char *d = strdup(s);

	for (char *p = d; p && *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return d;
}

static int compile_family(const json_t *res, const struct crs_res *r, const json_t *m, const char *where,
			  struct crs_family *f, char *err, size_t errlen)
{
	const json_t *each = json_object_get(m, "each"), *sub, *prefix = json_object_get(res, "metricNamePrefix");
	const char *name = opt_str(m, "name"), *pre;
	char *type = NULL, w[600];
	struct buf nb;
	int rc, rwhere_len;

	buf_init(&nb, 1024);
	if (!*name) {
		snprintf(err, errlen, "%s.name: required", where);
		rc = KM_EINVAL;
		goto out;
	}
	if (!json_is_object(each)) {
		snprintf(err, errlen, "%s.each: required (an object with type and gauge, stateSet or info)", where);
		rc = KM_EINVAL;
		goto out;
	}
	type = lower_dup(opt_str(each, "type"));
	if (!type) {
		rc = KM_ENOMEM;
		goto out;
	}
	if (strcmp(type, "gauge") == 0) {
		f->type = CRS_GAUGE;
		sub = json_object_get(each, "gauge");
	} else if (strcmp(type, "stateset") == 0) {
		f->type = CRS_STATESET;
		sub = json_object_get(each, "stateSet");
	} else if (strcmp(type, "info") == 0) {
		f->type = CRS_INFO;
		sub = json_object_get(each, "info");
	} else {
		snprintf(err, errlen, "%s.each.type: unknown metric type \"%.64s\" (Gauge, StateSet or Info)", where,
			 opt_str(each, "type"));
		rc = KM_EINVAL;
		goto out;
	}
	if (!json_is_object(sub)) {
		snprintf(err, errlen, "%s.each.%s: required for type %s", where,
			 f->type == CRS_GAUGE ? "gauge" : f->type == CRS_STATESET ? "stateSet" : "info",
			 opt_str(each, "type"));
		rc = KM_EINVAL;
		goto out;
	}
	pre = json_is_string(prefix) ? json_string_value(prefix) : "kube_customresource";
	rc = *pre ? buf_printf(&nb, "%s_%s", pre, name) : buf_adds(&nb, name);
	if (rc)
		goto out;
	f->name = strdup(buf_cstr(&nb));
	f->help = strdup(opt_str(m, "help"));
	f->label_from_key = strdup(opt_str(sub, "labelFromKey"));
	f->label_name = strdup(opt_str(sub, "labelName"));
	f->nil_is_zero = json_is_true(json_object_get(sub, "nilIsZero"));
	f->common = json_object();
	f->base_from = json_object();
	f->each_from = json_object();
	if (!f->name || !f->help || !f->label_from_key || !f->label_name || !f->common || !f->base_from ||
	    !f->each_from) {
		rc = KM_ENOMEM;
		goto out;
	}
	/* KSM: the resource's commonLabels, then the GVK labels, then the
	 * metric's own (which may override them). */
	/* the resource's own fields are named at the resource ("...resources[0]") */
	rwhere_len = strrchr(where, '.') ? (int)(strrchr(where, '.') - where) : (int)strlen(where);
	snprintf(w, sizeof(w), "%.*s.commonLabels", rwhere_len > 400 ? 400 : rwhere_len, where);
	rc = merge_common(f->common, json_object_get(res, "commonLabels"), w, err, errlen);
	if (!rc && (json_object_set_new(f->common, "customresource_group", json_string(r->group)) ||
		    json_object_set_new(f->common, "customresource_version", json_string(r->version)) ||
		    json_object_set_new(f->common, "customresource_kind", json_string(r->kind))))
		rc = KM_ENOMEM;
	snprintf(w, sizeof(w), "%.400s.commonLabels", where);
	if (!rc)
		rc = merge_common(f->common, json_object_get(m, "commonLabels"), w, err, errlen);
	snprintf(w, sizeof(w), "%.*s.labelsFromPath", rwhere_len > 400 ? 400 : rwhere_len, where);
	if (!rc)
		rc = merge_paths(f->base_from, json_object_get(res, "labelsFromPath"), w, err, errlen);
	snprintf(w, sizeof(w), "%.400s.labelsFromPath", where);
	if (!rc)
		rc = merge_paths(f->base_from, json_object_get(m, "labelsFromPath"), w, err, errlen);
	snprintf(w, sizeof(w), "%.400s.each.%s.labelsFromPath", where, type);
	if (!rc)
		rc = merge_paths(f->each_from, json_object_get(sub, "labelsFromPath"), w, err, errlen);
	snprintf(w, sizeof(w), "%.400s.each.%s.path", where, type);
	if (!rc)
		rc = compile_path(json_object_get(sub, "path"), w, err, errlen, &f->path);
	snprintf(w, sizeof(w), "%.400s.each.%s.valueFrom", where, type);
	if (!rc)
		rc = compile_path(f->type == CRS_INFO ? NULL : json_object_get(sub, "valueFrom"), w, err, errlen,
				  &f->value_from);
	if (rc)
		goto out;
	if (f->type == CRS_STATESET) {
		/* KSM accepts an empty labelName and prints a nameless label: refused. */
		if (!*f->label_name) {
			snprintf(err, errlen, "%s.each.stateSet.labelName: required", where);
			rc = KM_EINVAL;
			goto out;
		}
		snprintf(w, sizeof(w), "%.400s.each.stateSet.list", where);
		rc = compile_path(json_object_get(sub, "list"), w, err, errlen, &f->list);
	}
out:
	free(type);
	buf_fini(&nb);
	return rc;
}

/* KSM asks discovery for the plural (flect.Pluralize as a fallback); this
 * covers regular English nouns, resourcePlural the rest. */
static char *guess_plural(const char *kind)
{
	char *l = lower_dup(kind), *out = NULL;
	size_t n = l ? strlen(l) : 0;
	struct buf b;

	buf_init(&b, 512);
	if (!l)
		goto done;
	if (n >= 2 && l[n - 1] == 'y' && !strchr("aeiou", l[n - 2])) {
		l[n - 1] = '\0';
		if (buf_printf(&b, "%sies", l))
			goto done;
	} else if (n && (strchr("sxz", l[n - 1]) || (n >= 2 && l[n - 1] == 'h' && strchr("cs", l[n - 2])))) {
		if (buf_printf(&b, "%ses", l))
			goto done;
	} else if (buf_printf(&b, "%ss", l)) {
		goto done;
	}
	out = buf_steal(&b);
done:
	buf_fini(&b);
	free(l);
	return out;
}

static int compile_resource(const json_t *res, const char *where, struct crs_res *r, char *err, size_t errlen)
{
	const json_t *gvk = json_object_get(res, "groupVersionKind"), *ms = json_object_get(res, "metrics"), *m;
	const char *plural = opt_str(res, "resourcePlural");
	char w[600];
	size_t i;
	int rc;

	if (!json_is_object(gvk) || !*opt_str(gvk, "version") || !*opt_str(gvk, "kind")) {
		snprintf(err, errlen, "%s.groupVersionKind: version and kind are required", where);
		return KM_EINVAL;
	}
	if (strchr(opt_str(gvk, "group"), '*') || strchr(opt_str(gvk, "version"), '*') ||
	    strchr(opt_str(gvk, "kind"), '*')) {
		snprintf(err, errlen, "%s.groupVersionKind: wildcards (*) are not supported", where);
		return KM_EINVAL;
	}
	if (!json_is_array(ms) || json_array_size(ms) > CRS_METRICS_MAX) {
		snprintf(err, errlen, "%s.metrics: must be a list of at most %d metrics", where, CRS_METRICS_MAX);
		return KM_EINVAL;
	}
	r->group = strdup(opt_str(gvk, "group"));
	r->version = strdup(opt_str(gvk, "version"));
	r->kind = strdup(opt_str(gvk, "kind"));
	if (*plural) {
		r->plural = strdup(plural);
	} else {
		r->plural = guess_plural(opt_str(gvk, "kind"));
	}
	r->fams = calloc(json_array_size(ms) + 1, sizeof(*r->fams));
	if (!r->group || !r->version || !r->kind || !r->plural || !r->fams)
		return KM_ENOMEM;
	json_array_foreach(ms, i, m) {
		snprintf(w, sizeof(w), "%.400s.metrics[%zu]", where, i);
		if (!json_is_object(m)) {
			snprintf(err, errlen, "%s: must be an object", w);
			return KM_EINVAL;
		}
		r->nfams++;
		rc = compile_family(res, r, m, w, &r->fams[i], err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

struct crs_config *crs_compile(const json_t *spec, const char *path, char *err, size_t errlen, int *rcp)
{
	struct crs_config *c = calloc(1, sizeof(*c));
	const json_t *rs = json_object_get(spec, "resources"), *res;
	char w[600];
	size_t i;
	int rc = KM_ENOMEM;

	if (!c)
		goto fail;
	atomic_init(&c->refs, 1);
	if (!json_is_object(spec) || !json_is_array(rs) || json_array_size(rs) > CRS_RESOURCES_MAX) {
		snprintf(err, errlen, "%s.resources: must be a list of at most %d resources", path, CRS_RESOURCES_MAX);
		rc = KM_EINVAL;
		goto fail;
	}
	c->res = calloc(json_array_size(rs) + 1, sizeof(*c->res));
	if (!c->res)
		goto fail;
	json_array_foreach(rs, i, res) {
		snprintf(w, sizeof(w), "%.400s.resources[%zu]", path, i);
		if (!json_is_object(res)) {
			snprintf(err, errlen, "%s: must be an object", w);
			rc = KM_EINVAL;
			goto fail;
		}
		c->nres++;
		rc = compile_resource(res, w, &c->res[i], err, errlen);
		if (rc)
			goto fail;
	}
	if (rcp)
		*rcp = 0;
	return c;
fail:
	if (rc == KM_ENOMEM)
		snprintf(err, errlen, "%s: out of memory", path);
	if (rcp)
		*rcp = rc;
	crs_free(c);
	return NULL;
}

size_t crs_nresources(const struct crs_config *c)
{
	return c ? c->nres : 0;
}

void crs_resource(const struct crs_config *c, size_t i, struct crs_resource_info *out)
{
	const struct crs_res *r = &c->res[i];

	*out = (struct crs_resource_info){ r->group, r->version, r->kind, r->plural, r->nfams };
}

/* ---------- values ---------- */

/* JSON null is Go's nil in an unstructured object. */
static const json_t *nn(const json_t *v)
{
	return v && !json_is_null(v) ? v : NULL;
}

/* Go strconv.ParseFloat (decimal and special values; hex floats too via
 * strtod). False on syntax error or overflow, as ParseFloat's err. */
static bool go_parse_float(const char *s, double *out)
{
	char *end;

	if (!*s || *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == '\v')
		return false;
	/* strtod also takes "nan(...)" and "infinity" which Go takes too
	 * (case-insensitive); "nan(...)" Go refuses. */
	if (strchr(s, '('))
		return false;
	/* Go takes a hex mantissa only with a p exponent ("0x1p-2"); strtod
	 * also takes "0x10" */
	if ((strchr(s, 'x') || strchr(s, 'X')) && !strchr(s, 'p') && !strchr(s, 'P'))
		return false;
	errno = 0;
	*out = strtod(s, &end);
	if (*end || (errno == ERANGE && isinf(*out)))
		return false;
	return true;
}

static bool ascii_ieq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
		if (x != *b)
			return false;
	}
	return !*a && !*b;
}

/* apimachinery's IsValidPercent: ^[0-9]+%$ */
static bool is_percent(const char *s)
{
	size_t n = strlen(s), i;

	if (n < 2 || s[n - 1] != '%')
		return false;
	for (i = 0; i + 1 < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* KSM toFloat64 (registry_factory.go). */
static bool to_float(const json_t *v, bool nil_is_zero, double *out)
{
	v = nn(v);
	if (!v) {
		*out = 0;
		return nil_is_zero;
	}
	if (json_is_boolean(v)) {
		*out = json_is_true(v) ? 1 : 0;
		return true;
	}
	if (json_is_integer(v) || json_is_real(v)) {
		*out = json_number_value(v);
		return true;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		double t;
		if (ascii_ieq(s, "true") || ascii_ieq(s, "yes")) {
			*out = 1;
			return true;
		}
		if (ascii_ieq(s, "false") || ascii_ieq(s, "no") || ascii_ieq(s, "unknown")) {
			*out = 0;
			return true;
		}
		/* t.Unix(): whole seconds, the fraction dropped */
		if (ks_parse_time(s, &t)) {
			*out = t;
			return true;
		}
		if (ks_quantity_approx(v, out))
			return true;
		if (is_percent(s)) {
			char tmp[32];
			size_t n = strlen(s) - 1;
			if (n >= sizeof(tmp))
				return false;
			memcpy(tmp, s, n);
			tmp[n] = '\0';
			if (!go_parse_float(tmp, out))
				return false;
			*out /= 100;
			return true;
		}
		return go_parse_float(s, out);
	}
	return false;
}

/* Go strconv.ParseBool */
static bool go_parse_bool(const char *s, bool *out)
{
	static const char *const t[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const f[] = { "0", "f", "F", "FALSE", "false", "False" };

	for (size_t i = 0; i < 6; i++) {
		if (strcmp(s, t[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcmp(s, f[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* Go strconv.Atoi: optional sign, decimal digits, no overflow. */
static bool go_atoi(const char *s, long long *out)
{
	char *end;

	if (!*s || !(*s == '+' || *s == '-' || (*s >= '0' && *s <= '9')))
		return false;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return !*end && errno == 0 && end != s && !(end == s + 1 && (*s == '+' || *s == '-'));
}

/* "[key=value]" on a list: the first element map whose key equals value as
 * a string, as a number (toFloat64 on both) or as a boolean. */
static const json_t *list_lookup(const json_t *list, const char *part)
{
	size_t n = strlen(part), i;
	const char *eq = memchr(part, '=', n);
	char key[256], val[256];
	double num = 0, cand;
	bool bval = false, is_num, is_bool;
	json_t *e, *tmp;

	if (!json_is_array(list) || !eq || (size_t)(eq - part - 1) >= sizeof(key) ||
	    (size_t)(part + n - 1 - eq - 1) >= sizeof(val))
		return NULL;
	memcpy(key, part + 1, (size_t)(eq - part - 1));
	key[eq - part - 1] = '\0';
	memcpy(val, eq + 1, (size_t)(part + n - 1 - eq - 1));
	val[part + n - 1 - eq - 1] = '\0';
	tmp = json_string(val);
	is_num = tmp && to_float(tmp, false, &num);
	json_decref(tmp);
	is_bool = go_parse_bool(val, &bval);
	json_array_foreach(list, i, e) {
		const json_t *c;
		if (!json_is_object(e) || !(c = json_object_get(e, key)))
			continue;
		if (json_is_string(c) && strcmp(json_string_value(c), val) == 0)
			return e;
		if (is_num && to_float(c, false, &cand) && cand == num)
			return e;
		if (is_bool && json_is_boolean(c) && json_is_true(c) == bval)
			return e;
	}
	return NULL;
}

/* valuePath.Get: NULL when any step does not resolve. */
static const json_t *path_get(const json_t *obj, const json_t *path)
{
	size_t i;
	json_t *p;

	json_array_foreach(path, i, p) {
		const char *part = json_string_value(p);
		size_t n = strlen(part);

		obj = nn(obj);
		if (!obj)
			return NULL;
		if (n >= 2 && part[0] == '[' && part[n - 1] == ']') {
			obj = list_lookup(obj, part);
		} else if (json_is_object(obj)) {
			const char *eq = strchr(part, '=');
			/* "k=v" (exactly one "="): the value of k when it is the string v */
			if (eq && !strchr(eq + 1, '=') && (size_t)(eq - part) < 256) {
				char key[256];
				const json_t *v;
				memcpy(key, part, (size_t)(eq - part));
				key[eq - part] = '\0';
				v = json_object_get(obj, key);
				if (json_is_string(v) && strcmp(json_string_value(v), eq + 1) == 0) {
					obj = v;
					continue;
				}
			}
			obj = json_object_get(obj, part);
		} else if (json_is_array(obj)) {
			long long idx;
			if (!go_atoi(part, &idx))
				return NULL;
			if (idx < 0)
				idx += (long long)json_array_size(obj);
			if (idx < 0 || idx >= (long long)json_array_size(obj))
				return NULL;
			obj = json_array_get(obj, (size_t)idx);
		} else {
			return NULL;
		}
	}
	return nn(obj);
}

/* fmt.Sprintf("%v", v) of an unstructured value. */
static int go_sprint(struct buf *b, const json_t *v)
{
	char num[EXPO_DOUBLE_MAX];
	const char *k;
	json_t *e;
	size_t i, n, j;
	int rc = 0;

	v = nn(v);
	if (!v)
		return buf_adds(b, "<nil>");
	switch (json_typeof(v)) {
	case JSON_STRING:
		return buf_add(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return buf_printf(b, "%lld", (long long)json_integer_value(v));
	case JSON_REAL:
		n = ks_fmt_value(num, json_real_value(v));
		return buf_add(b, num, n);
	case JSON_TRUE:
		return buf_adds(b, "true");
	case JSON_FALSE:
		return buf_adds(b, "false");
	case JSON_ARRAY:
		rc = buf_addc(b, '[');
		json_array_foreach(v, i, e) {
			if (!rc && i)
				rc = buf_addc(b, ' ');
			if (!rc)
				rc = go_sprint(b, e);
		}
		return rc ? rc : buf_addc(b, ']');
	case JSON_OBJECT: {
		/* fmt prints maps with sorted keys */
		const char **keys;
		n = json_object_size(v);
		keys = calloc(n + 1, sizeof(*keys));
		if (!keys)
			return KM_ENOMEM;
		i = 0;
		json_object_foreach((json_t *)v, k, e)
			keys[i++] = k;
		for (i = 1; i < n; i++)
			for (j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
				const char *t = keys[j];
				keys[j] = keys[j - 1];
				keys[j - 1] = t;
			}
		rc = buf_adds(b, "map[");
		for (i = 0; !rc && i < n; i++) {
			rc = i ? buf_addc(b, ' ') : 0;
			if (!rc)
				rc = buf_printf(b, "%s:", keys[i]);
			if (!rc)
				rc = go_sprint(b, json_object_get(v, keys[i]));
		}
		free(keys);
		return rc ? rc : buf_addc(b, ']');
	}
	default:
		return 0;
	}
}

/* Sets labels[name] = %v of v (a new string). */
static int set_label(json_t *labels, const char *name, const json_t *v)
{
	struct buf b;
	int rc;

	buf_init(&b, 1 << 20);
	rc = go_sprint(&b, v);
	if (!rc && json_object_set_new(labels, name, json_stringn(buf_cstr(&b), b.len)))
		rc = KM_ENOMEM;
	buf_fini(&b);
	return rc;
}

static int set_sanitized(json_t *labels, const char *key, const json_t *v)
{
	struct buf n;
	int rc;

	buf_init(&n, 4096);
	rc = ks_sanitize(&n, key);
	if (!rc)
		rc = set_label(labels, buf_cstr(&n), v);
	buf_fini(&n);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* addPathLabels: "*"-prefixed or -suffixed names copy a map first (sorted
 * by name, so later ones win), then the plain names; a path that does not
 * resolve adds nothing. */
static int add_path_labels(const json_t *obj, const json_t *paths, json_t *labels)
{
	const char *k, **stars = NULL;
	json_t *p;
	size_t ns = 0, n = json_object_size(paths);
	int rc = 0;

	if (!n)
		return 0;
	stars = calloc(n, sizeof(*stars));
	if (!stars)
		return KM_ENOMEM;
	json_object_foreach((json_t *)paths, k, p) {
		size_t l = strlen(k);
		if (l && (k[0] == '*' || k[l - 1] == '*'))
			stars[ns++] = k;
	}
	qsort(stars, ns, sizeof(*stars), cmp_str);
	for (size_t i = 0; !rc && i < ns; i++) {
		const json_t *m = path_get(obj, json_object_get(paths, stars[i]));
		size_t l = strlen(stars[i]);
		const char *mk;
		json_t *mv;
		if (!json_is_object(m))
			continue;
		json_object_foreach((json_t *)m, mk, mv) {
			if (stars[i][l - 1] == '*') {
				struct buf full;
				buf_init(&full, 4096);
				rc = buf_add(&full, stars[i], l - 1);
				if (!rc)
					rc = buf_adds(&full, mk);
				if (!rc)
					rc = set_sanitized(labels, buf_cstr(&full), mv);
				buf_fini(&full);
			} else {
				rc = set_sanitized(labels, mk, mv);
			}
			if (rc)
				break;
		}
	}
	free(stars);
	json_object_foreach((json_t *)paths, k, p) {
		size_t l = strlen(k);
		const json_t *v;
		if (rc)
			break;
		if (l && (k[0] == '*' || k[l - 1] == '*'))
			continue;
		v = path_get(obj, p);
		if (v)
			rc = set_sanitized(labels, k, v);
	}
	return rc;
}

/* ---------- series ---------- */

/* Writes one series: the family's base labels fill in what labels lacks
 * (eachValue.DefaultLabels), keys sorted (ToMetric). Consumes labels. */
static void emit(struct crs_out *o, json_t *labels, const json_t *base, double v)
{
	const char *k, **keys = NULL;
	json_t *x;
	size_t n = 0, i;
	char num[EXPO_DOUBLE_MAX];
	struct buf *b = o->out;
	int rc = 0;

	if (o->err || !labels) {
		o->err = o->err ? o->err : KM_ENOMEM;
		goto out;
	}
	json_object_foreach((json_t *)base, k, x)
		if (!json_object_get(labels, k) && json_object_set(labels, k, x))
			rc = KM_ENOMEM;
	keys = calloc(json_object_size(labels) + 1, sizeof(*keys));
	if (rc || !keys) {
		o->err = KM_ENOMEM;
		goto out;
	}
	json_object_foreach(labels, k, x)
		keys[n++] = k;
	qsort(keys, n, sizeof(*keys), cmp_str);
	rc = buf_adds(b, o->f->name);
	for (i = 0; !rc && i < n; i++) {
		const json_t *s = json_object_get(labels, keys[i]);
		rc = buf_printf(b, "%c%s=\"", i ? ',' : '{', keys[i]);
		if (!rc)
			rc = expo_escape_label(b, json_string_value(s), json_string_length(s));
		if (!rc)
			rc = buf_addc(b, '"');
	}
	if (!rc && n)
		rc = buf_addc(b, '}');
	if (!rc)
		rc = buf_addc(b, ' ');
	if (!rc)
		rc = buf_add(b, num, ks_fmt_value(num, v));
	if (!rc)
		rc = buf_addc(b, '\n');
	o->err = rc;
out:
	free(keys);
	json_decref(labels);
}

/* compiledGauge.value: *have false = no series (not an error). */
static bool gauge_value(struct crs_out *o, const json_t *it, double *v, bool *have)
{
	const json_t *got = path_get(it, o->f->value_from);

	*have = false;
	if (!got) {
		if (o->f->nil_is_zero) {
			*v = 0;
			*have = true;
			return true;
		}
		return nn(it) != NULL; /* "got nil while resolving path" when it is nil */
	}
	if (!to_float(got, o->f->nil_is_zero, v))
		return false;
	*have = true;
	return true;
}

static void gauge(struct crs_out *o, const json_t *v, const json_t *base)
{
	const struct crs_family *f = o->f;
	const char *key;
	json_t *it;
	size_t i;
	double x;
	bool have;

	if (json_is_object(v)) {
		/* a one-element valueFrom naming a key of the map: that entry's value */
		const char *only = json_array_size(f->value_from) == 1 ?
				   json_string_value(json_array_get(f->value_from, 0)) : NULL;
		json_object_foreach((json_t *)v, key, it) {
			json_t *labels;
			if (only && strcmp(key, only) == 0) {
				if (!to_float(it, f->nil_is_zero, &x)) {
					o->skipped++;
					continue;
				}
			} else if (!gauge_value(o, it, &x, &have) || !have) {
				/* KSM drops a map entry's conversion error silently */
				continue;
			}
			labels = json_object();
			if (labels && *key && *f->label_from_key &&
			    json_object_set_new(labels, f->label_from_key, json_string(key)))
				o->err = KM_ENOMEM;
			if (labels && !o->err)
				o->err = add_path_labels(it, f->each_from, labels);
			if (labels && !o->err)
				o->err = add_path_labels(v, f->each_from, labels);
			emit(o, labels, base, x);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, it) {
			json_t *labels;
			if (!gauge_value(o, it, &x, &have)) {
				o->skipped++;
				continue;
			}
			if (!have)
				continue;
			labels = json_object();
			if (labels)
				o->err = o->err ? o->err : add_path_labels(it, f->each_from, labels);
			emit(o, labels, base, x);
		}
	} else {
		json_t *labels;
		if (!gauge_value(o, v, &x, &have)) {
			o->skipped++;
			return;
		}
		if (!have)
			return;
		labels = json_object();
		if (labels)
			o->err = o->err ? o->err : add_path_labels(v, f->each_from, labels);
		emit(o, labels, base, x);
	}
}

static void stateset_one(struct crs_out *o, const json_t *v, const json_t *base)
{
	const struct crs_family *f = o->f;
	const json_t *cmp = path_get(v, f->value_from);
	json_t *e;
	size_t i;

	if (!cmp)
		return;
	if (!json_is_string(cmp)) {
		o->skipped++;
		return;
	}
	json_array_foreach(f->list, i, e) {
		json_t *labels = json_object();
		if (labels && json_object_set(labels, f->label_name, e))
			o->err = o->err ? o->err : KM_ENOMEM;
		if (labels && !o->err)
			o->err = add_path_labels(v, f->each_from, labels);
		emit(o, labels, base, strcmp(json_string_value(cmp), json_string_value(e)) == 0 ? 1 : 0);
	}
}

static void stateset(struct crs_out *o, const json_t *v, const json_t *base)
{
	size_t i;
	json_t *e;

	if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			stateset_one(o, e, base);
		return;
	}
	stateset_one(o, v, base);
}

/* compiledInfo.values: one series when some label resolves. */
static void info_one(struct crs_out *o, const json_t *v, const json_t *base)
{
	json_t *labels;

	if (!nn(v))
		return;
	labels = json_object();
	if (labels && !o->err)
		o->err = add_path_labels(v, o->f->each_from, labels);
	if (labels && json_object_size(labels))
		emit(o, labels, base, 1);
	else
		json_decref(labels);
}

static void info(struct crs_out *o, const json_t *v, const json_t *base)
{
	const struct crs_family *f = o->f;
	const char *key;
	json_t *it;
	size_t i;

	if (json_is_array(v)) {
		json_array_foreach(v, i, it)
			info_one(o, it, base);
		return;
	}
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, it) {
			json_t *labels = json_object();
			if (labels && *key && *f->label_from_key &&
			    json_object_set_new(labels, f->label_from_key, json_string(key)))
				o->err = o->err ? o->err : KM_ENOMEM;
			if (labels && !o->err)
				o->err = add_path_labels(it, f->each_from, labels);
			if (labels && json_object_size(labels))
				emit(o, labels, base, 1);
			else
				json_decref(labels);
		}
	}
	info_one(o, v, base);
}

int crs_render(const struct crs_config *c, size_t res, const json_t *obj, struct buf *out, uint32_t *off,
	       uint64_t *skipped)
{
	const struct crs_res *r = &c->res[res];
	struct crs_out o = { .out = out };
	size_t start = out->len;

	for (size_t i = 0; i < r->nfams && !o.err; i++) {
		const struct crs_family *f = &r->fams[i];
		json_t *base = json_deep_copy(f->common);
		const json_t *v;

		off[i] = (uint32_t)(out->len - start);
		o.f = f;
		if (!base) {
			o.err = KM_ENOMEM;
			break;
		}
		o.err = add_path_labels(obj, f->base_from, base);
		v = path_get(obj, f->path);
		if (!json_array_size(f->path))
			v = nn(obj);
		if (!o.err) {
			if (f->type == CRS_GAUGE)
				gauge(&o, v, base);
			else if (f->type == CRS_STATESET)
				stateset(&o, v, base);
			else
				info(&o, v, base);
		}
		json_decref(base);
	}
	off[r->nfams] = (uint32_t)(out->len - start);
	if (o.err) {
		buf_truncate(out, start);
		return o.err;
	}
	if (skipped)
		*skipped += o.skipped;
	return 0;
}

const char *crs_family_name(const struct crs_config *c, size_t res, size_t f)
{
	return c->res[res].fams[f].name;
}

int crs_write_header(const struct crs_config *c, size_t res, size_t f, struct buf *out)
{
	const struct crs_family *fam = &c->res[res].fams[f];
	size_t start = out->len;
	int rc = buf_printf(out, "# HELP %s ", fam->name);

	/* KSM escapes \ and newline in HELP */
	for (const char *p = fam->help; !rc && *p; p++)
		rc = *p == '\\' ? buf_adds(out, "\\\\") : *p == '\n' ? buf_adds(out, "\\n") : buf_addc(out, *p);
	if (!rc)
		/* KSM's SanitizeHeaders: info and stateset are OpenMetrics types;
		 * the text format (all /metrics/kube-state serves) says gauge. */
		rc = buf_printf(out, "\n# TYPE %s gauge\n", fam->name);
	if (rc)
		buf_truncate(out, start);
	return rc;
}
