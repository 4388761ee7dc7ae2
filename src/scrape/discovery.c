#include "scrape/discovery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "base/parse.h"
#include "config/selector.h"
#include "scrape/rule_relabel.h"

/* What the annotations (or the rule defaults) say for one object. */
struct ann {
	const char *prefix;         /* the prefix that said scrape: "true" */
	const char *port;           /* NULL = every declared port */
	const char *path;
	const char *scheme;
	int64_t interval_ms;
	int64_t timeout_ms;
};


/* A query parameter name or value as Go's url.QueryEscape writes it (what
 * Prometheus does with __param_*): unreserved bytes as they are, a space
 * as '+', everything else %XX. A relabeled value can therefore add no
 * parameter of its own ("a&b=c") and cannot end the query. */
static int query_escape(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;

	for (; !rc && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '_' || c == '.' || c == '~')
			rc = buf_addc(b, (char)c);
		else if (c == ' ')
			rc = buf_addc(b, '+');
		else
			rc = buf_printf(b, "%%%c%c", hex[c >> 4], hex[c & 15]);
	}
	return rc;
}

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static const json_t *meta(const json_t *obj)
{
	return json_object_get(obj, "metadata");
}

static const char *annotation(const json_t *obj, const char *prefix, const char *key)
{
	char name[320];

	snprintf(name, sizeof(name), "%s/%s", prefix, key);
	return jstr(json_object_get(meta(obj), "annotations"), name);
}

/* Decides whether obj (whose annotations count: the object itself or its
 * Service) is scraped under r, and with which settings. Returns 1 = scrape,
 * 0 = not, KM_EINVAL = bad annotation. */
static int read_annotations(const struct scrape_rule *r, const json_t *aobj, const struct disc_ctx *ctx,
			    struct ann *a)
{
	const char *s;
	int64_t interval;

	memset(a, 0, sizeof(*a));
	for (size_t i = 0; i < r->nprefix && !a->prefix; i++) {
		s = annotation(aobj, r->prefix[i], "scrape");
		if (s && strcmp(s, "true") == 0)
			a->prefix = r->prefix[i];
	}
	if (!a->prefix) {
		if (r->require_annotation)
			return 0;
		s = annotation(aobj, r->prefix[0], "scrape");
		if (s && strcmp(s, "false") == 0)
			return 0;
		a->prefix = r->prefix[0];
	}
	a->port = annotation(aobj, a->prefix, "port");
	if (!a->port || !a->port[0])
		a->port = r->port;
	a->path = annotation(aobj, a->prefix, "path");
	if (!a->path || !a->path[0])
		a->path = r->path;
	a->scheme = annotation(aobj, a->prefix, "scheme");
	if (!a->scheme || !a->scheme[0])
		a->scheme = r->scheme;
	if (strcmp(a->scheme, "http") != 0 && strcmp(a->scheme, "https") != 0)
		return KM_EINVAL;
	if (a->path[0] != '/')
		return KM_EINVAL;
	interval = scrape_rule_interval(r, ctx->interval_ms);
	s = annotation(aobj, a->prefix, "interval");
	if (s && (parse_duration_ms(s, strlen(s), &interval) || interval < 1000 || interval > 3600000))
		return KM_EINVAL;
	a->interval_ms = interval;
	a->timeout_ms = scrape_rule_timeout(r, interval);
	s = annotation(aobj, a->prefix, "timeout");
	if (s) {
		if (parse_duration_ms(s, strlen(s), &a->timeout_ms) || a->timeout_ms < 100)
			return KM_EINVAL;
		if (a->timeout_ms > interval)
			a->timeout_ms = interval;
	}
	return 1;
}

/* namespaceSelector: absent = the rule's own namespace (the built-in rule
 * has an empty selector, so every namespace). The manager watches
 * Namespaces while a non-empty selector exists; until a Namespace object
 * is known (first sync, or the namespace is gone) it is matched on
 * kubernetes.io/metadata.name alone, the label the API server sets on
 * every namespace. */
/* Whether r may reach beyond its own namespace (the built-in rule is the
 * administrator's; a ScrapeRule only when the policy names its namespace). */
static bool rule_confined(const struct scrape_rule *r, const struct disc_ctx *ctx)
{
	return ctx->policy && !r->builtin && !scrape_policy_cross_ns(ctx->policy, r->namespace);
}

