/* The stored form of one target's scraped samples (a blob's data): written
 * by the scraper as it parses, read by /metrics/apps (apps.c) and compared
 * with the previous scrape's for scrape_series_added.
 *
 * A sequence of records:
 *  - a metadata line, text: "# HELP ...\n" or "# TYPE ...\n" (first byte '#');
 *  - BLOB_NAME, u16 length, the metric name: the name of the samples that
 *    follow, written once per run of samples of one name (a family's
 *    samples come in runs), not on every line;
 *  - BLOB_SAMPLE, varint shared, varint length, that many bytes of suffix,
 *    u8 length, the value text as expo_value() writes it (" 1 [ts]\n").
 *    The sample's label pairs, as written between the braces
 *    ('a="x",b="y"', possibly empty), are the first `shared` bytes of the
 *    previous sample's pairs (in the blob, whatever its name; none before
 *    the first sample) followed by the suffix: front coding. Consecutive
 *    samples of an app share most of their text (`path="/api/v1/item12`
 *    of item123 and item124), and the pairs were ~80% of the stored
 *    bytes (BENCHMARKS.md, branch h-pullmem).
 * Lengths are little-endian; a varint is 7 bits a byte, low first, the top
 * bit set on every byte but the last, at most 4 bytes. `shared` is the
 * longest common prefix, so the records of two blobs are the same bytes
 * exactly when their samples' pairs are. A line is name ['{' pairs
 * [target labels] '}'] value: with splicing (struct blob) the braces are
 * always written and the target labels go in before the '}'; without, the
 * braces only around non-empty pairs. The series of a sample, for
 * series_added, is its name and pairs. Pure functions over borrowed bytes. */
#ifndef K8SMON_SCRAPE_BLOB_H
#define K8SMON_SCRAPE_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"

#define BLOB_NAME 0x01
#define BLOB_SAMPLE 0x02
#define BLOB_NAME_MAX 0xffffu
#define BLOB_PAIRS_MAX 0xffffffu
#define BLOB_VALUE_MAX 0xffu
/* Bytes blob_sample_open() reserves: the tag and two varints. */
#define BLOB_SAMPLE_HDR 9

enum blob_kind { BLOB_REC_META = 0, BLOB_REC_NAME, BLOB_REC_SAMPLE };

/* One record, pointing into the blob. META: a = the line with its '\n'.
 * NAME: a = the name. SAMPLE: shared and a = the pairs, front-coded (see
 * blob_pairs()), v = the value text. */
struct blob_rec {
	enum blob_kind kind;
	const char *a, *v;
	size_t alen, vlen;
	size_t shared;
};

/* A varint of at most 4 bytes at q[*i], q[0, left): false when cut. */
static inline bool blob_varint(const unsigned char *q, size_t left, size_t *i, size_t *v)
{
	size_t x = 0;

	for (unsigned sh = 0; sh < 28; sh += 7) {
		if (*i >= left)
			return false;
		x |= (size_t)(q[*i] & 0x7f) << sh;
		if (!(q[(*i)++] & 0x80)) {
			*v = x;
			return true;
		}
	}
	return false;
}

/* Reads the record at *p (p < end), advances *p past it. False when the
 * bytes are not a whole record (never for a blob written by blob_put_*). */
static inline bool blob_next(const char **p, const char *end, struct blob_rec *r)
{
	const unsigned char *q = (const unsigned char *)*p;
	size_t left = (size_t)(end - *p);

	if (q[0] == BLOB_SAMPLE) {
		size_t i = 1;
		if (!blob_varint(q, left, &i, &r->shared) || !blob_varint(q, left, &i, &r->alen) ||
		    left - i <= r->alen)
			return false;
		r->a = *p + i;
		r->vlen = q[i + r->alen];
		if (left - i - r->alen - 1 < r->vlen)
			return false;
		r->v = r->a + r->alen + 1;
		r->kind = BLOB_REC_SAMPLE;
		*p = r->v + r->vlen;
		return true;
	}
	if (q[0] == BLOB_NAME) {
		if (left < 3)
			return false;
		r->alen = (size_t)q[1] | (size_t)q[2] << 8;
		if (left - 3 < r->alen)
			return false;
		r->a = *p + 3;
		r->kind = BLOB_REC_NAME;
		*p = r->a + r->alen;
		return true;
	}
	{
		const char *nl = memchr(*p, '\n', left);
		if (q[0] != '#' || !nl)
			return false;
		r->kind = BLOB_REC_META;
		r->a = *p;
		r->alen = (size_t)(nl + 1 - *p);
		*p = nl + 1;
		return true;
	}
}

/* Appends a BLOB_NAME record. 0, KM_ETOOBIG (name over BLOB_NAME_MAX or
 * b's cap) or KM_ENOMEM. */
int blob_put_name(struct buf *b, const char *name, size_t len);

/* The pairs of a SAMPLE record r in *pairs, which holds the previous
 * sample's (empty before a blob's first). 0, KM_EINVAL (r shares more
 * than there is: not a blob of blob_sample_*), KM_ETOOBIG (pairs' cap;
 * BLOB_PAIRS_MAX is enough) or KM_ENOMEM. */
static inline int blob_pairs(struct buf *pairs, const struct blob_rec *r)
{
	if (r->shared > pairs->len)
		return KM_EINVAL;
	buf_truncate(pairs, r->shared);
	return buf_add(pairs, r->a, r->alen);
}

/* A sample record is written in three steps around the caller's own
 * appends: blob_sample_open() (returns the offset to pass on), the pairs,
 * blob_sample_pairs_end(), the value text, blob_sample_close(). On an error
 * the caller truncates b to where it started and drops the blob (prev has
 * moved on). 0, KM_ETOOBIG (pairs over BLOB_PAIRS_MAX, value over
 * BLOB_VALUE_MAX, or b's or prev's cap) or KM_ENOMEM. */
int blob_sample_open(struct buf *b, size_t *mark);
/* The pairs appended since blob_sample_open(), until pairs_end. */
static inline const char *blob_sample_pairs(const struct buf *b, size_t mark, size_t *len)
{
	*len = b->len - mark - BLOB_SAMPLE_HDR;
	return b->data + mark + BLOB_SAMPLE_HDR;
}
/* prev: the pairs of the blob's previous sample (caller-owned, empty at
 * the blob's start, cap at least BLOB_PAIRS_MAX), made this sample's. */
int blob_sample_pairs_end(struct buf *b, size_t mark, struct buf *prev);
int blob_sample_close(struct buf *b, size_t mark);

/* Distinct series of cur (blob data, n bytes) not in prev (pn bytes; NULL
 * or 0 bytes: no previous scrape). The usual case, the same series in the
 * same order, is one pass without allocation; otherwise both sides are
 * hashed and sorted (temporary arrays; on allocation failure the result is
 * the number of cur's samples, every one counted as new). */
uint64_t blob_series_added(const char *prev, size_t pn, const char *cur, size_t n);
/* The same, with *removed set to the distinct series of prev not in cur
 * (for staleness markers): 0 in the usual case, at no cost; 1 when it
 * cannot be known (allocation failure). */
uint64_t blob_series_diff(const char *prev, size_t pn, const char *cur, size_t n, uint64_t *removed);

#endif
