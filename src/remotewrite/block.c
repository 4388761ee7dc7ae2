#include "remotewrite/block.h"

#include <string.h>
#include <zlib.h>

#include "base/err.h"

static void put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t crc(const char *p, size_t n)
{
	return (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)p, (uInt)n);
}

void rw_block_header(unsigned char hdr[RW_BLOCK_HDR], const char *p, size_t n)
{
	memcpy(hdr, "K8RW\1\0\0\0", 8);
	put_u32(hdr + 8, (uint32_t)n);
	put_u32(hdr + 12, crc(p, n));
}

int rw_block_check_header(const unsigned char hdr[RW_BLOCK_HDR], size_t *len)
{
	uint32_t n = get_u32(hdr + 8);

	if (memcmp(hdr, "K8RW\1\0\0\0", 8) != 0 || n == 0 || n > RW_BLOCK_MAX)
		return KM_EPARSE;
	*len = n;
	return 0;
}

int rw_block_verify(const char *file, size_t n)
{
	size_t len;

	if (n < RW_BLOCK_HDR || rw_block_check_header((const unsigned char *)file, &len) ||
	    len != n - RW_BLOCK_HDR)
		return KM_EPARSE;
	if (crc(file + RW_BLOCK_HDR, len) != get_u32((const unsigned char *)file + 12))
		return KM_EPARSE;
	return 0;
}
