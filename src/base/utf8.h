/* UTF-8 validity as Prometheus checks it (Go's utf8.ValidString): no
 * overlong forms, no surrogates, nothing past U+10FFFF. Pure functions on
 * borrowed bytes. */
#ifndef K8SMON_BASE_UTF8_H
#define K8SMON_BASE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid sequence at v (n bytes left, n >= 1, v[0] >= 0x80),
 * 0 when v does not start one. */
size_t utf8_seq(const unsigned char *v, size_t n);
/* Whole-buffer validity. */
bool utf8_valid(const char *s, size_t n);

#endif