static bool namespace_ok(const struct scrape_rule *r, const char *ns, const struct disc_ctx *ctx)
{
	const json_t *nsobj;
	json_t *labels;
	bool ok;

	if (!r->ns_selector)
		return ns && strcmp(ns, r->namespace) == 0;
	if (rule_confined(r, ctx) && !(ns && strcmp(ns, r->namespace) == 0))
		return false;
	if (selector_empty(r->ns_selector))
		return true;
	nsobj = ctx->get_namespace && ns ? ctx->get_namespace(ctx->arg, ns) : NULL;
	if (nsobj)
		return selector_matches(r->ns_selector, json_object_get(meta(nsobj), "labels"));
	labels = json_pack("{ss}", "kubernetes.io/metadata.name", ns ? ns : "");
	ok = labels && selector_matches(r->ns_selector, labels);
	json_decref(labels);
	return ok;
}

/* __meta_kubernetes_<kind>_label_<name>, _labelpresent_, _annotation_,
 * _annotationpresent_ (Prometheus kubernetes_sd). */
static int add_obj_meta(struct tlabels *l, const char *kind, const json_t *obj)
{
	static const char *const maps[2][3] = {
		{ "labels", "label_", "labelpresent_" },
		{ "annotations", "annotation_", "annotationpresent_" },
	};
	struct buf name;
	int rc = 0;

	buf_init(&name, 1024);
	for (int m = 0; m < 2 && !rc; m++) {
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(meta(obj), maps[m][0]), k, v) {
			char pfx[96];
			if (!json_is_string(v))
				continue;
			snprintf(pfx, sizeof(pfx), "__meta_kubernetes_%s_%s", kind, maps[m][1]);
			buf_reset(&name);
			if ((rc = tl_sanitized_name(&name, pfx, k)) ||
			    (rc = tl_set(l, buf_cstr(&name), json_string_value(v))))
				break;
			snprintf(pfx, sizeof(pfx), "__meta_kubernetes_%s_%s", kind, maps[m][2]);
			buf_reset(&name);
			if ((rc = tl_sanitized_name(&name, pfx, k)) || (rc = tl_set(l, buf_cstr(&name), "true")))
				break;
		}
	}
	buf_fini(&name);
	return rc == KM_ETOOBIG ? 0 : rc;
}

static int set_if(struct tlabels *l, const char *name, const char *v)
{
	return v ? tl_set(l, name, v) : 0;
}

static void fmt_ms(char *dst, size_t n, int64_t ms)
{
	if (ms % 1000 == 0)
		snprintf(dst, n, "%llds", (long long)(ms / 1000));
	else
		snprintf(dst, n, "%lldms", (long long)ms);
}

/* Standard labels, relabeling, URL. Takes the discovered set d (consumed in
 * every case) and emits the target unless relabeling drops it. */
