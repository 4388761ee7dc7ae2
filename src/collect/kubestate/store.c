/* The metrics store: per kind a chained hash of rendered objects keyed by
 * "namespace/name" (or "name" for cluster-scoped kinds).
 *
 * An object is one allocation:
 *   struct ks_obj | off[nfamilies + 1] | key | text
 * off[] is uint16_t when the text is shorter than 64 KiB (nearly every
 * object: 94 bytes less per pod), else uint32_t (ks_obj.wide).
 * text = the object's escaped default labels (0..off[0]) followed by one
 * segment per family: off[i]..off[i+1] is family i's lines, each stored
 * without its "name{default-labels" prefix (ks_render_object) and coded
 * (textcode.h: label names and "\"} " as one or two bytes, a third less
 * memory). A scrape writes all objects' lines of one family contiguously,
 * putting the prefix back and decoding, without re-rendering anything.
 *
 * Most segments are the same bytes in many objects (every running pod's
 * kube_pod_status_phase, its tolerations, its containers' status lines):
 * a coded segment of at least KS_SHARE_MIN bytes is kept once in the
 * store's segment pool (struct ks_seg, refcounted) and the object's text
 * holds a pointer to it in its place (bit i of ks_obj.shared). A family
 * whose segments are seldom shared (container info with its container
 * ids) stops being pooled after KS_SHARE_PROBE tries. */
#include "collect/kubestate/ks_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/hash.h"
#include "collect/kubestate/textcode.h"

struct ks_obj {
	struct ks_obj *next;
	uint64_t shared;  /* bit i: family i's segment is a struct ks_seg * */
	uint32_t hash;
	uint32_t keylen;  /* bytes of key, without NUL */
	uint32_t nslen;   /* bytes of the namespace prefix of key (0: none) */
	uint32_t textlen;
	bool wide;        /* off[] entries are uint32_t, not uint16_t */
	/* KS_SRC_* bits: the watches that hold the object (written under the
	 * write lock, read under a lock; a pod delivered by two watches, e.g.
	 * while it is being scheduled, stays until the last one deletes it). */
	uint8_t srcs;
	/* References: 1 for the table while the object is stored, +1 per
	 * streaming cursor whose snapshot holds it (ks_cursor). An object is
	 * immutable once stored, so a snapshot needs no lock to read it. */
	atomic_uint refs;
	/* followed by off[], key (NUL-terminated), text */
};

/* A pooled segment: its coded bytes follow. refs and the chain are under
 * the pool's lock; the bytes are immutable. */
struct ks_seg {
	struct ks_seg *next;
	uint32_t hash;
	uint32_t len;
	uint32_t refs;
};

/* Segments shared by objects. Referenced by the store and by every
 * snapshot (a cursor may outlive the store, its objects still point here). */
struct ks_seg_pool {
	pthread_mutex_t lock;
	struct ks_seg **buckets;
	size_t nbuckets; /* power of two, or 0 */
	size_t count;
	size_t bytes;
	unsigned refs;
	/* Per kind and family (first 64): lookups and hits, to stop pooling a
	 * family whose segments are unique (under lock). */
	uint32_t tries[KS_KIND_COUNT][64], hits[KS_KIND_COUNT][64];
};

/* Coded segments shorter than this stay in the object (a pointer is 8). */
#define KS_SHARE_MIN 24
/* After this many tries a family with under 1/8 hits is no longer pooled. */
#define KS_SHARE_PROBE 512

struct ks_table {
	struct ks_obj **buckets;
	size_t nbuckets; /* power of two, or 0 before the first insert */
	size_t count;
	size_t bytes;
};

struct ks_store {
	pthread_rwlock_t lock;
	struct ks_table t[KS_KIND_COUNT];
	struct ks_tc_dict dict; /* label names of the coded segments */
	struct ks_seg_pool *pool;
	/* Totals over every upsert (any thread). */
	_Atomic uint64_t drops_value_length, drops_label_count, drops_bad_quantity, render_errors;
};

/* Output cap for one rendered object, as in ks_render_object(). */
#define KS_RENDER_CAP (16u << 20)

/* How far ahead (in objects) the family loop prefetches: the offsets of
 * object i + 2 * KS_PREFETCH, the text of object i + KS_PREFETCH (whose
 * offsets arrived meanwhile). A family pass touches every object of the
 * kind, 100k pods spread over a 270 MB store: without it each object costs
 * two or three serial cache and TLB misses (perf: 90% of the loop's samples
 * on the load of off[]; two thirds of a 100k-pod scrape). */
#define KS_PREFETCH 8

static const unsigned char *obj_off(const struct ks_obj *o)
{
	return (const unsigned char *)(o + 1);
}

static size_t off_width(const struct ks_obj *o)
{
	return o->wide ? sizeof(uint32_t) : sizeof(uint16_t);
}

