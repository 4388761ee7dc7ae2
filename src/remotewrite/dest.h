/* The settings of one remote-write destination (where and how to push), as
 * given by the per-URL -remoteWrite.* flags or a K8sMonitor
 * spec.remoteWrite entry, and the parsing and checks they share.
 *
 * Secrets come either as a file name (flags: re-read at every request, so a
 * rotated file is used at once) or as the value itself (K8sMonitor Secret
 * references: the agent re-reads the Secret and reconfigures). */
#ifndef K8SMON_REMOTEWRITE_DEST_H
#define K8SMON_REMOTEWRITE_DEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RW_HEADERS_MAX 4096   /* bytes of all custom headers of one destination */
#define RW_DEST_LABELS_MAX 1024 /* bytes of one destination's own external labels */
#define RW_DEFAULT_MAX_DISK (1ll << 30)        /* -remoteWrite.maxDiskUsagePerURL */
#define RW_DEFAULT_SEND_TIMEOUT_MS 60000ll      /* -remoteWrite.sendTimeout */

/* auto: ask the receiver (GET url?get_vm_proto_version=1, VictoriaMetrics
 * answers "1") and use zstd when it says so; prometheus: snappy always;
 * victoriametrics: zstd always. */
enum rw_proto { RW_PROTO_AUTO, RW_PROTO_PROMETHEUS, RW_PROTO_VM };

/* Every string owned ("" or NULL: not set). */
struct rw_dest {
	char *url;
	char *bearer_token_file;
	char *bearer_token;
	char *basic_user;
	char *basic_password_file;
	char *basic_password;
	char *ca_file, *cert_file, *key_file;
	char *ca_pem, *cert_pem, *key_pem;
	bool insecure_skip_verify;
	char *server_name;
	/* Parsed custom headers: "Name: value" lines, each NUL-terminated,
	 * headers_len bytes in all. */
	char *headers;
	size_t headers_len;
	enum rw_proto proto;
	/* Queue and timeout of this destination alone (0: the -remoteWrite.*
	 * value for all, rw_opts). */
	uint64_t max_disk;
	int64_t send_timeout_ms;
	/* This destination's own external labels, "name=value\0..."
	 * (labels_len bytes), set after -remoteWrite.label and winning over
	 * it: series sent here carry them, other destinations' do not. */
	char *labels;
	size_t labels_len;
};

/* Parses vmagent's -remoteWrite.headers syntax, "Name1:value1^^Name2:value2"
 * (spaces around names and values trimmed), into "Name: value\0..." in out
 * (*outlen bytes). Refused with the reason in err (KM_EINVAL): a part
 * without ':' or with an empty or non-token name, a CR/LF/NUL in a value,
 * a header the protocol sets itself (Content-Encoding, Content-Type,
 * Content-Length, X-Prometheus-Remote-Write-Version, Host), over
 * RW_HEADERS_MAX. "" gives no headers. */
int rw_headers_parse(const char *spec, char *out, size_t outcap, size_t *outlen, char *err, size_t errlen);

/* Appends one external label to "name=value\0..." in out (*outlen bytes),
 * replacing an earlier one of the same name. KM_EINVAL with the reason
 * (rw_label_check's rules, or over outcap). */
int rw_dest_label_add(const char *name, size_t nlen, const char *value, size_t vlen, char *out, size_t outcap,
		      size_t *outlen, char *err, size_t errlen);
/* Parses "name1=value1,name2=value2" (the per-URL -remoteWrite.urlLabels;
 * a value cannot contain ',') into out as rw_dest_label_add. "" gives none. */
int rw_dest_labels_parse(const char *spec, char *out, size_t outcap, size_t *outlen, char *err, size_t errlen);

/* Parses "prometheus", "victoriametrics" or "auto" ("" = auto). */
int rw_proto_parse(const char *s, enum rw_proto *out);
const char *rw_proto_name(enum rw_proto p);

/* Checks what can be checked without the network: the URL (http/https,
 * no line breaks), a client certificate given with its key, basic auth
 * with a user, no token and basic auth together. KM_EINVAL with the reason. */
int rw_dest_check(const struct rw_dest *d, char *err, size_t errlen);

/* Deep copy into *dst (zeroed first). 0 or KM_ENOMEM (dst then empty). */
int rw_dest_copy(struct rw_dest *dst, const struct rw_dest *src);
void rw_dest_fini(struct rw_dest *d);
/* True when a and b would push identically (same URL, auth, TLS, headers,
 * protocol, send timeout): a reconfiguration keeps that destination's
 * sender. The queue cap and labels are compared by rw_dest_same_queue. */
bool rw_dest_equal(const struct rw_dest *a, const struct rw_dest *b);
/* True when a and b have the same queue cap and labels (byte for byte). */
bool rw_dest_same_queue(const struct rw_dest *a, const struct rw_dest *b);

#endif
