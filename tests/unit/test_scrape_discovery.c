/* ScrapeRule validation (field paths), discovery per role (annotations, port
 * rule, Running/IP filter, init containers, sharding by node, leader-only
 * kinds), and target-set diffing (unchanged targets keep their state). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "scrape/discovery.h"
#include "scrape/rule.h"
#include "scrape/target.h"

static json_t *J(const char *s)
{
	json_error_t je;
	json_t *j = json_loads(s, 0, &je);

	if (!j)
		fail_msg("bad test JSON: %s", je.text);
	return j;
}

static struct scrape_rule *rule(const char *spec, char *err, size_t errlen)
{
	char text[2048];
	json_t *o;
	struct scrape_rule *r;

	snprintf(text, sizeof(text),
		 "{\"metadata\":{\"name\":\"r\",\"namespace\":\"ns\",\"generation\":3},\"spec\":%s}", spec);
	o = J(text);
	r = scrape_rule_compile(o, err, errlen);
	json_decref(o);
	return r;
}

static void test_rule_validation(void **state)
{
	char err[512];
	struct scrape_rule *r;

	(void)state;
	r = rule("{}", err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(r->role, ROLE_POD);
	assert_string_equal(r->prefix[0], "victoriametrics.com");
	assert_string_equal(r->path, "/metrics");
	assert_string_equal(r->job, "ns/r");
	assert_true(r->require_annotation);
	assert_null(r->ns_selector);
	scrape_rule_unref(r);

	assert_null(rule("{\"interval\":\"10s\",\"scrapeTimeout\":\"30s\"}", err, sizeof(err)));
	assert_string_equal(err, "spec.scrapeTimeout: 30s is longer than spec.interval 10s");
	/* Boundaries: a timeout equal to the interval is allowed (Prometheus
	 * refuses only scrape_timeout > scrape_interval); 1 ms more is not. */
	r = rule("{\"interval\":\"10s\",\"scrapeTimeout\":\"10s\"}", err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(r->timeout_ms, 10000);
	assert_int_equal(scrape_rule_timeout(r, r->interval_ms), 10000);
	scrape_rule_unref(r);
	assert_null(rule("{\"interval\":\"10s\",\"scrapeTimeout\":\"10s1ms\"}", err, sizeof(err)));
	assert_string_equal(err, "spec.scrapeTimeout: 10s1ms is longer than spec.interval 10s");
	r = rule("{\"interval\":\"10s\",\"scrapeTimeout\":\"9s999ms\"}", err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(scrape_rule_timeout(r, r->interval_ms), 9999);
	scrape_rule_unref(r);
	assert_null(rule("{\"role\":\"deployment\"}", err, sizeof(err)));
	assert_non_null(strstr(err, "spec.role"));
	assert_null(rule("{\"interval\":\"soon\"}", err, sizeof(err)));
	assert_non_null(strstr(err, "spec.interval"));
	assert_null(rule("{\"annotationPrefix\":\"Bad_Prefix\"}", err, sizeof(err)));
	assert_non_null(strstr(err, "spec.annotationPrefix"));
	assert_null(rule("{\"port\":70000}", err, sizeof(err)));
	assert_non_null(strstr(err, "spec.port"));
	assert_null(rule("{\"scheme\":\"ftp\"}", err, sizeof(err)));
	assert_non_null(strstr(err, "spec.scheme"));
	assert_null(rule("{\"sampleLimit\":-1}", err, sizeof(err)));
	assert_non_null(strstr(err, "spec.sampleLimit"));
	assert_null(rule("{\"labelLimit\":1001}", err, sizeof(err)));
	assert_non_null(strstr(err, "spec.labelLimit: must be an integer in [0, 1000]"));
	assert_null(rule("{\"labelValueLengthLimit\":\"10\"}", err, sizeof(err)));
	assert_non_null(strstr(err, "spec.labelValueLengthLimit"));
	assert_null(rule("{\"labelNameLengthLimit\":-1}", err, sizeof(err)));
	assert_non_null(strstr(err, "spec.labelNameLengthLimit"));
	assert_null(rule("{\"relabelings\":[{\"sourceLabels\":[\"a\"],\"regex\":\"(\",\"targetLabel\":\"b\"}]}",
			 err, sizeof(err)));
	assert_non_null(strstr(err, "spec.relabelings[0]"));
	assert_null(rule("{\"selector\":{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Maybe\"}]}}", err,
			 sizeof(err)));
	assert_non_null(strstr(err, "spec.selector"));
	r = rule("{\"port\":8080,\"interval\":\"30s\"}", err, sizeof(err));
	assert_non_null(r);
	assert_string_equal(r->port, "8080");
	assert_int_equal(scrape_rule_timeout(r, scrape_rule_interval(r, 15000)), 10000);
	scrape_rule_unref(r);
}

/* Collected targets of one discover() call. */
struct got {
	struct disc_target *t[16];
	size_t n;
};

static int collect(struct disc_target *t, void *arg)
{
	struct got *g = arg;

	if (g->n == 16)
		return -1;
	g->t[g->n++] = t;
	return 0;
}

static void got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		disc_target_free(g->t[i]);
	g->n = 0;
}

