#include "kube/b64.h"

#include <stdint.h>
#include <stdlib.h>

#include "base/err.h"

static int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int b64_decode(const char *in, size_t n, char **out, size_t *outlen)
{
	char *dst = malloc(n / 4 * 3 + 4);
	uint32_t acc = 0;
	size_t o = 0, bits = 0, pad = 0, sym = 0;
	int rc = KM_EPARSE;

	if (!dst)
		return KM_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;

		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		/* Data after padding is a corrupt value, not a second message. */
		if (pad)
			goto out;
		v = b64_val(c);
		if (v < 0)
			goto out;
		sym++;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			dst[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	/* One leftover symbol cannot encode a byte; padding must complete a quad. */
	if (sym % 4 == 1 || pad > 2 || (pad && (sym + pad) % 4 != 0))
		goto out;
	dst[o] = '\0';
	*out = dst;
	*outlen = o;
	dst = NULL;
	rc = 0;
out:
	free(dst);
	return rc;
}
