/* GnuTLS loaded on first use. libmicrohttpd is linked from its static
 * archive, so nothing maps libgnutls and its eight libraries (~2.3 MiB
 * resident, BENCHMARKS.md "issue 18, fourth pass") unless HTTPS, the
 * /metrics bearer-token keys or a hashmod relabeling needs them. dl/gnutls.c
 * defines every gnutls_* function libmicrohttpd and k8smon call, with
 * GnuTLS's own prototypes, as a forwarder into the loaded library.
 *
 * A forwarder called while the library cannot be loaded returns
 * GNUTLS_E_INTERNAL_ERROR (or NULL, 0, -1, "unknown" where the function has
 * no error code) and does nothing; the first failed load is logged once and
 * never retried. gnutls_global_init() before the load returns 0 without
 * loading (libmicrohttpd calls it from its constructor; the library
 * initialises itself when it is loaded) and gnutls_global_deinit() is a
 * no-op (the library stays loaded until exit). */
#ifndef K8SMON_DL_GNUTLS_H
#define K8SMON_DL_GNUTLS_H

#include <stdbool.h>
#include <stddef.h>

#define DL_GNUTLS_SONAME "libgnutls.so.30"

/* Loads GnuTLS now (idempotent, thread-safe), for callers that want a
 * clear error at start-up (-tls). Returns 0, KM_ENOENT or KM_EINVAL with
 * err set (dl/dl.h). */
int dl_gnutls_load(char *err, size_t errlen);

/* Whether GnuTLS is mapped (tests: host mode without TLS must not map it). */
bool dl_gnutls_loaded(void);

#endif
