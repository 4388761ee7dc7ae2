#include "kube/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/parse.h"
#include "kube/b64.h"

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

void kube_conn_fini(struct kube_conn *c)
{
	free(c->server);
	free(c->ca_file);
	free(c->ca_pem);
	free(c->cert_file);
	free(c->cert_pem);
	free(c->key_file);
	if (c->key_pem) {
		/* Do not leave the private key lying around in freed heap. */
		explicit_bzero(c->key_pem, c->key_pem_len);
		free(c->key_pem);
	}
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	free(c->token_file);
	free(c->tls_server_name);
	free(c->namespace);
	free(c->source);
	memset(c, 0, sizeof(*c));
}

int kube_read_file(const char *path, size_t cap, char **out, size_t *outlen)
{
	struct buf b;
	char chunk[8192];
	int fd, rc = 0;

	buf_init(&b, cap);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? KM_ENOENT : (errno == EACCES ? KM_EACCES : KM_EIO);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = KM_EIO;
			goto out;
		}
		if (n == 0)
			break;
		rc = buf_add(&b, chunk, (size_t)n);
		if (rc)
			goto out;
	}
	if (b.len == 0) {
		/* Keep the contract "NUL-terminated heap block" for empty files. */
		*out = calloc(1, 1);
		if (!*out) {
			rc = KM_ENOMEM;
			goto out;
		}
		*outlen = 0;
	} else {
		*outlen = b.len;
		*out = buf_steal(&b);
	}
out:
	close(fd);
	buf_fini(&b);
	return rc;
}

/* Token and namespace files often end in a newline that is not part of the
 * value. */
static void trim_right(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
}

/* ---- kubeconfig (libyaml document API) ---- */

static yaml_node_t *ymap_get(yaml_document_t *d, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *p;
	size_t kl = strlen(key);

	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(d, p->key);

		if (k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == kl &&
		    memcmp(k->data.scalar.value, key, kl) == 0)
			return yaml_document_get_node(d, p->value);
	}
	return NULL;
}

/* Scalar value of map[key] as a borrowed C string, NULL if absent, null or
 * empty. */
static const char *ystr(yaml_document_t *d, yaml_node_t *map, const char *key)
{
	yaml_node_t *n = ymap_get(d, map, key);

	if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.length == 0)
		return NULL;
	if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (strcmp((char *)n->data.scalar.value, "null") == 0 ||
	     strcmp((char *)n->data.scalar.value, "~") == 0))
		return NULL;
	return (const char *)n->data.scalar.value;
}

/* Finds the entry of list `section` whose name is `name` and returns its
 * `field` mapping (e.g. clusters[name=x].cluster). */
static yaml_node_t *ynamed(yaml_document_t *d, yaml_node_t *root, const char *section,
			   const char *field, const char *name)
{
	yaml_node_t *list = ymap_get(d, root, section);
	yaml_node_item_t *it;

	if (!list || list->type != YAML_SEQUENCE_NODE)
		return NULL;
	for (it = list->data.sequence.items.start; it < list->data.sequence.items.top; it++) {
		yaml_node_t *e = yaml_document_get_node(d, *it);
		const char *n = ystr(d, e, "name");

		if (n && strcmp(n, name) == 0)
			return ymap_get(d, e, field);
	}
	return NULL;
}

/* Resolves p against dir unless absolute; returns a new string. */
static char *resolve_path(const char *dir, const char *p)
{
	struct buf b;

	buf_init(&b, 8192);
	if (p[0] == '/' || !dir)
		buf_adds(&b, p);
	else
		buf_printf(&b, "%s/%s", dir, p);
	if (b.len == 0) {
		buf_fini(&b);
		return NULL;
	}
	return buf_steal(&b);
}

static int dup_field(char **dst, const char *src)
{
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : KM_ENOMEM;
}

static int decode_field(char **dst, size_t *dlen, const char *src, const char *path,
			const char *field, char *err, size_t errlen)
{
	int rc;

	if (!src)
		return 0;
	rc = b64_decode(src, strlen(src), dst, dlen);
	if (rc == KM_EPARSE)
		seterr(err, errlen, "kubeconfig %s: %s is not valid base64", path, field);
	else if (rc)
		seterr(err, errlen, "kubeconfig %s: %s: %s", path, field, km_strerror(rc));
	return rc;
}

