#include "dl/gnutls.h"

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "dl/dl.h"

/* One slot per forwarded function, typed from GnuTLS's own declaration. */
struct dl_gnutls {
	void *handle;
	__typeof__(gnutls_global_init) *gnutls_global_init;
	__typeof__(gnutls_alpn_set_protocols) *gnutls_alpn_set_protocols;
	__typeof__(gnutls_bye) *gnutls_bye;
	__typeof__(gnutls_certificate_allocate_credentials) *gnutls_certificate_allocate_credentials;
	__typeof__(gnutls_certificate_free_credentials) *gnutls_certificate_free_credentials;
	__typeof__(gnutls_certificate_server_set_request) *gnutls_certificate_server_set_request;
	__typeof__(gnutls_certificate_set_dh_params) *gnutls_certificate_set_dh_params;
	__typeof__(gnutls_certificate_set_retrieve_function2) *gnutls_certificate_set_retrieve_function2;
	__typeof__(gnutls_certificate_set_retrieve_function3) *gnutls_certificate_set_retrieve_function3;
	__typeof__(gnutls_certificate_set_x509_key_mem) *gnutls_certificate_set_x509_key_mem;
	__typeof__(gnutls_certificate_set_x509_key_mem2) *gnutls_certificate_set_x509_key_mem2;
	__typeof__(gnutls_certificate_set_x509_trust_mem) *gnutls_certificate_set_x509_trust_mem;
	__typeof__(gnutls_cipher_get) *gnutls_cipher_get;
	__typeof__(gnutls_credentials_set) *gnutls_credentials_set;
	__typeof__(gnutls_deinit) *gnutls_deinit;
	__typeof__(gnutls_dh_params_deinit) *gnutls_dh_params_deinit;
	__typeof__(gnutls_dh_params_import_pkcs3) *gnutls_dh_params_import_pkcs3;
	__typeof__(gnutls_dh_params_init) *gnutls_dh_params_init;
	__typeof__(gnutls_handshake) *gnutls_handshake;
	__typeof__(gnutls_init) *gnutls_init;
	__typeof__(gnutls_priority_deinit) *gnutls_priority_deinit;
	__typeof__(gnutls_priority_init) *gnutls_priority_init;
	__typeof__(gnutls_priority_set) *gnutls_priority_set;
	__typeof__(gnutls_protocol_get_version) *gnutls_protocol_get_version;
	__typeof__(gnutls_psk_allocate_server_credentials) *gnutls_psk_allocate_server_credentials;
	__typeof__(gnutls_psk_free_server_credentials) *gnutls_psk_free_server_credentials;
	__typeof__(gnutls_psk_set_server_credentials_function) *gnutls_psk_set_server_credentials_function;
	__typeof__(gnutls_record_check_pending) *gnutls_record_check_pending;
	__typeof__(gnutls_record_get_direction) *gnutls_record_get_direction;
	__typeof__(gnutls_record_recv) *gnutls_record_recv;
	__typeof__(gnutls_record_send) *gnutls_record_send;
	__typeof__(gnutls_session_get_ptr) *gnutls_session_get_ptr;
	__typeof__(gnutls_session_set_ptr) *gnutls_session_set_ptr;
	__typeof__(gnutls_strerror) *gnutls_strerror;
	__typeof__(gnutls_transport_set_int2) *gnutls_transport_set_int2;
	__typeof__(gnutls_hash_get_len) *gnutls_hash_get_len;
	__typeof__(gnutls_hash_init) *gnutls_hash_init;
	__typeof__(gnutls_hash) *gnutls_hash;
	__typeof__(gnutls_hash_deinit) *gnutls_hash_deinit;
	__typeof__(gnutls_hash_fast) *gnutls_hash_fast;
	__typeof__(gnutls_x509_crt_init) *gnutls_x509_crt_init;
	__typeof__(gnutls_x509_privkey_init) *gnutls_x509_privkey_init;
	__typeof__(gnutls_x509_crt_import) *gnutls_x509_crt_import;
	__typeof__(gnutls_x509_privkey_import2) *gnutls_x509_privkey_import2;
	__typeof__(gnutls_x509_crt_get_key_id) *gnutls_x509_crt_get_key_id;
	__typeof__(gnutls_x509_privkey_get_key_id) *gnutls_x509_privkey_get_key_id;
	__typeof__(gnutls_x509_crt_get_expiration_time) *gnutls_x509_crt_get_expiration_time;
	__typeof__(gnutls_x509_privkey_deinit) *gnutls_x509_privkey_deinit;
	__typeof__(gnutls_x509_crt_deinit) *gnutls_x509_crt_deinit;
};

