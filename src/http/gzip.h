/* gzip compression of response bodies. A whole body (gzip_compress: the
 * node section, small answers) goes through zlib at level 1, whose hash
 * search finds the repeats between unrelated lines that a small body has.
 * A streamed body (gzip_stream_*: /metrics/apps and the other streamed
 * sections, tens to hundreds of MB of lines that repeat the line before)
 * goes through the line-oriented writer of http/deflate_line.h in a gzip
 * wrapper (RFC 1952), CRC by http/crc32.h: about half zlib's CPU for the
 * same size on /metrics/apps, 1.2-1.5x its size on component text
 * (BENCHMARKS.md, issue 20 item 4). */
#ifndef K8SMON_HTTP_GZIP_H
#define K8SMON_HTTP_GZIP_H

#include <stdbool.h>

#include <stdint.h>

#include "base/buf.h"
#include "http/deflate_line.h"

/* Compress in[0..n) into out (appended). Returns 0 or KM_ENOMEM/KM_ETOOBIG/KM_EIO. */
int gzip_compress(const char *in, size_t n, struct buf *out);
/* Streaming compression for chunked responses: one gzip member fed block
 * by block (lines may span blocks). */
struct gzip_stream {
	struct dfl d;       /* owned while init */
	uint32_t crc;       /* CRC-32 of the input so far */
	uint32_t size;      /* input bytes mod 2^32 (the trailer's ISIZE) */
	bool init;
	bool head;          /* the gzip header was written */
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
