#include "http/gzip.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "base/err.h"
#include "http/crc32.h"

/* Member header (RFC 1952 2.3): deflate, no name, no mtime, OS unknown. */
static const char gz_head[10] = {0x1f, (char)0x8b, 8, 0, 0, 0, 0, 0, 0, (char)0xff};

/* zlib's memLevel: 6 instead of the default 8 halves the hash table that
 * deflate rescans at every 32 KiB window slide: 15-20 % less CPU for 0.4 %
 * more output (BENCHMARKS.md, issue 20 item 4). */
#define GZIP_MEM_LEVEL 6

int gzip_compress(const char *in, size_t n, struct buf *out)
{
	z_stream zs;
	uLong bound;
	int rc;

	memset(&zs, 0, sizeof(zs));
	/* windowBits 15 + 16 selects the gzip wrapper; level 1: most of the
	 * gain for a fraction of the CPU. */
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
	if (dfl_init(&g->d))
		return KM_ENOMEM;
	g->init = true;
	return 0;
}

static void put_le32(char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (char)(v >> (8 * i));
}

int gzip_stream_write(struct gzip_stream *g, const char *in, size_t n, bool finish, struct buf *out)
{
	char trailer[8];
	int rc;

	if (!g->init)
		return KM_EINVAL;
	if (!g->head) {
		rc = buf_add(out, gz_head, sizeof(gz_head));
		if (rc)
			return rc;
		g->head = true;
	}
	if (n) {
		g->crc = crc32_gzip(g->crc, in, n);
		g->size += (uint32_t)n;
	}
	rc = dfl_write(&g->d, in, n, finish, out);
	if (rc || !finish)
		return rc;
	put_le32(trailer, g->crc);
	put_le32(trailer + 4, g->size);
	return buf_add(out, trailer, sizeof(trailer));
}

void gzip_stream_fini(struct gzip_stream *g)
{
	if (g->init)
		dfl_fini(&g->d);
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