static int finish(const struct scrape_rule *r, const struct ann *a, struct tlabels *d,
		  const struct disc_ctx *ctx, disc_emit_fn emit, void *arg)
{
	static const char *const std[][2] = {
		{ "namespace", "__meta_kubernetes_namespace" },
		{ "pod", "__meta_kubernetes_pod_name" },
		{ "container", "__meta_kubernetes_pod_container_name" },
		{ "service", "__meta_kubernetes_service_name" },
	};
	struct disc_target *t = calloc(1, sizeof(*t));
	struct buf url;
	char dur[32];
	const char *addr, *node;
	int64_t iv, to;
	int rc = KM_ENOMEM;

	buf_init(&url, 8192);
	if (!t)
		goto out;
	t->discovered = *d;
	tl_init(d);
	fmt_ms(dur, sizeof(dur), a->interval_ms);
	if ((rc = tl_set(&t->discovered, "__scheme__", a->scheme)) ||
	    (rc = tl_set(&t->discovered, "__metrics_path__", a->path)) ||
	    (rc = tl_set(&t->discovered, "__scrape_interval__", dur)))
		goto out;
	fmt_ms(dur, sizeof(dur), a->timeout_ms);
	if ((rc = tl_set(&t->discovered, "__scrape_timeout__", dur)) ||
	    (rc = tl_set(&t->discovered, "job", r->job)))
		goto out;
	tl_sort(&t->discovered);
	if ((rc = tl_copy(&t->labels, &t->discovered)))
		goto out;
	for (size_t i = 0; i < sizeof(std) / sizeof(std[0]); i++)
		if ((rc = set_if(&t->labels, std[i][0], tl_get(&t->discovered, std[i][1]))))
			goto out;
	node = tl_get(&t->discovered, "__meta_kubernetes_pod_node_name");
	if (!node)
		node = tl_get(&t->discovered, "__meta_kubernetes_endpoint_node_name");
	if (!node)
		node = tl_get(&t->discovered, "__meta_kubernetes_node_name");
	if ((rc = set_if(&t->labels, "node", node)))
		goto out;
	rc = rule_relabel_apply(r->relabel, &t->labels);
	if (rc <= 0) /* dropped (0) or error */
		goto out;
	addr = tl_get(&t->labels, "__address__");
	if (!addr || !addr[0]) {
		rc = 0; /* Prometheus drops targets relabeled to no address */
		goto out;
	}
	if (!tl_get(&t->labels, "instance") && (rc = tl_set(&t->labels, "instance", addr)))
		goto out;
	if (ctx->policy) {
		char why[256];
		/* A tenant's series carry its own namespace, whatever its
		 * relabelings say (Prometheus Operator's enforcedNamespaceLabel). */
		if (rule_confined(r, ctx) && (rc = tl_set(&t->labels, "namespace", r->namespace)))
			goto out;
		for (size_t i = 0; i < t->labels.n; i++) {
			const char *ln = t->labels.v[i].name;
			if (strncmp(ln, "__", 2) != 0 && !scrape_valid_label_name(ln, strlen(ln))) {
				log_debug("discovery", "rule %s: target label name \"%.64s\" is invalid, target dropped",
					  r->job, ln);
				rc = 0;
				goto out;
			}
		}
		if (scrape_hostport_refused(ctx->policy, ctx->node_addrs, ctx->api_addrs, addr, why, sizeof(why)) &&
		    !(t->refused = strdup(why))) {
			rc = KM_ENOMEM;
			goto out;
		}
	}
	iv = a->interval_ms;
	to = a->timeout_ms;
	{
		const char *s = tl_get(&t->labels, "__scrape_interval__");
		if (s && parse_duration_ms(s, strlen(s), &iv))
			iv = a->interval_ms;
		s = tl_get(&t->labels, "__scrape_timeout__");
		if (s && parse_duration_ms(s, strlen(s), &to))
			to = a->timeout_ms;
		if (iv < 1000)
			iv = 1000;
		if (to > iv || to < 100)
			to = iv < RULE_DEFAULT_TIMEOUT_MS ? iv : RULE_DEFAULT_TIMEOUT_MS;
	}
	t->interval_ms = iv;
	t->timeout_ms = to;
	{
		const char *scheme = tl_get(&t->labels, "__scheme__");
		const char *path = tl_get(&t->labels, "__metrics_path__");
		char sep = strchr(path ? path : "", '?') ? '&' : '?';
		rc = buf_printf(&url, "%s://%s%s", scheme ? scheme : "http", addr, path ? path : "/metrics");
		for (size_t i = 0; !rc && i < t->labels.n; i++) {
			if (strncmp(t->labels.v[i].name, "__param_", 8) != 0)
				continue;
			rc = buf_addc(&url, sep);
			if (!rc)
				rc = query_escape(&url, t->labels.v[i].name + 8);
			if (!rc)
				rc = buf_addc(&url, '=');
			if (!rc)
				rc = query_escape(&url, t->labels.v[i].value);
			sep = '&';
		}
		if (rc)
			goto out;
	}
	t->url = buf_steal(&url);
	if (!t->url) {
		rc = KM_ENOMEM;
		goto out;
	}
	tl_drop_reserved(&t->labels);
	tl_sort(&t->labels);
	rc = emit(t, arg);
	if (rc == 0)
		t = NULL;
out:
	buf_fini(&url);
	tl_fini(d);
	disc_target_free(t);
	return rc < 0 ? rc : 0;
}

void disc_target_free(struct disc_target *t)
{
	if (!t)
		return;
	tl_fini(&t->discovered);
	tl_fini(&t->labels);
	free(t->url);
	free(t->refused);
	free(t);
}

/* host:port, brackets for IPv6. */
static int set_address(struct tlabels *l, const char *host, long long port)
{
	char a[320];

	if (port > 0)
		snprintf(a, sizeof(a), strchr(host, ':') ? "[%s]:%lld" : "%s:%lld", host, port);
	else
		snprintf(a, sizeof(a), "%s", host);
	return tl_set(l, "__address__", a);
}

/* Splits a port list "8080,metrics" and calls back per trimmed entry. */
struct port_spec {
	const char *v[16];
	size_t len[16];
	size_t n;
};

static void split_ports(const char *s, struct port_spec *ps)
{
	ps->n = 0;
	while (s && *s && ps->n < 16) {
		const char *e = strchr(s, ',');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		const char *b = s;
		while (n && (*b == ' ')) {
			b++;
			n--;
		}
		while (n && b[n - 1] == ' ')
			n--;
		if (n) {
			ps->v[ps->n] = b;
			ps->len[ps->n++] = n;
		}
		s = e ? e + 1 : NULL;
	}
}

