#include "config/config.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/parse.h"
#include "collect/kubestate/crs.h"
#include "collect/components/components.h"
#include "collect/kubestate/kinds.h"
#include "collect/kubestate/shard.h"
#include "collect/node/node.h"
#include "config/flags.h"
#include "config/selector.h"
#include "remotewrite/dest.h"

static bool list_has(const struct str_list *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

static int list_copy(struct str_list *dst, const struct str_list *src)
{
	dst->n = 0;
	for (size_t i = 0; i < src->n; i++) {
		dst->v[i] = strdup(src->v[i]);
		if (!dst->v[i])
			return KM_ENOMEM;
		dst->n++;
	}
	return 0;
}

static void list_free(struct str_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

/* Reads an optional list of strings at obj[key] into l. */
static int get_str_list(const json_t *obj, const char *key, const char *path, struct str_list *l,
			bool *present, char *err, size_t errlen)
{
	json_t *a = json_object_get(obj, key), *v;
	size_t i;

	*present = a != NULL && !json_is_null(a);
	if (!*present)
		return 0;
	if (!json_is_array(a)) {
		snprintf(err, errlen, "%s.%s: must be a list of strings", path, key);
		return KM_EINVAL;
	}
	if (json_array_size(a) > FLAGS_LIST_MAX) {
		snprintf(err, errlen, "%s.%s: more than %d entries", path, key, FLAGS_LIST_MAX);
		return KM_ETOOBIG;
	}
	list_free(l);
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) || !json_string_length(v)) {
			snprintf(err, errlen, "%s.%s[%zu]: must be a non-empty string", path, key, i);
			return KM_EINVAL;
		}
		l->v[l->n] = strdup(json_string_value(v));
		if (!l->v[l->n])
			return KM_ENOMEM;
		l->n++;
	}
	return 0;
}

static int get_rx(const json_t *obj, const char *key, const char *path, struct rx **out,
		  char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	char why[256];

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		snprintf(err, errlen, "%s.%s: must be a string (a regular expression)", path, key);
		return KM_EINVAL;
	}
	/* The monitor's field replaces the flag's filter. */
	rx_free(*out);
	*out = rx_new_search(json_string_value(v), why, sizeof(why));
	if (!*out) {
		snprintf(err, errlen, "%s.%s: %s", path, key, why);
		return KM_EINVAL;
	}
	return 0;
}

/* Validates each regex of the list obj[key] (for a field-path message), then
 * compiles their alternation into one regex with search semantics: KSM
 * v2.20's pkg/allowdenylist matches each entry anywhere in the family name
 * (regexp2 MatchString, no anchors), so "kube_pod_status_ready" also selects
 * kube_pod_status_ready_time; ^...$ selects one family. */
static int get_rx_list(const json_t *obj, const char *key, const char *path, struct rx **out,
		       char *err, size_t errlen)
{
	json_t *a = json_object_get(obj, key), *v;
	char why[256];
	size_t i;
	struct buf joined;
	int rc = 0;

	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a)) {
		snprintf(err, errlen, "%s.%s: must be a list of regular expressions", path, key);
		return KM_EINVAL;
	}
	if (json_array_size(a) > CONFIG_RX_MAX) {
		snprintf(err, errlen, "%s.%s: more than %d entries", path, key, CONFIG_RX_MAX);
		return KM_ETOOBIG;
	}
	if (json_array_size(a) == 0)
		return 0;
	buf_init(&joined, 64 << 10);
	json_array_foreach(a, i, v) {
		struct rx *one;
		if (!json_is_string(v)) {
			snprintf(err, errlen, "%s.%s[%zu]: must be a string", path, key, i);
			rc = KM_EINVAL;
			goto out;
		}
		one = rx_new_search(json_string_value(v), why, sizeof(why));
		if (!one) {
			snprintf(err, errlen, "%s.%s[%zu]: %s", path, key, i, why);
			rc = KM_EINVAL;
			goto out;
		}
		rx_free(one);
		rc = buf_printf(&joined, "%s(?:%s)", i ? "|" : "", json_string_value(v));
		if (rc) {
			snprintf(err, errlen, "%s.%s: too long", path, key);
			goto out;
		}
	}
	*out = rx_new_search(buf_cstr(&joined), why, sizeof(why));
	if (!*out) {
		snprintf(err, errlen, "%s.%s: %s", path, key, why);
		rc = KM_EINVAL;
	}
out:
	buf_fini(&joined);
	return rc;
}

/* Records in c->from that the part came from the monitor when its spec sets
 * field (absent fields keep "flags"). */
static int from_set(struct config *c, const json_t *spec, const char *field, const char *part)
{
	json_t *v = json_object_get(spec, field);

	if (!v || json_is_null(v))
		return 0;
	return json_object_set_new(c->from, part, json_string(c->source)) ? KM_ENOMEM : 0;
}

/* A Secret reference {name, key} at path.field, when present. */
static int check_secret_ref(const json_t *o, const char *field, const char *path, char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, field);
	const char *name, *key;

	if (!v)
		return 0;
	name = json_string_value(json_object_get(v, "name"));
	key = json_string_value(json_object_get(v, "key"));
	if (!json_is_object(v) || !name || !name[0] || strlen(name) > 253 || !key || !key[0] || strlen(key) > 253) {
		snprintf(err, errlen, "%s.%s: want {name, key} of a Secret", path, field);
		return KM_EINVAL;
	}
	return 0;
}

