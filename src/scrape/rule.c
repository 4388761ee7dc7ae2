#include "scrape/rule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/parse.h"
#include "config/selector.h"
#include "scrape/rule_relabel.h"

static const char *const role_names[ROLE_COUNT] = {
	[ROLE_POD] = "pod",
	[ROLE_SERVICE] = "service",
	[ROLE_ENDPOINTS] = "endpoints",
	[ROLE_ENDPOINTSLICE] = "endpointslice",
	[ROLE_NODE] = "node",
	[ROLE_INGRESS] = "ingress",
};

const char *scrape_role_name(enum scrape_role role)
{
	return role < ROLE_COUNT ? role_names[role] : "?";
}

int scrape_role_parse(const char *s, enum scrape_role *out)
{
	for (int i = 0; i < ROLE_COUNT; i++) {
		if (s && strcmp(s, role_names[i]) == 0) {
			*out = (enum scrape_role)i;
			return 0;
		}
	}
	return KM_EINVAL;
}

static void rule_free(struct scrape_rule *r)
{
	free(r->namespace);
	free(r->name);
	free(r->job);
	for (size_t i = 0; i < r->nprefix; i++)
		free(r->prefix[i]);
	selector_free(r->selector);
	selector_free(r->ns_selector);
	free(r->port);
	free(r->path);
	free(r->scheme);
	rule_relabel_free(r->relabel);
	rule_relabel_free(r->metric_relabel);
	free(r->auth.bearer_token_file);
	free(r->auth.ca_file);
	free(r->auth.cert_file);
	free(r->auth.key_file);
	free(r);
}

struct scrape_rule *scrape_rule_ref(struct scrape_rule *r)
{
	if (r)
		atomic_fetch_add(&r->refs, 1);
	return r;
}

void scrape_rule_unref(struct scrape_rule *r)
{
	if (r && atomic_fetch_sub(&r->refs, 1) == 1)
		rule_free(r);
}

int64_t scrape_rule_interval(const struct scrape_rule *r, int64_t dflt_interval_ms)
{
	return r->interval_ms > 0 ? r->interval_ms : dflt_interval_ms;
}

int64_t scrape_rule_timeout(const struct scrape_rule *r, int64_t interval_ms)
{
	if (r->timeout_ms > 0)
		return r->timeout_ms < interval_ms ? r->timeout_ms : interval_ms;
	return interval_ms < RULE_DEFAULT_TIMEOUT_MS ? interval_ms : RULE_DEFAULT_TIMEOUT_MS;
}

/* DNS-1123 subdomain, as the CRD pattern requires for annotationPrefix. */
static bool valid_prefix(const char *s)
{
	size_t n = strlen(s);
	bool label_start = true;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (c == '.') {
			if (label_start || s[i - 1] == '-')
				return false;
			label_start = true;
			continue;
		}
		if (!alnum && !(c == '-' && !label_start))
			return false;
		label_start = false;
	}
	return !label_start && s[n - 1] != '-';
}

/* Reads an optional duration field into *out (ms); 0 when absent. */
static int get_duration(const json_t *spec, const char *field, int64_t min_ms, int64_t max_ms,
			int64_t *out, char *err, size_t errlen)
{
	const json_t *v = json_object_get(spec, field);
	const char *s;

	*out = 0;
	if (!v)
		return 0;
	s = json_string_value(v);
	if (!s || parse_duration_ms(s, strlen(s), out)) {
		snprintf(err, errlen, "spec.%s: %s%s%s is not a duration (e.g. 30s, 1m)", field,
			 s ? "\"" : "", s ? s : "value", s ? "\"" : "");
		return KM_EINVAL;
	}
	if (*out < min_ms || *out > max_ms) {
		snprintf(err, errlen, "spec.%s: %s is out of range [%lldms, %lldms]", field, s,
			 (long long)min_ms, (long long)max_ms);
		return KM_ERANGE;
	}
	return 0;
}

/* Reads an optional integer limit in [0, max] into *out; 0 when absent. */
static int get_limit(const json_t *spec, const char *field, json_int_t max, json_int_t *out, char *err,
		     size_t errlen)
{
	const json_t *v = json_object_get(spec, field);

	*out = 0;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max) {
		snprintf(err, errlen, "spec.%s: must be an integer in [0, %lld]", field, (long long)max);
		return KM_ERANGE;
	}
	*out = json_integer_value(v);
	return 0;
}