static bool port_number(const char *s, size_t n, long long *out)
{
	uint64_t v;

	if (parse_u64(s, n, &v) || v < 1 || v > 65535)
		return false;
	*out = (long long)v;
	return true;
}

static bool name_eq(const char *a, const char *b, size_t blen)
{
	return a && strlen(a) == blen && memcmp(a, b, blen) == 0;
}

/* ---- pod --------------------------------------------------------------- */

static int pod_common(struct tlabels *l, const json_t *pod)
{
	const json_t *md = meta(pod), *spec = json_object_get(pod, "spec"), *st = json_object_get(pod, "status");
	const char *ready = "false";
	size_t i;
	json_t *c;
	int rc;

	json_array_foreach(json_object_get(st, "conditions"), i, c) {
		if (name_eq(jstr(c, "type"), "Ready", 5))
			ready = name_eq(jstr(c, "status"), "True", 4) ? "true" : "false";
	}
	if ((rc = set_if(l, "__meta_kubernetes_namespace", jstr(md, "namespace"))) ||
	    (rc = set_if(l, "__meta_kubernetes_pod_name", jstr(md, "name"))) ||
	    (rc = set_if(l, "__meta_kubernetes_pod_ip", jstr(st, "podIP"))) ||
	    (rc = set_if(l, "__meta_kubernetes_pod_node_name", jstr(spec, "nodeName"))) ||
	    (rc = set_if(l, "__meta_kubernetes_pod_host_ip", jstr(st, "hostIP"))) ||
	    (rc = set_if(l, "__meta_kubernetes_pod_uid", jstr(md, "uid"))) ||
	    (rc = set_if(l, "__meta_kubernetes_pod_phase", jstr(st, "phase"))) ||
	    (rc = tl_set(l, "__meta_kubernetes_pod_ready", ready)))
		return rc;
	json_array_foreach(json_object_get(md, "ownerReferences"), i, c) {
		if (json_is_true(json_object_get(c, "controller"))) {
			if ((rc = set_if(l, "__meta_kubernetes_pod_controller_kind", jstr(c, "kind"))) ||
			    (rc = set_if(l, "__meta_kubernetes_pod_controller_name", jstr(c, "name"))))
				return rc;
		}
	}
	return add_obj_meta(l, "pod", pod);
}

static int pod_target(const struct scrape_rule *r, const struct ann *a, const json_t *pod, const json_t *ctr,
		      const json_t *port, long long portnum, const struct disc_ctx *ctx, disc_emit_fn emit,
		      void *arg)
{
	struct tlabels l;
	char num[16];
	int rc;

	tl_init(&l);
	if (port)
		portnum = json_integer_value(json_object_get(port, "containerPort"));
	snprintf(num, sizeof(num), "%lld", portnum);
	if ((rc = pod_common(&l, pod)) ||
	    (rc = tl_set(&l, "__meta_kubernetes_pod_container_init", "false")) ||
	    (rc = set_if(&l, "__meta_kubernetes_pod_container_name", jstr(ctr, "name"))) ||
	    (rc = set_if(&l, "__meta_kubernetes_pod_container_image", jstr(ctr, "image"))) ||
	    (rc = set_address(&l, jstr(json_object_get(pod, "status"), "podIP"), portnum)))
		goto fail;
	if (port && ((rc = set_if(&l, "__meta_kubernetes_pod_container_port_name", jstr(port, "name"))) ||
		     (rc = tl_set(&l, "__meta_kubernetes_pod_container_port_number", num)) ||
		     (rc = tl_set(&l, "__meta_kubernetes_pod_container_port_protocol",
				  jstr(port, "protocol") ?: "TCP"))))
		goto fail;
	return finish(r, a, &l, ctx, emit, arg);
fail:
	tl_fini(&l);
	return rc;
}

/* Port rule for pods (docs/discovery.md):
 *   - a port list (annotation, else the rule's port): each entry is a
 *     number or a container port name; a name selects the container port
 *     of that name; a number selects the container declaring it, or, when
 *     none does, the first container (the port is scraped anyway);
 *   - no port list: every declared TCP port of every container.
 * Init containers never count. */
