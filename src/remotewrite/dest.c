#include "remotewrite/dest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "remotewrite/rw.h"

/* RFC 9110 token characters. */
static bool tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static const char *const reserved[] = {
	"Content-Encoding", "Content-Type", "Content-Length", "X-Prometheus-Remote-Write-Version", "Host",
};

/* Trims spaces and tabs off [*p, *p + *n). */
static void trim(const char **p, size_t *n)
{
	while (*n && (**p == ' ' || **p == '\t')) {
		(*p)++;
		(*n)--;
	}
	while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
		(*n)--;
}

/* One "Name:value" part of length len. */
static int add_header(const char *part, size_t len, char *out, size_t outcap, size_t *outlen, char *err, size_t errlen)
{
	const char *colon = memchr(part, ':', len);
	const char *name = part, *val;
	size_t nlen, vlen;

	if (!colon) {
		snprintf(err, errlen, "\"%.*s\": want Name:value", (int)(len > 64 ? 64 : len), part);
		return KM_EINVAL;
	}
	nlen = (size_t)(colon - part);
	val = colon + 1;
	vlen = len - nlen - 1;
	trim(&name, &nlen);
	trim(&val, &vlen);
	if (!nlen) {
		snprintf(err, errlen, "\"%.*s\": empty header name", (int)(len > 64 ? 64 : len), part);
		return KM_EINVAL;
	}
	for (size_t i = 0; i < nlen; i++) {
		if (!tchar((unsigned char)name[i])) {
			snprintf(err, errlen, "\"%.*s\" is not a valid header name", (int)(nlen > 64 ? 64 : nlen), name);
			return KM_EINVAL;
		}
	}
	/* A line break would let the value start a header of its own. */
	for (size_t i = 0; i < vlen; i++) {
		if (val[i] == '\r' || val[i] == '\n' || val[i] == '\0') {
			snprintf(err, errlen, "header %.*s: line break in the value", (int)(nlen > 64 ? 64 : nlen), name);
			return KM_EINVAL;
		}
	}
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		if (strlen(reserved[i]) == nlen && strncasecmp(reserved[i], name, nlen) == 0) {
			snprintf(err, errlen, "header %s is set by the remote-write protocol, not configurable", reserved[i]);
			return KM_EINVAL;
		}
	}
	if (*outlen + nlen + 2 + vlen + 1 > outcap) {
		snprintf(err, errlen, "headers longer than %zu bytes", outcap);
		return KM_EINVAL;
	}
	memcpy(out + *outlen, name, nlen);
	memcpy(out + *outlen + nlen, ": ", 2);
	memcpy(out + *outlen + nlen + 2, val, vlen);
	*outlen += nlen + 2 + vlen;
	out[(*outlen)++] = '\0';
	return 0;
}

int rw_headers_parse(const char *spec, char *out, size_t outcap, size_t *outlen, char *err, size_t errlen)
{
	const char *p = spec;
	int rc;

	*outlen = 0;
	while (*p) {
		const char *sep = strstr(p, "^^");
		size_t len = sep ? (size_t)(sep - p) : strlen(p);

		rc = add_header(p, len, out, outcap, outlen, err, errlen);
		if (rc) {
			*outlen = 0;
			return rc;
		}
		p += len;
		if (sep)
			p += 2;
	}
	return 0;
}

int rw_proto_parse(const char *s, enum rw_proto *out)
{
	if (!s || !s[0] || strcmp(s, "auto") == 0)
		*out = RW_PROTO_AUTO;
	else if (strcmp(s, "prometheus") == 0)
		*out = RW_PROTO_PROMETHEUS;
	else if (strcmp(s, "victoriametrics") == 0)
		*out = RW_PROTO_VM;
	else
		return KM_EINVAL;
	return 0;
}

const char *rw_proto_name(enum rw_proto p)
{
	return p == RW_PROTO_PROMETHEUS ? "prometheus" : p == RW_PROTO_VM ? "victoriametrics" : "auto";
}

static bool set(const char *s)
{
	return s && s[0];
}

int rw_dest_check(const struct rw_dest *d, char *err, size_t errlen)
{
	if (!set(d->url) || (strncmp(d->url, "http://", 7) != 0 && strncmp(d->url, "https://", 8) != 0) ||
	    strpbrk(d->url, "\r\n ")) {
		snprintf(err, errlen, "url \"%.128s\": want an http:// or https:// URL", d->url ? d->url : "");
		return KM_EINVAL;
	}
	if (set(d->cert_file) != set(d->key_file) || set(d->cert_pem) != set(d->key_pem)) {
		snprintf(err, errlen, "a client certificate needs both the certificate and its key");
		return KM_EINVAL;
	}
	if ((set(d->basic_password_file) || set(d->basic_password)) && !set(d->basic_user)) {
		snprintf(err, errlen, "basic auth password without a username");
		return KM_EINVAL;
	}
	if (set(d->basic_user) && (set(d->bearer_token_file) || set(d->bearer_token))) {
		snprintf(err, errlen, "basic auth and a bearer token both set: choose one");
		return KM_EINVAL;
	}
	for (size_t at = 0; at < d->labels_len;) {
		const char *kv = d->labels + at;
		const char *end = memchr(kv, '\0', d->labels_len - at);
		char why[200];

		if (!end || rw_label_check(kv, why, sizeof(why))) {
			snprintf(err, errlen, "label \"%.64s\": %s", end ? kv : "", end ? why : "not NUL-terminated");
			return KM_EINVAL;
		}
		at += (size_t)(end - kv) + 1;
	}
	if (set(d->basic_user) && strpbrk(d->basic_user, ":\r\n")) {
		snprintf(err, errlen, "basic auth username with ':' or a line break");
		return KM_EINVAL;
	}
	return 0;
}

