/* A snappy block compressor of our own (the format: github.com/google/snappy
 * format_description.txt), for remote write's chunks and blocks.
 *
 * Why not libsnappy's snappy_compress: its C API allocates the compressor's
 * working memory (~176 kB: hash table and scratch) at every call, above
 * Kubernetes mode's 64 KiB mmap threshold, so every 64 KiB chunk was an mmap,
 * page faults and an munmap. Here the hash table is a 32 KiB array on the
 * caller's stack and only the part a fragment uses is cleared.
 *
 * Output is a valid snappy stream that libsnappy, VictoriaMetrics and
 * Prometheus decode; the bytes differ from libsnappy's (the matches chosen
 * are not always the same). Pure functions: no state, any thread. */
#ifndef K8SMON_REMOTEWRITE_SNAPPY_H
#define K8SMON_REMOTEWRITE_SNAPPY_H

#include <stddef.h>

/* Output bound of rw_snappy_compress for n input bytes (the preamble
 * included); the same as libsnappy's snappy_max_compressed_length. */
size_t rw_snappy_max(size_t n);

/* Writes the element stream for in[0..n) (no length preamble) to out, which
 * has room for rw_snappy_max(n) bytes; returns the bytes written. Every copy
 * refers back within this call's output, so such streams may be joined
 * behind one preamble of their summed length. */
size_t rw_snappy_elements(const char *in, size_t n, char *out);

/* A whole snappy block: the varint preamble of n, then the elements. n must
 * be below 2^32 (the format's limit). Returns the bytes written to out
 * (room for rw_snappy_max(n)). */
size_t rw_snappy_compress(const char *in, size_t n, char *out);

#endif
