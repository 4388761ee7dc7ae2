/* FNV-1a, the one string hash of the project (32 and 64 bit).
 *
 * Values are part of behaviour: the 64-bit hash names series and targets
 * (scrape identity, staleness) and the 32-bit one picks hash buckets, so
 * the algorithm and its constants must not change. Pure functions on
 * borrowed bytes; defined inline because parsers call them per name. */
#ifndef K8SMON_BASE_HASH_H
#define K8SMON_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH32_INIT 2166136261u
#define HASH64_INIT 14695981039346656037ULL

/* Continues hash h over p[0..n): chaining calls equals one call over the
 * concatenation. */
static inline uint32_t hash32_add(uint32_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 16777619u;
	return h;
}

static inline uint32_t hash32(const void *p, size_t n)
{
	return hash32_add(HASH32_INIT, p, n);
}

/* Over the bytes of s before its NUL (one pass, no strlen). */
static inline uint32_t hash32_str(const char *s)
{
	uint32_t h = HASH32_INIT;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static inline uint64_t hash64_add(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 1099511628211ULL;
	return h;
}

static inline uint64_t hash64(const void *p, size_t n)
{
	return hash64_add(HASH64_INIT, p, n);
}

/* Continues h over s and its NUL: the NUL separates, so hashing ("ab","c")
 * one after the other differs from ("a","bc"). */
static inline uint64_t hash64_add_strz(uint64_t h, const char *s)
{
	do
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	while (*s++);
	return h;
}

static inline uint64_t hash64_str(const char *s)
{
	uint64_t h = HASH64_INIT;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

#endif