static int file_field(char **dst, const char *dir, const char *src)
{
	if (!src)
		return 0;
	*dst = resolve_path(dir, src);
	return *dst ? 0 : KM_ENOMEM;
}

static int kubeconfig_fill(struct kube_conn *c, yaml_document_t *d, const char *path,
			   const char *dir, char *err, size_t errlen)
{
	yaml_node_t *root = yaml_document_get_root_node(d);
	yaml_node_t *ctx, *cluster, *user = NULL, *ins;
	const char *cur, *cname, *uname, *server, *ns;
	int rc = KM_EINVAL;

	if (!root || root->type != YAML_MAPPING_NODE) {
		seterr(err, errlen, "kubeconfig %s: not a YAML mapping", path);
		return KM_EPARSE;
	}
	cur = ystr(d, root, "current-context");
	if (!cur) {
		seterr(err, errlen, "kubeconfig %s: current-context is not set", path);
		return KM_EINVAL;
	}
	ctx = ynamed(d, root, "contexts", "context", cur);
	if (!ctx) {
		seterr(err, errlen, "kubeconfig %s: context \"%s\" (current-context) not found in contexts", path, cur);
		return KM_EINVAL;
	}
	cname = ystr(d, ctx, "cluster");
	if (!cname) {
		seterr(err, errlen, "kubeconfig %s: context \"%s\" has no cluster", path, cur);
		return KM_EINVAL;
	}
	cluster = ynamed(d, root, "clusters", "cluster", cname);
	if (!cluster) {
		seterr(err, errlen, "kubeconfig %s: cluster \"%s\" not found in clusters", path, cname);
		return KM_EINVAL;
	}
	uname = ystr(d, ctx, "user");
	if (uname) {
		user = ynamed(d, root, "users", "user", uname);
		if (!user) {
			seterr(err, errlen, "kubeconfig %s: user \"%s\" not found in users", path, uname);
			return KM_EINVAL;
		}
	}
	server = ystr(d, cluster, "server");
	if (!server) {
		seterr(err, errlen, "kubeconfig %s: cluster \"%s\" has no server", path, cname);
		return KM_EINVAL;
	}
	if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0) {
		seterr(err, errlen, "kubeconfig %s: cluster \"%s\" server must start with https:// or http://", path, cname);
		return KM_EINVAL;
	}
	/* "https://" alone would lose its slashes to the trim below and reach
	 * libcurl as "https:". */
	{
		const char *host = strstr(server, "://") + 3;

		if (*host == '\0' || *host == '/') {
			seterr(err, errlen, "kubeconfig %s: cluster \"%s\" server has no host", path, cname);
			return KM_EINVAL;
		}
	}
	if ((rc = dup_field(&c->server, server)))
		goto nomem;
	{
		size_t n = strlen(c->server);

		while (n && c->server[n - 1] == '/')
			c->server[--n] = '\0';
	}
	ins = ymap_get(d, cluster, "insecure-skip-tls-verify");
	if (ins && ins->type == YAML_SCALAR_NODE) {
		if (parse_bool((const char *)ins->data.scalar.value, ins->data.scalar.length,
			       &c->insecure)) {
			seterr(err, errlen, "kubeconfig %s: cluster \"%s\" insecure-skip-tls-verify is not a boolean", path, cname);
			return KM_EINVAL;
		}
	}
	rc = decode_field(&c->ca_pem, &c->ca_pem_len, ystr(d, cluster, "certificate-authority-data"),
			  path, "certificate-authority-data", err, errlen);
	if (rc)
		return rc;
	if (!c->ca_pem && (rc = file_field(&c->ca_file, dir, ystr(d, cluster, "certificate-authority"))))
		goto nomem;
	if ((rc = dup_field(&c->tls_server_name, ystr(d, cluster, "tls-server-name"))))
		goto nomem;
	if (user) {
		if (ymap_get(d, user, "exec") || ymap_get(d, user, "auth-provider")) {
			seterr(err, errlen, "kubeconfig %s: user \"%s\" uses exec/auth-provider, which is not supported; use a token, tokenFile or client certificate", path, uname);
			return KM_EINVAL;
		}
		if ((rc = dup_field(&c->token, ystr(d, user, "token"))))
			goto nomem;
		if (!c->token && (rc = file_field(&c->token_file, dir, ystr(d, user, "tokenFile"))))
			goto nomem;
		rc = decode_field(&c->cert_pem, &c->cert_pem_len, ystr(d, user, "client-certificate-data"),
				  path, "client-certificate-data", err, errlen);
		if (rc)
			return rc;
		if (!c->cert_pem && (rc = file_field(&c->cert_file, dir, ystr(d, user, "client-certificate"))))
			goto nomem;
		rc = decode_field(&c->key_pem, &c->key_pem_len, ystr(d, user, "client-key-data"),
				  path, "client-key-data", err, errlen);
		if (rc)
			return rc;
		if (!c->key_pem && (rc = file_field(&c->key_file, dir, ystr(d, user, "client-key"))))
			goto nomem;
		if ((c->cert_pem || c->cert_file) != (c->key_pem || c->key_file)) {
			seterr(err, errlen, "kubeconfig %s: user \"%s\" has a client certificate without a key or a key without a certificate", path, uname);
			return KM_EINVAL;
		}
	}
	ns = ystr(d, ctx, "namespace");
	if ((rc = dup_field(&c->namespace, ns ? ns : "default")))
		goto nomem;
	return 0;