static int check_rw_entry(const json_t *e, const char *path, char *err, size_t errlen)
{
	char hdr[RW_HEADERS_MAX], why[200], line[1400];
	const json_t *tls = json_object_get(e, "tlsConfig"), *basic = json_object_get(e, "basicAuth");
	const json_t *h = json_object_get(e, "headers"), *hv;
	const char *url = json_string_value(json_object_get(e, "url")), *proto, *hk;
	enum rw_proto p;
	size_t n;
	int rc;

	if (!json_is_object(e) || !url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
	    strlen(url) > 2048 || strpbrk(url, " \r\n")) {
		snprintf(err, errlen, "%s.url: want an http:// or https:// URL", path);
		return KM_EINVAL;
	}
	proto = json_string_value(json_object_get(e, "protocol"));
	if (json_object_get(e, "protocol") && (!proto || rw_proto_parse(proto, &p))) {
		snprintf(err, errlen, "%s.protocol: want auto, prometheus or victoriametrics", path);
		return KM_EINVAL;
	}
	if ((rc = check_secret_ref(e, "bearerTokenSecret", path, err, errlen)))
		return rc;
	if (basic) {
		char bp[128];

		snprintf(bp, sizeof(bp), "%s.basicAuth", path);
		if (!json_object_get(basic, "username") || !json_object_get(basic, "password")) {
			snprintf(err, errlen, "%s: want username and password Secret references", bp);
			return KM_EINVAL;
		}
		if ((rc = check_secret_ref(basic, "username", bp, err, errlen)) ||
		    (rc = check_secret_ref(basic, "password", bp, err, errlen)))
			return rc;
		if (json_object_get(e, "bearerTokenSecret")) {
			snprintf(err, errlen, "%s: bearerTokenSecret and basicAuth are exclusive", path);
			return KM_EINVAL;
		}
	}
	if (tls) {
		char tp[128];

		snprintf(tp, sizeof(tp), "%s.tlsConfig", path);
		if ((rc = check_secret_ref(tls, "ca", tp, err, errlen)) || (rc = check_secret_ref(tls, "cert", tp, err, errlen)) ||
		    (rc = check_secret_ref(tls, "keySecret", tp, err, errlen)))
			return rc;
		if (!json_object_get(tls, "cert") != !json_object_get(tls, "keySecret")) {
			snprintf(err, errlen, "%s: cert and keySecret go together", tp);
			return KM_EINVAL;
		}
	}
	if (h && !json_is_object(h)) {
		snprintf(err, errlen, "%s.headers: want an object of name: value", path);
		return KM_EINVAL;
	}
	if ((rc = config_rw_dest_opts(e, path, NULL, err, errlen)))
		return rc;
	json_object_foreach((json_t *)h, hk, hv) {
		const char *val = json_string_value(hv);

		/* One header at a time: "^^" inside a value would split it. */
		if (!val || strstr(val, "^^") || strstr(hk, "^^")) {
			snprintf(err, errlen, "%s.headers.%.64s: want a string without \"^^\"", path, hk);
			return KM_EINVAL;
		}
		snprintf(line, sizeof(line), "%s:%s", hk, val);
		if (rw_headers_parse(line, hdr, sizeof(hdr), &n, why, sizeof(why))) {
			snprintf(err, errlen, "%s.headers: %s", path, why);
			return KM_EINVAL;
		}
	}
	return 0;
}

int config_rw_dest_opts(const json_t *e, const char *path, struct rw_dest *d, char *err, size_t errlen)
{
	const json_t *disk = json_object_get(e, "maxDiskUsage"), *to = json_object_get(e, "sendTimeout");
	const json_t *l = json_object_get(e, "externalLabels"), *lv;
	char lbl[RW_DEST_LABELS_MAX], why[300];
	uint64_t bytes = 0;
	int64_t ms = 0;
	size_t n = 0;
	const char *lk;

	if (disk && (!json_is_string(disk) || flags_rw_size(json_string_value(disk), &bytes, why, sizeof(why)))) {
		snprintf(err, errlen, "%s.maxDiskUsage: want a size (e.g. 500MB, 2GiB; at least 64KiB)", path);
		return KM_EINVAL;
	}
	if (to && (!json_is_string(to) || flags_rw_timeout(json_string_value(to), &ms, why, sizeof(why)))) {
		snprintf(err, errlen, "%s.sendTimeout: want a duration above 0 (e.g. 30s)", path);
		return KM_EINVAL;
	}
	if (l && (!json_is_object(l) || json_object_size(l) > 32)) {
		snprintf(err, errlen, "%s.externalLabels: want an object of at most 32 name: value", path);
		return KM_EINVAL;
	}
	json_object_foreach((json_t *)l, lk, lv) {
		const char *val = json_string_value(lv);

		if (!val || rw_dest_label_add(lk, strlen(lk), val, json_string_length(lv), lbl, sizeof(lbl), &n, why,
					      sizeof(why))) {
			snprintf(err, errlen, "%s.externalLabels.%.64s: %s", path, lk, val ? why : "want a string");
			return KM_EINVAL;
		}
	}
	if (!d)
		return 0;
	d->max_disk = bytes;
	d->send_timeout_ms = ms;
	if (n) {
		d->labels = malloc(n);
		if (!d->labels) {
			snprintf(err, errlen, "out of memory");
			return KM_ENOMEM;
		}
		memcpy(d->labels, lbl, n);
		d->labels_len = n;
	}
	return 0;
}

