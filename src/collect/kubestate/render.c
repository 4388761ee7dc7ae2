/* Series emitters and JSON helpers shared by the per-kind renderers. */
#include "collect/kubestate/ks_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/parse.h"

size_t ks_fmt_value(char *dst, double v)
{
	char tmp[EXPO_DOUBLE_MAX];
	char *e, *m_end;
	int64_t exp10;
	size_t n;
	int prec;

	/* Go prints integers below 1e21 in 'g' shortest form too, so only
	 * small integers can skip the exponent logic (the 'g' rule switches
	 * to exponent form at decimal exponent >= 6 or < -4). */
	if (isnan(v) || isinf(v) || v == 0 || (fabs(v) < 1e6 && v == floor(v)))
		return expo_fmt_double(dst, v);
	for (prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	e = strchr(tmp, 'e');
	if (!e || parse_i64(e + 1, strlen(e + 1), &exp10))
		return expo_fmt_double(dst, v);
	if (exp10 >= -4 && exp10 < 6)
		return expo_fmt_double(dst, v); /* same layout as Go here */
	m_end = e;
	while (m_end > tmp && m_end[-1] == '0')
		m_end--;
	if (m_end > tmp && m_end[-1] == '.')
		m_end--;
	n = (size_t)(m_end - tmp);
	memcpy(dst, tmp, n);
	n += (size_t)snprintf(dst + n, EXPO_DOUBLE_MAX - n, "e%c%02d", exp10 < 0 ? '-' : '+',
			      (int)(exp10 < 0 ? -exp10 : exp10));
	return n;
}

static void add(struct ks_render *r, const char *p, size_t n)
{
	if (!r->err)
		r->err = buf_add(r->out, p, n);
}

static void adds(struct ks_render *r, const char *s)
{
	add(r, s, strlen(s));
}

static void add_label(struct ks_render *r, bool comma, const char *k, const char *v)
{
	if (comma)
		add(r, ",", 1);
	adds(r, k);
	add(r, "=\"", 2);
	if (!r->err && v)
		r->err = expo_escape_label(r->out, v, strlen(v));
	add(r, "\"", 1);
}

/* A stored line is only the part after the object's default labels:
 * ',k="v",...} value' (see ks_internal.h); the writer puts "fam{" and the
 * default labels in front. Every kind has at least one default label (the
 * object's name), so the braces are always there. */
static void finish(struct ks_render *r, double v)
{
	char num[EXPO_DOUBLE_MAX];
	size_t n = ks_fmt_value(num, v);

	add(r, "} ", 2);
	add(r, num, n);
	add(r, "\n", 1);
}

void ks_emitv(struct ks_render *r, double v, const char *const *keys,
	      const char *const *vals, size_t n)
{
	for (size_t i = 0; i < n; i++)
		add_label(r, true, keys[i], vals[i]);
	finish(r, v);
}

/* Most labels a ks_emit() call passes (kube_node_info has 9). */
#define KS_EMIT_MAX 12

void ks_emit(struct ks_render *r, double v, ...)
{
	const char *keys[KS_EMIT_MAX], *vals[KS_EMIT_MAX];
	size_t n = 0;
	va_list ap;

	va_start(ap, v);
	for (;;) {
		const char *k = va_arg(ap, const char *);
		if (!k)
			break;
		const char *val = va_arg(ap, const char *);
		/* Callers pass literal pair lists; more is a bug. */
		if (n < KS_EMIT_MAX) {
			keys[n] = k;
			vals[n] = val;
			n++;
		} else if (!r->err) {
			r->err = KM_EINVAL;
		}
	}
	va_end(ap);
	ks_emitv(r, v, keys, vals, n);
}

void ks_emit_condition(struct ks_render *r, const char *status, const char *k1,
		       const char *v1, const char *k2, const char *v2, const char *key)
{
	static const char *const st[3] = { "true", "false", "unknown" };
	const char *low = ks_cond_status(status);

	for (int i = 0; i < 3; i++) {
		const char *keys[3], *vals[3];
		size_t n = 0;
		if (k1) {
			keys[n] = k1;
			vals[n++] = v1;
		}
		if (k2) {
			keys[n] = k2;
			vals[n++] = v2;
		}
		keys[n] = key;
		vals[n++] = st[i];
		ks_emitv(r, strcmp(low, st[i]) == 0 ? 1 : 0, keys, vals, n);
	}
}

void ks_emit_owners(struct ks_render *r, const json_t *obj, bool with_controller)
{
	const json_t *refs = ks_json_path(obj, "metadata.ownerReferences");
	size_t i;
	const json_t *ref;

	if (!json_is_array(refs) || json_array_size(refs) == 0) {
		if (with_controller)
			ks_emit(r, 1, "owner_kind", "", "owner_name", "", "owner_is_controller", "",
				NULL);
		else
			ks_emit(r, 1, "owner_kind", "", "owner_name", "", NULL);
		return;
	}
	json_array_foreach(refs, i, ref) {
		const json_t *c = json_object_get(ref, "controller");
		if (with_controller)
			ks_emit(r, 1, "owner_kind", ks_str(ref, "kind"), "owner_name",
				ks_str(ref, "name"), "owner_is_controller",
				json_is_true(c) ? "true" : "false", NULL);
		else
			ks_emit(r, 1, "owner_kind", ks_str(ref, "kind"), "owner_name",
				ks_str(ref, "name"), NULL);
	}
}

static void emit_time(struct ks_render *r, const json_t *obj, const char *path)
{
	double t;

	if (ks_parse_time(ks_str(obj, path), &t) && t != 0)
		ks_emit(r, t, NULL);
}

void ks_emit_created(struct ks_render *r, const json_t *obj)
{
	emit_time(r, obj, "metadata.creationTimestamp");
}

void ks_emit_deletion(struct ks_render *r, const json_t *obj)
{
	emit_time(r, obj, "metadata.deletionTimestamp");
}

void ks_emit_resource_version(struct ks_render *r, const json_t *obj)
{
	const char *rv = ks_str(obj, "metadata.resourceVersion");
	char *end;
	double v;

	if (!*rv)
		return;
	v = strtod(rv, &end);
	if (*end == '\0')
		ks_emit(r, v, NULL);
}

void ks_emit_int_at(struct ks_render *r, const json_t *obj, const char *path)
{
	double v;

	if (ks_int(obj, path, &v))
		ks_emit(r, v, NULL);
}

void ks_emit_int_or(struct ks_render *r, const json_t *obj, const char *path, double def)
{
	double v;

	ks_emit(r, ks_int(obj, path, &v) ? v : def, NULL);
}

const json_t *ks_json_path(const json_t *obj, const char *path)
{
	const char *p = path;

	while (obj && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (!json_is_object(obj))
			return NULL;
		obj = json_object_getn(obj, p, n);
		p += n + (dot ? 1 : 0);
	}
	return obj;
}

const char *ks_str(const json_t *obj, const char *path)
{
	const char *s = json_string_value(ks_json_path(obj, path));

	return s ? s : "";
}

bool ks_int(const json_t *obj, const char *path, double *out)
{
	const json_t *v = ks_json_path(obj, path);

	if (json_is_integer(v)) {
		*out = (double)json_integer_value(v);
		return true;
	}
	if (json_is_real(v)) {
		*out = json_real_value(v);
		return true;
	}
	return false;
}

bool ks_bool(const json_t *obj, const char *path)
{
	return json_is_true(ks_json_path(obj, path));
}

const char *ks_cond_status(const char *s)
{
	if (strcmp(s, "True") == 0)
		return "true";
	if (strcmp(s, "False") == 0)
		return "false";
	return "unknown";
}

/* Reads exactly n digits at *p. */
static bool digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		unsigned d = (unsigned char)(*p)[i] - '0';
		if (d > 9)
			return false;
		v = v * 10 + (int)d;
	}
	*p += n;
	*out = v;
	return true;
}