static int discover_pod(const struct scrape_rule *r, const json_t *pod, const struct disc_ctx *ctx,
			disc_emit_fn emit, void *arg)
{
	const json_t *st = json_object_get(pod, "status"), *spec = json_object_get(pod, "spec");
	const json_t *ctrs = json_object_get(spec, "containers");
	const char *ip = jstr(st, "podIP"), *node = jstr(spec, "nodeName");
	struct port_spec ps;
	struct ann a;
	size_t i, j;
	json_t *c, *p;
	int rc;

	if (!name_eq(jstr(st, "phase"), "Running", 7) || !ip || !ip[0])
		return 0;
	if (ctx->node_name && ctx->node_name[0] && !(node && strcmp(node, ctx->node_name) == 0))
		return 0;
	if (!namespace_ok(r, jstr(meta(pod), "namespace"), ctx) ||
	    !selector_matches(r->selector, json_object_get(meta(pod), "labels")))
		return 0;
	rc = read_annotations(r, pod, ctx, &a);
	if (rc <= 0)
		return rc;
	if (!a.port) {
		json_array_foreach(ctrs, i, c) {
			json_array_foreach(json_object_get(c, "ports"), j, p) {
				const char *proto = jstr(p, "protocol");
				if (proto && strcmp(proto, "TCP") != 0)
					continue;
				if ((rc = pod_target(r, &a, pod, c, p, 0, ctx, emit, arg)))
					return rc;
			}
		}
		return 0;
	}
	split_ports(a.port, &ps);
	for (size_t k = 0; k < ps.n; k++) {
		long long num = 0;
		bool numeric = port_number(ps.v[k], ps.len[k], &num), found = false;
		json_array_foreach(ctrs, i, c) {
			json_array_foreach(json_object_get(c, "ports"), j, p) {
				if (numeric ? json_integer_value(json_object_get(p, "containerPort")) == num
					    : name_eq(jstr(p, "name"), ps.v[k], ps.len[k])) {
					if ((rc = pod_target(r, &a, pod, c, p, 0, ctx, emit, arg)))
						return rc;
					found = true;
				}
			}
		}
		if (!found && numeric && json_array_size(ctrs) &&
		    (rc = pod_target(r, &a, pod, json_array_get(ctrs, 0), NULL, num, ctx, emit, arg)))
			return rc;
	}
	return 0;
}

/* ---- service ----------------------------------------------------------- */

static int service_common(struct tlabels *l, const json_t *svc)
{
	const json_t *md = meta(svc), *spec = json_object_get(svc, "spec");
	int rc;

	if ((rc = set_if(l, "__meta_kubernetes_namespace", jstr(md, "namespace"))) ||
	    (rc = set_if(l, "__meta_kubernetes_service_name", jstr(md, "name"))) ||
	    (rc = set_if(l, "__meta_kubernetes_service_type", jstr(spec, "type"))) ||
	    (rc = set_if(l, "__meta_kubernetes_service_cluster_ip", jstr(spec, "clusterIP"))))
		return rc;
	return add_obj_meta(l, "service", svc);
}

/* Whether a service port matches one entry of the port list (number: port
 * or targetPort; name: port name). */
static bool port_matches(const json_t *p, const char *s, size_t n, bool numeric, long long num)
{
	if (numeric)
		return json_integer_value(json_object_get(p, "port")) == num;
	return name_eq(jstr(p, "name"), s, n);
}

static bool port_selected(const struct port_spec *ps, const json_t *p)
{
	if (ps->n == 0)
		return true;
	for (size_t k = 0; k < ps->n; k++) {
		long long num = 0;
		bool numeric = port_number(ps->v[k], ps->len[k], &num);
		if (port_matches(p, ps->v[k], ps->len[k], numeric, num))
			return true;
	}
	return false;
}

static int discover_service(const struct scrape_rule *r, const json_t *svc, const struct disc_ctx *ctx,
			    disc_emit_fn emit, void *arg)
{
	const json_t *md = meta(svc);
	struct port_spec ps;
	struct ann a;
	size_t i;
	json_t *p;
	int rc;

	if (!ctx->leader || !namespace_ok(r, jstr(md, "namespace"), ctx) ||
	    !selector_matches(r->selector, json_object_get(md, "labels")))
		return 0;
	rc = read_annotations(r, svc, ctx, &a);
	if (rc <= 0)
		return rc;
	split_ports(a.port, &ps);
	json_array_foreach(json_object_get(json_object_get(svc, "spec"), "ports"), i, p) {
		struct tlabels l;
		char host[600], num[16];
		long long port = json_integer_value(json_object_get(p, "port"));

		if (!port_selected(&ps, p))
			continue;
		tl_init(&l);
		snprintf(host, sizeof(host), "%s.%s.svc", jstr(md, "name") ?: "", jstr(md, "namespace") ?: "");
		snprintf(num, sizeof(num), "%lld", port);
		if ((rc = service_common(&l, svc)) || (rc = set_address(&l, host, port)) ||
		    (rc = set_if(&l, "__meta_kubernetes_service_port_name", jstr(p, "name"))) ||
		    (rc = tl_set(&l, "__meta_kubernetes_service_port_number", num)) ||
		    (rc = tl_set(&l, "__meta_kubernetes_service_port_protocol", jstr(p, "protocol") ?: "TCP"))) {
			tl_fini(&l);
			return rc;
		}
		if ((rc = finish(r, &a, &l, ctx, emit, arg)))
			return rc;
	}
	return 0;
}

