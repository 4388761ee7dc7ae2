/* Bearer tokens kept in files (service-account tokens, remote-write
 * credentials). Read anew at every use: projected service-account tokens
 * rotate (hourly by default), so a token read once would expire. */
#ifndef K8SMON_BASE_TOKEN_H
#define K8SMON_BASE_TOKEN_H

#include <stddef.h>

/* Largest token accepted (a service-account JWT is ~1 KiB). */
#define TOKEN_MAX 16384

/* Reads the token in path into dst (n bytes, NUL-terminated), trailing
 * blanks and line ends removed. 0; KM_EIO when the file cannot be read;
 * KM_EINVAL when it is empty or holds a line break inside (which would
 * start a header of the file's choosing). */
int token_read(const char *path, char *dst, size_t n);

#endif