#define SYM(name) { #name, offsetof(struct dl_gnutls, name) }
static const struct dl_sym syms[] = {
	SYM(gnutls_global_init),
	SYM(gnutls_alpn_set_protocols),
	SYM(gnutls_bye),
	SYM(gnutls_certificate_allocate_credentials),
	SYM(gnutls_certificate_free_credentials),
	SYM(gnutls_certificate_server_set_request),
	SYM(gnutls_certificate_set_dh_params),
	SYM(gnutls_certificate_set_retrieve_function2),
	SYM(gnutls_certificate_set_retrieve_function3),
	SYM(gnutls_certificate_set_x509_key_mem),
	SYM(gnutls_certificate_set_x509_key_mem2),
	SYM(gnutls_certificate_set_x509_trust_mem),
	SYM(gnutls_cipher_get),
	SYM(gnutls_credentials_set),
	SYM(gnutls_deinit),
	SYM(gnutls_dh_params_deinit),
	SYM(gnutls_dh_params_import_pkcs3),
	SYM(gnutls_dh_params_init),
	SYM(gnutls_handshake),
	SYM(gnutls_init),
	SYM(gnutls_priority_deinit),
	SYM(gnutls_priority_init),
	SYM(gnutls_priority_set),
	SYM(gnutls_protocol_get_version),
	SYM(gnutls_psk_allocate_server_credentials),
	SYM(gnutls_psk_free_server_credentials),
	SYM(gnutls_psk_set_server_credentials_function),
	SYM(gnutls_record_check_pending),
	SYM(gnutls_record_get_direction),
	SYM(gnutls_record_recv),
	SYM(gnutls_record_send),
	SYM(gnutls_session_get_ptr),
	SYM(gnutls_session_set_ptr),
	SYM(gnutls_strerror),
	SYM(gnutls_transport_set_int2),
	SYM(gnutls_hash_get_len),
	SYM(gnutls_hash_init),
	SYM(gnutls_hash),
	SYM(gnutls_hash_deinit),
	SYM(gnutls_hash_fast),
	SYM(gnutls_x509_crt_init),
	SYM(gnutls_x509_privkey_init),
	SYM(gnutls_x509_crt_import),
	SYM(gnutls_x509_privkey_import2),
	SYM(gnutls_x509_crt_get_key_id),
	SYM(gnutls_x509_privkey_get_key_id),
	SYM(gnutls_x509_crt_get_expiration_time),
	SYM(gnutls_x509_privkey_deinit),
	SYM(gnutls_x509_crt_deinit),
};

/* Process-wide, as the library mapping is: written once under load_mu,
 * read by the forwarders after `state` says loaded (release/acquire). */
enum { GT_UNTRIED, GT_LOADED, GT_FAILED };
static struct dl_gnutls gt;
static _Atomic int state = GT_UNTRIED;
static pthread_mutex_t load_mu = PTHREAD_MUTEX_INITIALIZER;
static char load_err[256];

/* libmicrohttpd's PSK callback contract: keys handed to GnuTLS are
 * allocated with gnutls_malloc and freed by GnuTLS with free() (GnuTLS's
 * default allocator). */
gnutls_alloc_function gnutls_malloc = malloc;