/* ---- endpoints / endpointslice ------------------------------------------ */

/* One address of an endpoints-like object: sharding, the backing pod's
 * labels, then one target per selected port. */
struct ep_addr {
	const char *ip;
	const char *node;           /* NULL when not known */
	const char *hostname;
	const json_t *target_ref;
	bool ready;
};

static int endpoint_targets(const struct scrape_rule *r, enum scrape_role role, const json_t *obj,
			    const json_t *svc, const struct ann *a, const struct ep_addr *ad,
			    const json_t *ports, const struct disc_ctx *ctx, disc_emit_fn emit, void *arg)
{
	const char *kind = role == ROLE_ENDPOINTS ? "endpoints" : "endpointslice";
	const json_t *pod = NULL;
	struct port_spec ps;
	char lname[96];
	size_t i;
	json_t *p;
	int rc;

	if (!ad->ready || !ad->ip)
		return 0;
	if (ad->node ? (ctx->node_name && ctx->node_name[0] && strcmp(ad->node, ctx->node_name) != 0)
		     : !ctx->leader)
		return 0;
	if (ad->target_ref && name_eq(jstr(ad->target_ref, "kind"), "Pod", 3) && ctx->get_pod)
		pod = ctx->get_pod(ctx->arg, jstr(ad->target_ref, "namespace") ?: jstr(meta(obj), "namespace"),
				   jstr(ad->target_ref, "name") ?: "");
	split_ports(a->port, &ps);
	json_array_foreach(ports, i, p) {
		struct tlabels l;
		char num[16];
		long long port = json_integer_value(json_object_get(p, "port"));

		if (!port_selected(&ps, p))
			continue;
		tl_init(&l);
		snprintf(num, sizeof(num), "%lld", port);
		snprintf(lname, sizeof(lname), "__meta_kubernetes_%s_name", kind);
		if ((rc = service_common(&l, svc)) || (rc = set_if(&l, lname, jstr(meta(obj), "name"))) ||
		    (rc = set_address(&l, ad->ip, port)) ||
		    (rc = set_if(&l, "__meta_kubernetes_endpoint_node_name", ad->node)) ||
		    (rc = set_if(&l, "__meta_kubernetes_endpoint_hostname", ad->hostname)) ||
		    (rc = tl_set(&l, "__meta_kubernetes_endpoint_ready", "true")) ||
		    (rc = set_if(&l, "__meta_kubernetes_endpoint_port_name", jstr(p, "name"))) ||
		    (rc = tl_set(&l, "__meta_kubernetes_endpoint_port_protocol", jstr(p, "protocol") ?: "TCP")) ||
		    (rc = set_if(&l, "__meta_kubernetes_endpoint_address_target_kind",
				 ad->target_ref ? jstr(ad->target_ref, "kind") : NULL)) ||
		    (rc = set_if(&l, "__meta_kubernetes_endpoint_address_target_name",
				 ad->target_ref ? jstr(ad->target_ref, "name") : NULL)))
			goto fail;
		if (pod) {
			size_t ci, pi;
			json_t *c, *cp;
			if ((rc = pod_common(&l, pod)))
				goto fail;
			/* The container serving the port, as Prometheus adds it. */
			json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), ci, c) {
				json_array_foreach(json_object_get(c, "ports"), pi, cp) {
					if (json_integer_value(json_object_get(cp, "containerPort")) != port)
						continue;
					if ((rc = set_if(&l, "__meta_kubernetes_pod_container_name", jstr(c, "name"))) ||
					    (rc = tl_set(&l, "__meta_kubernetes_pod_container_port_number", num)))
						goto fail;
				}
			}
		}
		if ((rc = finish(r, a, &l, ctx, emit, arg)))
			return rc;
		continue;
fail:
		tl_fini(&l);
		return rc;
	}
	return 0;
}

/* Service of an endpoints-like object, with the rule's checks on it; NULL
 * when not scraped. */
