#include "scrape/labels.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/hash.h"
#include "base/vec.h"

void labels_init(struct labels *l, size_t max_labels)
{
	memset(l, 0, sizeof(*l));
	l->max = max_labels ? max_labels : LABELS_MAX_DEFAULT;
	/* Every pair fits at full size, so the arena cap only bites when
	 * garbage from replaced values has not been compacted yet. */
	buf_init(&l->arena, l->max * (LABELS_NAME_MAX + LABELS_VALUE_MAX + 2));
}

void labels_fini(struct labels *l)
{
	size_t max = l->max;

	free(l->ents);
	buf_fini(&l->arena);
	labels_init(l, max);
}

void labels_reset(struct labels *l)
{
	l->n = 0;
	l->garbage = 0;
	buf_reset(&l->arena);
}

static const char *ent_name(const struct labels *l, const struct label_ent *e)
{
	return l->arena.data + e->name_off;
}

static const char *ent_value(const struct labels *l, const struct label_ent *e)
{
	return l->arena.data + e->value_off;
}

/* Bytewise compare of two counted strings, shorter prefix first. */
static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
	int c;

	/* Names mostly differ in their first byte: no memcmp call (the
	 * parser's insertions search every scraped label, BENCHMARKS.md). */
	if (an && bn && a[0] != b[0])
		return (unsigned char)a[0] < (unsigned char)b[0] ? -1 : 1;
	c = memcmp(a, b, an < bn ? an : bn);

	if (c)
		return c;
	return an < bn ? -1 : an > bn ? 1 : 0;
}

/* Binary search; returns true and *pos when found, else the insert point. */
static bool find(const struct labels *l, const char *name, size_t n, size_t *pos)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct label_ent *e = &l->ents[mid];
		int c = cmp_bytes(ent_name(l, e), e->name_len, name, n);

		if (c == 0) {
			*pos = mid;
			return true;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return false;
}

/* Rewrite the arena with only live strings, so replaced values do not make
 * a long-lived set grow until it hits its cap. */
static int compact(struct labels *l)
{
	struct buf nb;
	size_t i, off = 0;
	int rc = 0;

	/* First copy, then rewrite offsets, so a failure leaves l intact. */
	buf_init(&nb, l->arena.cap);
	for (i = 0; i < l->n && !rc; i++) {
		const struct label_ent *e = &l->ents[i];

		rc = buf_add(&nb, ent_name(l, e), (size_t)e->name_len + 1);
		if (!rc)
			rc = buf_add(&nb, ent_value(l, e), (size_t)e->value_len + 1);
	}
	if (rc) {
		buf_fini(&nb);
		return rc;
	}
	for (i = 0; i < l->n; i++) {
		struct label_ent *e = &l->ents[i];

		e->name_off = (uint32_t)off;
		off += (size_t)e->name_len + 1;
		e->value_off = (uint32_t)off;
		off += (size_t)e->value_len + 1;
	}
	buf_fini(&l->arena);
	l->arena = nb;
	l->garbage = 0;
	return 0;
}

/* Appends s[0..n) plus NUL; returns the offset through *off. */
static int arena_add(struct labels *l, const char *s, size_t n, uint32_t *off)
{
	size_t o = l->arena.len;
	int rc;

	rc = buf_add(&l->arena, s, n);
	if (!rc)
		rc = buf_addc(&l->arena, '\0');
	if (rc) {
		buf_truncate(&l->arena, o);
		return rc;
	}
	*off = (uint32_t)o;
	return 0;
}

int labels_setn(struct labels *l, const char *name, size_t name_len,
		const char *value, size_t value_len)
{
	struct label_ent e;
	size_t pos, mark;
	bool found;
	int rc;

	if (name_len == 0)
		return KM_EINVAL;
	if (value_len == 0) {
		rc = labels_deln(l, name, name_len);
		return rc == KM_ENOENT ? 0 : rc;
	}
	if (name_len > LABELS_NAME_MAX || value_len > LABELS_VALUE_MAX)
		return KM_ETOOBIG;
	found = find(l, name, name_len, &pos);
	if (found) {
		struct label_ent *cur = &l->ents[pos];

		if (cur->value_len == value_len &&
		    memcmp(ent_value(l, cur), value, value_len) == 0)
			return 0;
	} else if (l->n >= l->max) {
		return KM_ETOOBIG;
	}
	if (!found && (rc = VEC_RESERVE(l->ents, l->alloc, l->n + 1, 8, l->max)))
		return rc;
	/* Compact before growing past the cap when garbage would make room. */
	if (l->garbage && l->arena.len + name_len + value_len + 2 > l->arena.cap) {
		rc = compact(l);
		if (rc)
			return rc;
	}
	mark = l->arena.len;
	if (found) {
		e = l->ents[pos];
		l->garbage += (size_t)e.value_len + 1;
	} else {
		e.name_len = (uint32_t)name_len;
		rc = arena_add(l, name, name_len, &e.name_off);
		if (rc)
			return rc;
	}
	e.value_len = (uint32_t)value_len;
	rc = arena_add(l, value, value_len, &e.value_off);
	if (rc) {
		buf_truncate(&l->arena, mark);
		if (found)
			l->garbage -= (size_t)l->ents[pos].value_len + 1;
		return rc;
	}
	if (!found) {
		memmove(&l->ents[pos + 1], &l->ents[pos], (l->n - pos) * sizeof(e));
		l->n++;
	}
	l->ents[pos] = e;
	return 0;
}