nomem:
	seterr(err, errlen, "kubeconfig %s: out of memory", path);
	return rc;
}

int kube_conn_parse_kubeconfig(struct kube_conn *c, const char *text, size_t len,
			       const char *path, char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	char *dir = NULL, *slash;
	bool have_parser = false, have_doc = false;
	struct buf src;
	int rc;

	memset(c, 0, sizeof(*c));
	dir = strdup(path);
	if (!dir) {
		rc = KM_ENOMEM;
		goto out;
	}
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	else {
		free(dir);
		dir = NULL; /* relative to the working directory */
	}
	if (!yaml_parser_initialize(&parser)) {
		rc = KM_ENOMEM;
		goto out;
	}
	have_parser = true;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		seterr(err, errlen, "kubeconfig %s: YAML error at line %zu: %s", path,
		       parser.problem_mark.line + 1, parser.problem ? parser.problem : "unknown");
		rc = KM_EPARSE;
		goto out;
	}
	have_doc = true;
	rc = kubeconfig_fill(c, &doc, path, dir, err, errlen);
	if (rc)
		goto out;
	buf_init(&src, 8192);
	if (buf_printf(&src, "kubeconfig %s", path) == 0)
		c->source = buf_steal(&src);
	buf_fini(&src);
	if (!c->source)
		rc = KM_ENOMEM;
out:
	if (have_doc)
		yaml_document_delete(&doc);
	if (have_parser)
		yaml_parser_delete(&parser);
	free(dir);
	if (rc)
		kube_conn_fini(c);
	return rc;
}

int kube_conn_from_kubeconfig(struct kube_conn *c, const char *path, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	memset(c, 0, sizeof(*c));
	rc = kube_read_file(path, KUBE_FILE_MAX, &text, &len);
	if (rc) {
		seterr(err, errlen, "kubeconfig %s: cannot read: %s", path, km_strerror(rc));
		return rc;
	}
	rc = kube_conn_parse_kubeconfig(c, text, len, path, err, errlen);
	/* The file may hold a token or a key. */
	explicit_bzero(text, len);
	free(text);
	return rc;
}

