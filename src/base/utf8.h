/* UTF-8 as Prometheus and Go check it (utf8.ValidString, utf8.DecodeRune):
 * no overlong forms, no surrogates, nothing past U+10FFFF. Pure functions
 * on borrowed bytes. */
#ifndef K8SMON_BASE_UTF8_H
#define K8SMON_BASE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* U+FFFD, what Go writes for a byte that starts no valid sequence. */
#define UTF8_REPLACEMENT "\xef\xbf\xbd"

/* Decodes the sequence at s (n >= 1 bytes left) into *cp and returns its
 * length (1 for ASCII), or 0, leaving *cp alone, when s does not start a
 * valid one. */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
/* Encodes cp (a scalar value: <= U+10FFFF, not a surrogate) into out;
 * returns the length, 1 to 4. (Not named utf8_encode: the static jansson
 * we link defines that symbol.) */
size_t utf8_put(uint32_t cp, char out[4]);
/* Whole-buffer validity. */
bool utf8_valid(const char *s, size_t n);

#endif
