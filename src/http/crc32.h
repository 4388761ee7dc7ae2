/* CRC-32 of gzip (RFC 1952: polynomial 0xEDB88320, reflected, inverted in
 * and out), the same value as zlib's crc32(). On x86-64 with PCLMULQDQ the
 * bulk of the bytes is folded 64 bytes at a time with carry-less
 * multiplies (Intel's "Fast CRC Computation for Generic Polynomials Using
 * PCLMULQDQ", 2009), ~4x zlib 1.2.13's table code; the head and tail, and
 * other CPUs, use zlib. */
#ifndef K8SMON_HTTP_CRC32_H
#define K8SMON_HTTP_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* crc: the CRC of the bytes before p (0 for none). */
uint32_t crc32_gzip(uint32_t crc, const void *p, size_t n);

#endif
