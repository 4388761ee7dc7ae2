/* Bounded, range-checked parsing of numbers, booleans and durations. Every
 * function reads exactly the n bytes given (no NUL needed), rejects empty
 * input, trailing garbage and overflow, and writes *out only on success. */
#ifndef K8SMON_BASE_PARSE_H
#define K8SMON_BASE_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int parse_u64(const char *s, size_t n, uint64_t *out);
int parse_i64(const char *s, size_t n, int64_t *out);
/* Hexadecimal digits only (no "0x"), either case, as /proc prints them. */
int parse_hex_u64(const char *s, size_t n, uint64_t *out);
/* Decimal or exponent floats, plus NaN, +Inf, -Inf, Inf (any case). */
int parse_double(const char *s, size_t n, double *out);
/* "true/false/1/0/yes/no" (case-insensitive). */
int parse_bool(const char *s, size_t n, bool *out);
/* Go/Prometheus durations: "15s", "1m30s", "500ms", "2h", "1d" (and "0").
 * A bare number without a unit is rejected. Result in milliseconds. */
int parse_duration_ms(const char *s, size_t n, int64_t *out);

/* Convenience wrappers for NUL-terminated strings. */
int parse_u64_str(const char *s, uint64_t *out);
int parse_double_str(const char *s, double *out);

/* Splits the next whitespace-separated field from *p (bounded by end).
 * Returns false when no field is left. */
bool parse_field(const char **p, const char *end, const char **field, size_t *len);

#endif
