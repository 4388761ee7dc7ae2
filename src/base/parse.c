#include "base/parse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"

int parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0)
		return KM_EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned char)s[i] - '0';
		if (d > 9)
			return KM_EINVAL;
		if (v > (UINT64_MAX - d) / 10)
			return KM_ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int parse_hex_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0)
		return KM_EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return KM_EINVAL;
		if (v > (UINT64_MAX >> 4))
			return KM_ERANGE;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

int parse_i64(const char *s, size_t n, int64_t *out)
{
	bool neg = false;
	uint64_t v;
	int rc;

	if (n && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		s++;
		n--;
	}
	rc = parse_u64(s, n, &v);
	if (rc)
		return rc;
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return KM_ERANGE;
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > INT64_MAX)
			return KM_ERANGE;
		*out = (int64_t)v;
	}
	return 0;
}

int parse_double(const char *s, size_t n, double *out)
{
	char tmp[64];
	char *end;
	double v;

	if (n == 0 || n >= sizeof(tmp))
		return KM_EINVAL;
	/* Plain digits, at most 15 (below 2^53): the integer is the exact
	 * double strtod would return. Most procfs and sysfs numbers are such;
	 * strtod was ~9 % of a node scrape's instructions. */
	if (n <= 15) {
		uint64_t u = 0;
		size_t i;

		for (i = 0; i < n; i++) {
			unsigned d = (unsigned)(unsigned char)s[i] - '0';

			if (d > 9)
				break;
			u = u * 10 + d;
		}
		if (i == n) {
			*out = (double)u;
			return 0;
		}
	}
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	/* strtod accepts hex floats and leading spaces; Prometheus does not. */
	if (tmp[0] == ' ' || tmp[0] == '\t' || strchr(tmp, 'x') || strchr(tmp, 'X'))
		return KM_EINVAL;
	/* The names start with a letter or a sign; most input is digits. */
	if (!(tmp[0] >= '0' && tmp[0] <= '9')) {
		if (strcasecmp(tmp, "nan") == 0) {
			*out = NAN;
			return 0;
		}
		if (strcasecmp(tmp, "+inf") == 0 || strcasecmp(tmp, "inf") == 0) {
			*out = INFINITY;
			return 0;
		}
		if (strcasecmp(tmp, "-inf") == 0) {
			*out = -INFINITY;
			return 0;
		}
	}
	errno = 0;
	v = strtod(tmp, &end);
	if (end != tmp + n || isnan(v) || isinf(v))
		return KM_EINVAL;
	if (errno == ERANGE && v != 0)
		return KM_ERANGE;
	*out = v;
	return 0;
}

int parse_bool(const char *s, size_t n, bool *out)
{
	static const struct { const char *s; bool v; } words[] = {
		{ "true", true }, { "1", true }, { "yes", true },
		{ "false", false }, { "0", false }, { "no", false },
	};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strlen(words[i].s) == n && strncasecmp(s, words[i].s, n) == 0) {
			*out = words[i].v;
			return 0;
		}
	}
	return KM_EINVAL;
}

int parse_duration_ms(const char *s, size_t n, int64_t *out)
{
	static const struct { const char *unit; int64_t ms; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
		{ "d", 86400000 }, { "w", 604800000 },
	};
	int64_t total = 0;
	size_t i = 0;

	if (n == 1 && s[0] == '0') {
		*out = 0;
		return 0;
	}
	if (n == 0)
		return KM_EINVAL;
	while (i < n) {
		size_t start = i, ulen = 0;
		uint64_t v;
		int rc;
		int64_t mul = -1;

		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return KM_EINVAL;
		rc = parse_u64(s + start, i - start, &v);
		if (rc)
			return rc;
		for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
			size_t l = strlen(units[u].unit);
			/* Longest match first: "ms" is listed before "m" and "s". */
			if (l <= n - i && strncmp(s + i, units[u].unit, l) == 0 &&
			    !(l == 1 && units[u].unit[0] == 'm' && i + 1 < n && s[i + 1] == 's')) {
				mul = units[u].ms;
				ulen = l;
				break;
			}
		}
		if (mul < 0)
			return KM_EINVAL;
		if (v > (uint64_t)(INT64_MAX / mul) || total > INT64_MAX - (int64_t)v * mul)
			return KM_ERANGE;
		total += (int64_t)v * mul;
		i += ulen;
	}
	*out = total;
	return 0;
}

int parse_u64_str(const char *s, uint64_t *out)
{
	return parse_u64(s, strlen(s), out);
}

int parse_double_str(const char *s, double *out)
{
	return parse_double(s, strlen(s), out);
}

/* Bytes that end a field: one table load per byte instead of three
 * compares (parse_field was the node collector's top function). */
static const bool field_end[256] = { [' '] = true, ['\t'] = true, ['\n'] = true };

bool parse_field(const char **p, const char *end, const char **field, size_t *len)
{
	const char *q = *p;

	while (q < end && (*q == ' ' || *q == '\t'))
		q++;
	if (q >= end || *q == '\n')
		return false;
	*field = q;
	while (q < end && !field_end[(unsigned char)*q])
		q++;
	*len = (size_t)(q - *field);
	*p = q;
	return true;
}