int dl_gnutls_load(char *err, size_t errlen)
{
	struct dl_gnutls t;
	int rc = 0;

	if (atomic_load_explicit(&state, memory_order_acquire) == GT_LOADED)
		return 0;
	pthread_mutex_lock(&load_mu);
	if (atomic_load_explicit(&state, memory_order_relaxed) == GT_LOADED)
		goto out;
	if (atomic_load_explicit(&state, memory_order_relaxed) == GT_FAILED) {
		rc = KM_ENOENT;
		goto out;
	}
	memset(&t, 0, sizeof(t));
	rc = dl_load(DL_GNUTLS_SONAME, "HTTPS, bearer-token keys and hashmod need GnuTLS 3.7 or newer, Debian package libgnutls30",
		     syms, sizeof(syms) / sizeof(syms[0]), &t, &t.handle, load_err, sizeof(load_err));
	/* The library initialises itself when loaded unless
	 * GNUTLS_NO_IMPLICIT_INIT is set; the explicit call covers that case
	 * (reference counted, never undone: the library stays loaded). */
	if (!rc && t.gnutls_global_init() < 0) {
		snprintf(load_err, sizeof(load_err), "%s: gnutls_global_init failed", DL_GNUTLS_SONAME);
		rc = KM_EIO;
	}
	if (rc) {
		atomic_store_explicit(&state, GT_FAILED, memory_order_relaxed);
		goto out;
	}
	gt = t;
	atomic_store_explicit(&state, GT_LOADED, memory_order_release);
out:
	if (rc && err && errlen)
		snprintf(err, errlen, "%s", load_err);
	pthread_mutex_unlock(&load_mu);
	return rc;
}

bool dl_gnutls_loaded(void)
{
	return atomic_load_explicit(&state, memory_order_acquire) == GT_LOADED;
}

/* Whether the forwarders may call into the library; loads it at the first
 * call. */
static bool ready(void)
{
	char err[256];
	int before = atomic_load_explicit(&state, memory_order_acquire);

	if (before == GT_LOADED)
		return true;
	if (!dl_gnutls_load(err, sizeof(err)))
		return true;
	/* Logged by the call that tried; later calls fail quietly. */
	if (before == GT_UNTRIED)
		log_error("tls", "%s", err);
	return false;
}

/* libmicrohttpd's constructor calls this whether or not TLS is used:
 * counted as done, the load initialises the library (see above). */
int gnutls_global_init(void)
{
	return 0;
}

void gnutls_global_deinit(void)
{
}

int gnutls_alpn_set_protocols(gnutls_session_t session, const gnutls_datum_t *protocols, unsigned protocols_size, unsigned flags)
{
	return ready() ? gt.gnutls_alpn_set_protocols(session, protocols, protocols_size, flags) : GNUTLS_E_INTERNAL_ERROR;
}

int gnutls_bye(gnutls_session_t session, gnutls_close_request_t how)
{
	return ready() ? gt.gnutls_bye(session, how) : GNUTLS_E_INTERNAL_ERROR;
}

int gnutls_certificate_allocate_credentials(gnutls_certificate_credentials_t *res)
{
	return ready() ? gt.gnutls_certificate_allocate_credentials(res) : GNUTLS_E_INTERNAL_ERROR;
}

void gnutls_certificate_free_credentials(gnutls_certificate_credentials_t sc)
{
	if (ready())
		gt.gnutls_certificate_free_credentials(sc);
}

void gnutls_certificate_server_set_request(gnutls_session_t session, gnutls_certificate_request_t req)
{
	if (ready())
		gt.gnutls_certificate_server_set_request(session, req);
}

void gnutls_certificate_set_dh_params(gnutls_certificate_credentials_t res, gnutls_dh_params_t dh_params)
{
	if (ready())
		gt.gnutls_certificate_set_dh_params(res, dh_params);
}

void gnutls_certificate_set_retrieve_function2(gnutls_certificate_credentials_t cred, gnutls_certificate_retrieve_function2 *func)
{
	if (ready())
		gt.gnutls_certificate_set_retrieve_function2(cred, func);
}

void gnutls_certificate_set_retrieve_function3(gnutls_certificate_credentials_t cred, gnutls_certificate_retrieve_function3 *func)
{
	if (ready())
		gt.gnutls_certificate_set_retrieve_function3(cred, func);
}

int gnutls_certificate_set_x509_key_mem(gnutls_certificate_credentials_t res, const gnutls_datum_t *cert, const gnutls_datum_t *key, gnutls_x509_crt_fmt_t type)
{
	return ready() ? gt.gnutls_certificate_set_x509_key_mem(res, cert, key, type) : GNUTLS_E_INTERNAL_ERROR;
}

int gnutls_certificate_set_x509_key_mem2(gnutls_certificate_credentials_t res, const gnutls_datum_t *cert, const gnutls_datum_t *key, gnutls_x509_crt_fmt_t type, const char *pass, unsigned int flags)
{
	return ready() ? gt.gnutls_certificate_set_x509_key_mem2(res, cert, key, type, pass, flags) : GNUTLS_E_INTERNAL_ERROR;
}

