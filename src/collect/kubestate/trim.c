/* What the kube-state informers keep of each object (their trim): rendered
 * lines are all kube-state itself needs, so the stores keep only what the
 * other readers of the same informers use. */
#include <stdbool.h>
#include <string.h>

#include "collect/kubestate/watch.h"

/* Copies obj[name] into dst when present. */
static void keep_field(json_t *dst, const json_t *obj, const char *name)
{
	json_t *v = json_object_get(obj, name);

	if (v)
		json_object_set(dst, name, v);
}

/* True when some annotation key ends in "/scrape" (any prefix). */
static bool wants_scrape(const json_t *ann)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)ann, key, v) {
		size_t n = strlen(key);
		if (n >= 7 && strcmp(key + n - 7, "/scrape") == 0)
			return true;
	}
	return false;
}

/* Keeps only the Ready condition (discovery's only use of them). */
static void keep_ready_condition(json_t *dst, const json_t *st)
{
	json_t *conds = json_array(), *c;
	size_t i;

	if (!conds)
		return;
	json_array_foreach(json_object_get(st, "conditions"), i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));
		if (t && strcmp(t, "Ready") == 0) {
			json_t *one = json_object();
			if (one) {
				keep_field(one, c, "type");
				keep_field(one, c, "status");
				json_array_append_new(conds, one);
			}
		}
	}
	json_object_set_new(dst, "conditions", conds);
}

/* What the kube-state stores keep of an object: its resourceVersion (relist
 * diffs; the store key gives the identity for deletes), plus, for nodes, the
 * identity and labels (K8sMonitor nodeSelector status) and, for pods
 * annotated <prefix>/scrape, what discovery reads (ScrapeRule target counts;
 * a rule with requireAnnotation false therefore counts only annotated pods
 * cluster-wide). A full pod is ~20 KB as a JSON tree, the trimmed one a few
 * hundred bytes; kube-state itself keeps rendered lines. */
static json_t *ks_trim(const json_t *obj, enum ks_kind kind)
{
	const json_t *md = json_object_get(obj, "metadata");
	const char *rv = json_string_value(json_object_get(md, "resourceVersion"));
	bool discovery = kind == KS_POD && wants_scrape(json_object_get(md, "annotations"));
	json_t *out, *m;

	/* Nobody reads more than the identity of the other objects: keep the
	 * reflector's compact form (the resourceVersion alone, the key holds
	 * namespace/name), ~210 instead of ~1,330 bytes per object, 150 MB at
	 * 135k objects. Without a resourceVersion the relist diff needs the
	 * object form. */
	if (kind != KS_NODE && !discovery && rv && *rv)
		return json_string(rv);
	out = json_object();
	m = json_object();
	if (!out || !m)
		goto fail;
	keep_field(m, md, "name");
	keep_field(m, md, "namespace");
	keep_field(m, md, "uid");
	keep_field(m, md, "resourceVersion");
	if (kind == KS_NODE)
		keep_field(m, md, "labels");
	/* Discovery fields only for pods that ask to be scraped: at 100k pods
	 * the full set of every pod would be most of the agent's memory. */
	if (discovery) {
		const json_t *spec = json_object_get(obj, "spec"), *st = json_object_get(obj, "status");
		json_t *ann = json_object_get(md, "annotations");
		json_t *ns = json_object(), *nst = json_object(), *ctrs = json_array(), *c;
		size_t i;

		if (!ns || !nst || !ctrs) {
			json_decref(ns);
			json_decref(nst);
			json_decref(ctrs);
			goto fail;
		}
		if (ann) {
			/* The last-applied copy of the whole object is the biggest
			 * annotation and nobody here reads it. */
			json_t *a = json_copy(ann);
			if (a)
				json_object_del(a, "kubectl.kubernetes.io/last-applied-configuration");
			json_object_set_new(m, "annotations", a ? a : json_object());
		}
		keep_field(m, md, "labels");
		keep_field(m, md, "ownerReferences");
		keep_field(ns, spec, "nodeName");
		json_array_foreach(json_object_get(spec, "containers"), i, c) {
			json_t *one = json_object();
			if (!one)
				continue;
			keep_field(one, c, "name");
			keep_field(one, c, "image");
			keep_field(one, c, "ports");
			json_array_append_new(ctrs, one);
		}
		json_object_set_new(ns, "containers", ctrs);
		keep_field(nst, st, "phase");
		keep_field(nst, st, "podIP");
		keep_field(nst, st, "hostIP");
		keep_ready_condition(nst, st);
		json_object_set_new(out, "spec", ns);
		json_object_set_new(out, "status", nst);
	}
	json_object_set_new(out, "metadata", m);
	return out;
fail:
	json_decref(m);
	json_decref(out);
	return NULL;
}

json_t *ks_trim_node(const json_t *obj)
{
	return ks_trim(obj, KS_NODE);
}

json_t *ks_trim_pod(const json_t *obj)
{
	return ks_trim(obj, KS_POD);
}

json_t *ks_trim_other(const json_t *obj)
{
	return ks_trim(obj, KS_KIND_COUNT);
}