/* Optional string field; *out stays NULL when absent. */
static int get_string(const json_t *spec, const char *field, char **out, char *err, size_t errlen)
{
	const json_t *v = json_object_get(spec, field);

	if (!v)
		return 0;
	if (!json_is_string(v)) {
		snprintf(err, errlen, "spec.%s: must be a string", field);
		return KM_EINVAL;
	}
	*out = strdup(json_string_value(v));
	return *out ? 0 : KM_ENOMEM;
}

static int get_bool(const json_t *spec, const char *field, bool dflt, bool *out, char *err, size_t errlen)
{
	const json_t *v = json_object_get(spec, field);

	*out = dflt;
	if (!v)
		return 0;
	if (!json_is_boolean(v)) {
		snprintf(err, errlen, "spec.%s: must be true or false", field);
		return KM_EINVAL;
	}
	*out = json_is_true(v);
	return 0;
}

static int check_port(const json_t *v, char **out, char *err, size_t errlen)
{
	char tmp[32];

	if (!v)
		return 0;
	if (json_is_integer(v)) {
		json_int_t p = json_integer_value(v);
		if (p < 1 || p > 65535) {
			snprintf(err, errlen, "spec.port: %lld is not a port number (1-65535)", (long long)p);
			return KM_ERANGE;
		}
		snprintf(tmp, sizeof(tmp), "%lld", (long long)p);
		*out = strdup(tmp);
		return *out ? 0 : KM_ENOMEM;
	}
	if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) > 63) {
		snprintf(err, errlen, "spec.port: must be a port number or a port name of 1-63 characters");
		return KM_EINVAL;
	}
	*out = strdup(json_string_value(v));
	return *out ? 0 : KM_ENOMEM;
}

static struct scrape_rule *rule_alloc(void)
{
	struct scrape_rule *r = calloc(1, sizeof(*r));

	if (r)
		atomic_store(&r->refs, 1);
	return r;
}

