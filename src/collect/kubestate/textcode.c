/* The kube-state store's line code (textcode.h). */
#include "collect/kubestate/textcode.h"

#include <string.h>

#include "base/err.h"
#include "base/hash.h"

#define SLOTS (sizeof(((struct ks_tc_dict *)0)->slot) / sizeof(uint16_t))

enum { TC_QNAME = 0, TC_NAME = 1, TC_CLOSE = 2, TC_LIT = 3 };

/* Name index <-> its byte: 4..255 without '\n'. */
static unsigned char name_byte(unsigned i)
{
	unsigned b = i + 4;

	return (unsigned char)(b >= '\n' ? b + 1 : b);
}

static unsigned name_index(unsigned char b)
{
	return (unsigned)b - 4 - (b > '\n');
}

int ks_tc_dict_init(struct ks_tc_dict *d)
{
	memset(d, 0, sizeof(*d));
	return pthread_mutex_init(&d->lock, NULL) ? KM_ENOMEM : 0;
}

void ks_tc_dict_fini(struct ks_tc_dict *d)
{
	pthread_mutex_destroy(&d->lock);
}

void ks_tc_names_copy(struct ks_tc_dict *d, struct ks_tc_names *out)
{
	pthread_mutex_lock(&d->lock);
	out->count = d->names.count;
	memcpy(out->len, d->names.len, d->names.count);
	memcpy(out->name, d->names.name, sizeof(out->name[0]) * d->names.count);
	pthread_mutex_unlock(&d->lock);
}

/* The index of name s[0..n) (added if new), or -1 when the table is full.
 * Called with d->lock held. */
static int lookup(struct ks_tc_dict *d, const char *s, size_t n)
{
	struct ks_tc_names *nm = &d->names;
	size_t i = hash32(s, n) & (SLOTS - 1);

	for (;; i = (i + 1) & (SLOTS - 1)) {
		unsigned v = d->slot[i];
		if (!v)
			break;
		if (nm->len[v - 1] == n && memcmp(nm->name[v - 1], s, n) == 0)
			return (int)v - 1;
	}
	if (nm->count >= KS_TC_NAMES)
		return -1;
	memcpy(nm->name[nm->count], s, n);
	nm->len[nm->count] = (uint8_t)n;
	d->slot[i] = (uint16_t)(nm->count + 1);
	return (int)nm->count++;
}

static int is_name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* If in[i..) is NAME="  with a codable name, its byte; else -1. *next is
 * set past the opening quote. Called with d->lock held. */
static int name_at(struct ks_tc_dict *d, const char *in, size_t len, size_t i, size_t *next)
{
	size_t j = i;
	int idx;

	while (j < len && j - i <= KS_TC_NAME_MAX && is_name_char((unsigned char)in[j]))
		j++;
	if (j == i || j - i > KS_TC_NAME_MAX || j + 1 >= len || in[j] != '=' || in[j + 1] != '"')
		return -1;
	idx = lookup(d, in + i, j - i);
	if (idx < 0)
		return -1;
	*next = j + 2;
	return name_byte((unsigned)idx);
}

int ks_tc_encode(struct ks_tc_dict *d, const char *in, size_t len, struct buf *out)
{
	size_t i = 0, next = 0;
	int rc;

	/* Worst case doubles (every byte a literal escape); usually a third
	 * smaller. One reservation: the loop below then writes in place. */
	rc = buf_reserve(out, 2 * len);
	if (rc)
		return rc;
	pthread_mutex_lock(&d->lock);
	while (i < len) {
		unsigned char c = (unsigned char)in[i];
		char *w = out->data + out->len;
		int b;
		if (c == '"' && i + 1 < len && in[i + 1] == ',' &&
		    (b = name_at(d, in, len, i + 2, &next)) >= 0) {
			w[0] = TC_QNAME;
			w[1] = (char)b;
			out->len += 2;
			i = next;
		} else if (c == ',' && (b = name_at(d, in, len, i + 1, &next)) >= 0) {
			w[0] = TC_NAME;
			w[1] = (char)b;
			out->len += 2;
			i = next;
		} else if (c == '"' && i + 2 < len && in[i + 1] == '}' && in[i + 2] == ' ') {
			w[0] = TC_CLOSE;
			out->len += 1;
			i += 3;
		} else if (c <= TC_LIT) {
			w[0] = TC_LIT;
			w[1] = (char)c;
			out->len += 2;
			i++;
		} else {
			w[0] = (char)c;
			out->len += 1;
			i++;
		}
	}
	pthread_mutex_unlock(&d->lock);
	out->data[out->len] = '\0';
	return 0;
}

size_t ks_tc_decoded_len(const struct ks_tc_names *nm, const char *in, size_t len)
{
	const unsigned char *p = (const unsigned char *)in, *end = p + len;
	size_t n = 0;

	while (p < end) {
		unsigned char c = *p++;
		if (c > TC_LIT) {
			n++;
			continue;
		}
		if (c == TC_CLOSE) {
			n += 3;
			continue;
		}
		if (p == end)
			break;
		if (c == TC_LIT) {
			p++;
			n++;
			continue;
		}
		n += nm->len[name_index(*p++)] + 3 + (c == TC_QNAME);
	}
	return n;
}

size_t ks_tc_decode(const struct ks_tc_names *nm, const char *in, size_t len, char *w)
{
	const unsigned char *p = (const unsigned char *)in, *end = p + len;
	char *start = w;

	while (p < end) {
		unsigned char c = *p++;
		unsigned i;
		if (c > TC_LIT) {
			*w++ = (char)c;
			continue;
		}
		if (c == TC_CLOSE) {
			memcpy(w, "\"} ", 3);
			w += 3;
			continue;
		}
		if (p == end)
			break;
		if (c == TC_LIT) {
			*w++ = (char)*p++;
			continue;
		}
		if (c == TC_QNAME)
			*w++ = '"';
		*w++ = ',';
		i = name_index(*p++);
		memcpy(w, nm->name[i], nm->len[i]);
		w += nm->len[i];
		*w++ = '=';
		*w++ = '"';
	}
	return (size_t)(w - start);
}
