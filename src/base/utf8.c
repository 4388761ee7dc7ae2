#include "base/utf8.h"

#include <stdint.h>

size_t utf8_seq(const unsigned char *v, size_t n)
{
	unsigned c = v[0];
	size_t len;
	uint32_t cp;

	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t k = 1; k < len; k++) {
		if ((v[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (v[k] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

bool utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		size_t len = p[i] < 0x80 ? 1 : utf8_seq(p + i, n - i);
		if (!len)
			return false;
		i += len;
	}
	return true;
}
