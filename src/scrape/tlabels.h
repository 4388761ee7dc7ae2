/* A small owned label list used for discovered targets: name/value pairs,
 * unique by name, sorted on demand. Targets have tens of labels, so linear
 * lookups are fine; the hot scrape path does not use this type.
 *
 * Ownership: the list owns every string of its pairs (const only because
 * struct label_pair is shared with borrowing users); tl_set() copies its
 * arguments. */
#ifndef K8SMON_SCRAPE_TLABELS_H
#define K8SMON_SCRAPE_TLABELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/label.h"

struct tlabels {
	struct label_pair *v;
	size_t n, cap;
};

void tl_init(struct tlabels *l);
void tl_fini(struct tlabels *l);
/* Deep copy of src into dst (dst must be initialised and is replaced). */
int tl_copy(struct tlabels *dst, const struct tlabels *src);
/* Sets name=value (replacing an existing value); copies both. */
int tl_set(struct tlabels *l, const char *name, const char *value);
int tl_setn(struct tlabels *l, const char *name, const char *value, size_t vlen);
/* Removes name if present. */
void tl_del(struct tlabels *l, const char *name);
/* The value of name (borrowed) or NULL. */
const char *tl_get(const struct tlabels *l, const char *name);
/* The same for a name of len bytes, not NUL-terminated (without a NUL in it). */
const char *tl_getn(const struct tlabels *l, const char *name, size_t len);
/* Sorts by name (Prometheus label order). */
void tl_sort(struct tlabels *l);
/* Removes every label whose name starts with "__" (after relabeling). */
void tl_drop_reserved(struct tlabels *l);
/* True when both have the same pairs (both sorted). */
bool tl_equal(const struct tlabels *a, const struct tlabels *b);
/* 64-bit FNV-1a hash of the sorted pairs. */
uint64_t tl_hash(const struct tlabels *l);
/* Appends "prefix" + name sanitised as Prometheus does for
 * __meta_kubernetes_*_label_<name>: every byte outside [a-zA-Z0-9_]
 * becomes '_'. */
int tl_sanitized_name(struct buf *out, const char *prefix, const char *name);

#endif