bool ks_parse_time(const char *s, double *out)
{
	struct tm tm = { 0 };
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	const char *p = s;
	time_t t;

	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
	    !digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
		return false;
	p++;
	if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) || *p++ != ':' ||
	    !digits(&p, 2, &sec))
		return false;
	/* Fractional seconds: KSM's metav1.Time has second precision (Unix()). */
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om))
			return false;
	} else {
		return false;
	}
	if (*p)
		return false;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	*out = (double)t - sign * (oh * 3600 + om * 60);
	return true;
}

/* Default labels of an object, escaped, e.g. namespace="a",pod="b",uid="c". */
static int render_base(enum ks_kind kind, const struct ks_kind_def *k, const json_t *obj,
		       struct buf *b)
{
	const char *name = ks_str(obj, "metadata.name");
	const char *ns = ks_str(obj, "metadata.namespace");
	int rc = 0;

	if (k->ns == KS_NS_FIRST || (k->ns == KS_NS_AUTO && ks_kind_namespaced(kind))) {
		rc = buf_adds(b, "namespace=\"");
		if (!rc)
			rc = expo_escape_label(b, ns, strlen(ns));
		if (!rc)
			rc = buf_adds(b, "\",");
	}
	if (!rc)
		rc = buf_printf(b, "%s=\"", k->label);
	if (!rc)
		rc = expo_escape_label(b, name, strlen(name));
	if (!rc)
		rc = buf_addc(b, '"');
	if (!rc && k->ns == KS_NS_AFTER) {
		rc = buf_adds(b, ",namespace=\"");
		if (!rc)
			rc = expo_escape_label(b, ns, strlen(ns));
		if (!rc)
			rc = buf_addc(b, '"');
	}
	if (!rc && k->extra_label) {
		const char *v = ks_str(obj, k->extra_path);
		rc = buf_printf(b, ",%s=\"", k->extra_label);
		if (!rc)
			rc = expo_escape_label(b, v, strlen(v));
		if (!rc)
			rc = buf_addc(b, '"');
	}
	if (!rc && k->uid) {
		const char *uid = ks_str(obj, "metadata.uid");
		rc = buf_adds(b, ",uid=\"");
		if (!rc)
			rc = expo_escape_label(b, uid, strlen(uid));
		if (!rc)
			rc = buf_addc(b, '"');
	}
	return rc;
}

