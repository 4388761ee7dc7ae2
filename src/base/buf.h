/* Growable byte buffer with a mandatory hard cap (the curl dynbuf idea).
 *
 * The buffer owns its memory. Contents are always NUL-terminated, so
 * buf_cstr() can be passed to C string functions. An append that would go
 * past the cap fails with KM_ETOOBIG and leaves the buffer unchanged; an
 * allocation failure returns KM_ENOMEM, also leaving it unchanged. */
#ifndef K8SMON_BASE_BUF_H
#define K8SMON_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

struct buf {
	char *data;   /* owned; NULL until the first append */
	size_t len;   /* bytes used, excluding the NUL */
	size_t alloc; /* bytes allocated */
	size_t cap;   /* hard cap on len */
};

/* Initialise an empty buffer that may grow to cap bytes. No allocation. */
void buf_init(struct buf *b, size_t cap);
/* Free the memory; the buffer is left empty and reusable. */
void buf_fini(struct buf *b);
/* Empty the buffer, keeping its memory for reuse. */
void buf_reset(struct buf *b);
/* Shrink to len bytes (len <= b->len); used to roll back a partial write. */
void buf_truncate(struct buf *b, size_t len);
/* Make room for at least extra more bytes. */
int buf_reserve(struct buf *b, size_t extra);

/* Appends (same contract as the rest: KM_ETOOBIG past the cap, KM_ENOMEM,
 * buffer unchanged on failure). The common case, room already allocated,
 * is inline: rendering calls these several times per sample and the call
 * and reserve check were about a tenth of the scrape loop's CPU
 * (bench/scrape.sh, BENCHMARKS.md). */
int buf_add_slow(struct buf *b, const void *p, size_t n);

static inline int buf_add(struct buf *b, const void *p, size_t n)
{
	/* alloc <= cap + 1, so len + n < alloc is also within the cap. */
	if (n < b->alloc - b->len) {
		if (n) /* p may be NULL then */
			memcpy(b->data + b->len, p, n);
		b->len += n;
		b->data[b->len] = '\0';
		return 0;
	}
	return buf_add_slow(b, p, n);
}

static inline int buf_adds(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

static inline int buf_addc(struct buf *b, char c)
{
	if (b->len + 1 < b->alloc) {
		b->data[b->len++] = c;
		b->data[b->len] = '\0';
		return 0;
	}
	return buf_add_slow(b, &c, 1);
}

int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* The contents as a C string ("" when empty); borrowed. */
const char *buf_cstr(const struct buf *b);
/* Hand the memory to the caller (free() it); the buffer becomes empty.
 * Returns NULL when empty and nothing was allocated. */
char *buf_steal(struct buf *b);

#endif