int config_check_remote_write(const json_t *v, char *err, size_t errlen)
{
	char path[64];
	size_t i, j;
	const json_t *e;

	if (!json_is_array(v) || json_array_size(v) > 16) {
		snprintf(err, errlen, "spec.remoteWrite: want a list of at most 16 destinations");
		return KM_EINVAL;
	}
	json_array_foreach(v, i, e) {
		int rc;

		snprintf(path, sizeof(path), "spec.remoteWrite[%zu]", i);
		if ((rc = check_rw_entry(e, path, err, errlen)))
			return rc;
		for (j = 0; j < i; j++) {
			if (strcmp(json_string_value(json_object_get(json_array_get(v, j), "url")),
				   json_string_value(json_object_get(e, "url"))) == 0) {
				snprintf(err, errlen, "%s.url: also in spec.remoteWrite[%zu]", path, j);
				return KM_EINVAL;
			}
		}
	}
	return 0;
}

static int scrape_bool(const json_t *o, const char *key, bool *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v)) {
		snprintf(err, errlen, "spec.scrape.%s: must be true or false", key);
		return KM_EINVAL;
	}
	*out = json_is_true(v);
	return 0;
}

static int scrape_count(const json_t *o, const char *key, json_int_t max, uint64_t *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max) {
		snprintf(err, errlen, "spec.scrape.%s: must be an integer in [0, %lld]", key, (long long)max);
		return KM_ERANGE;
	}
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* A byte count: an integer, or a Kubernetes quantity with a binary or
 * decimal suffix ("64Mi", "100M"). */
static int scrape_bytes(const json_t *o, const char *key, uint64_t *out, char *err, size_t errlen)
{
	static const struct { const char *sfx; uint64_t mul; } sfx[] = {
		{ "Ki", 1ull << 10 }, { "Mi", 1ull << 20 }, { "Gi", 1ull << 30 },
		{ "k", 1000 }, { "M", 1000000 }, { "G", 1000000000 }, { "", 1 },
	};
	json_t *v = json_object_get(o, key);
	const char *s;
	size_t n, d = 0;
	uint64_t num;

	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	s = json_string_value(v);
	n = s ? strlen(s) : 0;
	while (d < n && s[d] >= '0' && s[d] <= '9')
		d++;
	for (size_t i = 0; s && d && i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		if (strcmp(s + d, sfx[i].sfx) != 0 || parse_u64(s, d, &num) || num > (1ull << 40) / sfx[i].mul)
			continue;
		*out = num * sfx[i].mul;
		return 0;
	}
	snprintf(err, errlen, "spec.scrape.%s: must be a byte count up to 1Ti (e.g. 64Mi or 67108864)", key);
	return KM_EINVAL;
}

static int scrape_ns_list(const json_t *o, const char *key, char (*dst)[SCRAPE_POLICY_NS_LEN], size_t *n,
			  char *err, size_t errlen)
{
	json_t *a = json_object_get(o, key), *v;
	size_t i;

	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a) || json_array_size(a) > SCRAPE_POLICY_NS_MAX) {
		snprintf(err, errlen, "spec.scrape.%s: must be a list of at most %d namespace names", key,
			 SCRAPE_POLICY_NS_MAX);
		return KM_EINVAL;
	}
	*n = 0;
	json_array_foreach(a, i, v) {
		const char *s = json_string_value(v);
		if (!s || !s[0] || strlen(s) >= SCRAPE_POLICY_NS_LEN) {
			snprintf(err, errlen, "spec.scrape.%s[%zu]: must be a namespace name (1-63 characters) or \"*\"",
				 key, i);
			return KM_EINVAL;
		}
		snprintf(dst[(*n)++], SCRAPE_POLICY_NS_LEN, "%s", s);
	}
	return 0;
}

int config_parse_scrape(const json_t *v, struct scrape_policy *p, char *err, size_t errlen)
{
	uint64_t x;
	int rc;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v)) {
		snprintf(err, errlen, "spec.scrape: must be an object");
		return KM_EINVAL;
	}
	if ((rc = scrape_bool(v, "allowLoopback", &p->allow_loopback, err, errlen)) ||
	    (rc = scrape_bool(v, "allowLinkLocal", &p->allow_link_local, err, errlen)) ||
	    (rc = scrape_bool(v, "allowNodeAddresses", &p->allow_node_addresses, err, errlen)) ||
	    (rc = scrape_bool(v, "allowAPIServer", &p->allow_api_server, err, errlen)) ||
	    (rc = scrape_bool(v, "builtinRule", &p->builtin_rule, err, errlen)) ||
	    (rc = scrape_bool(v, "keepAppsText", &p->keep_apps_text, err, errlen)) ||
	    (rc = scrape_ns_list(v, "crossNamespaceRules", p->cross_ns, &p->ncross, err, errlen)) ||
	    (rc = scrape_ns_list(v, "honorLabelsNamespaces", p->honor_ns, &p->nhonor, err, errlen)) ||
	    (rc = scrape_count(v, "defaultSampleLimit", 100000000, &p->default_sample_limit, err, errlen)) ||
	    (rc = scrape_count(v, "maxSampleLimit", 100000000, &p->max_sample_limit, err, errlen)) ||
	    (rc = scrape_bytes(v, "memoryBudget", &p->memory_budget, err, errlen)))
		return rc;
	x = p->max_targets;
	if ((rc = scrape_count(v, "maxTargets", 1000000, &x, err, errlen)))
		return rc;
	p->max_targets = (uint32_t)x;
	x = p->max_targets_per_namespace;
	if ((rc = scrape_count(v, "maxTargetsPerNamespace", 1000000, &x, err, errlen)))
		return rc;
	p->max_targets_per_namespace = (uint32_t)x;
	if (p->max_sample_limit && (!p->default_sample_limit || p->default_sample_limit > p->max_sample_limit)) {
		snprintf(err, errlen, "spec.scrape.defaultSampleLimit: %llu is above spec.scrape.maxSampleLimit %llu "
			 "(0 = no limit is above every maximum)", (unsigned long long)p->default_sample_limit,
			 (unsigned long long)p->max_sample_limit);
		return KM_EINVAL;
	}
	return 0;
}