int gnutls_certificate_set_x509_trust_mem(gnutls_certificate_credentials_t res, const gnutls_datum_t *ca, gnutls_x509_crt_fmt_t type)
{
	return ready() ? gt.gnutls_certificate_set_x509_trust_mem(res, ca, type) : GNUTLS_E_INTERNAL_ERROR;
}

gnutls_cipher_algorithm_t gnutls_cipher_get(gnutls_session_t session)
{
	return ready() ? gt.gnutls_cipher_get(session) : GNUTLS_CIPHER_UNKNOWN;
}

int gnutls_credentials_set(gnutls_session_t session, gnutls_credentials_type_t type, void *cred)
{
	return ready() ? gt.gnutls_credentials_set(session, type, cred) : GNUTLS_E_INTERNAL_ERROR;
}

void gnutls_deinit(gnutls_session_t session)
{
	if (ready())
		gt.gnutls_deinit(session);
}

void gnutls_dh_params_deinit(gnutls_dh_params_t dh_params)
{
	if (ready())
		gt.gnutls_dh_params_deinit(dh_params);
}

int gnutls_dh_params_import_pkcs3(gnutls_dh_params_t params, const gnutls_datum_t *pkcs3_params, gnutls_x509_crt_fmt_t format)
{
	return ready() ? gt.gnutls_dh_params_import_pkcs3(params, pkcs3_params, format) : GNUTLS_E_INTERNAL_ERROR;
}

int gnutls_dh_params_init(gnutls_dh_params_t *dh_params)
{
	return ready() ? gt.gnutls_dh_params_init(dh_params) : GNUTLS_E_INTERNAL_ERROR;
}

int gnutls_handshake(gnutls_session_t session)
{
	return ready() ? gt.gnutls_handshake(session) : GNUTLS_E_INTERNAL_ERROR;
}

int gnutls_init(gnutls_session_t *session, unsigned int flags)
{
	return ready() ? gt.gnutls_init(session, flags) : GNUTLS_E_INTERNAL_ERROR;
}

void gnutls_priority_deinit(gnutls_priority_t priority_cache)
{
	if (ready())
		gt.gnutls_priority_deinit(priority_cache);
}

int gnutls_priority_init(gnutls_priority_t *priority_cache, const char *priorities, const char **err_pos)
{
	return ready() ? gt.gnutls_priority_init(priority_cache, priorities, err_pos) : GNUTLS_E_INTERNAL_ERROR;
}

int gnutls_priority_set(gnutls_session_t session, gnutls_priority_t priority)
{
	return ready() ? gt.gnutls_priority_set(session, priority) : GNUTLS_E_INTERNAL_ERROR;
}

gnutls_protocol_t gnutls_protocol_get_version(gnutls_session_t session)
{
	return ready() ? gt.gnutls_protocol_get_version(session) : GNUTLS_VERSION_UNKNOWN;
}

int gnutls_psk_allocate_server_credentials(gnutls_psk_server_credentials_t *sc)
{
	return ready() ? gt.gnutls_psk_allocate_server_credentials(sc) : GNUTLS_E_INTERNAL_ERROR;
}

void gnutls_psk_free_server_credentials(gnutls_psk_server_credentials_t sc)
{
	if (ready())
		gt.gnutls_psk_free_server_credentials(sc);
}

void gnutls_psk_set_server_credentials_function(gnutls_psk_server_credentials_t cred, gnutls_psk_server_credentials_function *func)
{
	if (ready())
		gt.gnutls_psk_set_server_credentials_function(cred, func);
}

size_t gnutls_record_check_pending(gnutls_session_t session)
{
	return ready() ? gt.gnutls_record_check_pending(session) : 0;
}

int gnutls_record_get_direction(gnutls_session_t session)
{
	return ready() ? gt.gnutls_record_get_direction(session) : 0;
}

ssize_t gnutls_record_recv(gnutls_session_t session, void *data, size_t data_size)
{
	return ready() ? gt.gnutls_record_recv(session, data, data_size) : GNUTLS_E_INTERNAL_ERROR;
}

