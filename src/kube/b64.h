/* Strict base64 decoding for the *-data fields of a kubeconfig. */
#ifndef K8SMON_KUBE_B64_H
#define K8SMON_KUBE_B64_H

#include <stddef.h>

/* Decodes standard base64 (RFC 4648, '=' padding optional at the very end;
 * ASCII whitespace ignored so wrapped PEM-style input works). On success
 * *out is a new NUL-terminated heap block (caller frees) of *outlen bytes.
 * Returns 0, KM_EPARSE on a bad character or length, KM_ENOMEM. */
int b64_decode(const char *in, size_t n, char **out, size_t *outlen);

#endif