static json_t *ns_list_json(const char (*v)[SCRAPE_POLICY_NS_LEN], size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

json_t *config_scrape_json(const struct scrape_policy *p)
{
	return json_pack("{s:b, s:b, s:b, s:b, s:b, s:b, s:o, s:o, s:I, s:I, s:I, s:I, s:I}",
			 "allowLoopback", p->allow_loopback, "allowLinkLocal", p->allow_link_local,
			 "allowNodeAddresses", p->allow_node_addresses, "allowAPIServer", p->allow_api_server,
			 "builtinRule", p->builtin_rule, "keepAppsText", p->keep_apps_text,
			 "crossNamespaceRules", ns_list_json(p->cross_ns, p->ncross),
			 "honorLabelsNamespaces", ns_list_json(p->honor_ns, p->nhonor),
			 "defaultSampleLimit", (json_int_t)p->default_sample_limit,
			 "maxSampleLimit", (json_int_t)p->max_sample_limit,
			 "maxTargets", (json_int_t)p->max_targets,
			 "maxTargetsPerNamespace", (json_int_t)p->max_targets_per_namespace,
			 "memoryBudget", (json_int_t)p->memory_budget);
}


/* spec.kubeState.podSharding (absent: the flag's value stays). */
static int get_pod_sharding(const json_t *ks, int *out, char *err, size_t errlen)
{
	const json_t *v = json_object_get(ks, "podSharding");
	enum ks_pod_sharding m;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || ks_shard_parse_mode(json_string_value(v), &m)) {
		snprintf(err, errlen, "spec.kubeState.podSharding: must be \"node\" or \"leader\"");
		return KM_EINVAL;
	}
	*out = (int)m;
	return 0;
}

/* spec.kubeState.<field>: a map of resource to key names (KSM's
 * --metric-labels-allowlist / --metric-annotations-allowlist); *out gets a
 * deep copy, or stays NULL when absent. */
static int get_allowlist(const json_t *ks, const char *field, json_t **out, char *err,
			 size_t errlen)
{
	const json_t *v = json_object_get(ks, field);
	const char *kind;
	json_t *names;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v)) {
		snprintf(err, errlen, "spec.kubeState.%s: must be a map of resource to key names", field);
		return KM_EINVAL;
	}
	json_object_foreach((json_t *)v, kind, names) {
		size_t i;
		json_t *n;

		if (!json_is_array(names)) {
			snprintf(err, errlen, "spec.kubeState.%s.%s: must be a list", field, kind);
			return KM_EINVAL;
		}
		json_array_foreach(names, i, n) {
			if (!json_is_string(n)) {
				snprintf(err, errlen, "spec.kubeState.%s.%s[%zu]: must be a string", field,
					 kind, i);
				return KM_EINVAL;
			}
		}
	}
	*out = json_deep_copy(v);
	return *out ? 0 : KM_ENOMEM;
}
/* spec.components over the flags' values in c: absent fields keep them. */
static int get_bool(const json_t *obj, const char *key, const char *path, bool *out, char *err, size_t errlen)
{
	const json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v)) {
		snprintf(err, errlen, "%s.%s: must be a boolean", path, key);
		return KM_EINVAL;
	}
	*out = json_is_true(v);
	return 0;
}

static int parse_components(const json_t *v, struct config *c, char *err, size_t errlen)
{
	const json_t *en, *kl, *e;
	size_t i;
	int rc;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v)) {
		snprintf(err, errlen, "spec.components: must be an object");
		return KM_EINVAL;
	}
	en = json_object_get(v, "enabled");
	if (en && !json_is_null(en)) {
		if (!json_is_array(en)) {
			snprintf(err, errlen, "spec.components.enabled: must be a list");
			return KM_EINVAL;
		}
		c->components = 0;
		json_array_foreach(en, i, e) {
			const char *s = json_string_value(e);
			enum comp_id id;
			if (!s || comp_parse(s, strlen(s), &id)) {
				snprintf(err, errlen, "spec.components.enabled[%zu]: %s", i,
					 s ? "not one of kubelet, apiserver, kube-scheduler, kube-controller-manager, "
					     "kube-proxy, coredns, etcd" : "must be a string");
				return KM_EINVAL;
			}
			c->components |= COMP_BIT(id);
		}
	}
	if ((rc = get_bool(v, "dropLists", "spec.components", &c->comp_drop_lists, err, errlen)))
		return rc;
	kl = json_object_get(v, "kubelet");
	if (kl && !json_is_null(kl) && !json_is_object(kl)) {
		snprintf(err, errlen, "spec.components.kubelet: must be an object");
		return KM_EINVAL;
	}
	if ((rc = get_bool(kl, "insecureSkipVerify", "spec.components.kubelet", &c->comp_kubelet_insecure, err,
			   errlen)))
		return rc;
	return get_bool(kl, "cadvisor", "spec.components.kubelet", &c->comp_kubelet_cadvisor, err, errlen);
}