/* off[i]: where family i's segment starts in the text (off[0]: the
 * length of the default labels; off[nfamilies]: the text's end). */
static uint32_t off_at(const struct ks_obj *o, size_t i)
{
	if (o->wide) {
		uint32_t v;
		memcpy(&v, obj_off(o) + i * sizeof(v), sizeof(v));
		return v;
	} else {
		uint16_t v;
		memcpy(&v, obj_off(o) + i * sizeof(v), sizeof(v));
		return v;
	}
}

static size_t obj_nfam(enum ks_kind kind)
{
	return *ks_kinds[kind].nfamilies;
}

static char *obj_key(struct ks_obj *o, enum ks_kind kind)
{
	return (char *)(o + 1) + off_width(o) * (obj_nfam(kind) + 1);
}

static char *obj_text(struct ks_obj *o, enum ks_kind kind)
{
	return obj_key(o, kind) + o->keylen + 1;
}

static size_t obj_size(const struct ks_obj *o, enum ks_kind kind)
{
	return sizeof(*o) + off_width(o) * (obj_nfam(kind) + 1) + o->keylen + 1 + o->textlen;
}

static struct ks_seg *seg_of(struct ks_obj *o, enum ks_kind kind, size_t family)
{
	struct ks_seg *g;

	memcpy(&g, obj_text(o, kind) + off_at(o, family), sizeof(g));
	return g;
}

static const char *seg_bytes(const struct ks_seg *g)
{
	return (const char *)(g + 1);
}

static struct ks_seg_pool *pool_new(void)
{
	struct ks_seg_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	if (pthread_mutex_init(&p->lock, NULL)) {
		free(p);
		return NULL;
	}
	p->refs = 1;
	return p;
}

static void pool_ref(struct ks_seg_pool *p)
{
	pthread_mutex_lock(&p->lock);
	p->refs++;
	pthread_mutex_unlock(&p->lock);
}

static void pool_unref(struct ks_seg_pool *p)
{
	unsigned left;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	left = --p->refs;
	pthread_mutex_unlock(&p->lock);
	if (left)
		return;
	/* Every object has released its segments by now: the chains are
	 * empty unless an object leaked. */
	for (size_t i = 0; i < p->nbuckets; i++) {
		struct ks_seg *g = p->buckets[i];
		while (g) {
			struct ks_seg *next = g->next;
			free(g);
			g = next;
		}
	}
	free(p->buckets);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* Drops one reference of g; called with p->lock held. */
static void seg_put(struct ks_seg_pool *p, struct ks_seg *g)
{
	struct ks_seg **pp;

	if (--g->refs)
		return;
	for (pp = &p->buckets[g->hash & (p->nbuckets - 1)]; *pp; pp = &(*pp)->next) {
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	}
	p->count--;
	p->bytes -= sizeof(*g) + g->len;
	free(g);
}

static int pool_grow(struct ks_seg_pool *p)
{
	size_t nb = p->nbuckets ? p->nbuckets * 2 : 256;
	struct ks_seg **b = calloc(nb, sizeof(*b));

	if (!b)
		return KM_ENOMEM;
	for (size_t i = 0; i < p->nbuckets; i++) {
		struct ks_seg *g = p->buckets[i];
		while (g) {
			struct ks_seg *next = g->next;
			g->next = b[g->hash & (nb - 1)];
			b[g->hash & (nb - 1)] = g;
			g = next;
		}
	}
	free(p->buckets);
	p->buckets = b;
	p->nbuckets = nb;
	return 0;
}

/* The pooled segment with bytes data[0..len), referenced once more (added
 * if new); NULL when the family is not pooled or memory ran out (the
 * caller then keeps the bytes in the object). Called with p->lock held. */
static struct ks_seg *seg_get(struct ks_seg_pool *p, enum ks_kind kind, size_t family,
			      const char *data, size_t len)
{
	uint32_t h = hash32(data, len);
	struct ks_seg *g;

	if (p->tries[kind][family] >= KS_SHARE_PROBE &&
	    p->hits[kind][family] < p->tries[kind][family] / 8)
		return NULL;
	if (p->tries[kind][family] < UINT32_MAX / 2)
		p->tries[kind][family]++;
	if (p->nbuckets) {
		for (g = p->buckets[h & (p->nbuckets - 1)]; g; g = g->next) {
			if (g->hash == h && g->len == len && memcmp(seg_bytes(g), data, len) == 0) {
				g->refs++;
				if (p->hits[kind][family] < UINT32_MAX / 2)
					p->hits[kind][family]++;
				return g;
			}
		}
	}
	if (p->count + 1 > p->nbuckets && pool_grow(p))
		return NULL;
	g = malloc(sizeof(*g) + len);
	if (!g)
		return NULL;
	g->hash = h;
	g->len = (uint32_t)len;
	g->refs = 1;
	memcpy(g + 1, data, len);
	g->next = p->buckets[h & (p->nbuckets - 1)];
	p->buckets[h & (p->nbuckets - 1)] = g;
	p->count++;
	p->bytes += sizeof(*g) + len;
	return g;
}

/* Drops one reference; the last one releases the object's pooled
 * segments in p (the pool of the store it was made by) and frees it. */
static void obj_unref(struct ks_obj *o, enum ks_kind kind, struct ks_seg_pool *p)
{
	if (!o || atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (o->shared) {
		pthread_mutex_lock(&p->lock);
		for (size_t i = 0; i < 64; i++)
			if (o->shared >> i & 1)
				seg_put(p, seg_of(o, kind, i));
		pthread_mutex_unlock(&p->lock);
	}
	free(o);
}

/* glibc's default rwlock prefers readers: while scrapes overlap (each
 * render holds the read lock for its whole duration) a waiting writer never
 * gets in, and watch events pile up behind continuous scrapes
 * (BENCHMARKS.md "kube-state store: updates under scrapes"). Preferring
 * writers lets an update in as soon as the renders in progress finish. The
 * non-recursive kind deadlocks a thread that takes the read lock twice: no
 * function here does (none calls another that locks). */
static int lock_init(pthread_rwlock_t *l)
{
	pthread_rwlockattr_t a;
	int rc;

	if (pthread_rwlockattr_init(&a))
		return -1;
	rc = pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	if (!rc)
		rc = pthread_rwlock_init(l, &a);
	pthread_rwlockattr_destroy(&a);
	return rc ? -1 : 0;
}

struct ks_store *ks_store_new(void)
{
	struct ks_store *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (lock_init(&s->lock)) {
		free(s);
		return NULL;
	}
	if (ks_tc_dict_init(&s->dict)) {
		pthread_rwlock_destroy(&s->lock);
		free(s);
		return NULL;
	}
	s->pool = pool_new();
	if (!s->pool) {
		ks_tc_dict_fini(&s->dict);
		pthread_rwlock_destroy(&s->lock);
		free(s);
		return NULL;
	}
	return s;
}

static void table_clear(struct ks_table *t, enum ks_kind kind, struct ks_seg_pool *p)
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct ks_obj *o = t->buckets[i];
		while (o) {
			struct ks_obj *next = o->next;
			obj_unref(o, kind, p);
			o = next;
		}
		t->buckets[i] = NULL;
	}
	t->count = 0;
	t->bytes = 0;
}

