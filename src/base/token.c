#include "base/token.h"

#include <stdio.h>
#include <string.h>

#include "base/err.h"

int token_read(const char *path, char *dst, size_t n)
{
	FILE *f;
	size_t r;

	if (!n)
		return KM_EINVAL;
	dst[0] = '\0';
	f = fopen(path, "re");
	if (!f)
		return KM_EIO;
	r = fread(dst, 1, n - 1, f);
	fclose(f);
	while (r && (dst[r - 1] == '\n' || dst[r - 1] == '\r' || dst[r - 1] == ' '))
		r--;
	dst[r] = '\0';
	if (!r || memchr(dst, '\n', r) || memchr(dst, '\r', r))
		return KM_EINVAL;
	return 0;
}
