/* TZif reader (RFC 8536): only the version 2+ block with 64-bit transition
 * times is read; leap seconds and the footer rule are not used. */
#include "collect/kubestate/tz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

#define TZ_FILE_MAX (256u << 10) /* the largest zone file is ~4 KiB */

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct hdr {
	uint32_t isut, isstd, leap, time, type, chr;
};

/* Header at p (44 bytes); the data block after it has len(h, tsize) bytes. */
static void header(const unsigned char *p, struct hdr *h)
{
	h->isut = be32(p + 20);
	h->isstd = be32(p + 24);
	h->leap = be32(p + 28);
	h->time = be32(p + 32);
	h->type = be32(p + 36);
	h->chr = be32(p + 40);
}

static size_t block_len(const struct hdr *h, size_t tsize)
{
	return (size_t)h->time * tsize + h->time + (size_t)h->type * 6 + h->chr +
	       (size_t)h->leap * (tsize + 4) + h->isstd + h->isut;
}

static int parse(const unsigned char *d, size_t len, struct ks_tz *tz)
{
	struct hdr h1, h2;
	const unsigned char *p, *types, *tt;
	size_t v1;

	if (len < 44 || memcmp(d, "TZif", 4) != 0 || d[4] < '2')
		return KM_EPARSE;
	header(d, &h1);
	if (h1.time > 100000 || h1.type > 1000 || h1.chr > 100000 || h1.leap > 100000 ||
	    h1.isut > 1000 || h1.isstd > 1000)
		return KM_EPARSE;
	v1 = 44 + block_len(&h1, 4);
	if (v1 + 44 > len || memcmp(d + v1, "TZif", 4) != 0)
		return KM_EPARSE;
	header(d + v1, &h2);
	if (h2.time > 100000 || h2.type == 0 || h2.type > 1000 || h2.chr > 100000 ||
	    h2.leap > 100000 || h2.isut > 1000 || h2.isstd > 1000 ||
	    v1 + 44 + block_len(&h2, 8) > len)
		return KM_EPARSE;
	p = d + v1 + 44;
	types = p + (size_t)h2.time * 8;
	tt = types + h2.time;
	tz->n = h2.time;
	tz->when = calloc(h2.time ? h2.time : 1, sizeof(*tz->when));
	tz->off = calloc(h2.time ? h2.time : 1, sizeof(*tz->off));
	if (!tz->when || !tz->off) {
		ks_tz_free(tz);
		return KM_ENOMEM;
	}
	/* RFC 8536 3.2: before the first transition, the first ttinfo. */
	tz->off0 = (int32_t)be32(tt);
	for (size_t i = 0; i < h2.time; i++) {
		if (types[i] >= h2.type) {
			ks_tz_free(tz);
			return KM_EPARSE;
		}
		tz->when[i] = be64(p + i * 8);
		tz->off[i] = (int32_t)be32(tt + (size_t)types[i] * 6);
	}
	return 0;
}

int ks_tz_load(const char *dir, const char *name, size_t n, struct ks_tz *tz)
{
	char path[512];
	unsigned char *d = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	memset(tz, 0, sizeof(*tz));
	if (n == 0 || n > 200 || name[0] == '/' || memchr(name, '\0', n) ||
	    (n >= 2 && memmem(name, n, "..", 2)))
		return KM_ENOENT;
	snprintf(path, sizeof(path), "%s/%.*s", dir ? dir : "/usr/share/zoneinfo", (int)n, name);
	f = fopen(path, "rb");
	if (!f)
		return errno == ENOMEM ? KM_ENOMEM : KM_ENOENT;
	d = malloc(TZ_FILE_MAX);
	if (!d) {
		rc = KM_ENOMEM;
		goto out;
	}
	len = fread(d, 1, TZ_FILE_MAX, f);
	rc = ferror(f) || len == TZ_FILE_MAX ? KM_EPARSE : parse(d, len, tz);
out:
	free(d);
	fclose(f);
	return rc;
}

void ks_tz_free(struct ks_tz *tz)
{
	free(tz->when);
	free(tz->off);
	tz->when = NULL;
	tz->off = NULL;
	tz->n = 0;
}

int32_t ks_tz_offset(const struct ks_tz *tz, int64_t utc)
{
	size_t lo = 0, hi = tz->n;

	if (tz->n == 0 || utc < tz->when[0])
		return tz->off0;
	/* the last transition at or before utc */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (tz->when[mid] <= utc)
			lo = mid;
		else
			hi = mid;
	}
	return tz->off[lo];
}
