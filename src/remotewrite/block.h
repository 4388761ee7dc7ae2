/* The on-disk form of one queued block: one snappy-compressed WriteRequest
 * behind a 16-byte header, so that a file cut short or damaged (a crash
 * between write and rename on a filesystem that reorders, a disk error, a
 * stray edit) is recognised and skipped instead of sent.
 *
 *   offset 0  "K8RW"   magic
 *          4  1        format version
 *          5  0,0,0    reserved
 *          8  u32 LE   payload length
 *         12  u32 LE   CRC-32 (zlib) of the payload
 *         16  payload */
#ifndef K8SMON_REMOTEWRITE_BLOCK_H
#define K8SMON_REMOTEWRITE_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#define RW_BLOCK_HDR 16
#define RW_BLOCK_MAX (64u << 20)  /* largest payload accepted from disk */

/* Fills hdr for payload p of n bytes (n <= RW_BLOCK_MAX). */
void rw_block_header(unsigned char hdr[RW_BLOCK_HDR], const char *p, size_t n);
/* Checks a header alone: 0 and the payload length, or KM_EPARSE. */
int rw_block_check_header(const unsigned char hdr[RW_BLOCK_HDR], size_t *len);
/* Checks a whole file image (header + payload): 0 when intact, else KM_EPARSE. */
int rw_block_verify(const char *file, size_t n);

#endif