int labels_set(struct labels *l, const char *name, const char *value)
{
	return labels_setn(l, name, strlen(name), value, strlen(value));
}

int labels_deln(struct labels *l, const char *name, size_t name_len)
{
	size_t pos;

	if (!find(l, name, name_len, &pos))
		return KM_ENOENT;
	l->garbage += (size_t)l->ents[pos].name_len + l->ents[pos].value_len + 2;
	memmove(&l->ents[pos], &l->ents[pos + 1], (l->n - pos - 1) * sizeof(l->ents[0]));
	l->n--;
	if (l->n == 0) {
		buf_reset(&l->arena);
		l->garbage = 0;
	}
	return 0;
}

int labels_del(struct labels *l, const char *name)
{
	return labels_deln(l, name, strlen(name));
}

const char *labels_getn(const struct labels *l, const char *name, size_t name_len,
			size_t *value_len)
{
	size_t pos;

	if (!find(l, name, name_len, &pos))
		return NULL;
	if (value_len)
		*value_len = l->ents[pos].value_len;
	return ent_value(l, &l->ents[pos]);
}

const char *labels_get(const struct labels *l, const char *name)
{
	return labels_getn(l, name, strlen(name), NULL);
}

size_t labels_count(const struct labels *l)
{
	return l->n;
}

struct label_ref labels_at(const struct labels *l, size_t i)
{
	const struct label_ent *e = &l->ents[i];
	struct label_ref r = {
		.name = ent_name(l, e), .name_len = e->name_len,
		.value = ent_value(l, e), .value_len = e->value_len,
	};

	return r;
}

bool labels_next(const struct labels *l, size_t *it, struct label_ref *out)
{
	if (*it >= l->n)
		return false;
	*out = labels_at(l, *it);
	(*it)++;
	return true;
}

int labels_copy(struct labels *dst, const struct labels *src)
{
	struct labels tmp;
	size_t i;
	int rc = 0;

	if (dst == src)
		return 0;
	if (src->n > dst->max)
		return KM_ETOOBIG;
	/* Build aside so dst is untouched on failure. */
	labels_init(&tmp, dst->max);
	for (i = 0; i < src->n; i++) {
		struct label_ref r = labels_at(src, i);

		rc = labels_setn(&tmp, r.name, r.name_len, r.value, r.value_len);
		if (rc)
			goto out;
	}
	labels_fini(dst);
	*dst = tmp;
	return 0;
out:
	labels_fini(&tmp);
	return rc;
}

uint64_t labels_hash(const struct labels *l)
{
	/* 0xff cannot occur in valid UTF-8, so it separates unambiguously
	 * (Prometheus uses the same separator byte). */
	static const char sep = (char)0xff;
	uint64_t h = HASH64_INIT;
	size_t i;

	for (i = 0; i < l->n; i++) {
		struct label_ref r = labels_at(l, i);

		h = hash64_add(h, r.name, r.name_len);
		h = hash64_add(h, &sep, 1);
		h = hash64_add(h, r.value, r.value_len);
		h = hash64_add(h, &sep, 1);
	}
	return h;
}

int labels_cmp(const struct labels *a, const struct labels *b)
{
	size_t i;

	for (i = 0; i < a->n && i < b->n; i++) {
		struct label_ref x = labels_at(a, i), y = labels_at(b, i);
		int c = cmp_bytes(x.name, x.name_len, y.name, y.name_len);

		if (c)
			return c;
		c = cmp_bytes(x.value, x.value_len, y.value, y.value_len);
		if (c)
			return c;
	}
	return a->n < b->n ? -1 : a->n > b->n ? 1 : 0;
}

bool labels_equal(const struct labels *a, const struct labels *b)
{
	return a->n == b->n && labels_cmp(a, b) == 0;
}

