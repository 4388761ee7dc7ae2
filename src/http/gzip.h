/* gzip compression of a response body (zlib, gzip wrapper). */
#ifndef K8SMON_HTTP_GZIP_H
#define K8SMON_HTTP_GZIP_H

#include <stdbool.h>

#include <zlib.h>

#include "base/buf.h"

/* Compress in[0..n) into out (appended). Returns 0 or KM_ENOMEM/KM_ETOOBIG/KM_EIO. */
int gzip_compress(const char *in, size_t n, struct buf *out);
/* Streaming compression for chunked responses: the same gzip stream as
 * gzip_compress (level 1), fed block by block. */
struct gzip_stream {
	z_stream zs;
	bool init;
};

/* 0 or KM_ENOMEM. */
int gzip_stream_init(struct gzip_stream *g);
/* Compresses in[0..n) and appends what deflate emits to out; finish ends the
 * stream (trailer written). Returns 0 or KM_ENOMEM/KM_ETOOBIG/KM_EIO. */
int gzip_stream_write(struct gzip_stream *g, const char *in, size_t n, bool finish, struct buf *out);
void gzip_stream_fini(struct gzip_stream *g);

/* True when an Accept-Encoding header value allows gzip (not "gzip;q=0"). */
bool gzip_accepted(const char *accept_encoding);

#endif
