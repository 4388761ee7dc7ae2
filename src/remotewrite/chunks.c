#include "remotewrite/chunks.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "remotewrite/snappy.h"

#define CHUNK_HDR 12
/* One scrape's chunks at most: the scrape's own output cap is far below. */
#define CHUNKS_CAP (1u << 30)
#define PACK_CAP (64u << 20)

static void put_u32(char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (char)(v >> (8 * i));
}

static uint32_t get_u32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;

	return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
}

static void scratch_init(struct rw_scratch *sc)
{
	buf_init(&sc->pb, RW_CHUNK_RAW + (1u << 20));
	buf_init(&sc->z, CHUNKS_CAP);
	buf_init(&sc->out, CHUNKS_CAP);
}

void rw_scratch_fini(struct rw_scratch *sc)
{
	buf_fini(&sc->pb);
	buf_fini(&sc->z);
	buf_fini(&sc->out);
}

void rw_chunker_init(struct rw_chunker *c)
{
	memset(c, 0, sizeof(*c));
	scratch_init(&c->sc);
}

void rw_chunker_fini(struct rw_chunker *c)
{
	rw_scratch_fini(&c->sc);
}

void rw_chunker_adopt(struct rw_chunker *c, struct rw_scratch *sc)
{
	rw_scratch_fini(&c->sc);
	c->sc = *sc;
	scratch_init(sc);
	rw_chunker_reset(c);
}

void rw_chunker_release(struct rw_chunker *c, struct rw_scratch *sc)
{
	rw_chunker_reset(c);
	*sc = c->sc;
	scratch_init(&c->sc);
}

void rw_chunker_reset(struct rw_chunker *c)
{
	buf_reset(&c->sc.pb);
	buf_reset(&c->sc.out);
	c->pb_series = 0;
	c->n = 0;
	c->series = 0;
}

/* The pending protobuf becomes one chunk at the end of out: compressed in
 * the scratch, then copied, so that out grows to the chunks' size instead
 * of by a worst-case reservation per chunk. */
static int close_chunk(struct rw_chunker *c)
{
	struct buf *pb = &c->sc.pb, *zb = &c->sc.z;
	size_t zlen;
	char hdr[CHUNK_HDR];
	int rc;

	if (!c->pb_series)
		return 0;
	if (!c->sc.out.len) {
		/* room for struct rw_chunks in front: take copies it all out */
		if ((rc = buf_reserve(&c->sc.out, offsetof(struct rw_chunks, data))))
			return rc;
		memset(c->sc.out.data, 0, offsetof(struct rw_chunks, data));
		c->sc.out.len = offsetof(struct rw_chunks, data);
	}
	buf_reset(zb);
	if ((rc = buf_reserve(zb, rw_snappy_max(pb->len))))
		return rc;
	/* No preamble: the packer writes one for the whole block. */
	zlen = rw_snappy_elements(pb->data, pb->len, zb->data);
	put_u32(hdr, (uint32_t)zlen);
	put_u32(hdr + 4, (uint32_t)pb->len);
	put_u32(hdr + 8, (uint32_t)c->pb_series);
	if ((rc = buf_reserve(&c->sc.out, CHUNK_HDR + zlen)))
		return rc;
	buf_add(&c->sc.out, hdr, CHUNK_HDR);
	buf_add(&c->sc.out, zb->data, zlen);
	c->n++;
	c->series += c->pb_series;
	buf_reset(pb);
	c->pb_series = 0;
	return 0;
}

int rw_chunker_series(struct rw_chunker *c, const struct rw_label *labels, size_t n,
		      double value, int64_t ts_ms)
{
	return rw_chunker_series_enc(c, labels, NULL, n, value, ts_ms);
}

int rw_chunker_series_enc(struct rw_chunker *c, const struct rw_label *labels, const struct rw_label_enc *enc,
			  size_t n, double value, int64_t ts_ms)
{
	int rc = rw_pb_series_enc(&c->sc.pb, labels, enc, n, value, ts_ms);

	if (rc)
		return rc;
	c->pb_series++;
	if (c->sc.pb.len >= RW_CHUNK_RAW || c->pb_series >= RW_CHUNK_SERIES)
		return close_chunk(c);
	return 0;
}

struct rw_chunks *rw_chunker_take(struct rw_chunker *c, int *rc)
{
	struct rw_chunks *k;
	size_t len;