static int apply_monitor(struct config *c, const json_t *m, char *err, size_t errlen)
{
	const json_t *spec = json_object_get(m, "spec");
	json_t *ks, *node, *v, *crs;
	const char *name = json_string_value(json_object_get(json_object_get(m, "metadata"), "name"));
	bool present;
	int rc;

	if (!name) {
		snprintf(err, errlen, "metadata.name: required");
		return KM_EINVAL;
	}
	free(c->source);
	c->source = NULL;
	if (asprintf(&c->source, "K8sMonitor/%s", name) < 0) {
		c->source = NULL;
		return KM_ENOMEM;
	}
	c->monitor_generation = json_integer_value(json_object_get(json_object_get(m, "metadata"), "generation"));
	if (!spec || json_is_null(spec))
		return 0;
	if (!json_is_object(spec)) {
		snprintf(err, errlen, "spec: must be an object");
		return KM_EINVAL;
	}
	v = json_object_get(spec, "collectors");
	if (v && !json_is_null(v)) {
		size_t i;
		json_t *e;
		char why[160];
		if (!json_is_array(v)) {
			snprintf(err, errlen, "spec.collectors: must be a list");
			return KM_EINVAL;
		}
		c->collectors = 0;
		json_array_foreach(v, i, e) {
			unsigned bit;
			if (!json_is_string(e) || flags_parse_collectors(json_string_value(e), &bit, why, sizeof(why)) || !bit) {
				snprintf(err, errlen, "spec.collectors[%zu]: %s", i,
					 json_is_string(e) ? why : "must be a string");
				return KM_EINVAL;
			}
			c->collectors |= bit;
		}
	}
	v = json_object_get(spec, "interval");
	if (v && !json_is_null(v)) {
		const char *s = json_string_value(v);
		int64_t ms;
		if (!s || parse_duration_ms(s, strlen(s), &ms) || ms < 1000 || ms > 3600000) {
			char shown[96];
			char *dump = json_dumps(v, JSON_ENCODE_ANY);
			snprintf(shown, sizeof(shown), "%.80s", dump ? dump : "?");
			free(dump);
			snprintf(err, errlen, "spec.interval: %s is not a duration between 1s and 1h (e.g. \"30s\")", shown);
			return KM_EINVAL;
		}
		c->interval_ms = ms;
	}
	rc = parse_components(json_object_get(spec, "components"), c, err, errlen);
	if (rc)
		return rc;
	rc = from_set(c, spec, "collectors", "collectors");
	if (!rc)
		rc = from_set(c, spec, "interval", "interval");
	if (!rc)
		rc = from_set(c, spec, "namespaces", "namespaces");
	if (!rc)
		rc = from_set(c, spec, "excludeNamespaces", "excludeNamespaces");
	if (!rc)
		rc = from_set(c, spec, "nodeSelector", "nodeSelector");
	if (!rc)
		rc = from_set(c, spec, "node", "node");
	if (!rc)
		rc = from_set(c, spec, "kubeState", "kubeState");
	if (!rc)
		rc = from_set(c, spec, "scrape", "scrape");
	if (!rc)
		rc = from_set(c, spec, "components", "components");
	if (!rc)
		rc = config_parse_scrape(json_object_get(spec, "scrape"), &c->scrape, err, errlen);
	if (!rc)
		rc = from_set(c, spec, "remoteWrite", "remoteWrite");
	if (rc)
		return rc;
	v = json_object_get(spec, "remoteWrite");
	if (v && !json_is_null(v)) {
		rc = config_check_remote_write(v, err, errlen);
		if (rc)
			return rc;
		c->remote_write = json_deep_copy(v);
		if (!c->remote_write)
			return KM_ENOMEM;
	}
	v = json_object_get(spec, "nodeSelector");
	if (v && !json_is_null(v)) {
		struct selector *sel = selector_compile(v, "spec.nodeSelector", err, errlen);
		if (!sel)
			return KM_EINVAL;
		selector_free(sel);
	}
	rc = get_str_list(spec, "namespaces", "spec", &c->namespaces, &present, err, errlen);
	if (!rc)
		rc = get_str_list(spec, "excludeNamespaces", "spec", &c->exclude_namespaces, &present, err, errlen);
	if (rc)
		return rc;
	/* The CRD's CEL rule says the same; a server without it (or an
	 * object older than the rule) must not get it applied silently. */
	for (size_t i = 0; i < c->exclude_namespaces.n; i++) {
		if (list_has(&c->namespaces, c->exclude_namespaces.v[i])) {
			snprintf(err, errlen, "spec.excludeNamespaces[%zu]: \"%.64s\" is also in spec.namespaces "
				 "(a namespace must not be both in namespaces and excludeNamespaces)", i,
				 c->exclude_namespaces.v[i]);
			return KM_EINVAL;
		}
	}
	node = json_object_get(spec, "node");
	if (node && !json_is_object(node)) {
		snprintf(err, errlen, "spec.node: must be an object");
		return KM_EINVAL;
	}
	if (node) {
		c->node_spec = json_deep_copy(node);
		if (!c->node_spec)
			return KM_ENOMEM;
		rc = get_rx(node, "mountPointsExclude", "spec.node", &c->mount_points_exclude, err, errlen);
		if (!rc)
			rc = get_rx(node, "fsTypesExclude", "spec.node", &c->fs_types_exclude, err, errlen);
		if (!rc)
			rc = get_rx(node, "netdevExclude", "spec.node", &c->netdev_exclude, err, errlen);
		if (!rc)
			rc = get_rx(node, "diskstatsExclude", "spec.node", &c->diskstats_exclude, err, errlen);
		if (rc)
			return rc;
	}
	ks = json_object_get(spec, "kubeState");
	if (ks && !json_is_object(ks)) {
		snprintf(err, errlen, "spec.kubeState: must be an object");
		return KM_EINVAL;
	}
	if (ks) {
		c->ks_spec = json_deep_copy(ks);
		if (!c->ks_spec)
			return KM_ENOMEM;
		rc = get_str_list(ks, "resources", "spec.kubeState", &c->ks_resources, &present, err, errlen);
		for (size_t i = 0; !rc && i < c->ks_resources.n; i++) {
			const struct ks_kind_info *ki = ks_kind_by_name(c->ks_resources.v[i]);
			if (!ki) {
				snprintf(err, errlen, "spec.kubeState.resources[%zu]: unknown resource \"%.64s\"", i,
					 c->ks_resources.v[i]);
				rc = KM_EINVAL;
			}
		}
		if (!rc)
			rc = get_rx_list(ks, "metricAllowlist", "spec.kubeState", &c->ks_allow, err, errlen);
		if (!rc)
			rc = get_rx_list(ks, "metricDenylist", "spec.kubeState", &c->ks_deny, err, errlen);
		if (rc)
			return rc;
		if (c->ks_allow && c->ks_deny) {
			snprintf(err, errlen, "spec.kubeState: metricAllowlist and metricDenylist are mutually exclusive");
			return KM_EINVAL;
		}
		rc = get_allowlist(ks, "labelsAllowlist", &c->ks_labels_allowlist, err, errlen);
		if (!rc)
			rc = get_allowlist(ks, "annotationsAllowlist", &c->ks_annotations_allowlist, err,
					   errlen);
		if (rc)
			return rc;
		rc = get_pod_sharding(ks, &c->ks_pod_sharding, err, errlen);
		if (rc)
			return rc;
		crs = json_object_get(c->ks_spec, "customResourceState");
		if (crs && !json_is_null(crs)) {
			c->ks_crs = crs_compile(crs, "spec.kubeState.customResourceState", err, errlen, &rc);
			if (!c->ks_crs)
				return rc;
			c->ks_crs_spec = json_incref(crs);
		}
	}
	return 0;
}

