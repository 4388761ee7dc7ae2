/* HTTPS certificate pairs for the HTTP server: loading and validating a
 * certificate/key pair from PEM files, and noticing when the files change so
 * the server can switch to the new pair without a restart (cert-manager and
 * kubelet replace Secret volumes in place: a new inode behind ..data).
 *
 * Validation and serving both use GnuTLS (libmicrohttpd's TLS on Debian,
 * loaded with it in every mode), which gets the same PEM bytes; OpenSSL is
 * not used here, so host mode with -tls does not map libcrypto. */
#ifndef K8SMON_HTTP_TLS_H
#define K8SMON_HTTP_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Hard cap of one PEM file (a chain of a few certificates is ~10 KiB). */
#define TLS_PEM_MAX (1u << 20)
/* How often the files are looked at for a change (two stat() calls). */
#define TLS_RELOAD_CHECK_MS 1000
/* What the server negotiates (GnuTLS priority string, handed to
 * libmicrohttpd as MHD_OPTION_HTTPS_PRIORITIES): TLS 1.2 and 1.3 only, and in
 * TLS 1.2 only ECDHE key exchange (forward secrecy: a stolen key does not
 * decrypt recorded scrapes and their bearer tokens) with AEAD ciphers. Every
 * scraper in use (Go's crypto/tls in Prometheus and vmagent, curl, Python)
 * has these; nothing older than 2013 is served. */
#define TLS_PRIORITIES                                                                       \
	"SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:"    \
	"-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:%SERVER_PRECEDENCE"

/* What identifies one version of a file: any change of these means "reload". */
struct tls_file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	int64_t mtime_ns;
};

struct tls_pair {
	char *cert_pem;              /* owned, NUL-terminated */
	char *key_pem;               /* owned, NUL-terminated; wiped on fini */
	struct tls_file_id cert_id;
	struct tls_file_id key_id;
	int64_t not_after;           /* leaf certificate expiry, Unix seconds (0 unknown) */
};

/* True when libmicrohttpd was built with TLS. */
bool tls_supported(void);

/* Reads both files and checks that the certificate parses, the key parses
 * (unencrypted) and the key belongs to the certificate. On failure returns a
 * negative KM_* code and one line in err naming the flag (-tlsCertFile or
 * -tlsKeyFile) and the file (or "-tls: cannot load libgnutls.so.30 ..."
 * where GnuTLS cannot be loaded); p is then left empty. p must be zeroed or
 * finalised before. */
int tls_pair_load(struct tls_pair *p, const char *cert_file, const char *key_file,
		  char *err, size_t errlen);
/* Startup check for -tls: TLS support in libmicrohttpd and a valid pair.
 * 0, or a negative KM_* code with one line in err naming the flag. */
int tls_check_files(const char *cert_file, const char *key_file, char *err, size_t errlen);
/* Frees (and wipes the key of) p; p is left zeroed. */
void tls_pair_fini(struct tls_pair *p);

/* Current identity of path; KM_EIO/KM_ENOENT when it cannot be stat'ed. */
int tls_file_id_get(const char *path, struct tls_file_id *id);
bool tls_file_id_equal(const struct tls_file_id *a, const struct tls_file_id *b);

/* A thread that checks the files every check_ms and, when either changed,
 * loads the new pair and hands it to apply(). apply takes ownership of the
 * pair when it returns 0; on error the reloader frees it and the old pair
 * keeps serving. An invalid new pair is logged once per change (not per
 * check). Paths are copied. */
typedef int (*tls_apply_fn)(void *arg, struct tls_pair *p);

struct tls_reloader;

/* Starts watching; cert_id/key_id are the identities of the pair already
 * serving. NULL on failure (out of memory, no thread). */
struct tls_reloader *tls_reloader_start(const char *cert_file, const char *key_file,
					const struct tls_pair *serving, int64_t check_ms,
					tls_apply_fn apply, void *arg);
/* True once tls_reloader_stop() was called: apply() implementations that
 * wait (draining connections) poll it to give up early. Any thread. */
bool tls_reloader_stopping(struct tls_reloader *r);
/* Stops and joins the thread, frees r. NULL is ok. */
void tls_reloader_stop(struct tls_reloader *r);
/* Reloads done and refused (invalid pair or apply failure); any thread. */
void tls_reloader_counts(struct tls_reloader *r, uint64_t *ok, uint64_t *failed);

#endif