int labels_render(const struct labels *l, struct buf *b)
{
	size_t mark = b->len, i;
	int rc = 0;

	if (l->n == 0)
		return 0;
	rc = buf_addc(b, '{');
	for (i = 0; !rc && i < l->n; i++) {
		struct label_ref r = labels_at(l, i);

		if (i)
			rc = buf_addc(b, ',');
		if (!rc)
			rc = buf_add(b, r.name, r.name_len);
		if (!rc)
			rc = buf_add(b, "=\"", 2);
		if (!rc)
			rc = expo_escape_label(b, r.value, r.value_len);
		if (!rc)
			rc = buf_addc(b, '"');
	}
	if (!rc)
		rc = buf_addc(b, '}');
	if (rc)
		buf_truncate(b, mark);
	return rc;
}

int labels_render_series(const struct labels *l, const char *name, struct buf *b)
{
	size_t mark = b->len;
	int rc;

	rc = buf_adds(b, name);
	if (!rc)
		rc = labels_render(l, b);
	if (rc)
		buf_truncate(b, mark);
	return rc;
}

size_t labels_to_expo(const struct labels *l, struct label_pair *out, size_t cap)
{
	size_t i;

	for (i = 0; i < l->n && i < cap; i++) {
		out[i].name = ent_name(l, &l->ents[i]);
		out[i].value = ent_value(l, &l->ents[i]);
	}
	return i;
}

/* Per byte: NAME_FIRST may start a label name, NAME_NEXT may follow,
 * NAME_COLON is ':' (metric names only). A table, not branches: every
 * label and metric name of every scraped sample is checked. */
enum { NAME_FIRST = 1, NAME_NEXT = 2, NAME_COLON = 4 };
#define NAME_LETTERS(c) [c] = NAME_FIRST | NAME_NEXT
static const unsigned char name_class[256] = {
	['_'] = NAME_FIRST | NAME_NEXT, [':'] = NAME_COLON,
	['0'] = NAME_NEXT, ['1'] = NAME_NEXT, ['2'] = NAME_NEXT, ['3'] = NAME_NEXT, ['4'] = NAME_NEXT,
	['5'] = NAME_NEXT, ['6'] = NAME_NEXT, ['7'] = NAME_NEXT, ['8'] = NAME_NEXT, ['9'] = NAME_NEXT,
	NAME_LETTERS('a'), NAME_LETTERS('b'), NAME_LETTERS('c'), NAME_LETTERS('d'), NAME_LETTERS('e'),
	NAME_LETTERS('f'), NAME_LETTERS('g'), NAME_LETTERS('h'), NAME_LETTERS('i'), NAME_LETTERS('j'),
	NAME_LETTERS('k'), NAME_LETTERS('l'), NAME_LETTERS('m'), NAME_LETTERS('n'), NAME_LETTERS('o'),
	NAME_LETTERS('p'), NAME_LETTERS('q'), NAME_LETTERS('r'), NAME_LETTERS('s'), NAME_LETTERS('t'),
	NAME_LETTERS('u'), NAME_LETTERS('v'), NAME_LETTERS('w'), NAME_LETTERS('x'), NAME_LETTERS('y'),
	NAME_LETTERS('z'),
	NAME_LETTERS('A'), NAME_LETTERS('B'), NAME_LETTERS('C'), NAME_LETTERS('D'), NAME_LETTERS('E'),
	NAME_LETTERS('F'), NAME_LETTERS('G'), NAME_LETTERS('H'), NAME_LETTERS('I'), NAME_LETTERS('J'),
	NAME_LETTERS('K'), NAME_LETTERS('L'), NAME_LETTERS('M'), NAME_LETTERS('N'), NAME_LETTERS('O'),
	NAME_LETTERS('P'), NAME_LETTERS('Q'), NAME_LETTERS('R'), NAME_LETTERS('S'), NAME_LETTERS('T'),
	NAME_LETTERS('U'), NAME_LETTERS('V'), NAME_LETTERS('W'), NAME_LETTERS('X'), NAME_LETTERS('Y'),
	NAME_LETTERS('Z'),
};
#undef NAME_LETTERS

/* first: the class the first byte needs; rest: any class the others may have. */
static bool name_valid(const char *s, size_t n, unsigned first, unsigned rest)
{
	const unsigned char *u = (const unsigned char *)s;

	if (n == 0 || !(name_class[u[0]] & first))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(name_class[u[i]] & rest))
			return false;
	return true;
}

bool label_name_valid(const char *s, size_t n)
{
	return name_valid(s, n, NAME_FIRST, NAME_NEXT);
}

bool metric_name_valid(const char *s, size_t n)
{
	return name_valid(s, n, NAME_FIRST | NAME_COLON, NAME_NEXT | NAME_COLON);
}