/* One filter flag compiled (search semantics); "" leaves *out NULL. */
static int flag_rx(const char *v, const char *name, struct rx **out, char *err, size_t errlen)
{
	char why[256];

	if (!v || !v[0])
		return 0;
	*out = rx_new_search(v, why, sizeof(why));
	if (!*out) {
		snprintf(err, errlen, "-%s: %s", name, why);
		return KM_EINVAL;
	}
	return 0;
}

/* A node filter flag compiled whatever its value (NULL flag: none);
 * anchored: fully anchored, as node_exporter's ^(?:%s)$. */
static int flag_rx_always(const char *v, bool anchored, const char *name, struct rx **out,
			  char *err, size_t errlen)
{
	char why[256];

	if (!v)
		return 0;
	/* Never rx_new(): its JIT compile at start would map PCRE2's JIT
	 * compiler in host mode, where systemd's filters are built from their
	 * defaults even with the collector off. */
	*out = anchored ? rx_new_filter(v, why, sizeof(why)) : rx_new_search(v, why, sizeof(why));
	if (!*out) {
		snprintf(err, errlen, "-%s: %s", name, why);
		return KM_EINVAL;
	}
	return 0;
}

/* The node collector's filters and switches from node_exporter's flags;
 * a K8sMonitor's spec.node fields then replace the filters they name. */
static int node_from_flags(struct config *c, const struct flags *f, char *err, size_t errlen)
{
	uint64_t all = node_sub_count() >= 64 ? ~0ull : (1ull << node_sub_count()) - 1;
	int rc = flag_rx(f->fs_mount_points_exclude, "collector.filesystem.mount-points-exclude",
			 &c->mount_points_exclude, err, errlen);

	if (!rc)
		rc = flag_rx(f->fs_types_exclude, "collector.filesystem.fs-types-exclude",
			     &c->fs_types_exclude, err, errlen);
	if (!rc)
		rc = flag_rx(f->netdev_device_exclude, "collector.netdev.device-exclude",
			     &c->netdev_exclude, err, errlen);
	if (!rc)
		rc = flag_rx(f->netdev_device_include, "collector.netdev.device-include",
			     &c->netdev_include, err, errlen);
	if (!rc)
		rc = flag_rx(f->diskstats_device_exclude, "collector.diskstats.device-exclude",
			     &c->diskstats_exclude, err, errlen);
	if (!rc)
		rc = flag_rx(f->diskstats_device_include, "collector.diskstats.device-include",
			     &c->diskstats_include, err, errlen);
	if (!rc)
		rc = flag_rx(f->hwmon_chip_include, "collector.hwmon.chip-include",
			     &c->hwmon_chip_include, err, errlen);
	if (!rc)
		rc = flag_rx(f->hwmon_chip_exclude, "collector.hwmon.chip-exclude",
			     &c->hwmon_chip_exclude, err, errlen);
	if (!rc)
		rc = flag_rx(f->hwmon_sensor_include, "collector.hwmon.sensor-include",
			     &c->hwmon_sensor_include, err, errlen);
	if (!rc)
		rc = flag_rx(f->hwmon_sensor_exclude, "collector.hwmon.sensor-exclude",
			     &c->hwmon_sensor_exclude, err, errlen);
	/* "" is a regex too here: Go's regexp.MustCompile("") matches every
	 * supply, and ^(?:)$ no unit name. */
	if (!rc)
		rc = flag_rx_always(f->powersupply_ignored, false, "collector.powersupply.ignored-supplies",
				    &c->powersupply_ignored, err, errlen);
	if (!rc)
		rc = flag_rx_always(f->systemd_unit_include, true, "collector.systemd.unit-include",
				    &c->systemd_unit_include, err, errlen);
	if (!rc)
		rc = flag_rx_always(f->systemd_unit_exclude, true, "collector.systemd.unit-exclude",
				    &c->systemd_unit_exclude, err, errlen);
	/* As node_exporter: -collector.disable-defaults turns off every
	 * collector not explicitly enabled; -no-collector.<name> wins;
	 * off-by-default collectors (systemd) run when -collector.<name>. */
	c->node_disabled = (f->node_disable_defaults ? all & ~f->node_on : 0) | f->node_off;
	c->node_enabled = f->node_on & ~f->node_off;
	return rc;
}

