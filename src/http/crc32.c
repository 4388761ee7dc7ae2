#include "http/crc32.h"

#include <zlib.h>

#if defined(__x86_64__)
#include <immintrin.h>

/* Folding constants for the reflected polynomial: x^(k) mod P(x) for the
 * fold distances (4 x 128 bits, 128 bits, 64 bits), then Barrett's mu and
 * P itself (33 bits each, bit-reflected). */
#define K1 0x154442bd4ull
#define K2 0x1c6e41596ull
#define K3 0x1751997d0ull
#define K4 0x0ccaa009eull
#define K5 0x163cd6124ull
#define POLY 0x1db710641ull
#define MU 0x1f7011641ull

/* The raw CRC register (not inverted) over n bytes, n >= 64 and a multiple
 * of 16. */
__attribute__((target("pclmul,sse4.1")))
static uint32_t crc_fold(uint32_t crc, const uint8_t *p, size_t n)
{
	__m128i x0, x1, x2, x3, x4, x5, x6, x7, x8, mask;

	x1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 0x00));
	x2 = _mm_loadu_si128((const __m128i *)(const void *)(p + 0x10));
	x3 = _mm_loadu_si128((const __m128i *)(const void *)(p + 0x20));
	x4 = _mm_loadu_si128((const __m128i *)(const void *)(p + 0x30));
	x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)crc));
	x0 = _mm_set_epi64x((long long)K2, (long long)K1);
	p += 64;
	n -= 64;
	/* Four lanes of 128 bits, each folded 512 bits forward. */
	while (n >= 64) {
		x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
		x6 = _mm_clmulepi64_si128(x2, x0, 0x00);
		x7 = _mm_clmulepi64_si128(x3, x0, 0x00);
		x8 = _mm_clmulepi64_si128(x4, x0, 0x00);
		x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
		x2 = _mm_clmulepi64_si128(x2, x0, 0x11);
		x3 = _mm_clmulepi64_si128(x3, x0, 0x11);
		x4 = _mm_clmulepi64_si128(x4, x0, 0x11);
		x1 = _mm_xor_si128(_mm_xor_si128(x1, x5), _mm_loadu_si128((const __m128i *)(const void *)(p + 0x00)));
		x2 = _mm_xor_si128(_mm_xor_si128(x2, x6), _mm_loadu_si128((const __m128i *)(const void *)(p + 0x10)));
		x3 = _mm_xor_si128(_mm_xor_si128(x3, x7), _mm_loadu_si128((const __m128i *)(const void *)(p + 0x20)));
		x4 = _mm_xor_si128(_mm_xor_si128(x4, x8), _mm_loadu_si128((const __m128i *)(const void *)(p + 0x30)));
		p += 64;
		n -= 64;
	}
	/* The four lanes into one, then the remaining 16-byte pieces. */
	x0 = _mm_set_epi64x((long long)K4, (long long)K3);
	x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
	x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, x0, 0x11), x2), x5);
	x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
	x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, x0, 0x11), x3), x5);
	x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
	x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, x0, 0x11), x4), x5);
	while (n >= 16) {
		x2 = _mm_loadu_si128((const __m128i *)(const void *)p);
		x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
		x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, x0, 0x11), x2), x5);
		p += 16;
		n -= 16;
	}
	/* 128 bits to 64, then to 32 (Barrett reduction). */
	mask = _mm_setr_epi32(-1, 0, -1, 0);
	x2 = _mm_clmulepi64_si128(x1, x0, 0x10);
	x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), x2);
	x0 = _mm_set_epi64x(0, (long long)K5);
	x2 = _mm_srli_si128(x1, 4);
	x1 = _mm_and_si128(x1, mask);
	x1 = _mm_xor_si128(_mm_clmulepi64_si128(x1, x0, 0x00), x2);
	x0 = _mm_set_epi64x((long long)MU, (long long)POLY);
	x2 = _mm_and_si128(x1, mask);
	x2 = _mm_clmulepi64_si128(x2, x0, 0x10);
	x2 = _mm_and_si128(x2, mask);
	x2 = _mm_clmulepi64_si128(x2, x0, 0x00);
	x1 = _mm_xor_si128(x1, x2);
	return (uint32_t)_mm_extract_epi32(x1, 1);
}

static int have_clmul(void)
{
	return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}
#else
static uint32_t crc_fold(uint32_t crc, const uint8_t *p, size_t n)
{
	(void)p;
	(void)n;
	return crc;
}

static int have_clmul(void)
{
	return 0;
}
#endif

uint32_t crc32_gzip(uint32_t crc, const void *p, size_t n)
{
	size_t bulk = n & ~(size_t)15;

	if (n < 256 || !have_clmul())
		return (uint32_t)crc32_z(crc, p, n);
	crc = ~crc_fold(~crc, p, bulk);
	return (uint32_t)crc32_z(crc, (const Bytef *)p + bulk, n - bulk);
}