static const json_t *backing_service(const struct scrape_rule *r, const char *ns, const char *name,
				     const struct disc_ctx *ctx, struct ann *a, int *rc)
{
	const json_t *svc;

	*rc = 0;
	if (!name || !ctx->get_service || !namespace_ok(r, ns, ctx))
		return NULL;
	svc = ctx->get_service(ctx->arg, ns, name);
	if (!svc || !selector_matches(r->selector, json_object_get(meta(svc), "labels")))
		return NULL;
	*rc = read_annotations(r, svc, ctx, a);
	return *rc > 0 ? svc : NULL;
}

static int discover_endpoints(const struct scrape_rule *r, const json_t *ep, const struct disc_ctx *ctx,
			      disc_emit_fn emit, void *arg)
{
	const char *ns = jstr(meta(ep), "namespace");
	const json_t *svc;
	struct ann a;
	size_t i, j;
	json_t *ss, *ad;
	int rc;

	svc = backing_service(r, ns, jstr(meta(ep), "name"), ctx, &a, &rc);
	if (!svc)
		return rc < 0 ? rc : 0;
	json_array_foreach(json_object_get(ep, "subsets"), i, ss) {
		/* notReadyAddresses are never scraped. */
		json_array_foreach(json_object_get(ss, "addresses"), j, ad) {
			struct ep_addr x = {
				.ip = jstr(ad, "ip"), .node = jstr(ad, "nodeName"), .hostname = jstr(ad, "hostname"),
				.target_ref = json_object_get(ad, "targetRef"), .ready = true,
			};
			if ((rc = endpoint_targets(r, ROLE_ENDPOINTS, ep, svc, &a, &x, json_object_get(ss, "ports"),
						   ctx, emit, arg)))
				return rc;
		}
	}
	return 0;
}

static int discover_endpointslice(const struct scrape_rule *r, const json_t *es, const struct disc_ctx *ctx,
				  disc_emit_fn emit, void *arg)
{
	const char *ns = jstr(meta(es), "namespace");
	const char *sname = jstr(json_object_get(meta(es), "labels"), "kubernetes.io/service-name");
	const json_t *svc;
	struct ann a;
	size_t i, j;
	json_t *e, *ip;
	int rc;

	svc = backing_service(r, ns, sname, ctx, &a, &rc);
	if (!svc)
		return rc < 0 ? rc : 0;
	json_array_foreach(json_object_get(es, "endpoints"), i, e) {
		const json_t *ready = json_object_get(json_object_get(e, "conditions"), "ready");
		json_array_foreach(json_object_get(e, "addresses"), j, ip) {
			/* conditions.ready unset means ready (EndpointSlice API). */
			struct ep_addr x = {
				.ip = json_string_value(ip), .node = jstr(e, "nodeName"), .hostname = jstr(e, "hostname"),
				.target_ref = json_object_get(e, "targetRef"), .ready = !ready || json_is_true(ready),
			};
			if ((rc = endpoint_targets(r, ROLE_ENDPOINTSLICE, es, svc, &a, &x, json_object_get(es, "ports"),
						   ctx, emit, arg)))
				return rc;
		}
	}
	return 0;
}

/* ---- node ---------------------------------------------------------------- */

static int discover_node(const struct scrape_rule *r, const json_t *node, const struct disc_ctx *ctx,
			 disc_emit_fn emit, void *arg)
{
	const char *name = jstr(meta(node), "name"), *addr = NULL, *first = NULL;
	const json_t *st = json_object_get(node, "status");
	struct port_spec ps;
	struct tlabels l;
	struct ann a;
	long long port;
	size_t i;
	json_t *ad;
	int rc;

	if (!name || (ctx->node_name && ctx->node_name[0] && strcmp(name, ctx->node_name) != 0))
		return 0;
	if (rule_confined(r, ctx))
		return 0; /* the kubelet is no tenant's target */
	if (!selector_matches(r->selector, json_object_get(meta(node), "labels")))
		return 0;
	rc = read_annotations(r, node, ctx, &a);
	if (rc <= 0)
		return rc;
	tl_init(&l);
	if ((rc = tl_set(&l, "__meta_kubernetes_node_name", name)) || (rc = add_obj_meta(&l, "node", node)))
		goto fail;
	/* Prometheus' address preference: InternalIP, then the first one. */
	json_array_foreach(json_object_get(st, "addresses"), i, ad) {
		char ln[128];
		const char *type = jstr(ad, "type"), *v = jstr(ad, "address");
		if (!type || !v)
			continue;
		snprintf(ln, sizeof(ln), "__meta_kubernetes_node_address_%s", type);
		if ((rc = tl_set(&l, ln, v)))
			goto fail;
		if (!first)
			first = v;
		if (!addr && strcmp(type, "InternalIP") == 0)
			addr = v;
	}
	if (!addr)
		addr = first;
	if (!addr) {
		rc = 0;
		goto fail;
	}
	port = json_integer_value(json_object_get(json_object_get(json_object_get(st, "daemonEndpoints"),
								  "kubeletEndpoint"), "Port"));
	if (port <= 0)
		port = 10250;
	split_ports(a.port, &ps);
	if (ps.n)
		port_number(ps.v[0], ps.len[0], &port); /* names mean nothing on a node */
	if ((rc = set_address(&l, addr, port)))
		goto fail;
	return finish(r, &a, &l, ctx, emit, arg);
fail:
	tl_fini(&l);
	return rc;
}