struct config *config_build(const struct flags *f, const json_t *monitor, char *err, size_t errlen)
{
	struct config *c = calloc(1, sizeof(*c));

	if (!c)
		goto nomem;
	atomic_init(&c->refs, 1);
	c->collectors = f->collectors;
	c->interval_ms = f->interval_ms;
	c->source = strdup("flags");
	c->from = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "collectors", "flags", "interval", "flags",
			    "namespaces", "flags", "excludeNamespaces", "flags", "nodeSelector", "flags",
			    "node", "flags", "kubeState", "flags", "scrape", "flags", "remoteWrite", "flags", "components", "flags");
	/* Checked by flags_parse; a list it let through parses here too. */
	if (comp_parse_list(f->components ? f->components : "", &c->components, err, errlen)) {
		config_unref(c);
		return NULL;
	}
	{
		enum ks_pod_sharding m = KS_SHARD_LEADER;

		/* Checked by flags_parse; NULL in tests that fill flags by hand. */
		if (f->ks_pod_sharding && ks_shard_parse_mode(f->ks_pod_sharding, &m) == 0)
			c->ks_pod_sharding = (int)m;
	}
	c->comp_drop_lists = f->comp_drop_lists;
	c->comp_kubelet_insecure = f->comp_kubelet_insecure;
	c->comp_kubelet_cadvisor = f->comp_kubelet_cadvisor;
	scrape_policy_default(&c->scrape);
	c->scrape.allow_loopback = f->scrape_allow_loopback;
	if (!c->source || !c->from || list_copy(&c->namespaces, &f->namespaces) ||
	    list_copy(&c->exclude_namespaces, &f->exclude_namespaces))
		goto nomem;
	if (node_from_flags(c, f, err, errlen)) {
		config_unref(c);
		return NULL;
	}
	if (monitor) {
		int rc = apply_monitor(c, monitor, err, errlen);
		if (rc == KM_ENOMEM)
			goto nomem;
		if (rc) {
			config_unref(c);
			return NULL;
		}
	}
	/* Host mode has no API server: collectors that need one are off. */
	if (!f->kubernetes)
		c->collectors &= COLLECTOR_NODE | COLLECTOR_CONTAINER;
	return c;
nomem:
	snprintf(err, errlen, "out of memory");
	config_unref(c);
	return NULL;
}

struct config *config_from_flags(const struct flags *f, char *err, size_t errlen)
{
	return config_build(f, NULL, err, errlen);
}

struct config *config_ref(struct config *c)
{
	atomic_fetch_add(&c->refs, 1);
	return c;
}

void config_unref(struct config *c)
{
	if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	list_free(&c->namespaces);
	list_free(&c->exclude_namespaces);
	list_free(&c->ks_resources);
	rx_free(c->ks_allow);
	rx_free(c->ks_deny);
	rx_free(c->mount_points_exclude);
	rx_free(c->fs_types_exclude);
	rx_free(c->netdev_exclude);
	rx_free(c->diskstats_exclude);
	rx_free(c->netdev_include);
	rx_free(c->diskstats_include);
	rx_free(c->hwmon_chip_include);
	rx_free(c->hwmon_chip_exclude);
	rx_free(c->hwmon_sensor_include);
	rx_free(c->hwmon_sensor_exclude);
	rx_free(c->powersupply_ignored);
	rx_free(c->systemd_unit_include);
	rx_free(c->systemd_unit_exclude);
	json_decref(c->ks_labels_allowlist);
	json_decref(c->ks_annotations_allowlist);
	crs_free(c->ks_crs);
	json_decref(c->ks_crs_spec);
	json_decref(c->node_spec);
	json_decref(c->ks_spec);
	json_decref(c->from);
	json_decref(c->remote_write);
	free(c->source);
	free(c);
}


static bool lists_equal(const struct str_list *a, const struct str_list *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return false;
	return true;
}

static bool json_same(const json_t *a, const json_t *b)
{
	return (!a && !b) || (a && b && json_equal(a, b));
}

