/* kubeconfig and in-cluster loading: every auth variant, missing fields, bad
 * base64; errors name the file and field and never contain secrets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/err.h"
#include "kube/b64.h"
#include "kube/conn.h"

#define FIX "tests/fixtures/kube/"

static void test_token_and_context(void **state)
{
	struct kube_conn c;
	char err[512] = "";

	(void)state;
	assert_int_equal(kube_conn_from_kubeconfig(&c, FIX "token.yaml", err, sizeof(err)), 0);
	assert_string_equal(c.server, "https://127.0.0.1:6443"); /* trailing '/' dropped */
	assert_string_equal(c.token, "secret-token-123");
	assert_null(c.token_file);
	assert_string_equal(c.namespace, "monitoring");
	assert_non_null(c.ca_pem);
	assert_non_null(strstr(c.ca_pem, "BEGIN CERTIFICATE"));
	assert_null(c.ca_file);
	assert_false(c.insecure);
	assert_string_equal(c.source, "kubeconfig " FIX "token.yaml");
	kube_conn_fini(&c);
}

static void test_cert_files_relative(void **state)
{
	struct kube_conn c;
	char err[512] = "";

	(void)state;
	assert_int_equal(kube_conn_from_kubeconfig(&c, FIX "certfiles.yaml", err, sizeof(err)), 0);
	assert_string_equal(c.server, "https://[::1]:6443");
	assert_string_equal(c.ca_file, "tests/fixtures/kube/ca.crt");
	assert_string_equal(c.cert_file, "tests/fixtures/kube/client.crt");
	assert_string_equal(c.key_file, "/abs/client.key");
	assert_null(c.token);
	assert_string_equal(c.namespace, "default");
	kube_conn_fini(&c);
}

static void test_cert_data_insecure(void **state)
{
	struct kube_conn c;
	char err[512] = "";

	(void)state;
	assert_int_equal(kube_conn_from_kubeconfig(&c, FIX "certdata.yaml", err, sizeof(err)), 0);
	assert_true(c.insecure);
	assert_non_null(strstr(c.cert_pem, "BEGIN CERTIFICATE"));
	assert_non_null(strstr(c.key_pem, "PRIVATE KEY"));
	assert_int_equal(c.cert_pem_len, strlen(c.cert_pem));
	kube_conn_fini(&c);
}

static void test_token_file(void **state)
{
	struct kube_conn c;
	char err[512] = "";

	(void)state;
	assert_int_equal(kube_conn_from_kubeconfig(&c, FIX "tokenfile.yaml", err, sizeof(err)), 0);
	assert_string_equal(c.token_file, FIX "token");
	assert_null(c.token);
	kube_conn_fini(&c);
}

struct bad_case {
	const char *file;
	int rc;
	const char *needle;
};

static void test_errors(void **state)
{
	static const struct bad_case cases[] = {
		{ FIX "badb64.yaml", KM_EPARSE, "certificate-authority-data is not valid base64" },
		{ FIX "nocontext.yaml", KM_EINVAL, "context \"missing\" (current-context) not found" },
		{ FIX "noserver.yaml", KM_EINVAL, "cluster \"c\" has no server" },
		{ FIX "exec.yaml", KM_EINVAL, "exec/auth-provider, which is not supported" },
		{ FIX "nokey.yaml", KM_EINVAL, "client certificate without a key" },
		{ FIX "broken.yaml", KM_EPARSE, "YAML error at line" },
		{ FIX "does-not-exist.yaml", KM_ENOENT, "cannot read" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kube_conn c;
		char err[512] = "";

		assert_int_equal(kube_conn_from_kubeconfig(&c, cases[i].file, err, sizeof(err)), cases[i].rc);
		if (!strstr(err, cases[i].needle))
			fail_msg("%s: error \"%s\" lacks \"%s\"", cases[i].file, err, cases[i].needle);
		assert_non_null(strstr(err, cases[i].file)); /* names the file */
		assert_null(c.server);
	}
}

static void test_in_cluster(void **state)
{
	struct kube_conn c;
	char err[512] = "";

	(void)state;
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("POD_NAMESPACE");
	assert_int_equal(kube_conn_in_cluster(&c, FIX "sa", err, sizeof(err)), KM_ENOENT);
	assert_non_null(strstr(err, "not in cluster"));

	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(kube_conn_in_cluster(&c, FIX "sa", err, sizeof(err)), 0);
	assert_string_equal(c.server, "https://[fd00::1]:443");
	assert_string_equal(c.token_file, FIX "sa/token");
	assert_string_equal(c.ca_file, FIX "sa/ca.crt");
	assert_string_equal(c.namespace, "kube-mon");
	assert_string_equal(c.source, "in-cluster");
	kube_conn_fini(&c);

	setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
	setenv("POD_NAMESPACE", "from-env", 1);
	assert_int_equal(kube_conn_in_cluster(&c, FIX "sa", err, sizeof(err)), 0);
	assert_string_equal(c.server, "https://10.0.0.1:443");
	assert_string_equal(c.namespace, "from-env");
	kube_conn_fini(&c);

	assert_int_equal(kube_conn_in_cluster(&c, FIX "nope", err, sizeof(err)), KM_ENOENT);
	assert_non_null(strstr(err, "nope/token"));
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	unsetenv("POD_NAMESPACE");
}

/* Found by fuzz_kubeconfig: a server of only a scheme was accepted and its
 * slashes trimmed away ("https:"). */
static void test_server_without_host(void **state)
{
	static const char *const servers[] = { "https://", "http://", "https:///", "https:///api" };

	(void)state;
	for (size_t i = 0; i < sizeof(servers) / sizeof(servers[0]); i++) {
		char text[512], err[512] = "";
		struct kube_conn c;
		int n = snprintf(text, sizeof(text),
				 "current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
				 "clusters: [{name: c, cluster: {server: \"%s\"}}]\n",
				 servers[i]);

		assert_int_equal(kube_conn_parse_kubeconfig(&c, text, (size_t)n, "/k/config", err,
							    sizeof(err)),
				 KM_EINVAL);
		assert_non_null(strstr(err, "server has no host"));
		assert_null(c.server);
	}
}

static void test_b64(void **state)
{
	char *out = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(b64_decode("aGVsbG8=", 8, &out, &n), 0);
	assert_int_equal(n, 5);
	assert_string_equal(out, "hello");
	free(out);
	assert_int_equal(b64_decode("aGVs\nbG8", 8, &out, &n), 0);
	assert_string_equal(out, "hello");
	free(out);
	assert_int_equal(b64_decode("", 0, &out, &n), 0);
	assert_int_equal(n, 0);
	free(out);
	assert_int_equal(b64_decode("aGVsbG8=x", 9, &out, &n), KM_EPARSE);
	assert_int_equal(b64_decode("a", 1, &out, &n), KM_EPARSE);
	assert_int_equal(b64_decode("ab$c", 4, &out, &n), KM_EPARSE);
	assert_int_equal(b64_decode("ab===", 5, &out, &n), KM_EPARSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_and_context),
		cmocka_unit_test(test_cert_files_relative),
		cmocka_unit_test(test_cert_data_insecure),
		cmocka_unit_test(test_token_file),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_in_cluster),
		cmocka_unit_test(test_server_without_host),
		cmocka_unit_test(test_b64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