void ks_store_free(struct ks_store *s)
{
	if (!s)
		return;
	for (int k = 0; k < KS_KIND_COUNT; k++) {
		table_clear(&s->t[k], (enum ks_kind)k, s->pool);
		free(s->t[k].buckets);
	}
	pthread_rwlock_destroy(&s->lock);
	ks_tc_dict_fini(&s->dict);
	pool_unref(s->pool);
	free(s);
}

/* Builds "ns/name" (or "name") into b; returns 0 or an error. */
static int make_key(struct buf *b, enum ks_kind kind, const char *ns, const char *name,
		    size_t *nslen)
{
	int rc = 0;

	*nslen = 0;
	if (ks_kind_namespaced(kind)) {
		if (!ns || !*ns)
			return KM_EINVAL;
		rc = buf_adds(b, ns);
		if (!rc)
			rc = buf_addc(b, '/');
		*nslen = strlen(ns);
	}
	if (!rc)
		rc = buf_adds(b, name);
	return rc;
}

static struct ks_obj **find_slot(struct ks_table *t, enum ks_kind kind, const char *key,
				 size_t keylen, uint32_t h)
{
	struct ks_obj **pp;

	if (!t->nbuckets)
		return NULL;
	for (pp = &t->buckets[h & (t->nbuckets - 1)]; *pp; pp = &(*pp)->next) {
		if ((*pp)->hash == h && (*pp)->keylen == keylen &&
		    memcmp(obj_key(*pp, kind), key, keylen) == 0)
			return pp;
	}
	return pp;
}

static int grow(struct ks_table *t)
{
	size_t nb = t->nbuckets ? t->nbuckets * 2 : 64;
	struct ks_obj **b = calloc(nb, sizeof(*b));

	if (!b)
		return KM_ENOMEM;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct ks_obj *o = t->buckets[i];
		while (o) {
			struct ks_obj *next = o->next;
			o->next = b[o->hash & (nb - 1)];
			b[o->hash & (nb - 1)] = o;
			o = next;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = nb;
	return 0;
}

/* Releases the pooled segments of a coded text (off[] into it). */
static void release_shared(struct ks_seg_pool *p, const char *text, const uint32_t *off,
			   uint64_t shared)
{
	if (!shared)
		return;
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < 64; i++) {
		if (shared >> i & 1) {
			struct ks_seg *g;
			memcpy(&g, text + off[i], sizeof(g));
			seg_put(p, g);
		}
	}
	pthread_mutex_unlock(&p->lock);
}