ssize_t gnutls_record_send(gnutls_session_t session, const void *data, size_t data_size)
{
	return ready() ? gt.gnutls_record_send(session, data, data_size) : GNUTLS_E_INTERNAL_ERROR;
}

void *gnutls_session_get_ptr(gnutls_session_t session)
{
	return ready() ? gt.gnutls_session_get_ptr(session) : NULL;
}

void gnutls_session_set_ptr(gnutls_session_t session, void *ptr)
{
	if (ready())
		gt.gnutls_session_set_ptr(session, ptr);
}

const char *gnutls_strerror(int error)
{
	return ready() ? gt.gnutls_strerror(error) : "GnuTLS could not be loaded";
}

void gnutls_transport_set_int2(gnutls_session_t session, int r, int s)
{
	if (ready())
		gt.gnutls_transport_set_int2(session, r, s);
}

unsigned gnutls_hash_get_len(gnutls_digest_algorithm_t algorithm)
{
	return ready() ? gt.gnutls_hash_get_len(algorithm) : 0;
}

int gnutls_hash_init(gnutls_hash_hd_t *dig, gnutls_digest_algorithm_t algorithm)
{
	return ready() ? gt.gnutls_hash_init(dig, algorithm) : GNUTLS_E_INTERNAL_ERROR;
}

int gnutls_hash(gnutls_hash_hd_t handle, const void *text, size_t textlen)
{
	return ready() ? gt.gnutls_hash(handle, text, textlen) : GNUTLS_E_INTERNAL_ERROR;
}

void gnutls_hash_deinit(gnutls_hash_hd_t handle, void *digest)
{
	if (ready())
		gt.gnutls_hash_deinit(handle, digest);
}

int gnutls_hash_fast(gnutls_digest_algorithm_t algorithm, const void *text, size_t textlen, void *digest)
{
	return ready() ? gt.gnutls_hash_fast(algorithm, text, textlen, digest) : GNUTLS_E_INTERNAL_ERROR;
}

int gnutls_x509_crt_init(gnutls_x509_crt_t *cert)
{
	return ready() ? gt.gnutls_x509_crt_init(cert) : GNUTLS_E_INTERNAL_ERROR;
}

int gnutls_x509_privkey_init(gnutls_x509_privkey_t *key)
{
	return ready() ? gt.gnutls_x509_privkey_init(key) : GNUTLS_E_INTERNAL_ERROR;
}

int gnutls_x509_crt_import(gnutls_x509_crt_t cert, const gnutls_datum_t *data, gnutls_x509_crt_fmt_t format)
{
	return ready() ? gt.gnutls_x509_crt_import(cert, data, format) : GNUTLS_E_INTERNAL_ERROR;
}

int gnutls_x509_privkey_import2(gnutls_x509_privkey_t key, const gnutls_datum_t *data, gnutls_x509_crt_fmt_t format, const char *password, unsigned int flags)
{
	return ready() ? gt.gnutls_x509_privkey_import2(key, data, format, password, flags) : GNUTLS_E_INTERNAL_ERROR;
}

int gnutls_x509_crt_get_key_id(gnutls_x509_crt_t crt, unsigned int flags, unsigned char *output_data, size_t *output_data_size)
{
	return ready() ? gt.gnutls_x509_crt_get_key_id(crt, flags, output_data, output_data_size) : GNUTLS_E_INTERNAL_ERROR;
}

int gnutls_x509_privkey_get_key_id(gnutls_x509_privkey_t key, unsigned int flags, unsigned char *output_data, size_t *output_data_size)
{
	return ready() ? gt.gnutls_x509_privkey_get_key_id(key, flags, output_data, output_data_size) : GNUTLS_E_INTERNAL_ERROR;
}

time_t gnutls_x509_crt_get_expiration_time(gnutls_x509_crt_t cert)
{
	return ready() ? gt.gnutls_x509_crt_get_expiration_time(cert) : (time_t)-1;
}

void gnutls_x509_privkey_deinit(gnutls_x509_privkey_t key)
{
	if (ready())
		gt.gnutls_x509_privkey_deinit(key);
}

void gnutls_x509_crt_deinit(gnutls_x509_crt_t cert)
{
	if (ready())
		gt.gnutls_x509_crt_deinit(cert);
}
