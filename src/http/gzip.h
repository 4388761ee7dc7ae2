/* gzip compression of a response body (zlib, gzip wrapper). */
#ifndef K8SMON_HTTP_GZIP_H
#define K8SMON_HTTP_GZIP_H

#include <stdbool.h>

#include "base/buf.h"

/* Compress in[0..n) into out (appended). Returns 0 or KM_ENOMEM/KM_ETOOBIG/KM_EIO. */
int gzip_compress(const char *in, size_t n, struct buf *out);
/* True when an Accept-Encoding header value allows gzip (not "gzip;q=0"). */
bool gzip_accepted(const char *accept_encoding);

#endif