#define POD \
	"{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"uid\":\"u1\",\"labels\":{\"app\":\"web\",\"app.kubernetes.io/name\":\"w\"}," \
	"\"annotations\":{%s}}," \
	"\"spec\":{\"nodeName\":\"%s\",\"initContainers\":[{\"name\":\"init\",\"ports\":[{\"containerPort\":1}]}]," \
	"\"containers\":[{\"name\":\"main\",\"image\":\"img\",\"ports\":[{\"name\":\"http\",\"containerPort\":8080}," \
	"{\"name\":\"metrics\",\"containerPort\":9100,\"protocol\":\"TCP\"},{\"name\":\"dns\",\"containerPort\":53,\"protocol\":\"UDP\"}]}," \
	"{\"name\":\"side\",\"ports\":[{\"name\":\"admin\",\"containerPort\":9901}]}]}," \
	"\"status\":{\"phase\":\"%s\",\"podIP\":\"%s\"}}"

static size_t discover_pod(struct scrape_rule *r, const char *ann, const char *node, const char *phase,
			   const char *ip, const char *me, struct got *g)
{
	char text[4096];
	struct disc_ctx ctx = { .node_name = me, .interval_ms = 15000 };
	json_t *o;

	snprintf(text, sizeof(text), POD, ann, node, phase, ip);
	o = J(text);
	assert_int_equal(discover(r, ROLE_POD, o, &ctx, collect, g), 0);
	json_decref(o);
	return g->n;
}

