/* Label sets: the identity of a series (name/value pairs kept sorted by name).
 *
 * A struct labels is embedded by its owner (labels_init/labels_fini) and owns
 * all its memory: the pair table and one arena holding every name and value,
 * each NUL-terminated. Both are capped: at most max_labels pairs, names up to
 * LABELS_NAME_MAX bytes, values up to LABELS_VALUE_MAX bytes, and the arena up
 * to max_labels * (LABELS_NAME_MAX + LABELS_VALUE_MAX) bytes. Going past a cap
 * fails with KM_ETOOBIG and leaves the set unchanged.
 *
 * Semantics follow Prometheus' labels.Builder: a label whose value is empty
 * does not exist, so labels_set() with an empty value deletes the label.
 * Names are not validated here (relabeling may use any name transiently);
 * label_name_valid() and metric_name_valid() check the 0.0.4 syntax.
 *
 * Strings returned by labels_get()/labels_at() are borrowed and stay valid
 * until the next modification of the set. A set is not thread-safe; a set
 * that is no longer modified may be read from several threads. */
#ifndef K8SMON_SCRAPE_LABELS_H
#define K8SMON_SCRAPE_LABELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "expo/writer.h"

#define LABELS_MAX_DEFAULT 64   /* pairs per set unless labels_init says otherwise */
#define LABELS_NAME_MAX 1024    /* bytes in a label name */
#define LABELS_VALUE_MAX 4096   /* bytes in a label value */

/* One pair as stored: offsets into the arena (offsets, not pointers, so the
 * arena can grow). Private to labels.c; use labels_at(). */
struct label_ent {
	uint32_t name_off, name_len;
	uint32_t value_off, value_len;
};

struct labels {
	struct label_ent *ents; /* owned, sorted by name, no duplicates */
	size_t n;               /* pairs in use */
	size_t alloc;           /* pairs allocated */
	size_t max;             /* cap on n */
	size_t garbage;         /* arena bytes no longer referenced (compacted lazily) */
	struct buf arena;       /* owned: "name\0value\0" strings */
};

/* A borrowed view of one pair; strings are NUL-terminated. */
struct label_ref {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/* Initialise an empty set holding at most max_labels pairs (0 means
 * LABELS_MAX_DEFAULT). No allocation. */
void labels_init(struct labels *l, size_t max_labels);
/* Free all memory; the set is left empty and reusable. */
void labels_fini(struct labels *l);
/* Remove every pair, keeping memory for reuse. */
void labels_reset(struct labels *l);

/* Set name to value (both copied). An empty value deletes the label (as
 * Prometheus' Builder.Set does). Errors: KM_EINVAL for an empty name,
 * KM_ETOOBIG for a name/value/count/arena cap, KM_ENOMEM. On error the set is
 * unchanged. */
int labels_set(struct labels *l, const char *name, const char *value);
int labels_setn(struct labels *l, const char *name, size_t name_len,
		const char *value, size_t value_len);
/* Delete name; 0 when it was present, KM_ENOENT when absent. */
int labels_del(struct labels *l, const char *name);
int labels_deln(struct labels *l, const char *name, size_t name_len);

/* Value of name (borrowed, NUL-terminated) or NULL when absent. */
const char *labels_get(const struct labels *l, const char *name);
const char *labels_getn(const struct labels *l, const char *name, size_t name_len,
			size_t *value_len);

size_t labels_count(const struct labels *l);
/* The i-th pair in name order (i < labels_count()). */
struct label_ref labels_at(const struct labels *l, size_t i);
/* Iteration: size_t it = 0; struct label_ref r; while (labels_next(l, &it, &r)) ...
 * Modifying the set during iteration is not allowed. */
bool labels_next(const struct labels *l, size_t *it, struct label_ref *out);

/* Replace dst's contents by a copy of src (dst keeps its own max; KM_ETOOBIG
 * when src has more pairs). On error dst is unchanged. */
int labels_copy(struct labels *dst, const struct labels *src);

/* 64-bit hash of the set (names and values with separators, so {a="bc"} and
 * {ab="c"} differ). Equal sets hash equally; stable within a process and
 * across runs (FNV-1a). */
uint64_t labels_hash(const struct labels *l);
/* Total order for series identity: compares pair by pair (name, then value,
 * bytewise), a shorter prefix first, as Prometheus' labels.Compare does.
 * Returns <0, 0, >0. */
int labels_cmp(const struct labels *a, const struct labels *b);
bool labels_equal(const struct labels *a, const struct labels *b);

/* Append {a="b",c="d"} with exposition escaping (expo_escape_label); nothing
 * at all for an empty set. KM_ETOOBIG/KM_ENOMEM from the buffer, in which
 * case the partial text is rolled back. */
int labels_render(const struct labels *l, struct buf *b);
/* Append name{labels} (or just name when the set is empty); same rules. */
int labels_render_series(const struct labels *l, const char *name, struct buf *b);

/* Borrowed array view for src/expo/writer.h: fills out[0..n) with pointers
 * into the set (valid until the next modification) and returns the count, at
 * most cap; pairs beyond cap are not written. */
size_t labels_to_expo(const struct labels *l, struct label_pair *out, size_t cap);

/* Syntax checks (0.0.4 / legacy Prometheus validation):
 * label names [a-zA-Z_][a-zA-Z0-9_]*, metric names [a-zA-Z_:][a-zA-Z0-9_:]*. */
bool label_name_valid(const char *s, size_t n);
bool metric_name_valid(const char *s, size_t n);

#endif
