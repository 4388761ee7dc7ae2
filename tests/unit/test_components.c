/* Built-in component jobs (src/collect/components/): the job table gives
 * each target exactly the labels kube-prometheus's monitors give it, the
 * URL and authentication each component needs, control-plane and leader
 * gating, pod-driven targets (CoreDNS, kube-proxy, static pods), the
 * drop lists, and the -components list parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/err.h"
#include "collect/components/components.h"
#include "scrape/discovery.h"
#include "scrape/rule.h"
#include "scrape/tlabels.h"

static json_t *J(const char *s)
{
	json_error_t je;
	json_t *j = json_loads(s, 0, &je);

	if (!j)
		fail_msg("bad test JSON: %s", je.text);
	return j;
}

static struct comp_jobs *jobs(unsigned enabled, bool cadvisor)
{
	char err[256] = "";
	/* Unset string options are "" as the flags give them. */
	struct comp_opts o = { .enabled = enabled, .drop_lists = true, .kubelet_cadvisor = cadvisor,
			       .etcd_cert_file = "/c.crt", .etcd_key_file = "/c.key", .kubelet_address = "",
			       .control_plane_address = "", .proxy_address = "", .token_file = "", .ca_file = "" };
	struct comp_jobs *j = comp_jobs_new(&o, err, sizeof(err));

	if (!j)
		fail_msg("comp_jobs_new: %s", err);
	return j;
}

/* "a=b,c=d" of a target's sorted labels. */
static void labels_text(const struct disc_target *d, char *dst, size_t n)
{
	size_t pos = 0;

	dst[0] = '\0';
	for (size_t i = 0; i < d->labels.n && pos < n; i++)
		pos += (size_t)snprintf(dst + pos, n - pos, "%s%s=%s", i ? "," : "", d->labels.v[i].name,
					d->labels.v[i].value);
}

static const struct scrape_static *find_url(const struct scrape_static *v, size_t n, const char *url)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].d->url, url) == 0)
			return &v[i];
	return NULL;
}

static const char *pods_json =
	"[{\"metadata\":{\"namespace\":\"kube-system\",\"name\":\"coredns-1\",\"labels\":{\"k8s-app\":\"kube-dns\"}},"
	"  \"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.7\"}},"
	" {\"metadata\":{\"namespace\":\"kube-system\",\"name\":\"coredns-2\",\"labels\":{\"k8s-app\":\"kube-dns\"}},"
	"  \"status\":{\"phase\":\"Pending\"}},"
	" {\"metadata\":{\"namespace\":\"other\",\"name\":\"fake-dns\",\"labels\":{\"k8s-app\":\"kube-dns\"}},"
	"  \"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.9\"}},"
	" {\"metadata\":{\"namespace\":\"kube-system\",\"name\":\"kube-proxy-abc\",\"labels\":{\"k8s-app\":\"kube-proxy\"}},"
	"  \"status\":{\"phase\":\"Running\",\"podIP\":\"192.168.1.5\"}},"
	" {\"metadata\":{\"namespace\":\"kube-system\",\"name\":\"kube-scheduler-n1\",\"labels\":{\"component\":\"kube-scheduler\"}},"
	"  \"status\":{\"phase\":\"Running\",\"podIP\":\"192.168.1.5\"}}]";