static void test_pod_discovery(void **state)
{
	struct scrape_rule *b = scrape_rule_builtin();
	struct got g = { 0 };
	const struct tlabels *l;

	(void)state;
	/* No annotation: nothing. */
	assert_int_equal(discover_pod(b, "", "n1", "Running", "10.0.0.1", "n1", &g), 0);
	/* Annotated with a port name: exactly that container port. */
	assert_int_equal(discover_pod(b, "\"prometheus.io/scrape\":\"true\",\"prometheus.io/port\":\"metrics\","
				      "\"prometheus.io/path\":\"/m\",\"prometheus.io/interval\":\"5s\"",
				      "n1", "Running", "10.0.0.1", "n1", &g), 1);
	l = &g.t[0]->labels;
	assert_string_equal(g.t[0]->url, "http://10.0.0.1:9100/m");
	assert_int_equal(g.t[0]->interval_ms, 5000);
	assert_int_equal(g.t[0]->timeout_ms, 5000);
	assert_string_equal(tl_get(l, "namespace"), "ns");
	assert_string_equal(tl_get(l, "pod"), "p");
	assert_string_equal(tl_get(l, "container"), "main");
	assert_string_equal(tl_get(l, "node"), "n1");
	assert_string_equal(tl_get(l, "job"), "kubernetes-pods");
	assert_string_equal(tl_get(l, "instance"), "10.0.0.1:9100");
	assert_int_equal(l->n, 6); /* exactly the documented set */
	assert_string_equal(tl_get(&g.t[0]->discovered, "__meta_kubernetes_pod_label_app_kubernetes_io_name"), "w");
	assert_string_equal(tl_get(&g.t[0]->discovered, "__meta_kubernetes_pod_container_port_name"), "metrics");
	got_free(&g);
	/* No port annotation: every declared TCP port, init containers and UDP excluded. */
	assert_int_equal(discover_pod(b, "\"victoriametrics.com/scrape\":\"true\"", "n1", "Running", "10.0.0.1", "n1", &g), 3);
	for (size_t i = 0; i < g.n; i++)
		assert_null(strstr(g.t[i]->url, ":1/"));
	got_free(&g);
	/* A numeric port nobody declares: scraped on the first container. */
	assert_int_equal(discover_pod(b, "\"victoriametrics.com/scrape\":\"true\",\"victoriametrics.com/port\":\"7777\"",
				      "n1", "Running", "10.0.0.1", "n1", &g), 1);
	assert_string_equal(tl_get(&g.t[0]->labels, "container"), "main");
	got_free(&g);
	/* Port list. */
	assert_int_equal(discover_pod(b, "\"victoriametrics.com/scrape\":\"true\",\"victoriametrics.com/port\":\"http, admin\"",
				      "n1", "Running", "10.0.0.1", "n1", &g), 2);
	got_free(&g);
	/* Not Running, no IP, other node: nothing. */
	assert_int_equal(discover_pod(b, "\"victoriametrics.com/scrape\":\"true\"", "n1", "Pending", "10.0.0.1", "n1", &g), 0);
	assert_int_equal(discover_pod(b, "\"victoriametrics.com/scrape\":\"true\"", "n1", "Running", "", "n1", &g), 0);
	assert_int_equal(discover_pod(b, "\"victoriametrics.com/scrape\":\"true\"", "n2", "Running", "10.0.0.1", "n1", &g), 0);
	/* scrape "false" and bad annotations: nothing. */
	assert_int_equal(discover_pod(b, "\"victoriametrics.com/scrape\":\"false\"", "n1", "Running", "10.0.0.1", "n1", &g), 0);
	scrape_rule_unref(b);
}

static void test_rule_prefix_and_selector(void **state)
{
	char err[256];
	struct scrape_rule *r = rule("{\"annotationPrefix\":\"prometheus.io\",\"selector\":{\"matchLabels\":{\"app\":\"web\"}}}",
				     err, sizeof(err));
	struct scrape_rule *other = rule("{\"selector\":{\"matchLabels\":{\"app\":\"db\"}}}", err, sizeof(err));
	struct got g = { 0 };

	(void)state;
	assert_int_equal(discover_pod(r, "\"victoriametrics.com/scrape\":\"true\"", "n1", "Running", "1.2.3.4", "n1", &g), 0);
	assert_int_equal(discover_pod(r, "\"prometheus.io/scrape\":\"true\",\"prometheus.io/port\":\"8080\"", "n1",
				      "Running", "1.2.3.4", "n1", &g), 1);
	assert_string_equal(tl_get(&g.t[0]->labels, "job"), "ns/r");
	got_free(&g);
	assert_int_equal(discover_pod(other, "\"victoriametrics.com/scrape\":\"true\"", "n1", "Running", "1.2.3.4", "n1", &g), 0);
	scrape_rule_unref(r);
	scrape_rule_unref(other);
}

static const json_t *svc_lookup(void *arg, const char *ns, const char *name)
{
	(void)ns;
	(void)name;
	return arg;
}

