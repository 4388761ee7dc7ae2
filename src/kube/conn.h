/* Where the API server is and how to authenticate to it: built from a
 * kubeconfig file (libyaml) or from the in-cluster service account.
 *
 * A struct kube_conn is plain data, filled once at startup and then only read
 * (the client copies what it needs), so it needs no locking. Secrets (token,
 * key) are held in memory but never logged: error messages name the file and
 * the field, never the value. */
#ifndef K8SMON_KUBE_CONN_H
#define K8SMON_KUBE_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Default service-account directory; tests point kube_conn_in_cluster()
 * elsewhere. */
#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
/* Hard cap on any file read here (kubeconfig, token, CA, cert, key). */
#define KUBE_FILE_MAX (4u << 20)

struct kube_conn {
	char *server;          /* "https://host:port[/prefix]", no trailing '/' */
	char *ca_file;         /* CA bundle path, or NULL */
	char *ca_pem;          /* CA bundle bytes (from -data), or NULL */
	size_t ca_pem_len;
	char *cert_file;       /* client certificate path, or NULL */
	char *cert_pem;        /* client certificate bytes, or NULL */
	size_t cert_pem_len;
	char *key_file;        /* client key path, or NULL */
	char *key_pem;         /* client key bytes, or NULL */
	size_t key_pem_len;
	char *token;           /* static bearer token, or NULL */
	char *token_file;      /* bearer token file re-read periodically, or NULL */
	char *tls_server_name; /* SNI/verification name override, or NULL */
	char *namespace;       /* default namespace; never NULL after a load */
	bool insecure;         /* insecure-skip-tls-verify: true (kubeconfig only) */
	char *source;          /* "kubeconfig <path>" or "in-cluster", for logs */
	/* How long a token read from token_file is used before the file is
	 * read again; 0 = KUBE_TOKEN_TTL_MS (one minute). Not from any file:
	 * tests shorten it. */
	int64_t token_ttl_ms;
};

/* All loaders: on success c is filled (owned by c, free with kube_conn_fini);
 * on error c is left empty and err holds one line naming the file and field.
 * Every loader zeroes c first. */

/* Reads a kubeconfig: current-context -> context{cluster,user,namespace} ->
 * cluster{server, certificate-authority(-data), insecure-skip-tls-verify,
 * tls-server-name}, user{token, tokenFile, client-certificate(-data),
 * client-key(-data)}. Relative file paths are resolved against the
 * kubeconfig's directory (as client-go does). exec / auth-provider users
 * are rejected with a clear message (not supported). */
int kube_conn_from_kubeconfig(struct kube_conn *c, const char *path, char *err, size_t errlen);
/* The same on the file's bytes: text (borrowed, len bytes, need not be
 * NUL-terminated) is what path holds; path names the file in messages and
 * relative paths are resolved against its directory. Nothing is read from
 * disk (referenced files are only recorded). */
int kube_conn_parse_kubeconfig(struct kube_conn *c, const char *text, size_t len,
			       const char *path, char *err, size_t errlen);

/* In-cluster: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT
 * (IPv6 literals bracketed), CA sa_dir/ca.crt, token file sa_dir/token,
 * namespace from $POD_NAMESPACE, else sa_dir/namespace, else "default".
 * sa_dir NULL means KUBE_SA_DIR. KM_ENOENT when the env vars are unset
 * ("not in cluster"). */
int kube_conn_in_cluster(struct kube_conn *c, const char *sa_dir, char *err, size_t errlen);

/* The -kubeconfig flag semantics of DESIGN.md §2: the given path if non-empty
 * and non-NULL; otherwise in-cluster if the env vars are set; otherwise the
 * first path of $KUBECONFIG; otherwise ~/.kube/config. */
int kube_conn_load(struct kube_conn *c, const char *kubeconfig, char *err, size_t errlen);

void kube_conn_fini(struct kube_conn *c);

/* Reads a whole file of at most cap bytes into a new NUL-terminated block
 * (caller frees). KM_ENOENT, KM_EIO, KM_ETOOBIG, KM_ENOMEM. */
int kube_read_file(const char *path, size_t cap, char **out, size_t *outlen);

#endif