	*rc = close_chunk(c);
	if (*rc)
		goto fail;
	if (!c->sc.out.len) {
		k = calloc(1, sizeof(*k));
		if (!k) {
			*rc = KM_ENOMEM;
			goto fail;
		}
		atomic_store(&k->refs, 1);
		return k;
	}
	/* Copied out at its size: the buffer it was built in stays with
	 * the scratch (grown once, not at every scrape). */
	len = c->sc.out.len;
	k = malloc(len);
	if (!k) {
		*rc = KM_ENOMEM;
		goto fail;
	}
	memcpy(k, c->sc.out.data, len);
	atomic_store(&k->refs, 1);
	k->n = c->n;
	k->series = c->series;
	k->len = len - offsetof(struct rw_chunks, data);
	rw_chunker_reset(c);
	return k;
fail:
	rw_chunker_reset(c);
	return NULL;
}

void rw_chunks_unref(struct rw_chunks *k)
{
	if (k && atomic_fetch_sub(&k->refs, 1) == 1)
		free(k);
}

struct rw_chunks *rw_chunks_ref(struct rw_chunks *k)
{
	if (k)
		atomic_fetch_add(&k->refs, 1);
	return k;
}

struct rw_chunks *rw_chunks_cat(const struct rw_chunks *a, const struct rw_chunks *b, int *rc)
{
	size_t la = a ? a->len : 0, lb = b ? b->len : 0;
	struct rw_chunks *k;

	*rc = 0;
	if (la > CHUNKS_CAP || lb > CHUNKS_CAP || !(k = malloc(offsetof(struct rw_chunks, data) + la + lb + 1))) {
		*rc = KM_ENOMEM;
		return NULL;
	}
	atomic_store(&k->refs, 1);
	k->n = (a ? a->n : 0) + (b ? b->n : 0);
	k->series = (a ? a->series : 0) + (b ? b->series : 0);
	k->len = la + lb;
	if (la)
		memcpy(k->data, a->data, la);
	if (lb)
		memcpy(k->data + la, b->data, lb);
	return k;
}

int rw_chunks_next(const struct rw_chunks *k, size_t *off, struct rw_chunk_ref *ch)
{
	const char *p;

	if (!k || *off + CHUNK_HDR > k->len)
		return 0;
	p = k->data + *off;
	ch->zlen = get_u32(p);
	ch->raw = get_u32(p + 4);
	ch->series = get_u32(p + 8);
	ch->z = p + CHUNK_HDR;
	*off += CHUNK_HDR + ch->zlen;
	return 1;
}

void rw_packer_init(struct rw_packer *p, size_t max_series, size_t max_raw, rw_block_fn flush, void *ctx)
{
	memset(p, 0, sizeof(*p));
	buf_init(&p->z, PACK_CAP);
	p->max_series = max_series ? max_series : 1;
	p->max_raw = max_raw;
	p->flush = flush;
	p->ctx = ctx;
}

void rw_packer_fini(struct rw_packer *p)
{
	buf_fini(&p->z);
}

int rw_packer_flush(struct rw_packer *p)
{
	char pre[RW_PACK_PREAMBLE], *q = pre;
	size_t v = p->raw, n;
	int rc;

	if (!p->series)
		return 0;
	while (v >= 0x80) {
		*q++ = (char)(v | 0x80);
		v >>= 7;
	}
	*q++ = (char)v;
	n = (size_t)(q - pre);
	/* The preamble goes right before the streams, in the room left. */
	memcpy(p->z.data + RW_PACK_PREAMBLE - n, pre, n);
	rc = p->flush(p->ctx, p->z.data + RW_PACK_PREAMBLE - n, p->z.len - (RW_PACK_PREAMBLE - n), p->series);
	buf_reset(&p->z);
	p->raw = 0;
	p->series = 0;
	return rc;
}

int rw_packer_add(struct rw_packer *p, const struct rw_chunk_ref *ch)
{
	int rc;

	if (p->series && (p->series + ch->series > p->max_series || p->raw + ch->raw > p->max_raw) &&
	    (rc = rw_packer_flush(p)))
		return rc;
	if (!p->z.len) {
		if ((rc = buf_reserve(&p->z, RW_PACK_PREAMBLE)))
			return rc;
		memset(p->z.data, 0, RW_PACK_PREAMBLE);
		p->z.len = RW_PACK_PREAMBLE;
	}
	if ((rc = buf_add(&p->z, ch->z, ch->zlen)))
		return rc;
	p->raw += ch->raw;
	p->series += ch->series;
	return 0;
}
