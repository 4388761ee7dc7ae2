#include "http/gzip.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "base/err.h"

int gzip_compress(const char *in, size_t n, struct buf *out)
{
	z_stream zs;
	uLong bound;
	int rc;

	memset(&zs, 0, sizeof(zs));
	/* windowBits 15 + 16 selects the gzip wrapper; level 1 is the usual
	 * choice for metrics: most of the gain for a fraction of the CPU. */
	if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
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