static void test_endpoints_and_leader_roles(void **state)
{
	char err[256];
	struct scrape_rule *re = rule("{\"role\":\"endpointslice\"}", err, sizeof(err));
	struct scrape_rule *rs = rule("{\"role\":\"service\",\"port\":\"metrics\"}", err, sizeof(err));
	json_t *svc = J("{\"metadata\":{\"name\":\"s\",\"namespace\":\"ns\",\"labels\":{\"a\":\"b\"},"
			"\"annotations\":{\"victoriametrics.com/scrape\":\"true\"}},"
			"\"spec\":{\"type\":\"ClusterIP\",\"ports\":[{\"name\":\"metrics\",\"port\":9090},{\"name\":\"web\",\"port\":80}]}}");
	json_t *es = J("{\"metadata\":{\"name\":\"s-x\",\"namespace\":\"ns\",\"labels\":{\"kubernetes.io/service-name\":\"s\"}},"
		       "\"ports\":[{\"name\":\"metrics\",\"port\":9090,\"protocol\":\"TCP\"}],"
		       "\"endpoints\":[{\"addresses\":[\"10.0.0.1\"],\"nodeName\":\"n1\",\"conditions\":{\"ready\":true}},"
		       "{\"addresses\":[\"10.0.0.2\"],\"nodeName\":\"n2\"},"
		       "{\"addresses\":[\"10.0.0.3\"],\"nodeName\":\"n1\",\"conditions\":{\"ready\":false}},"
		       "{\"addresses\":[\"10.0.0.4\"]}]}");
	struct disc_ctx ctx = { .node_name = "n1", .interval_ms = 15000, .get_service = svc_lookup, .arg = svc };
	struct got g = { 0 };

	(void)state;
	assert_non_null(re);
	assert_non_null(rs);
	/* n1, not leader: only the ready address on n1. */
	assert_int_equal(discover(re, ROLE_ENDPOINTSLICE, es, &ctx, collect, &g), 0);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.t[0]->url, "http://10.0.0.1:9090/metrics");
	assert_string_equal(tl_get(&g.t[0]->labels, "service"), "s");
	assert_string_equal(tl_get(&g.t[0]->labels, "node"), "n1");
	got_free(&g);
	/* Leader also takes the address without a node. */
	ctx.leader = true;
	assert_int_equal(discover(re, ROLE_ENDPOINTSLICE, es, &ctx, collect, &g), 0);
	assert_int_equal(g.n, 2);
	got_free(&g);
	/* Service role: leader only, the named port only. */
	assert_int_equal(discover(rs, ROLE_SERVICE, svc, &ctx, collect, &g), 0);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.t[0]->url, "http://s.ns.svc:9090/metrics");
	got_free(&g);
	ctx.leader = false;
	assert_int_equal(discover(rs, ROLE_SERVICE, svc, &ctx, collect, &g), 0);
	assert_int_equal(g.n, 0);
	json_decref(svc);
	json_decref(es);
	scrape_rule_unref(re);
	scrape_rule_unref(rs);
}

/* __param_* labels become query parameters, escaped as Prometheus
 * (url.Values) escapes them: a value cannot add a parameter of its own. */
static void test_params_escaped(void **state)
{
	char err[256];
	struct scrape_rule *r = rule("{\"role\":\"pod\",\"relabelings\":["
				     "{\"targetLabel\":\"__param_q\",\"replacement\":\"a b&admin=1/\\u00e9\"},"
				     "{\"targetLabel\":\"__param_module\",\"replacement\":\"http_2xx\"}]}",
				     err, sizeof(err));
	struct got g = { 0 };

	(void)state;
	assert_non_null(r);
	assert_int_equal(discover_pod(r, "\"victoriametrics.com/scrape\":\"true\",\"victoriametrics.com/port\":\"9100\"",
				      "n1", "Running", "10.0.0.1", "n1", &g), 1);
	assert_non_null(strstr(g.t[0]->url, "q=a+b%26admin%3D1%2F%C3%A9"));
	assert_non_null(strstr(g.t[0]->url, "module=http_2xx"));
	assert_null(strstr(g.t[0]->url, "&admin="));
	got_free(&g);
	scrape_rule_unref(r);
}