struct scrape_rule *scrape_rule_compile(const json_t *obj, char *err, size_t errlen)
{
	const json_t *md = json_object_get(obj, "metadata");
	const json_t *spec = json_object_get(obj, "spec");
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *name = json_string_value(json_object_get(md, "name"));
	const json_t *v;
	struct scrape_rule *r = rule_alloc();
	char *prefix = NULL;
	json_int_t lim;
	int rc = 0;

	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!name || !ns) {
		snprintf(err, errlen, "metadata: namespace and name are required");
		goto fail;
	}
	if (spec && !json_is_object(spec)) {
		snprintf(err, errlen, "spec: must be an object");
		goto fail;
	}
	r->namespace = strdup(ns);
	r->name = strdup(name);
	r->generation = json_integer_value(json_object_get(md, "generation"));
	if (!r->namespace || !r->name)
		goto nomem;
	{
		size_t n = strlen(ns) + strlen(name) + 2;
		r->job = malloc(n);
		if (!r->job)
			goto nomem;
		snprintf(r->job, n, "%s/%s", ns, name);
	}

	v = json_object_get(spec, "role");
	if (!v)
		r->role = ROLE_POD;
	else if (scrape_role_parse(json_string_value(v), &r->role)) {
		snprintf(err, errlen, "spec.role: \"%s\" is not one of pod, service, endpoints, endpointslice, node, ingress",
			 json_string_value(v) ?: "?");
		goto fail;
	}

	if ((rc = get_string(spec, "annotationPrefix", &prefix, err, errlen)))
		goto check_rc;
	if (!prefix && !(prefix = strdup(RULE_DEFAULT_PREFIX)))
		goto nomem;
	r->prefix[r->nprefix++] = prefix;
	if (!valid_prefix(prefix)) {
		snprintf(err, errlen, "spec.annotationPrefix: \"%s\" is not a DNS subdomain (e.g. prometheus.io)", prefix);
		goto fail;
	}
	if ((rc = get_bool(spec, "requireAnnotation", true, &r->require_annotation, err, errlen)) ||
	    (rc = get_bool(spec, "honorLabels", false, &r->honor_labels, err, errlen)))
		goto check_rc;

	r->selector = selector_compile(json_object_get(spec, "selector"), "spec.selector", err, errlen);
	if (!r->selector)
		goto fail;
	v = json_object_get(spec, "namespaceSelector");
	if (v) {
		r->ns_selector = selector_compile(v, "spec.namespaceSelector", err, errlen);
		if (!r->ns_selector)
			goto fail;
	}
	if ((rc = check_port(json_object_get(spec, "port"), &r->port, err, errlen)))
		goto check_rc;
	if ((rc = get_string(spec, "path", &r->path, err, errlen)))
		goto check_rc;
	if (!r->path && !(r->path = strdup("/metrics")))
		goto nomem;
	if (r->path[0] != '/' || strlen(r->path) > 1024) {
		snprintf(err, errlen, "spec.path: \"%s\" must start with / (at most 1024 bytes)", r->path);
		goto fail;
	}
	if ((rc = get_string(spec, "scheme", &r->scheme, err, errlen)))
		goto check_rc;
	if (!r->scheme && !(r->scheme = strdup("http")))
		goto nomem;
	if (strcmp(r->scheme, "http") != 0 && strcmp(r->scheme, "https") != 0) {
		snprintf(err, errlen, "spec.scheme: \"%s\" is not http or https", r->scheme);
		goto fail;
	}
	if ((rc = get_duration(spec, "interval", 1000, 3600000, &r->interval_ms, err, errlen)) ||
	    (rc = get_duration(spec, "scrapeTimeout", 100, 3600000, &r->timeout_ms, err, errlen)))
		goto check_rc;
	if (r->interval_ms && r->timeout_ms > r->interval_ms) {
		snprintf(err, errlen, "spec.scrapeTimeout: %s is longer than spec.interval %s",
			 json_string_value(json_object_get(spec, "scrapeTimeout")),
			 json_string_value(json_object_get(spec, "interval")));
		goto fail;
	}
	if ((rc = get_limit(spec, "sampleLimit", 100000000, &lim, err, errlen)))
		goto check_rc;
	r->sample_limit = (uint64_t)lim;
	if ((rc = get_limit(spec, "labelLimit", 1000, &lim, err, errlen)))
		goto check_rc;
	r->label_limit = (uint32_t)lim;
	if ((rc = get_limit(spec, "labelNameLengthLimit", 1 << 20, &lim, err, errlen)))
		goto check_rc;
	r->label_name_length_limit = (uint32_t)lim;
	if ((rc = get_limit(spec, "labelValueLengthLimit", 1 << 20, &lim, err, errlen)))
		goto check_rc;
	r->label_value_length_limit = (uint32_t)lim;
	if ((rc = rule_relabel_compile(json_object_get(spec, "relabelings"), "spec.relabelings",
				       &r->relabel, err, errlen)) ||
	    (rc = rule_relabel_compile(json_object_get(spec, "metricRelabelings"), "spec.metricRelabelings",
				       &r->metric_relabel, err, errlen)))
		goto check_rc;
	return r;
check_rc:
	if (rc == KM_ENOMEM)
		goto nomem;
	goto fail;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	rule_free(r);
	return NULL;
}

struct scrape_rule *scrape_rule_builtin(void)
{
	struct scrape_rule *r = rule_alloc();
	char err[128];

	if (!r)
		return NULL;
	r->builtin = true;
	r->role = ROLE_POD;
	r->require_annotation = true;
	r->namespace = strdup("");
	r->name = strdup("builtin");
	r->job = strdup(RULE_BUILTIN_JOB);
	/* victoriametrics.com first: when a pod carries both, its values win. */
	r->prefix[r->nprefix++] = strdup(RULE_DEFAULT_PREFIX);
	r->prefix[r->nprefix++] = strdup("prometheus.io");
	r->selector = selector_compile(NULL, "spec.selector", err, sizeof(err));
	r->ns_selector = selector_compile(NULL, "spec.namespaceSelector", err, sizeof(err));
	r->path = strdup("/metrics");
	r->scheme = strdup("http");
	if (!r->namespace || !r->name || !r->job || !r->prefix[0] || !r->prefix[1] || !r->selector ||
	    !r->ns_selector || !r->path || !r->scheme) {
		rule_free(r);
		return NULL;
	}
	return r;
}
