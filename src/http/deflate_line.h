/* A deflate (RFC 1951) writer specialised for exposition text.
 *
 * Consecutive lines of a metrics response share most of their bytes (the
 * metric name, the label names, the target labels) and differ in a few
 * label values and the sample value. Instead of zlib's hash search over a
 * sliding window, each line is coded against the line before it: common
 * runs become back-references at the distance between the two lines,
 * re-aligned after a difference at the next label delimiter. What differs
 * is searched, at token starts only (after a delimiter), in a one-entry
 * hash table of earlier token starts (a label value seen some lines
 * before); the rest are literals. Symbols are Huffman-coded per block with
 * codes built from their counts (dynamic blocks). The output is a plain
 * raw deflate stream that any inflater decodes; only the choice of matches
 * is ours. */
#ifndef K8SMON_HTTP_DEFLATE_LINE_H
#define K8SMON_HTTP_DEFLATE_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Longest line kept whole in the window; a longer one (rare in exposition
 * text) is coded in pieces. */
#define DFL_LINE_MAX (16u << 10)
/* The window: the last 32 KiB coded (deflate's reach), the incomplete line
 * and new input; slid by a copy when full. */
#define DFL_WIN (128u << 10)
#define DFL_HASH_BITS 14
/* Symbols buffered per block: 16 Ki symbols cover ~3,000 typical sample
 * lines, enough for the block's code tables (~100 bytes) to be noise. */
#define DFL_BLOCK_SYMS (16u << 10)

/* One deflate symbol: a literal byte (dist 0) or a match of len bytes at
 * distance dist. */
struct dfl_sym {
	uint16_t len; /* literal byte, or match length 3..258 */
	uint16_t dist; /* 0 for a literal, else 1..32768 */
};

/* Encoder state; every pointer owned (dfl_fini). */
struct dfl {
	struct dfl_sym *syms; /* the current block's symbols (DFL_BLOCK_SYMS) */
	size_t nsyms;
	uint8_t *win;         /* DFL_WIN bytes of the stream */
	size_t wlen;          /* bytes in win */
	size_t pos;           /* win[0..pos) coded */
	size_t pstart;        /* the last coded line starts at win[pstart] */
	bool has_prev;        /* false: no line to match against */
	uint64_t base;        /* stream offset of win[0] */
	uint32_t *head;       /* token hash -> stream offset + 1 (1 << DFL_HASH_BITS) */
	uint64_t bits;        /* bits written but not yet a whole byte */
	unsigned nbits;
	bool done;            /* the final block was written */
};

/* 0 or KM_ENOMEM. */
int dfl_init(struct dfl *d);
/* Codes in[0..n) and appends the whole bytes of finished blocks to out; with
 * finish, ends the stream (final block, padded to a byte). Symbols wait in
 * the block buffer, so a call may append nothing. Returns 0, KM_ENOMEM or
 * KM_ETOOBIG (out's cap), or KM_EINVAL after finish. */
int dfl_write(struct dfl *d, const char *in, size_t n, bool finish, struct buf *out);
void dfl_fini(struct dfl *d);

#endif
