#include "http/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "dl/gnutls.h"

bool tls_supported(void)
{
	return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES;
}

/* GnuTLS is loaded at the first -tls use (dl/gnutls.h); a host without it
 * gets one line naming the library instead of a failed certificate parse. */
static int gnutls_present(char *err, size_t errlen)
{
	char why[256];

	if (!dl_gnutls_load(why, sizeof(why)))
		return 0;
	snprintf(err, errlen, "-tls: %s", why);
	return KM_ENOENT;
}

static void id_from_stat(const struct stat *st, struct tls_file_id *id)
{
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

int tls_file_id_get(const char *path, struct tls_file_id *id)
{
	struct stat st;

	/* stat, not lstat: a Secret volume's file is a symlink into ..data,
	 * and the update replaces what it points to. */
	if (stat(path, &st) != 0)
		return errno == ENOENT ? KM_ENOENT : KM_EIO;
	id_from_stat(&st, id);
	return 0;
}

bool tls_file_id_equal(const struct tls_file_id *a, const struct tls_file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

/* Reads a whole file (up to TLS_PEM_MAX) into a new NUL-terminated string;
 * the identity comes from the same open file, so it matches the bytes. */
static int read_pem(const char *flag, const char *path, char **out, struct tls_file_id *id,
		    char *err, size_t errlen)
{
	struct stat st;
	char *data = NULL;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0) {
		snprintf(err, errlen, "%s=%s: cannot open: %s", flag, path, strerror(errno));
		return errno == ENOENT ? KM_ENOENT : KM_EIO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s=%s: not a regular file", flag, path);
		rc = KM_EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > TLS_PEM_MAX) {
		snprintf(err, errlen, "%s=%s: larger than %u bytes", flag, path, TLS_PEM_MAX);
		rc = KM_ETOOBIG;
		goto out;
	}
	id_from_stat(&st, id);
	data = malloc((size_t)st.st_size + 1);
	if (!data) {
		snprintf(err, errlen, "%s=%s: out of memory", flag, path);
		rc = KM_ENOMEM;
		goto out;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, data + len, (size_t)st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s=%s: read error: %s", flag, path, n ? strerror(errno) : "file shrank");
			rc = KM_EIO;
			goto out;
		}
		len += (size_t)n;
	}
	data[len] = '\0';
	*out = data;
	data = NULL;
out:
	if (data) {
		explicit_bzero(data, (size_t)st.st_size);
		free(data);
	}
	close(fd);
	return rc;
}

/* Checks the PEM pair with GnuTLS, the library libmicrohttpd serves it
 * with (so what passes here also loads there); fills not_after. The key is
 * matched to the certificate by comparing their public-key identifiers. */
static int validate(struct tls_pair *p, const char *cert_file, const char *key_file,
		    char *err, size_t errlen)
{
	gnutls_x509_crt_t x = NULL;
	gnutls_x509_privkey_t k = NULL;
	gnutls_datum_t cd = { (unsigned char *)p->cert_pem, (unsigned int)strlen(p->cert_pem) };
	gnutls_datum_t kd = { (unsigned char *)p->key_pem, (unsigned int)strlen(p->key_pem) };
	unsigned char cid[64], kid[64];
	size_t cidlen = sizeof(cid), kidlen = sizeof(kid);
	time_t na;
	int rc = KM_EINVAL;

	if (gnutls_x509_crt_init(&x) < 0 || gnutls_x509_privkey_init(&k) < 0) {
		snprintf(err, errlen, "-tlsCertFile=%s: out of memory", cert_file);
		rc = KM_ENOMEM;
		goto out;
	}
	/* The first certificate of the file is the leaf, as it is served. */
	if (gnutls_x509_crt_import(x, &cd, GNUTLS_X509_FMT_PEM) < 0) {
		snprintf(err, errlen, "-tlsCertFile=%s: no PEM certificate found", cert_file);
		goto out;
	}
	/* No password and no PIN callback: an encrypted key fails here
	 * instead of prompting. */
	if (gnutls_x509_privkey_import2(k, &kd, GNUTLS_X509_FMT_PEM, NULL, 0) < 0) {
		snprintf(err, errlen, "-tlsKeyFile=%s: no unencrypted PEM private key found", key_file);
		goto out;
	}
	if (gnutls_x509_crt_get_key_id(x, GNUTLS_KEYID_USE_SHA256, cid, &cidlen) < 0 ||
	    gnutls_x509_privkey_get_key_id(k, GNUTLS_KEYID_USE_SHA256, kid, &kidlen) < 0 ||
	    cidlen != kidlen || memcmp(cid, kid, cidlen) != 0) {
		snprintf(err, errlen, "-tlsKeyFile=%s: private key does not match the certificate in -tlsCertFile=%s",
			 key_file, cert_file);
		goto out;
	}
	na = gnutls_x509_crt_get_expiration_time(x);
	p->not_after = na == (time_t)-1 ? 0 : (int64_t)na;
	rc = 0;
out:
	if (k)
		gnutls_x509_privkey_deinit(k); /* wipes the key material */
	if (x)
		gnutls_x509_crt_deinit(x);
	return rc;
}