/* Appends to out at *len, keeping it terminated; stops quietly when full. */
static void diff_add(char *out, size_t outlen, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void diff_add(char *out, size_t outlen, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (*len >= outlen)
		return;
	va_start(ap, fmt);
	w = vsnprintf(out + *len, outlen - *len, fmt, ap);
	va_end(ap);
	if (w < 0)
		return;
	*len = *len + (size_t)w < outlen ? *len + (size_t)w : outlen;
}

static void diff_interval(char *out, size_t outlen, size_t *len, int64_t ms)
{
	if (ms % 1000)
		diff_add(out, outlen, len, "%lldms", (long long)ms);
	else if (ms >= 60000 && ms % 60000 == 0)
		diff_add(out, outlen, len, "%lldm", (long long)(ms / 60000));
	else
		diff_add(out, outlen, len, "%llds", (long long)(ms / 1000));
}

static void diff_list(char *out, size_t outlen, size_t *len, const struct str_list *l)
{
	diff_add(out, outlen, len, "[");
	for (size_t i = 0; i < l->n; i++)
		diff_add(out, outlen, len, "%s%s", i ? "," : "", l->v[i]);
	diff_add(out, outlen, len, "]");
}

void config_diff(const struct config *a, const struct config *b, char *out, size_t outlen)
{
	size_t len = 0;

	if (!outlen)
		return;
	out[0] = '\0';
	if (!a || !b) {
		diff_add(out, outlen, &len, "collectors,interval,namespaces,excludeNamespaces,node,kubeState,scrape,remoteWrite,components");
		return;
	}
	/* What an operator compares with the edit just made: old and new
	 * values where they are short, the field name where they are not. */
	if (a->collectors != b->collectors) {
		diff_add(out, outlen, &len, "collectors");
		for (unsigned i = 0; i < 4; i++) {
			unsigned bit = 1u << i;
			char name[32];

			if ((a->collectors & bit) == (b->collectors & bit))
				continue;
			flags_format_collectors(bit, name, sizeof(name));
			diff_add(out, outlen, &len, " %c%s", b->collectors & bit ? '+' : '-', name);
		}
	}
	if (a->interval_ms != b->interval_ms) {
		diff_add(out, outlen, &len, "%sinterval ", len ? ", " : "");
		diff_interval(out, outlen, &len, a->interval_ms);
		diff_add(out, outlen, &len, "\u2192");
		diff_interval(out, outlen, &len, b->interval_ms);
	}
	if (!lists_equal(&a->namespaces, &b->namespaces)) {
		diff_add(out, outlen, &len, "%snamespaces ", len ? ", " : "");
		diff_list(out, outlen, &len, &a->namespaces);
		diff_add(out, outlen, &len, "\u2192");
		diff_list(out, outlen, &len, &b->namespaces);
	}
	if (!lists_equal(&a->exclude_namespaces, &b->exclude_namespaces)) {
		diff_add(out, outlen, &len, "%sexcludeNamespaces ", len ? ", " : "");
		diff_list(out, outlen, &len, &a->exclude_namespaces);
		diff_add(out, outlen, &len, "\u2192");
		diff_list(out, outlen, &len, &b->exclude_namespaces);
	}
	if (!json_same(a->node_spec, b->node_spec))
		diff_add(out, outlen, &len, "%snode", len ? ", " : "");
	if (!json_same(a->ks_spec, b->ks_spec))
		diff_add(out, outlen, &len, "%skubeState", len ? ", " : "");
	if (memcmp(&a->scrape, &b->scrape, sizeof(a->scrape)) != 0)
		diff_add(out, outlen, &len, "%sscrape", len ? ", " : "");
	if (!json_same(a->remote_write, b->remote_write))
		diff_add(out, outlen, &len, "%sremoteWrite", len ? ", " : "");
	if (!config_components_equal(a, b))
		diff_add(out, outlen, &len, "%scomponents", len ? ", " : "");
}

bool config_components_equal(const struct config *a, const struct config *b)
{
	return a->components == b->components && a->comp_drop_lists == b->comp_drop_lists &&
	       a->comp_kubelet_insecure == b->comp_kubelet_insecure &&
	       a->comp_kubelet_cadvisor == b->comp_kubelet_cadvisor;
}

bool config_namespace_allowed(const struct config *c, const char *ns)
{
	if (c->namespaces.n && !list_has(&c->namespaces, ns))
		return false;
	return !list_has(&c->exclude_namespaces, ns);
}

static json_t *list_json(const struct str_list *l)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < l->n; i++)
		json_array_append_new(a, json_string(l->v[i]));
	return a;
}

int config_write_json(const struct config *c, const struct flags *f, const json_t *discovery,
		      struct buf *out)
{
	char coll[128];
	json_t *root = NULL;
	char *text = NULL;
	int rc = KM_ENOMEM;

	flags_format_collectors(c->collectors, coll, sizeof(coll));
	root = json_pack("{s:s, s:I, s:I, s:{s:s, s:s, s:I, s:o, s:o, s:o, s:o}, s:o, s:{s:b, s:s, s:s, s:s, s:s, s:s, s:b}}",
			 "source", c->source, "generation", (json_int_t)c->generation,
			 "monitorGeneration", (json_int_t)c->monitor_generation,
			 "effective",
			 "collectors", coll,
			 "collectorsFrom", json_string_value(json_object_get(c->from, "collectors")) ?: c->source,
			 "intervalMs", (json_int_t)c->interval_ms,
			 "namespaces", list_json(&c->namespaces),
			 "excludeNamespaces", list_json(&c->exclude_namespaces),
			 /* copies: the configuration is shared between threads */
			 "node", c->node_spec ? json_deep_copy(c->node_spec) : json_null(),
			 "kubeState", c->ks_spec ? json_deep_copy(c->ks_spec) : json_null(),
			 "from", json_deep_copy(c->from),
			 "flags", "kubernetes", f->kubernetes, "nodeName", f->node_name,
			 "httpListenAddr", f->listen_addr, "procfs", f->procfs, "sysfs", f->sysfs,
			 "rootfs", f->rootfs, "leaderElection", f->leader_election);
	if (!root)
		goto out;
	if (discovery && json_object_set(root, "discovery", (json_t *)discovery))
		goto out;
	/* Secret references only: the Secrets' values are never in the configuration. */
	if (json_object_set_new(json_object_get(root, "effective"), "remoteWrite",
				c->remote_write ? json_deep_copy(c->remote_write) : json_null()))
		goto out;
	if (json_object_set_new(json_object_get(root, "effective"), "scrape", config_scrape_json(&c->scrape)))
		goto out;
	if (json_object_set_new(json_object_get(root, "effective"), "kubeStatePodSharding",
				json_string(ks_shard_mode_name((enum ks_pod_sharding)c->ks_pod_sharding))))
		goto out;
	text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!text)
		goto out;
	rc = buf_adds(out, text);
	if (!rc)
		rc = buf_addc(out, '\n');
out:
	free(text);
	json_decref(root);
	return rc;
}