static void test_kubelet_labels(void **state)
{
	struct comp_jobs *j = jobs(COMP_BIT(COMP_KUBELET), false);
	struct comp_env env = { .node_name = "n1", .node_ip = "192.168.1.5" };
	struct scrape_static *v;
	const struct scrape_static *t;
	size_t n;
	char l[1024];

	(void)state;
	assert_int_equal(comp_jobs_targets(j, &env, &v, &n), 0);
	/* /metrics, /metrics/probes, /metrics/resource; cadvisor is opt-in */
	assert_int_equal(n, 3);
	t = find_url(v, n, "https://192.168.1.5:10250/metrics");
	assert_non_null(t);
	labels_text(t->d, l, sizeof(l));
	assert_string_equal(l, "endpoint=https-metrics,instance=192.168.1.5:10250,job=kubelet,metrics_path=/metrics,"
			       "namespace=kube-system,node=n1,service=kubelet");
	assert_true(t->rule->honor_labels);
	assert_non_null(t->rule->metric_relabel); /* kube-prometheus drop list */
	assert_non_null(t->rule->auth.bearer_token_file);
	assert_string_equal(t->rule->auth.bearer_token_file, "/var/run/secrets/kubernetes.io/serviceaccount/token");
	assert_string_equal(t->rule->auth.ca_file, "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
	assert_false(t->rule->auth.insecure_skip_verify);
	assert_int_equal(strncmp(t->rule->name, comp_rule_prefix(COMP_KUBELET), strlen("kubelet/")), 0);
	t = find_url(v, n, "https://192.168.1.5:10250/metrics/probes");
	assert_non_null(t);
	assert_string_equal(tl_get(&t->d->labels, "metrics_path"), "/metrics/probes");
	assert_null(find_url(v, n, "https://192.168.1.5:10250/metrics/cadvisor"));
	scrape_static_free(v, n);
	comp_jobs_unref(j);

	j = jobs(COMP_BIT(COMP_KUBELET), true);
	assert_int_equal(comp_jobs_targets(j, &env, &v, &n), 0);
	assert_int_equal(n, 4);
	t = find_url(v, n, "https://192.168.1.5:10250/metrics/cadvisor");
	assert_non_null(t);
	assert_string_equal(tl_get(&t->d->labels, "metrics_path"), "/metrics/cadvisor");
	scrape_static_free(v, n);
	/* No InternalIP known yet: no target rather than a guess. */
	env.node_ip = "";
	assert_int_equal(comp_jobs_targets(j, &env, &v, &n), 0);
	assert_int_equal(n, 0);
	assert_null(v);
	comp_jobs_unref(j);
}

static void test_apiserver_leader_only(void **state)
{
	struct comp_jobs *j = jobs(COMP_BIT(COMP_APISERVER), false);
	const char *eps[] = { "10.1.2.3:6443", "[fd00::1]:6443" };
	struct comp_env env = { .node_name = "n1", .node_ip = "192.168.1.5", .apiservers = eps, .napiservers = 2 };
	struct scrape_static *v;
	size_t n;
	char l[1024];

	(void)state;
	assert_int_equal(comp_jobs_targets(j, &env, &v, &n), 0);
	assert_int_equal(n, 0); /* not the leader */
	env.leader = true;
	assert_int_equal(comp_jobs_targets(j, &env, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].d->url, "https://10.1.2.3:6443/metrics");
	labels_text(v[0].d, l, sizeof(l));
	assert_string_equal(l, "endpoint=https,instance=10.1.2.3:6443,job=apiserver,namespace=default,service=kubernetes");
	assert_string_equal(v[1].d->url, "https://[fd00::1]:6443/metrics");
	assert_string_equal(tl_get(&v[1].d->labels, "instance"), "[fd00::1]:6443");
	assert_false(v[0].rule->honor_labels);
	assert_non_null(v[0].rule->auth.ca_file);
	scrape_static_free(v, n);
	comp_jobs_unref(j);
}

static void test_control_plane_gating(void **state)
{
	unsigned cp = COMP_BIT(COMP_SCHEDULER) | COMP_BIT(COMP_CONTROLLER_MANAGER) | COMP_BIT(COMP_ETCD);
	struct comp_jobs *j = jobs(cp, false);
	json_t *pods = J(pods_json);
	struct comp_env env = { .node_name = "n1", .node_ip = "192.168.1.5" };
	struct scrape_static *v;
	const struct scrape_static *t;
	size_t n;
	char l[1024];

	(void)state;
	/* A worker: nothing. */
	assert_int_equal(comp_jobs_targets(j, &env, &v, &n), 0);
	assert_int_equal(n, 0);
	/* The scheduler's static pod on this node: the scheduler alone. */
	env.pods = pods;
	assert_int_equal(comp_jobs_targets(j, &env, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].d->url, "https://127.0.0.1:10259/metrics");
	labels_text(v[0].d, l, sizeof(l));
	assert_string_equal(l, "endpoint=https-metrics,instance=192.168.1.5:10259,job=kube-scheduler,"
			       "namespace=kube-system,pod=kube-scheduler-n1,service=kube-scheduler-prometheus-discovery");
	scrape_static_free(v, n);
	/* A labelled control-plane node: all three. */
	env.control_plane = true;
	assert_int_equal(comp_jobs_targets(j, &env, &v, &n), 0);
	assert_int_equal(n, 3);
	t = find_url(v, n, "https://127.0.0.1:10257/metrics");
	assert_non_null(t);
	assert_string_equal(tl_get(&t->d->labels, "job"), "kube-controller-manager");
	assert_non_null(t->rule->metric_relabel);
	t = find_url(v, n, "https://127.0.0.1:2379/metrics");
	assert_non_null(t);
	assert_string_equal(tl_get(&t->d->labels, "job"), "etcd");
	assert_string_equal(t->rule->auth.cert_file, "/c.crt");
	assert_null(t->rule->auth.bearer_token_file); /* client certificate, no token */
	scrape_static_free(v, n);
	comp_jobs_unref(j);
	json_decref(pods);
}

static void test_etcd_needs_cert(void **state)
{
	char err[256];
	struct comp_opts o = { .enabled = COMP_BIT(COMP_ETCD) | COMP_BIT(COMP_KUBELET) };
	struct comp_jobs *j = comp_jobs_new(&o, err, sizeof(err));

	(void)state;
	assert_non_null(j);
	assert_int_equal(comp_jobs_enabled(j), COMP_BIT(COMP_KUBELET));
	comp_jobs_unref(j);
}

static void test_pod_driven(void **state)
{
	struct comp_jobs *j = jobs(COMP_BIT(COMP_COREDNS) | COMP_BIT(COMP_PROXY), false);
	json_t *pods = J(pods_json);
	struct comp_env env = { .node_name = "n1", .node_ip = "192.168.1.5" };
	struct scrape_static *v;
	const struct scrape_static *t;
	size_t n;
	char l[1024];

	(void)state;
	assert_int_equal(comp_jobs_targets(j, &env, &v, &n), 0);
	assert_int_equal(n, 0); /* no kube-proxy pod, no CoreDNS pod */
	env.pods = pods;
	assert_int_equal(comp_jobs_targets(j, &env, &v, &n), 0);
	/* the Running CoreDNS pod of kube-system only, and kube-proxy */
	assert_int_equal(n, 2);
	t = find_url(v, n, "http://10.0.0.7:9153/metrics");
	assert_non_null(t);
	labels_text(t->d, l, sizeof(l));
	assert_string_equal(l, "container=coredns,endpoint=metrics,instance=10.0.0.7:9153,job=kube-dns,"
			       "namespace=kube-system,pod=coredns-1,service=kube-dns");
	assert_null(t->rule->auth.bearer_token_file); /* never a token over plain HTTP */
	t = find_url(v, n, "http://127.0.0.1:10249/metrics");
	assert_non_null(t);
	labels_text(t->d, l, sizeof(l));
	assert_string_equal(l, "container=kube-proxy,instance=n1,job=kube-proxy,namespace=kube-system,pod=kube-proxy-abc");
	assert_true(t->rule->honor_labels);
	scrape_static_free(v, n);
	comp_jobs_unref(j);
	json_decref(pods);
}

static void test_options(void **state)
{
	char err[256];
	struct comp_opts o = { .enabled = COMP_BIT(COMP_KUBELET), .kubelet_address = "127.0.0.1", .kubelet_port = 11250,
			       .kubelet_insecure = true, .token_file = "/tmp/tok" };
	struct comp_jobs *j = comp_jobs_new(&o, err, sizeof(err));
	struct comp_env env = { .node_name = "n1", .node_ip = "192.168.1.5" };
	struct scrape_static *v;
	size_t n;

	(void)state;
	assert_non_null(j);
	assert_int_equal(comp_jobs_targets(j, &env, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].d->url, "https://127.0.0.1:11250/metrics");
	/* instance stays the node's address, as kube-prometheus would show */
	assert_string_equal(tl_get(&v[0].d->labels, "instance"), "192.168.1.5:11250");
	assert_true(v[0].rule->auth.insecure_skip_verify);
	assert_null(v[0].rule->auth.ca_file);
	assert_string_equal(v[0].rule->auth.bearer_token_file, "/tmp/tok");
	assert_null(v[0].rule->metric_relabel); /* drop lists off */
	scrape_static_free(v, n);
	comp_jobs_unref(j);
}

static void test_parse_list(void **state)
{
	unsigned bits = 0;
	char err[256] = "";

	(void)state;
	assert_int_equal(comp_parse_list("kubelet, apiserver,,coredns", &bits, err, sizeof(err)), 0);
	assert_int_equal(bits, COMP_BIT(COMP_KUBELET) | COMP_BIT(COMP_APISERVER) | COMP_BIT(COMP_COREDNS));
	assert_int_equal(comp_parse_list("", &bits, err, sizeof(err)), 0);
	assert_int_equal(bits, 0);
	assert_int_equal(comp_parse_list("kubelet,scheduler", &bits, err, sizeof(err)), KM_EINVAL);
	assert_non_null(strstr(err, "unknown component \"scheduler\""));
	for (int i = 0; i < COMP_COUNT; i++) {
		enum comp_id id;
		assert_int_equal(comp_parse(comp_name((enum comp_id)i), strlen(comp_name((enum comp_id)i)), &id), 0);
		assert_int_equal(id, i);
	}
}

static void test_node_facts(void **state)
{
	json_t *node = J("{\"metadata\":{\"labels\":{\"node-role.kubernetes.io/control-plane\":\"\"}},"
			 "\"status\":{\"addresses\":[{\"type\":\"Hostname\",\"address\":\"n1\"},"
			 "{\"type\":\"InternalIP\",\"address\":\"192.168.1.5\"}]}}");
	char ip[64];
	bool cp = false;

	(void)state;
	comp_node_facts(node, ip, sizeof(ip), &cp);
	assert_string_equal(ip, "192.168.1.5");
	assert_true(cp);
	comp_node_facts(NULL, ip, sizeof(ip), &cp);
	assert_string_equal(ip, "");
	assert_false(cp);
	json_decref(node);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kubelet_labels),   cmocka_unit_test(test_apiserver_leader_only),
		cmocka_unit_test(test_control_plane_gating), cmocka_unit_test(test_etcd_needs_cert),
		cmocka_unit_test(test_pod_driven),       cmocka_unit_test(test_options),
		cmocka_unit_test(test_parse_list),       cmocka_unit_test(test_node_facts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