/* Codes each family segment of text into out (the default labels, the
 * prefix of every line, stay plain), pooling the long ones (*shared gets
 * their bits; the caller owns those references), and moves off[] to out. */
static int encode_segments(struct ks_store *s, enum ks_kind kind, const struct buf *text,
			   uint32_t *off, size_t nfam, struct buf *out, uint64_t *shared)
{
	uint32_t from = off[0];
	struct buf seg;
	int rc = buf_add(out, text->data ? text->data : "", off[0]);

	*shared = 0;
	buf_init(&seg, 2 * KS_RENDER_CAP);
	for (size_t i = 0; i < nfam && !rc; i++) {
		uint32_t to = off[i + 1];
		struct ks_seg *g = NULL;
		off[i] = (uint32_t)out->len;
		if (to > from) {
			buf_reset(&seg);
			rc = ks_tc_encode(&s->dict, text->data + from, to - from, &seg);
			if (rc)
				break;
			if (i < 64 && seg.len >= KS_SHARE_MIN) {
				pthread_mutex_lock(&s->pool->lock);
				g = seg_get(s->pool, kind, i, seg.data, seg.len);
				pthread_mutex_unlock(&s->pool->lock);
			}
			if (g) {
				rc = buf_add(out, &g, sizeof(g));
				if (rc) {
					pthread_mutex_lock(&s->pool->lock);
					seg_put(s->pool, g);
					pthread_mutex_unlock(&s->pool->lock);
				} else {
					*shared |= 1ull << i;
				}
			} else {
				rc = buf_add(out, seg.data, seg.len);
			}
		}
		from = to;
	}
	off[nfam] = (uint32_t)out->len;
	buf_fini(&seg);
	if (rc) {
		release_shared(s->pool, out->data, off, *shared);
		*shared = 0;
	}
	return rc;
}

int ks_store_upsert(struct ks_store *s, enum ks_kind kind, const json_t *obj,
		    const struct ks_opts *opts)
{
	return ks_store_upsert_src(s, kind, obj, opts, KS_SRC_LEADER);
}

int ks_store_upsert_src(struct ks_store *s, enum ks_kind kind, const json_t *obj,
			const struct ks_opts *opts, unsigned src)
{
	size_t nfam, nslen, size;
	struct buf key, text, coded;
	uint64_t shared = 0;
	bool wide;
	uint32_t *off = NULL;
	struct ks_obj *o = NULL, **pp;
	struct ks_label_drops drops = { 0 };
	struct ks_table *t;
	int rc;

	if (!s || kind >= KS_KIND_COUNT || !json_is_object(obj))
		return KM_EINVAL;
	nfam = obj_nfam(kind);
	buf_init(&key, 4096);
	buf_init(&text, KS_RENDER_CAP);
	buf_init(&coded, 2 * KS_RENDER_CAP);
	rc = make_key(&key, kind, ks_str(obj, "metadata.namespace"), ks_str(obj, "metadata.name"),
		      &nslen);
	if (rc)
		goto out;
	off = calloc(nfam + 1, sizeof(*off));
	if (!off) {
		rc = KM_ENOMEM;
		goto out;
	}
	/* Rendering is done before taking the lock: scrapes are not blocked
	 * by JSON walking, only by the pointer swap below. */
	rc = ks_render_object(kind, obj, opts, &text, off, &drops);
	atomic_fetch_add(&s->drops_value_length, drops.value_length);
	atomic_fetch_add(&s->drops_label_count, drops.label_count);
	atomic_fetch_add(&s->drops_bad_quantity, drops.bad_quantity);
	if (rc) {
		atomic_fetch_add(&s->render_errors, 1);
		goto out;
	}
	rc = encode_segments(s, kind, &text, off, nfam, &coded, &shared);
	if (rc)
		goto out;
	wide = coded.len > UINT16_MAX;
	size = sizeof(*o) + (wide ? sizeof(uint32_t) : sizeof(uint16_t)) * (nfam + 1) + key.len +
	       1 + coded.len;
	o = malloc(size);
	if (!o) {
		release_shared(s->pool, coded.data, off, shared);
		rc = KM_ENOMEM;
		goto out;
	}
	o->next = NULL;
	o->shared = shared;
	o->hash = hash32(buf_cstr(&key), key.len);
	o->keylen = (uint32_t)key.len;
	o->nslen = (uint32_t)nslen;
	o->textlen = (uint32_t)coded.len;
	o->wide = wide;
	o->srcs = (uint8_t)src;
	atomic_init(&o->refs, 1);
	for (size_t i = 0; i <= nfam; i++) {
		unsigned char *w = (unsigned char *)(o + 1);
		if (wide) {
			memcpy(w + i * sizeof(uint32_t), &off[i], sizeof(uint32_t));
		} else {
			uint16_t v = (uint16_t)off[i];
			memcpy(w + i * sizeof(v), &v, sizeof(v));
		}
	}
	memcpy(obj_key(o, kind), buf_cstr(&key), key.len + 1);
	if (coded.len)
		memcpy(obj_text(o, kind), coded.data, coded.len);

	t = &s->t[kind];
	pthread_rwlock_wrlock(&s->lock);
	if (t->count + 1 > t->nbuckets) {
		rc = grow(t);
		if (rc) {
			pthread_rwlock_unlock(&s->lock);
			goto out;
		}
	}
	pp = find_slot(t, kind, obj_key(o, kind), o->keylen, o->hash);
	if (*pp) {
		struct ks_obj *old = *pp;
		o->next = old->next;
		o->srcs |= old->srcs;
		t->bytes -= obj_size(old, kind);
		t->count--;
		*pp = o;
		obj_unref(old, kind, s->pool);
	} else {
		*pp = o;
	}
	t->count++;
	t->bytes += size;
	o = NULL;
	pthread_rwlock_unlock(&s->lock);
out:
	obj_unref(o, kind, s->pool);
	free(off);
	buf_fini(&key);
	buf_fini(&text);
	buf_fini(&coded);
	return rc;
}