int kube_conn_in_cluster(struct kube_conn *c, const char *sa_dir, char *err, size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *env_ns = getenv("POD_NAMESPACE");
	struct buf b;
	char *ns = NULL, *tok = NULL;
	size_t len;
	int rc;

	memset(c, 0, sizeof(*c));
	if (!sa_dir)
		sa_dir = KUBE_SA_DIR;
	if (!host || !*host || !port || !*port) {
		seterr(err, errlen, "not in cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
		return KM_ENOENT;
	}
	buf_init(&b, 4096);
	/* An IPv6 literal needs brackets in a URL (Go's JoinHostPort). */
	if (strchr(host, ':') && host[0] != '[')
		rc = buf_printf(&b, "https://[%s]:%s", host, port);
	else
		rc = buf_printf(&b, "https://%s:%s", host, port);
	if (rc)
		goto nomem;
	c->server = buf_steal(&b);
	if (buf_printf(&b, "%s/ca.crt", sa_dir))
		goto nomem;
	c->ca_file = buf_steal(&b);
	if (buf_printf(&b, "%s/token", sa_dir))
		goto nomem;
	c->token_file = buf_steal(&b);
	if (!c->server || !c->ca_file || !c->token_file)
		goto nomem;
	/* Fail early and clearly if the mounted secret is missing; the token
	 * itself is re-read by the client. */
	rc = kube_read_file(c->token_file, KUBE_FILE_MAX, &tok, &len);
	if (rc) {
		seterr(err, errlen, "in-cluster: cannot read service-account token %s: %s", c->token_file, km_strerror(rc));
		goto fail;
	}
	explicit_bzero(tok, len);
	free(tok);
	if (access(c->ca_file, R_OK) != 0) {
		seterr(err, errlen, "in-cluster: cannot read service-account CA %s", c->ca_file);
		rc = KM_ENOENT;
		goto fail;
	}
	if (env_ns && *env_ns) {
		c->namespace = strdup(env_ns);
	} else {
		if (buf_printf(&b, "%s/namespace", sa_dir))
			goto nomem;
		if (kube_read_file(buf_cstr(&b), 4096, &ns, &len) == 0) {
			trim_right(ns);
			if (*ns) {
				c->namespace = ns;
				ns = NULL;
			}
		}
		buf_reset(&b);
		if (!c->namespace)
			c->namespace = strdup("default");
	}
	c->source = strdup("in-cluster");
	if (!c->namespace || !c->source)
		goto nomem;
	free(ns);
	buf_fini(&b);
	return 0;
nomem:
	rc = KM_ENOMEM;
	seterr(err, errlen, "in-cluster: out of memory");
fail:
	free(ns);
	buf_fini(&b);
	kube_conn_fini(c);
	return rc;
}

/* How to give the agent an API server, appended to every error of the
 * default lookup: the reader did not pass -kubeconfig, so naming it alone
 * would not tell them where the agent looked. */
#define HOW_TO_CONNECT                                                                        \
	"; in a pod, mount the service-account token (automountServiceAccountToken) and let "   \
	"Kubernetes set KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT; elsewhere set $KUBECONFIG " \
	"or pass -kubeconfig=PATH; without an API server, drop -promscrape.kubernetes (host mode)"

int kube_conn_load(struct kube_conn *c, const char *kubeconfig, char *err, size_t errlen)
{
	const char *env = getenv("KUBECONFIG");
	const char *home = getenv("HOME");
	char why[400];
	struct buf b;
	int rc;

	if (kubeconfig && *kubeconfig)
		return kube_conn_from_kubeconfig(c, kubeconfig, err, errlen);
	rc = kube_conn_in_cluster(c, NULL, why, sizeof(why));
	if (rc != KM_ENOENT || getenv("KUBERNETES_SERVICE_HOST")) {
		if (rc)
			seterr(err, errlen, "in-cluster config (KUBERNETES_SERVICE_HOST is set): %s" HOW_TO_CONNECT, why);
		return rc;
	}
	buf_init(&b, 4096);
	if (env && *env) {
		/* $KUBECONFIG is a path list; merging is not supported, the first
		 * entry is used. */
		const char *colon = strchr(env, ':');

		rc = buf_add(&b, env, colon ? (size_t)(colon - env) : strlen(env));
		if (!rc)
			rc = buf_addc(&b, '\0');
		if (!rc && kube_conn_from_kubeconfig(c, buf_cstr(&b), why, sizeof(why))) {
			seterr(err, errlen, "not in a cluster (KUBERNETES_SERVICE_HOST/PORT unset); $KUBECONFIG: %s" HOW_TO_CONNECT,
			       why);
			rc = KM_EINVAL;
		}
	} else if (home && *home) {
		rc = buf_printf(&b, "%s/.kube/config", home);
		if (!rc && kube_conn_from_kubeconfig(c, buf_cstr(&b), why, sizeof(why))) {
			seterr(err, errlen,
			       "no API server configured: not in a cluster (KUBERNETES_SERVICE_HOST/PORT unset), "
			       "$KUBECONFIG unset, and the default %s" HOW_TO_CONNECT, why);
			rc = KM_ENOENT;
		}
	} else {
		seterr(err, errlen, "no API server configured: not in a cluster (KUBERNETES_SERVICE_HOST/PORT unset), "
				    "and neither $KUBECONFIG nor $HOME is set" HOW_TO_CONNECT);
		rc = KM_ENOENT;
	}
	buf_fini(&b);
	return rc;
}