/* Output cap per object: far above any real object (a pod with hundreds of
 * containers renders to well under 1 MiB). */
#define KS_OBJECT_TEXT_MAX (16u << 20)
#define KS_BASE_MAX (64u << 10)

int ks_render_object(enum ks_kind kind, const json_t *obj, const struct ks_opts *opts,
		     struct buf *out, uint32_t *off, struct ks_label_drops *drops)
{
	static const struct ks_allowlist none = { NULL, 0 };
	const struct ks_kind_def *k = &ks_kinds[kind];
	struct ks_render r = { 0 };
	struct ks_label_drops scratch = { 0 };
	int rc;

	if (!json_is_object(obj) || !*ks_str(obj, "metadata.name"))
		return KM_EINVAL;
	if (out->cap == 0 || out->cap > KS_OBJECT_TEXT_MAX)
		out->cap = KS_OBJECT_TEXT_MAX;
	/* The default labels once, in front of the segments (off[0] = their
	 * length), instead of in every line: they are most of a line. */
	rc = render_base(kind, k, obj, out);
	if (rc)
		return rc;
	if (out->len > KS_BASE_MAX)
		return KM_ETOOBIG;
	r.out = out;
	r.labels_allow = opts ? &opts->labels[kind] : &none;
	r.annotations_allow = opts ? &opts->annotations[kind] : &none;
	r.drops = drops ? drops : &scratch;
	for (size_t i = 0; i < *k->nfamilies; i++) {
		off[i] = (uint32_t)out->len;
		r.fam = k->families[i].name;
		k->families[i].fn(&r, obj);
	}
	off[*k->nfamilies] = (uint32_t)out->len;
	return r.err;
}

/* Counts a present value that is not a quantity (see ks_internal.h). */
static bool counted(struct ks_render *r, const json_t *v, bool ok)
{
	if (!ok && v && !json_is_null(v))
		r->drops->bad_quantity++;
	return ok;
}

bool ks_render_milli(struct ks_render *r, const json_t *v, double *out)
{
	return counted(r, v, ks_quantity_milli(v, out));
}

bool ks_render_value(struct ks_render *r, const json_t *v, double *out)
{
	return counted(r, v, ks_quantity_value(v, out));
}

bool ks_render_approx(struct ks_render *r, const json_t *v, double *out)
{
	return counted(r, v, ks_quantity_approx(v, out));
}