int ks_store_delete(struct ks_store *s, enum ks_kind kind, const char *ns, const char *name)
{
	return ks_store_delete_src(s, kind, ns, name, KS_SRC_ALL);
}

int ks_store_delete_src(struct ks_store *s, enum ks_kind kind, const char *ns, const char *name,
			unsigned src)
{
	struct ks_obj **pp, *o = NULL;
	bool held = false;
	struct ks_table *t;
	struct buf key;
	size_t nslen;
	int rc;

	if (!s || kind >= KS_KIND_COUNT || !name)
		return KM_EINVAL;
	buf_init(&key, 4096);
	rc = make_key(&key, kind, ns, name, &nslen);
	if (rc)
		goto out;
	t = &s->t[kind];
	pthread_rwlock_wrlock(&s->lock);
	pp = find_slot(t, kind, buf_cstr(&key), key.len, hash32(buf_cstr(&key), key.len));
	if (pp && *pp && ((*pp)->srcs & ~src)) {
		(*pp)->srcs &= (uint8_t)~src; /* another watch still holds it */
		held = true;
	} else if (pp && *pp) {
		o = *pp;
		*pp = o->next;
		t->count--;
		t->bytes -= obj_size(o, kind);
	}
	pthread_rwlock_unlock(&s->lock);
	rc = o || held ? 0 : KM_ENOENT;
	obj_unref(o, kind, s->pool);
out:
	buf_fini(&key);
	return rc;
}

int ks_store_clear_kind(struct ks_store *s, enum ks_kind kind)
{
	if (!s || kind >= KS_KIND_COUNT)
		return KM_EINVAL;
	pthread_rwlock_wrlock(&s->lock);
	table_clear(&s->t[kind], kind, s->pool);
	pthread_rwlock_unlock(&s->lock);
	return 0;
}

int ks_store_clear_src(struct ks_store *s, enum ks_kind kind, unsigned src)
{
	struct ks_table *t;

	if (!s || kind >= KS_KIND_COUNT)
		return KM_EINVAL;
	t = &s->t[kind];
	pthread_rwlock_wrlock(&s->lock);
	for (size_t b = 0; b < t->nbuckets; b++) {
		struct ks_obj **pp = &t->buckets[b];

		while (*pp) {
			struct ks_obj *o = *pp;

			o->srcs &= (uint8_t)~src;
			if (o->srcs) {
				pp = &o->next;
				continue;
			}
			*pp = o->next;
			t->count--;
			t->bytes -= obj_size(o, kind);
			obj_unref(o, kind, s->pool);
		}
	}
	pthread_rwlock_unlock(&s->lock);
	return 0;
}

size_t ks_store_count_src(struct ks_store *s, enum ks_kind kind, unsigned srcs)
{
	struct ks_table *t;
	size_t n = 0;

	if (!s || kind >= KS_KIND_COUNT)
		return 0;
	t = &s->t[kind];
	pthread_rwlock_rdlock(&s->lock);
	for (size_t b = 0; b < t->nbuckets; b++)
		for (struct ks_obj *o = t->buckets[b]; o; o = o->next)
			n += (o->srcs & srcs) != 0;
	pthread_rwlock_unlock(&s->lock);
	return n;
}

size_t ks_store_count(struct ks_store *s, enum ks_kind kind)
{
	size_t n;

	if (!s || kind >= KS_KIND_COUNT)
		return 0;
	pthread_rwlock_rdlock(&s->lock);
	n = s->t[kind].count;
	pthread_rwlock_unlock(&s->lock);
	return n;
}

