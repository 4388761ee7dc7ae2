#include "remotewrite/snappy.h"

#include <stdint.h>
#include <string.h>

/* Input is compressed in fragments of at most 64 KiB, so that a table entry
 * (a position in the fragment) fits 16 bits and every copy offset fits the
 * 2-byte form. */
#define FRAG (1u << 16)
#define TAB_BITS 14
/* Bytes kept back at a fragment's end: the match search loads 4 bytes at
 * the candidate and the match extension 8 at a time up to the end. */
#define MARGIN 15

size_t rw_snappy_max(size_t n)
{
	return 32 + n + n / 6;
}

static uint32_t load32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t load64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t hash(uint32_t v, int shift)
{
	return (v * 0x1e35a7bdu) >> shift;
}

static unsigned char *emit_literal(unsigned char *op, const unsigned char *p, size_t len)
{
	size_t n = len - 1;

	if (n < 60) {
		*op++ = (unsigned char)(n << 2);
	} else {
		/* 60..63: the length-1 follows in 1..4 little-endian bytes */
		unsigned char *tag = op++;
		int bytes = 0;

		for (; n; n >>= 8, bytes++)
			*op++ = (unsigned char)n;
		*tag = (unsigned char)((59 + bytes) << 2);
	}
	memcpy(op, p, len);
	return op + len;
}

/* len 4..64, offset < 65536 */
static unsigned char *emit_copy_upto64(unsigned char *op, size_t offset, size_t len)
{
	if (len < 12 && offset < 2048) {
		*op++ = (unsigned char)(1 | (len - 4) << 2 | (offset >> 8) << 5);
		*op++ = (unsigned char)offset;
	} else {
		*op++ = (unsigned char)(2 | (len - 1) << 2);
		*op++ = (unsigned char)offset;
		*op++ = (unsigned char)(offset >> 8);
	}
	return op;
}

static unsigned char *emit_copy(unsigned char *op, size_t offset, size_t len)
{
	/* Pieces of 64 while that leaves at least 4 (a copy's minimum). */
	while (len >= 68) {
		op = emit_copy_upto64(op, offset, 64);
		len -= 64;
	}
	if (len > 64) {
		op = emit_copy_upto64(op, offset, 60);
		len -= 60;
	}
	return emit_copy_upto64(op, offset, len);
}

/* Bytes equal at a and b (a < b), b not past end. */
static size_t match_len(const unsigned char *a, const unsigned char *b, const unsigned char *end)
{
	const unsigned char *start = b;

	while (b + 8 <= end) {
		uint64_t x = load64(a) ^ load64(b);

		if (x)
			return (size_t)(b - start) + ((size_t)__builtin_ctzll(x) >> 3);
		a += 8;
		b += 8;
	}
	while (b < end && *a == *b) {
		a++;
		b++;
	}
	return (size_t)(b - start);
}

/* One fragment of at most FRAG bytes. The search: hash the 4 bytes at each
 * probed position, look up the last position with that hash, and on equal
 * bytes extend the match; after a match the next position is tried at once,
 * otherwise the probes spread out (one more byte skipped every 32 misses)
 * so incompressible input is passed over quickly. */
static unsigned char *fragment(const unsigned char *b, size_t len, unsigned char *op, uint16_t *tab)
{
	const unsigned char *ip = b, *end = b + len, *limit, *emit = b;
	size_t tsize = 256;
	int shift;

	if (len < MARGIN + 1)
		goto rest;
	while (tsize < len && tsize < (1u << TAB_BITS))
		tsize <<= 1;
	shift = 32 - __builtin_ctz((unsigned)tsize);
	memset(tab, 0, tsize * sizeof(*tab));
	limit = end - MARGIN;
	ip++;
	for (;;) {
		const unsigned char *cand;
		uint32_t skip = 32;

		for (;;) {
			const unsigned char *next = ip + (skip++ >> 5);
			uint32_t h = hash(load32(ip), shift);

			cand = b + tab[h];
			tab[h] = (uint16_t)(ip - b);
			if (load32(ip) == load32(cand))
				break;
			ip = next;
			if (ip > limit)
				goto rest;
		}
		op = emit_literal(op, emit, (size_t)(ip - emit));
		for (;;) {
			const unsigned char *base = ip;
			uint32_t h;

			ip += 4 + match_len(cand + 4, ip + 4, end);
			op = emit_copy(op, (size_t)(base - cand), (size_t)(ip - base));
			emit = ip;
			if (ip >= limit)
				goto rest;
			tab[hash(load32(ip - 1), shift)] = (uint16_t)(ip - 1 - b);
			h = hash(load32(ip), shift);
			cand = b + tab[h];
			tab[h] = (uint16_t)(ip - b);
			if (load32(ip) != load32(cand))
				break;
		}
		ip++;
		if (ip > limit)
			goto rest;
	}
rest:
	if (emit < end)
		op = emit_literal(op, emit, (size_t)(end - emit));
	return op;
}

size_t rw_snappy_elements(const char *in, size_t n, char *out)
{
	uint16_t tab[1u << TAB_BITS];
	const unsigned char *p = (const unsigned char *)in;
	unsigned char *op = (unsigned char *)out;

	while (n) {
		size_t len = n < FRAG ? n : FRAG;

		op = fragment(p, len, op, tab);
		p += len;
		n -= len;
	}
	return (size_t)(op - (unsigned char *)out);
}

size_t rw_snappy_compress(const char *in, size_t n, char *out)
{
	size_t pre = 0;
	uint64_t v = n;

	do {
		out[pre++] = (char)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
		v >>= 7;
	} while (v);
	return pre + rw_snappy_elements(in, n, out + pre);
}
