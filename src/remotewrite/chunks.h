/* Remote-write series encoded once, at the scrape, and kept compressed.
 *
 * A scrape's series are encoded to WriteRequest.timeseries fields (pb.h)
 * as its samples are rendered, and every RW_CHUNK_RAW bytes the pending
 * protobuf is snappy-compressed into a chunk: a raw snappy element stream
 * without its length preamble. Snappy copies point back into the output
 * already produced and literals carry their bytes, so the element streams
 * of several chunks, concatenated behind one varint of their total
 * uncompressed length, are one valid snappy block that decodes to the
 * concatenation of the chunks' protobuf: a valid WriteRequest. The
 * remote-write collector builds its blocks that way (rw_chunks_pack),
 * without decoding, re-encoding or re-compressing a sample.
 *
 * Kept per scrape instead of the rendered text the collector used to
 * re-parse: ~18 bytes a sample here against ~70 of text (BENCHMARKS.md
 * "## Application pipeline vs the latest vmagent"). */
#ifndef K8SMON_REMOTEWRITE_CHUNKS_H
#define K8SMON_REMOTEWRITE_CHUNKS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "remotewrite/pb.h"

/* Uncompressed protobuf per chunk, about (a chunk closes at the first
 * series past it), and series per chunk at most: far below a block's
 * limits (RW_BLOCK_SERIES, 8 MiB), so any chunk fits in a block. */
#define RW_CHUNK_RAW (64u << 10)
#define RW_CHUNK_SERIES 1000u

/* An immutable, refcounted list of chunks: for each, a 12-byte header
 * (u32 LE compressed length, uncompressed length, series) and the element
 * stream. */
struct rw_chunks {
	_Atomic int refs;
	size_t n;                /* chunks */
	uint64_t series;         /* over all chunks */
	size_t len;              /* bytes of data */
	char data[];
};

/* The working memory of a chunker (its pending protobuf, snappy's output
 * before it is copied into the chunk list, the chunk list being built),
 * ~250 KiB once grown: handed from one chunker to the next
 * (rw_chunker_release/adopt) so that scrapes do not map and fault it in
 * again each time (kernel memory management was 14 % of a push-only
 * scrape's CPU, BENCHMARKS.md "Push CPU"). Owned by whoever holds it; a
 * zeroed one is empty (release may fill it, fini frees it). */
struct rw_scratch {
	struct buf pb;           /* series not yet compressed */
	struct buf z;            /* one chunk as snappy writes it */
	struct buf out;          /* rw_chunks header + chunks so far */
};

void rw_scratch_fini(struct rw_scratch *sc);

/* Builds one rw_chunks. Needs libsnappy loaded (dl/snappy.h). Not
 * thread-safe; holds ~RW_CHUNK_RAW of protobuf and as much snappy output
 * as scratch, plus the compressed chunks while it builds. */
struct rw_chunker {
	struct rw_scratch sc;
	size_t pb_series;
	size_t n;                /* chunks in sc.out */
	uint64_t series;
};

void rw_chunker_init(struct rw_chunker *c);
void rw_chunker_fini(struct rw_chunker *c);
/* Moves sc's memory into c, leaving sc empty; c's own scratch memory
 * and whatever it had not taken are dropped. */
void rw_chunker_adopt(struct rw_chunker *c, struct rw_scratch *sc);
/* Moves c's scratch memory to sc, which must be empty; whatever c had
 * not taken (series, chunks) is dropped. */
void rw_chunker_release(struct rw_chunker *c, struct rw_scratch *sc);
/* Drops everything added since the last take. */
void rw_chunker_reset(struct rw_chunker *c);
/* Adds one series with one sample; labels sorted by name, "__name__"
 * included (rw_pb_series). 0, or KM_ENOMEM / KM_ETOOBIG / KM_EIO (snappy)
 * with nothing added. */
int rw_chunker_series(struct rw_chunker *c, const struct rw_label *labels, size_t n,
		      double value, int64_t ts_ms);
/* The same with labels pre-encoded (rw_pb_series_enc; enc may be NULL). */
int rw_chunker_series_enc(struct rw_chunker *c, const struct rw_label *labels, const struct rw_label_enc *enc,
			  size_t n, double value, int64_t ts_ms);
/* The chunks added since the last take (the caller owns the reference;
 * rw_chunks_unref), or NULL with *rc set (KM_ENOMEM, KM_EIO). The chunker
 * is empty afterwards but keeps its scratch memory (for the next series,
 * rw_chunker_release, or fini). With nothing added: an rw_chunks of no
 * chunk. */
struct rw_chunks *rw_chunker_take(struct rw_chunker *c, int *rc);

void rw_chunks_unref(struct rw_chunks *k);
/* One more reference to k (which may be NULL); returns k. */
struct rw_chunks *rw_chunks_ref(struct rw_chunks *k);
/* A new rw_chunks holding a's chunks then b's (copied; either may be
 * NULL), or NULL with *rc KM_ENOMEM. a and b are left as they are. */
struct rw_chunks *rw_chunks_cat(const struct rw_chunks *a, const struct rw_chunks *b, int *rc);

/* One chunk of k, read with rw_chunks_next from *off = 0. */
struct rw_chunk_ref {
	const char *z;           /* element stream, borrowed from k */
	size_t zlen;
	size_t raw;
	size_t series;
};

/* 1 with *ch filled and *off advanced, 0 at the end. */
int rw_chunks_next(const struct rw_chunks *k, size_t *off, struct rw_chunk_ref *ch);

/* Packs chunks into snappy blocks: rw_chunks_pack_add per chunk, in
 * order; a block is handed to flush (compressed, borrowed for the call)
 * before a chunk that would take it over max_series series or max_raw
 * uncompressed bytes, and at rw_chunks_pack_flush. */
typedef int (*rw_block_fn)(void *ctx, const char *z, size_t zlen, size_t series);

struct rw_packer {
	struct buf z;            /* streams of the block being built, after room for the preamble */
	size_t raw, series;
	size_t max_series, max_raw;
	rw_block_fn flush;
	void *ctx;
};

#define RW_PACK_PREAMBLE 10  /* room for the varint of the uncompressed length */

void rw_packer_init(struct rw_packer *p, size_t max_series, size_t max_raw, rw_block_fn flush, void *ctx);
void rw_packer_fini(struct rw_packer *p);
int rw_packer_add(struct rw_packer *p, const struct rw_chunk_ref *ch);
int rw_packer_flush(struct rw_packer *p);

#endif