void ks_store_label_drops(struct ks_store *s, struct ks_label_drops *out)
{
	out->value_length = atomic_load(&s->drops_value_length);
	out->label_count = atomic_load(&s->drops_label_count);
	out->bad_quantity = atomic_load(&s->drops_bad_quantity);
}

uint64_t ks_store_render_errors(struct ks_store *s)
{
	return atomic_load(&s->render_errors);
}

size_t ks_store_bytes(struct ks_store *s)
{
	size_t n = 0;

	pthread_rwlock_rdlock(&s->lock);
	for (int k = 0; k < KS_KIND_COUNT; k++)
		n += s->t[k].bytes;
	pthread_rwlock_unlock(&s->lock);
	pthread_mutex_lock(&s->pool->lock);
	n += s->pool->bytes;
	pthread_mutex_unlock(&s->pool->lock);
	return n;
}

static bool in_list(const char *const *list, size_t n, const char *s, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(list[i]) == len && memcmp(list[i], s, len) == 0)
			return true;
	return false;
}

static bool visible(const struct ks_filter *f, enum ks_kind kind, struct ks_obj *o)
{
	const char *ns;
	size_t len;

	/* Cluster-scoped kinds, Namespace included, are not filtered: KSM's
	 * --namespaces / --namespaces-denylist select where namespaced objects
	 * are listed, and kube_namespace_* keeps every namespace. */
	if (f && f->srcs && !(o->srcs & f->srcs))
		return false;
	if (!f || !ks_kind_namespaced(kind))
		return true;
	ns = obj_key(o, kind);
	len = o->nslen;
	if (f->nnamespaces && !in_list(f->namespaces, f->nnamespaces, ns, len))
		return false;
	return !in_list(f->exclude_namespaces, f->nexclude_namespaces, ns, len);
}

static bool family_enabled(const struct ks_filter *f, const char *name)
{
	size_t n = strlen(name);

	if (!f)
		return true;
	if (f->metric_allow && !rx_match(f->metric_allow, name, n))
		return false;
	return !(f->metric_deny && rx_match(f->metric_deny, name, n));
}

/* Where family i's coded lines of o are: in the object or in the pool. */
static const char *segment(struct ks_obj *o, uint64_t shared, const char *text, size_t family,
			   size_t *len)
{
	uint32_t from = off_at(o, family);
	struct ks_seg *g;

	if (family >= 64 || !(shared >> family & 1)) {
		*len = off_at(o, family + 1) - from;
		return text + from;
	}
	memcpy(&g, text + from, sizeof(g));
	*len = g->len;
	return seg_bytes(g);
}

/* Segments whose worst-case expansion stays below this are reserved for in
 * one step up front. */
#define KS_SEGMENT_RESERVE_MAX (256u << 10)

/* Appends seg[0..len) (whole coded lines) decoded, with "name{" and the
 * default labels text[0..baselen) in front of each line. This loop is the
 * whole cost of a scrape. */
static int write_segment(struct buf *out, const struct ks_tc_names *nm, const char *name,
			 const char *text, uint32_t baselen, const char *seg, size_t len)
{
	size_t namelen = strlen(name), per = namelen + 1 + baselen;
	size_t need = 2 * len + len / 4 * per, pos;
	const char *p = seg, *end = seg + len;
	int rc;

	if (len == 0)
		return 0;
	/* A coded line decodes to about 1.5 times its bytes and is at least
	 * "} 1\n": reserving for that up front spares most growth checks
	 * failing below. Each line still checks its room (its worst case
	 * first, its exact decoded length when that does not fit), so memory
	 * safety does not rest on this estimate. */
	if (need <= KS_SEGMENT_RESERVE_MAX) {
		rc = buf_reserve(out, need);
		if (rc && rc != KM_ETOOBIG)
			return rc;
	}
	pos = out->len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		char *w;
		if (out->alloc - pos <= per + n * KS_TC_EXPAND_MAX) {
			size_t exact = per + ks_tc_decoded_len(nm, p, n);
			if (out->alloc - pos <= exact) {
				out->len = pos;
				rc = buf_reserve(out, exact);
				if (rc)
					return rc;
			}
		}
		w = out->data + pos;
		memcpy(w, name, namelen);
		w += namelen;
		*w++ = '{';
		memcpy(w, text, baselen);
		w += baselen;
		pos += per + ks_tc_decode(nm, p, n, w);
		p += n;
	}
	out->len = pos;
	out->data[pos] = '\0';
	return 0;
}

static int write_kind(struct ks_store *s, enum ks_kind kind, const struct ks_filter *f,
		      struct buf *out)
{
	const struct ks_kind_def *d = &ks_kinds[kind];
	struct ks_table *t = &s->t[kind];
	bool any = false;
	int rc = 0;