/* ---- ingress ------------------------------------------------------------- */

static bool host_has_tls(const json_t *ing, const char *host)
{
	size_t i, j;
	json_t *t, *h;

	json_array_foreach(json_object_get(json_object_get(ing, "spec"), "tls"), i, t)
		json_array_foreach(json_object_get(t, "hosts"), j, h)
			if (name_eq(json_string_value(h), host, strlen(host)))
				return true;
	return false;
}

static int discover_ingress(const struct scrape_rule *r, const json_t *ing, const struct disc_ctx *ctx,
			    disc_emit_fn emit, void *arg)
{
	const json_t *md = meta(ing);
	struct ann a;
	size_t i;
	json_t *rule, *path;
	int rc;

	if (!ctx->leader || !namespace_ok(r, jstr(md, "namespace"), ctx) ||
	    !selector_matches(r->selector, json_object_get(md, "labels")))
		return 0;
	rc = read_annotations(r, ing, ctx, &a);
	if (rc <= 0)
		return rc;
	json_array_foreach(json_object_get(json_object_get(ing, "spec"), "rules"), i, rule) {
		const char *host = jstr(rule, "host");
		const json_t *paths = json_object_get(json_object_get(rule, "http"), "paths");
		size_t np = json_array_size(paths);

		if (!host || !host[0])
			continue;
		/* One target per host; its paths are metadata (Prometheus makes
		 * one per path, but the metrics path comes from the rule). */
		{
			struct tlabels l;
			struct ann ah = a;
			path = np ? json_array_get(paths, 0) : NULL;
			tl_init(&l);
			if (!annotation(ing, a.prefix, "scheme") && host_has_tls(ing, host))
				ah.scheme = "https";
			if ((rc = tl_set(&l, "__meta_kubernetes_namespace", jstr(md, "namespace") ?: "")) ||
			    (rc = tl_set(&l, "__meta_kubernetes_ingress_name", jstr(md, "name") ?: "")) ||
			    (rc = add_obj_meta(&l, "ingress", ing)) ||
			    (rc = tl_set(&l, "__meta_kubernetes_ingress_host", host)) ||
			    (rc = tl_set(&l, "__meta_kubernetes_ingress_scheme", ah.scheme)) ||
			    (rc = set_if(&l, "__meta_kubernetes_ingress_path", path ? jstr(path, "path") : NULL)) ||
			    (rc = set_address(&l, host, 0))) {
				tl_fini(&l);
				return rc;
			}
			if ((rc = finish(r, &ah, &l, ctx, emit, arg)))
				return rc;
		}
	}
	return 0;
}

int discover(const struct scrape_rule *r, enum scrape_role role, const json_t *obj,
	     const struct disc_ctx *ctx, disc_emit_fn emit, void *arg)
{
	int rc;

	if (role != r->role)
		return 0;
	switch (role) {
	case ROLE_POD: rc = discover_pod(r, obj, ctx, emit, arg); break;
	case ROLE_SERVICE: rc = discover_service(r, obj, ctx, emit, arg); break;
	case ROLE_ENDPOINTS: rc = discover_endpoints(r, obj, ctx, emit, arg); break;
	case ROLE_ENDPOINTSLICE: rc = discover_endpointslice(r, obj, ctx, emit, arg); break;
	case ROLE_NODE: rc = discover_node(r, obj, ctx, emit, arg); break;
	case ROLE_INGRESS: rc = discover_ingress(r, obj, ctx, emit, arg); break;
	default: rc = KM_EINVAL; break;
	}
	if (rc == KM_EINVAL)
		log_debug("discovery", "%s %s/%s: bad %s annotation, not scraped", scrape_role_name(role),
			  jstr(meta(obj), "namespace") ?: "", jstr(meta(obj), "name") ?: "?", r->prefix[0]);
	return rc;
}