int tls_pair_load(struct tls_pair *p, const char *cert_file, const char *key_file,
		  char *err, size_t errlen)
{
	int rc;

	memset(p, 0, sizeof(*p));
	rc = gnutls_present(err, errlen);
	if (!rc)
		rc = read_pem("-tlsCertFile", cert_file, &p->cert_pem, &p->cert_id, err, errlen);
	if (!rc)
		rc = read_pem("-tlsKeyFile", key_file, &p->key_pem, &p->key_id, err, errlen);
	if (!rc)
		rc = validate(p, cert_file, key_file, err, errlen);
	if (rc)
		tls_pair_fini(p);
	return rc;
}

int tls_check_files(const char *cert_file, const char *key_file, char *err, size_t errlen)
{
	struct tls_pair p;
	int rc;

	if (!tls_supported()) {
		snprintf(err, errlen, "-tls: this libmicrohttpd was built without TLS support");
		return KM_EINVAL;
	}
	rc = tls_pair_load(&p, cert_file, key_file, err, errlen);
	tls_pair_fini(&p);
	return rc;
}

void tls_pair_fini(struct tls_pair *p)
{
	if (p->key_pem) {
		explicit_bzero(p->key_pem, strlen(p->key_pem));
		free(p->key_pem);
	}
	free(p->cert_pem);
	memset(p, 0, sizeof(*p));
}

/* --- reloader -------------------------------------------------------------- */

struct tls_reloader {
	char *cert_file;
	char *key_file;
	int64_t check_ms;
	tls_apply_fn apply;
	void *arg;
	/* Identities of the last pair tried (valid or not), so one bad
	 * change is reported once and retried only when a file changes again. */
	struct tls_file_id cert_id, key_id;
	pthread_t thr;
	pthread_mutex_t mu;
	pthread_cond_t cv;      /* signalled by stop */
	atomic_bool stopping;
	_Atomic uint64_t ok, failed;
};

/* One check: reload when either file differs from the last pair tried. */
static void reload_check(struct tls_reloader *r)
{
	struct tls_file_id c, k;
	struct tls_pair p;
	char err[512];

	/* A file missing for a moment (the Secret being swapped) is not a
	 * change: wait for it to be back. */
	if (tls_file_id_get(r->cert_file, &c) || tls_file_id_get(r->key_file, &k))
		return;
	if (tls_file_id_equal(&c, &r->cert_id) && tls_file_id_equal(&k, &r->key_id))
		return;
	if (tls_pair_load(&p, r->cert_file, r->key_file, err, sizeof(err))) {
		/* Remember what was tried: the cert may be written before the
		 * key, and the key's write is the next change we act on. */
		r->cert_id = c;
		r->key_id = k;
		atomic_fetch_add(&r->failed, 1);
		log_error("http", "TLS certificate reload refused, still serving the previous certificate: %s", err);
		return;
	}
	r->cert_id = p.cert_id;
	r->key_id = p.key_id;
	if (r->apply(r->arg, &p)) {
		atomic_fetch_add(&r->failed, 1);
		tls_pair_fini(&p);
		log_error("http", "TLS certificate reload failed to start serving it, still serving the previous certificate");
		return;
	}
	atomic_fetch_add(&r->ok, 1);
	log_info("http", "TLS certificate reloaded from %s", r->cert_file);
}

static void *reload_main(void *arg)
{
	struct tls_reloader *r = arg;

	pthread_mutex_lock(&r->mu);
	while (!atomic_load(&r->stopping)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += r->check_ms / 1000;
		ts.tv_nsec += (r->check_ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&r->cv, &r->mu, &ts);
		if (atomic_load(&r->stopping))
			break;
		/* Unlocked: apply() may take a while (draining). */
		pthread_mutex_unlock(&r->mu);
		reload_check(r);
		pthread_mutex_lock(&r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

struct tls_reloader *tls_reloader_start(const char *cert_file, const char *key_file,
					const struct tls_pair *serving, int64_t check_ms,
					tls_apply_fn apply, void *arg)
{
	struct tls_reloader *r = calloc(1, sizeof(*r));
	pthread_condattr_t ca;

	if (!r)
		return NULL;
	r->cert_file = strdup(cert_file);
	r->key_file = strdup(key_file);
	if (!r->cert_file || !r->key_file)
		goto fail;
	r->check_ms = check_ms > 0 ? check_ms : TLS_RELOAD_CHECK_MS;
	r->apply = apply;
	r->arg = arg;
	r->cert_id = serving->cert_id;
	r->key_id = serving->key_id;
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&r->thr, NULL, reload_main, r) != 0) {
		pthread_cond_destroy(&r->cv);
		pthread_mutex_destroy(&r->mu);
		goto fail;
	}
	return r;
fail:
	free(r->cert_file);
	free(r->key_file);
	free(r);
	return NULL;
}

bool tls_reloader_stopping(struct tls_reloader *r)
{
	return atomic_load(&r->stopping);
}

void tls_reloader_stop(struct tls_reloader *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	atomic_store(&r->stopping, true);
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thr, NULL);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r->cert_file);
	free(r->key_file);
	free(r);
}

void tls_reloader_counts(struct tls_reloader *r, uint64_t *ok, uint64_t *failed)
{
	*ok = r ? atomic_load(&r->ok) : 0;
	*failed = r ? atomic_load(&r->failed) : 0;
}
