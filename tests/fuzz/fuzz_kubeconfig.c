/* Kubeconfig loading (libyaml document, current-context resolution, base64
 * -data fields, relative file paths) on bytes. Invariants: a rejection
 * always has a message and leaves the connection empty; an accepted one has
 * an http(s) server without a trailing '/', a namespace, and a certificate
 * exactly when it has a key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "kube/conn.h"

int fuzz_kubeconfig(const uint8_t *data, size_t size)
{
	struct kube_conn c;
	char err[512];
	size_t n;
	int rc;

	err[0] = '\0';
	rc = kube_conn_parse_kubeconfig(&c, (const char *)data, size, "/fuzz/dir/kubeconfig", err,
					sizeof(err));
	if (rc) {
		FUZZ_CHECK(err[0] != '\0');
		FUZZ_CHECK(c.server == NULL && c.namespace == NULL && c.token == NULL);
		return 0;
	}
	FUZZ_CHECK(c.server != NULL && c.namespace != NULL && c.source != NULL);
	FUZZ_CHECK(strncmp(c.server, "https://", 8) == 0 || strncmp(c.server, "http://", 7) == 0);
	n = strlen(c.server);
	FUZZ_CHECK(n > 0 && c.server[n - 1] != '/');
	FUZZ_CHECK((c.cert_pem || c.cert_file) == (c.key_pem || c.key_file));
	FUZZ_CHECK(!c.ca_file || c.ca_file[0] == '/');
	kube_conn_fini(&c);
	return 0;
}