	for (size_t b = 0; b < t->nbuckets && !any; b++)
		for (struct ks_obj *o = t->buckets[b]; o && !any; o = o->next)
			any = visible(f, kind, o);
	if (!any)
		return 0;
	for (size_t i = 0; i < *d->nfamilies && !rc; i++) {
		const struct ks_family *fam = &d->families[i];
		if (!family_enabled(f, fam->name))
			continue;
		rc = expo_family(out, fam->name, fam->help, fam->type);
		for (size_t b = 0; b < t->nbuckets && !rc; b++) {
			for (struct ks_obj *o = t->buckets[b]; o && !rc; o = o->next) {
				const char *seg;
				size_t len;
				if (off_at(o, i + 1) <= off_at(o, i) || !visible(f, kind, o))
					continue;
				seg = segment(o, o->shared, obj_text(o, kind), i, &len);
				rc = write_segment(out, &s->dict.names, fam->name,
						   obj_text(o, kind), off_at(o, 0), seg, len);
			}
		}
	}
	return rc;
}

int ks_store_write(struct ks_store *s, const struct ks_filter *f, struct buf *out)
{
	size_t mark = out->len;
	int rc = 0;

	if (!s)
		return KM_EINVAL;
	pthread_rwlock_rdlock(&s->lock);
	for (int k = 0; k < KS_KIND_COUNT && !rc; k++) {
		if (f && f->kinds && !(f->kinds & KS_KIND_BIT(k)))
			continue;
		rc = write_kind(s, (enum ks_kind)k, f, out);
	}
	pthread_rwlock_unlock(&s->lock);
	if (rc)
		buf_truncate(out, mark);
	return rc;
}

/* --- streaming: a snapshot cursor ------------------------------------------
 * The first ks_store_write_next() call takes the read lock once, collects a
 * pointer to every visible object of the selected kinds (in the same
 * bucket order ks_store_write walks) and takes a reference on each; the lock
 * is released before anything is written. Later blocks read only the
 * snapshot, so they need no lock: objects are immutable once stored, and a
 * concurrent replace or delete only drops the table's reference. */

/* A pinned object with what every family pass needs from its first cache
 * line, so that a pass touches only the object's off[family] and its text. */
struct ks_snap_obj {
	struct ks_obj *o;
	const char *text;
	uint64_t shared;  /* o->shared */
	uint32_t baselen; /* off[0]: length of the default labels */
};

struct ks_snap {
	struct ks_snap_obj *objs;
	size_t start[KS_KIND_COUNT + 1]; /* kind k: objs[start[k]..start[k+1]) */
	/* Bit i: some object of the kind has lines in family i (families past
	 * 63 are always walked). Many families are empty for every object of a
	 * cluster (19 of 45 for the benchmark's pods: init containers,
	 * terminated reasons, labels without an allowlist); a family pass over
	 * 100k objects only to find nothing costs as much as one that writes. */
	uint64_t used[KS_KIND_COUNT];
	/* The store's code names when the snapshot was taken: every pinned
	 * object was coded with these, and the cursor may outlive the store. */
	struct ks_tc_names names;
	struct ks_seg_pool *pool; /* referenced: pinned objects point into it */
};

/* Marks the families in which o has lines. */
static uint64_t families_used(struct ks_obj *o, enum ks_kind kind)
{
	size_t nfam = obj_nfam(kind);
	uint64_t used = 0;

	for (size_t i = 0; i < nfam && i < 64; i++)
		if (off_at(o, i + 1) > off_at(o, i))
			used |= 1ull << i;
	return used;
}

static bool family_used(const struct ks_snap *sn, enum ks_kind kind, size_t family)
{
	return family >= 64 || (sn->used[kind] >> family & 1);
}

void ks_cursor_init(struct ks_cursor *c)
{
	memset(c, 0, sizeof(*c));
}

void ks_cursor_fini(struct ks_cursor *c)
{
	struct ks_snap *sn = c->snap;

	if (sn) {
		size_t n = sn->start[KS_KIND_COUNT];
		for (int k = 0; k < KS_KIND_COUNT; k++) {
			for (size_t i = sn->start[k]; i < sn->start[k + 1]; i++) {
				/* Each unref is a cache miss on a cold object:
				 * overlap them. */
				if (i + KS_PREFETCH < n)
					__builtin_prefetch(sn->objs[i + KS_PREFETCH].o, 1);
				obj_unref(sn->objs[i].o, (enum ks_kind)k, sn->pool);
			}
		}
		pool_unref(sn->pool);
		free(sn->objs);
		free(sn);
	}
	c->snap = NULL;
	c->done = true;
}

