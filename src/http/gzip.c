#include "http/gzip.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "base/err.h"

/* zlib's memLevel: 6 instead of the default 8 halves the hash table that
 * deflate rescans at every 32 KiB window slide (the largest cost at level
 * 1): on a /metrics/apps read of 174 MB, 15-20 % less CPU for 0.4 % more
 * output (BENCHMARKS.md, issue 20 item 4), and 96 KiB less memory per
 * compressed response. */
#define GZIP_MEM_LEVEL 6

int gzip_compress(const char *in, size_t n, struct buf *out)
{
	z_stream zs;
	uLong bound;
	int rc;

	memset(&zs, 0, sizeof(zs));
	/* windowBits 15 + 16 selects the gzip wrapper; level 1 is the usual
	 * choice for metrics: most of the gain for a fraction of the CPU. */
	if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, GZIP_MEM_LEVEL, Z_DEFAULT_STRATEGY) != Z_OK)
		return KM_ENOMEM;
	bound = deflateBound(&zs, (uLong)n) + 32;
	rc = buf_reserve(out, bound);
	if (rc)
		goto out;
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)n;
	zs.next_out = (Bytef *)out->data + out->len;
	zs.avail_out = (uInt)bound;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
		rc = KM_EIO;
		goto out;
	}
	out->len += zs.total_out;
	out->data[out->len] = '\0';
out:
	deflateEnd(&zs);
	return rc;
}

int gzip_stream_init(struct gzip_stream *g)
{
	memset(g, 0, sizeof(*g));
	if (deflateInit2(&g->zs, 1, Z_DEFLATED, 15 + 16, GZIP_MEM_LEVEL, Z_DEFAULT_STRATEGY) != Z_OK)
		return KM_ENOMEM;
	g->init = true;
	return 0;
}

int gzip_stream_write(struct gzip_stream *g, const char *in, size_t n, bool finish, struct buf *out)
{
	int flush = finish ? Z_FINISH : Z_NO_FLUSH;

	if (!g->init)
		return KM_EINVAL;
	g->zs.next_in = (Bytef *)(uintptr_t)in;
	g->zs.avail_in = (uInt)n;
	for (;;) {
		/* Level 1 on exposition text compresses ~10x; start with a
		 * fraction of the input and grow while deflate fills it. */
		size_t room = n / 4 + 4096;
		int rc = buf_reserve(out, room), zr;

		if (rc)
			return rc;
		g->zs.next_out = (Bytef *)out->data + out->len;
		g->zs.avail_out = (uInt)room;
		zr = deflate(&g->zs, flush);
		out->len += room - g->zs.avail_out;
		out->data[out->len] = '\0';
		if (zr == Z_STREAM_END)
			return 0;
		if (zr != Z_OK && zr != Z_BUF_ERROR)
			return KM_EIO;
		/* Done with this input when deflate left output space unused. */
		if (!finish && g->zs.avail_in == 0 && g->zs.avail_out > 0)
			return 0;
	}
}

void gzip_stream_fini(struct gzip_stream *g)
{
	if (g->init)
		deflateEnd(&g->zs);
	g->init = false;
}

bool gzip_accepted(const char *ae)
{
	const char *p = ae;

	while (p && *p) {
		size_t n = strcspn(p, ",");
		const char *q = p;
		while (*q == ' ')
			q++;
		if (strncasecmp(q, "gzip", 4) == 0 || strncasecmp(q, "*", 1) == 0) {
			const char *semi = memchr(q, ';', n - (size_t)(q - p));
			/* "gzip;q=0" explicitly refuses it. */
			if (!semi || !strstr(semi, "q=0") || strstr(semi, "q=0."))
				return true;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}