#define STR_FIELDS(X) X(url) X(bearer_token_file) X(bearer_token) X(basic_user) X(basic_password_file) \
	X(basic_password) X(ca_file) X(cert_file) X(key_file) X(ca_pem) X(cert_pem) X(key_pem) X(server_name)

static int dup_field(char **dst, const char *src)
{
	*dst = NULL;
	if (!set(src))
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : KM_ENOMEM;
}

int rw_dest_copy(struct rw_dest *dst, const struct rw_dest *src)
{
	int rc = 0;

	memset(dst, 0, sizeof(*dst));
#define COPY(f) if (!rc) rc = dup_field(&dst->f, src->f);
	STR_FIELDS(COPY)
#undef COPY
	if (!rc && src->headers_len) {
		dst->headers = malloc(src->headers_len);
		if (dst->headers) {
			memcpy(dst->headers, src->headers, src->headers_len);
			dst->headers_len = src->headers_len;
		} else {
			rc = KM_ENOMEM;
		}
	}
	if (!rc && src->labels_len) {
		dst->labels = malloc(src->labels_len);
		if (dst->labels) {
			memcpy(dst->labels, src->labels, src->labels_len);
			dst->labels_len = src->labels_len;
		} else {
			rc = KM_ENOMEM;
		}
	}
	dst->insecure_skip_verify = src->insecure_skip_verify;
	dst->proto = src->proto;
	dst->max_disk = src->max_disk;
	dst->send_timeout_ms = src->send_timeout_ms;
	if (rc)
		rw_dest_fini(dst);
	return rc;
}

/* Secrets are wiped before the memory goes back to the allocator. */
static void free_secret(char *s)
{
	if (s)
		memset(s, 0, strlen(s));
	free(s);
}

void rw_dest_fini(struct rw_dest *d)
{
	free_secret(d->bearer_token);
	free_secret(d->basic_password);
	free_secret(d->key_pem);
	d->bearer_token = d->basic_password = d->key_pem = NULL;
#define FREE(f) free(d->f);
	STR_FIELDS(FREE)
#undef FREE
	free(d->headers);
	free(d->labels);
	memset(d, 0, sizeof(*d));
}

static bool str_eq(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

bool rw_dest_equal(const struct rw_dest *a, const struct rw_dest *b)
{
#define EQ(f) if (!str_eq(a->f, b->f)) return false;
	STR_FIELDS(EQ)
#undef EQ
	return a->insecure_skip_verify == b->insecure_skip_verify && a->proto == b->proto &&
	       a->send_timeout_ms == b->send_timeout_ms &&
	       a->headers_len == b->headers_len && (!a->headers_len || memcmp(a->headers, b->headers, a->headers_len) == 0);
}

bool rw_dest_same_queue(const struct rw_dest *a, const struct rw_dest *b)
{
	return a->max_disk == b->max_disk && a->labels_len == b->labels_len &&
	       (!a->labels_len || memcmp(a->labels, b->labels, a->labels_len) == 0);
}

int rw_dest_label_add(const char *name, size_t nlen, const char *value, size_t vlen, char *out, size_t outcap,
		      size_t *outlen, char *err, size_t errlen)
{
	char kv[512], why[200];
	size_t at = 0;

	if (nlen + 1 + vlen >= sizeof(kv)) {
		snprintf(err, errlen, "label %.*s: longer than %zu bytes", (int)(nlen > 64 ? 64 : nlen), name, sizeof(kv) - 1);
		return KM_EINVAL;
	}
	memcpy(kv, name, nlen);
	kv[nlen] = '=';
	memcpy(kv + nlen + 1, value, vlen);
	kv[nlen + 1 + vlen] = '\0';
	if (memchr(value, '\0', vlen) || rw_label_check(kv, why, sizeof(why))) {
		snprintf(err, errlen, "label \"%.64s\": %s", kv, memchr(value, '\0', vlen) ? "NUL in the value" : why);
		return KM_EINVAL;
	}
	/* A later one of the same name replaces the earlier: removed first. */
	while (at < *outlen) {
		size_t len = strlen(out + at) + 1;

		if (strncmp(out + at, kv, nlen + 1) == 0) {
			memmove(out + at, out + at + len, *outlen - at - len);
			*outlen -= len;
			continue;
		}
		at += len;
	}
	if (*outlen + nlen + vlen + 2 > outcap) {
		snprintf(err, errlen, "labels longer than %zu bytes", outcap);
		return KM_EINVAL;
	}
	memcpy(out + *outlen, kv, nlen + vlen + 2);
	*outlen += nlen + vlen + 2;
	return 0;
}

int rw_dest_labels_parse(const char *spec, char *out, size_t outcap, size_t *outlen, char *err, size_t errlen)
{
	const char *p = spec;

	*outlen = 0;
	while (*p) {
		size_t len = strcspn(p, ",");
		const char *eq = memchr(p, '=', len);

		if (!eq || eq == p) {
			snprintf(err, errlen, "\"%.*s\": want name=value", (int)(len > 64 ? 64 : len), p);
			return KM_EINVAL;
		}
		if (rw_dest_label_add(p, (size_t)(eq - p), eq + 1, len - (size_t)(eq - p) - 1, out, outcap, outlen, err, errlen))
			return KM_EINVAL;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}
