/* The queue of one remote-write destination: compressed blocks waiting to
 * be sent, oldest first, capped in bytes.
 *
 * On disk (dir set, -remoteWrite.tmpDataPath): one file per block,
 * "<16 hex digits of sequence>.blk" in block.h's format, written under a
 * temporary name and renamed, so a file either is complete or fails its
 * check. One file per block, rather than segments holding many, makes
 * "sent" and "dropped oldest" an unlink of exactly that block, with no
 * read-offset bookkeeping to keep consistent across a crash; a block is one
 * collection cycle's WriteRequest (tens of KiB and up), so the per-file
 * overhead is small. At open the directory is scanned: blocks with a bad
 * header or size are deleted and counted as corrupt, the rest are queued
 * in sequence order (so what was queued before a restart is sent first);
 * the CRC is checked when a block is read to be sent (corrupt: deleted,
 * counted, the next one is sent).
 *
 * In memory (dir NULL or ""): the same, with the cap lowered to
 * RW_QUEUE_MEM_MAX; lost on restart.
 *
 * When a push would go over the cap, the oldest blocks are dropped first
 * (counted) -- also one being sent at that moment, whose later pop is then
 * a no-op: that one is counted only if its send does not succeed (the next
 * rw_queue_front comes without its pop), so that dropped_overflow is
 * exactly the blocks that were never delivered.
 *
 * Thread-safe: one producer (the collector) and one consumer (the sender). */
#ifndef K8SMON_REMOTEWRITE_QUEUE_H
#define K8SMON_REMOTEWRITE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define RW_QUEUE_MEM_MAX (64ull << 20)

struct rw_queue;

struct rw_queue_stats {
	uint64_t bytes;            /* queued bytes (files: header included) */
	uint64_t blocks;           /* queued blocks */
	uint64_t dropped_overflow; /* oldest blocks dropped for the cap */
	uint64_t dropped_corrupt;  /* blocks found damaged (at open or at read) */
	uint64_t dropped_io;       /* blocks that could not be written or read */
};

/* Opens (creating dir if needed) with a cap of max_bytes. NULL with one line
 * in err when dir cannot be created or read, or on allocation failure. */
struct rw_queue *rw_queue_open(const char *dir, uint64_t max_bytes, char *err, size_t errlen);
void rw_queue_close(struct rw_queue *q);
/* Changes the cap (a reconfiguration); a lower one drops the oldest blocks
 * over it at once, counted as overflow. */
void rw_queue_set_cap(struct rw_queue *q, uint64_t max_bytes);

/* Appends a copy of block p[0..n) (a compressed WriteRequest). Drops the
 * oldest blocks to make room. KM_ETOOBIG when the block alone is over the
 * cap (dropped, counted as overflow), KM_EIO when it cannot be written
 * (counted as io), KM_ENOMEM. */
int rw_queue_push(struct rw_queue *q, const char *p, size_t n);
/* Waits until a block is queued, wake() is called, or timeout_ms passes;
 * true when a block is queued. */
bool rw_queue_wait(struct rw_queue *q, int64_t timeout_ms);
/* Wakes a waiter (shutdown). */
void rw_queue_wake(struct rw_queue *q);
/* Copies the oldest intact block's payload into out (reset first) and its
 * sequence into *seq. KM_ENOENT when the queue is empty. Damaged blocks on
 * the way are deleted and counted. */
int rw_queue_front(struct rw_queue *q, struct buf *out, uint64_t *seq);
/* Removes block seq if it is still queued (sent, or rejected). */
void rw_queue_pop(struct rw_queue *q, uint64_t seq);
void rw_queue_stats(struct rw_queue *q, struct rw_queue_stats *out);

#endif
