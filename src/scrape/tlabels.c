#include "scrape/tlabels.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/hash.h"
#include "base/vec.h"

void tl_init(struct tlabels *l)
{
	memset(l, 0, sizeof(*l));
}

static void pair_free(struct label_pair *p)
{
	free((char *)p->name);
	free((char *)p->value);
}

void tl_fini(struct tlabels *l)
{
	for (size_t i = 0; i < l->n; i++)
		pair_free(&l->v[i]);
	free(l->v);
	tl_init(l);
}

int tl_copy(struct tlabels *dst, const struct tlabels *src)
{
	tl_fini(dst);
	for (size_t i = 0; i < src->n; i++) {
		int rc = tl_set(dst, src->v[i].name, src->v[i].value);
		if (rc) {
			tl_fini(dst);
			return rc;
		}
	}
	return 0;
}

int tl_setn(struct tlabels *l, const char *name, const char *value, size_t vlen)
{
	char *v = strndup(value, vlen);
	int rc;

	if (!v)
		return KM_ENOMEM;
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->v[i].name, name) == 0) {
			free((char *)l->v[i].value);
			l->v[i].value = v;
			return 0;
		}
	}
	/* Bounded by the discovered object (KUBE_BODY_MAX) and relabeling. */
	rc = VEC_RESERVE(l->v, l->cap, l->n + 1, 16, VEC_UNBOUNDED);
	if (rc) {
		free(v);
		return rc;
	}
	l->v[l->n].name = strdup(name);
	if (!l->v[l->n].name) {
		free(v);
		return KM_ENOMEM;
	}
	l->v[l->n++].value = v;
	return 0;
}

int tl_set(struct tlabels *l, const char *name, const char *value)
{
	return tl_setn(l, name, value, strlen(value));
}

void tl_del(struct tlabels *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->v[i].name, name) == 0) {
			pair_free(&l->v[i]);
			l->v[i] = l->v[--l->n];
			return;
		}
	}
}

const char *tl_get(const struct tlabels *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return l->v[i].value;
	return NULL;
}

const char *tl_getn(const struct tlabels *l, const char *name, size_t len)
{
	/* strncmp stops at the stored name's NUL: no read past a shorter one */
	for (size_t i = 0; i < l->n; i++)
		if (strncmp(l->v[i].name, name, len) == 0 && l->v[i].name[len] == '\0')
			return l->v[i].value;
	return NULL;
}

static int cmp_label(const void *a, const void *b)
{
	return strcmp(((const struct label_pair *)a)->name, ((const struct label_pair *)b)->name);
}

void tl_sort(struct tlabels *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), cmp_label);
}

void tl_drop_reserved(struct tlabels *l)
{
	size_t j = 0;

	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].name[0] == '_' && l->v[i].name[1] == '_') {
			pair_free(&l->v[i]);
			continue;
		}
		l->v[j++] = l->v[i];
	}
	l->n = j;
}

bool tl_equal(const struct tlabels *a, const struct tlabels *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].name, b->v[i].name) || strcmp(a->v[i].value, b->v[i].value))
			return false;
	return true;
}

uint64_t tl_hash(const struct tlabels *l)
{
	uint64_t h = HASH64_INIT;

	for (size_t i = 0; i < l->n; i++)
		h = hash64_add_strz(hash64_add_strz(h, l->v[i].name), l->v[i].value);
	return h;
}

int tl_sanitized_name(struct buf *out, const char *prefix, const char *name)
{
	int rc = buf_adds(out, prefix);

	for (const char *p = name; !rc && *p; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
		rc = buf_addc(out, ok ? c : '_');
	}
	return rc;
}