static int snapshot(struct ks_store *s, const struct ks_filter *f, struct ks_cursor *c)
{
	struct ks_snap *sn = calloc(1, sizeof(*sn));
	size_t total = 0, n = 0;

	if (!sn)
		return KM_ENOMEM;
	pthread_rwlock_rdlock(&s->lock);
	for (int k = 0; k < KS_KIND_COUNT; k++)
		if (!f || !f->kinds || (f->kinds & KS_KIND_BIT(k)))
			total += s->t[k].count;
	sn->objs = total ? malloc(total * sizeof(*sn->objs)) : NULL;
	if (total && !sn->objs) {
		pthread_rwlock_unlock(&s->lock);
		free(sn);
		return KM_ENOMEM;
	}
	for (int k = 0; k < KS_KIND_COUNT; k++) {
		struct ks_table *t = &s->t[k];
		sn->start[k] = n;
		if (f && f->kinds && !(f->kinds & KS_KIND_BIT(k)))
			continue;
		for (size_t b = 0; b < t->nbuckets; b++) {
			/* Chains are about one object long: fetching the heads
			 * of the next buckets overlaps most of the misses. */
			if (b + KS_PREFETCH < t->nbuckets && t->buckets[b + KS_PREFETCH])
				__builtin_prefetch(t->buckets[b + KS_PREFETCH], 1);
			for (struct ks_obj *o = t->buckets[b]; o; o = o->next) {
				if (!visible(f, (enum ks_kind)k, o))
					continue;
				atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
				sn->used[k] |= families_used(o, (enum ks_kind)k);
				sn->objs[n++] = (struct ks_snap_obj){ o, obj_text(o, (enum ks_kind)k),
								      o->shared, off_at(o, 0) };
			}
		}
	}
	sn->start[KS_KIND_COUNT] = n;
	ks_tc_names_copy(&s->dict, &sn->names);
	pool_ref(s->pool);
	sn->pool = s->pool;
	pthread_rwlock_unlock(&s->lock);
	c->snap = sn;
	return 0;
}

/* always_inline: GCC finds a function made only of prefetches "pure" and
 * drops the call when it is not inlined early (it was not, at -O2). */
static inline __attribute__((always_inline)) void
prefetch_ahead(const struct ks_snap_obj *objs, size_t n, size_t i, size_t family)
{
	if (i + 2 * KS_PREFETCH < n)
		__builtin_prefetch(obj_off(objs[i + 2 * KS_PREFETCH].o) +
				   family * sizeof(uint16_t));
	if (i + KS_PREFETCH < n) {
		const struct ks_snap_obj *e = &objs[i + KS_PREFETCH];
		uint32_t from = off_at(e->o, family);
		if (off_at(e->o, family + 1) > from) {
			__builtin_prefetch(e->text);
			__builtin_prefetch(e->text + from);
		}
	}
}

int ks_store_write_next(struct ks_store *s, struct ks_cursor *c, const struct ks_filter *f,
			struct buf *out, size_t budget)
{
	size_t mark = out->len;
	struct ks_snap *sn;
	int rc = 0;

	if (!s || !c)
		return KM_EINVAL;
	if (c->done)
		return KS_WRITE_DONE;
	if (!c->snap) {
		rc = snapshot(s, f, c);
		if (rc) {
			c->done = true;
			return rc;
		}
	}
	sn = c->snap;
	if (budget == 0)
		budget = 1; /* progress: at least one non-empty item per call */
	while (c->kind < KS_KIND_COUNT) {
		const struct ks_kind_def *d = &ks_kinds[c->kind];
		enum ks_kind kind = (enum ks_kind)c->kind;
		size_t from = sn->start[c->kind], n = sn->start[c->kind + 1] - from;
		const struct ks_family *fam;

		if (n == 0 || c->family >= *d->nfamilies) {
			c->kind++;
			c->family = 0;
			c->index = 0;
			c->header = false;
			continue;
		}
		fam = &d->families[c->family];
		if (!c->header && !family_enabled(f, fam->name)) {
			c->family++;
			continue;
		}
		if (!c->header) {
			if (out->len - mark >= budget)
				return KS_WRITE_MORE;
			rc = expo_family(out, fam->name, fam->help, fam->type);
			if (rc)
				goto fail;
			c->header = true;
		}
		if (!family_used(sn, kind, c->family))
			c->index = n; /* HELP/TYPE only, as for a family without series */
		for (; c->index < n; c->index++) {
			const struct ks_snap_obj *e = &sn->objs[from + c->index];
			const char *seg;
			size_t len;
			prefetch_ahead(sn->objs + from, n, c->index, c->family);
			if (off_at(e->o, c->family + 1) <= off_at(e->o, c->family))
				continue;
			if (out->len - mark >= budget)
				return KS_WRITE_MORE;
			seg = segment(e->o, e->shared, e->text, c->family, &len);
			rc = write_segment(out, &sn->names, fam->name, e->text, e->baselen, seg,
					   len);
			if (rc)
				goto fail;
		}
		c->family++;
		c->index = 0;
		c->header = false;
	}
	ks_cursor_fini(c);
	return KS_WRITE_DONE;
fail:
	buf_truncate(out, mark);
	ks_cursor_fini(c);
	return rc;
}