static void test_node_role(void **state)
{
	char err[256];
	struct scrape_rule *r = rule("{\"role\":\"node\",\"requireAnnotation\":false}", err, sizeof(err));
	json_t *node = J("{\"metadata\":{\"name\":\"n1\"},\"status\":{\"addresses\":[{\"type\":\"Hostname\",\"address\":\"h\"},"
			 "{\"type\":\"InternalIP\",\"address\":\"10.1.1.1\"}],\"daemonEndpoints\":{\"kubeletEndpoint\":{\"Port\":10250}}}}");
	struct disc_ctx ctx = { .node_name = "n1", .interval_ms = 15000 };
	struct got g = { 0 };

	(void)state;
	assert_int_equal(discover(r, ROLE_NODE, node, &ctx, collect, &g), 0);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.t[0]->url, "http://10.1.1.1:10250/metrics");
	assert_string_equal(tl_get(&g.t[0]->labels, "node"), "n1");
	got_free(&g);
	ctx.node_name = "n2";
	assert_int_equal(discover(r, ROLE_NODE, node, &ctx, collect, &g), 0);
	assert_int_equal(g.n, 0);
	json_decref(node);
	scrape_rule_unref(r);
}

static int removed_count;
static void on_removed(struct target *t, void *arg)
{
	(void)t;
	(void)arg;
	removed_count++;
}

static struct target *mk(struct scrape_rule *r, const char *pod)
{
	struct disc_target *d = calloc(1, sizeof(*d));

	tl_set(&d->labels, "pod", pod);
	d->url = strdup("http://x/metrics");
	d->interval_ms = 15000;
	d->timeout_ms = 10000;
	return target_new(r, d);
}

static void test_target_diff(void **state)
{
	struct scrape_rule *b = scrape_rule_builtin();
	struct tset s;
	struct target *f[3];
	size_t added, removed;
	int marker = 42;
	const struct tset_cbs cbs = { on_removed, NULL, NULL };

	(void)state;
	tset_init(&s);
	f[0] = mk(b, "a");
	f[1] = mk(b, "b");
	f[2] = mk(b, "a"); /* duplicate identity */
	assert_int_equal(tset_update(&s, f, 3, &cbs, &added, &removed, NULL), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(added, 2);
	for (size_t i = 0; i < s.n; i++)
		s.v[i]->state = &marker; /* "started" */
	f[0] = mk(b, "b");
	f[1] = mk(b, "c");
	removed_count = 0;
	assert_int_equal(tset_update(&s, f, 2, &cbs, &added, &removed, NULL), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(added, 1);
	assert_int_equal(removed, 1);
	assert_int_equal(removed_count, 1);
	for (size_t i = 0; i < s.n; i++) {
		const char *pod = tl_get(&s.v[i]->d->labels, "pod");
		/* b kept its state, c is new */
		if (strcmp(pod, "b") == 0)
			assert_ptr_equal(s.v[i]->state, &marker);
		else
			assert_null(s.v[i]->state);
		s.v[i]->state = NULL;
	}
	tset_fini(&s, NULL, NULL);
	scrape_rule_unref(b);
}

static int retuned_count;
static int64_t retuned_prev_iv;
static void on_retuned(struct target *t, const struct disc_target *prev, void *arg)
{
	(void)t;
	(void)arg;
	retuned_count++;
	retuned_prev_iv = prev->interval_ms;
}

static struct target *mk_full(struct scrape_rule *r, const char *pod, const char *url, int64_t iv,
			      int64_t to)
{
	struct target *t = mk(r, pod);

	free(t->d->url);
	t->d->url = strdup(url);
	t->d->interval_ms = iv;
	t->d->timeout_ms = to;
	t->id = target_identity(r, t->d);
	return t;
}

/* Issue 13: identity is (rule, final labels, URL). A new interval or
 * timeout, or a new version of the rule, keeps the target and its state
 * (the target takes the new schedule and rule, the owner is told through
 * retuned); changed labels or URL make a new target (removed + added). */
static void test_target_identity_keeps_state(void **state)
{
	struct scrape_rule *b = scrape_rule_builtin(), *b2 = scrape_rule_builtin();
	const struct tset_cbs cbs = { on_removed, on_retuned, NULL };
	struct tset s;
	struct target *f[2];
	size_t added, removed, retuned;
	int marker = 42;

	(void)state;
	tset_init(&s);
	f[0] = mk_full(b, "a", "http://x/metrics", 15000, 10000);
	{
		/* Interval and timeout are not part of the identity. */
		struct target *x = mk_full(b, "a", "http://x/metrics", 5000, 1000);
		assert_int_equal(x->id, f[0]->id);
		target_free(x);
	}
	assert_int_equal(tset_update(&s, f, 1, &cbs, &added, &removed, &retuned), 0);
	s.v[0]->state = &marker;

	/* Same everything: kept, nothing retuned. */
	retuned_count = removed_count = 0;
	f[0] = mk_full(b, "a", "http://x/metrics", 15000, 10000);
	assert_int_equal(tset_update(&s, f, 1, &cbs, &added, &removed, &retuned), 0);
	assert_int_equal(added + removed + retuned, 0);
	assert_int_equal(retuned_count, 0);

	/* New interval and timeout: kept with its state, retuned once. */
	f[0] = mk_full(b, "a", "http://x/metrics", 5000, 2000);
	assert_int_equal(tset_update(&s, f, 1, &cbs, &added, &removed, &retuned), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(added, 0);
	assert_int_equal(removed, 0);
	assert_int_equal(retuned, 1);
	assert_int_equal(retuned_count, 1);
	assert_int_equal(retuned_prev_iv, 15000);
	assert_ptr_equal(s.v[0]->state, &marker);
	assert_int_equal(s.v[0]->d->interval_ms, 5000);
	assert_int_equal(s.v[0]->d->timeout_ms, 2000);

	/* A new version of the same rule: kept, takes the new rule. */
	f[0] = mk_full(b2, "a", "http://x/metrics", 5000, 2000);
	assert_int_equal(tset_update(&s, f, 1, &cbs, &added, &removed, &retuned), 0);
	assert_int_equal(retuned, 1);
	assert_ptr_equal(s.v[0]->rule, b2);
	assert_ptr_equal(s.v[0]->state, &marker);

	/* Another URL: replaced. */
	removed_count = 0;
	f[0] = mk_full(b2, "a", "http://y/metrics", 5000, 2000);
	assert_int_equal(tset_update(&s, f, 1, &cbs, &added, &removed, &retuned), 0);
	assert_int_equal(added, 1);
	assert_int_equal(removed, 1);
	assert_int_equal(removed_count, 1);
	assert_null(s.v[0]->state);
	s.v[0]->state = &marker;

	/* Other final labels: replaced. */
	f[0] = mk_full(b2, "b", "http://y/metrics", 5000, 2000);
	assert_int_equal(tset_update(&s, f, 1, &cbs, &added, &removed, &retuned), 0);
	assert_int_equal(added, 1);
	assert_int_equal(removed, 1);
	assert_null(s.v[0]->state);
	tset_fini(&s, NULL, NULL);
	scrape_rule_unref(b);
	scrape_rule_unref(b2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rule_validation),
		cmocka_unit_test(test_pod_discovery),
		cmocka_unit_test(test_rule_prefix_and_selector),
		cmocka_unit_test(test_endpoints_and_leader_roles),
		cmocka_unit_test(test_params_escaped),
		cmocka_unit_test(test_node_role),
		cmocka_unit_test(test_target_diff),
		cmocka_unit_test(test_target_identity_keeps_state),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
