/* Kubernetes resource.Quantity parsing and the two conversions KSM uses:
 * Value() (bytes, integers; rounded up) and MilliValue()/1000 (cores and
 * every node/quota figure). Exact integer arithmetic (128-bit) is used so
 * "1.5Gi", "129e6" or "0.1" convert exactly as apimachinery does. */
#include "collect/kubestate/ks_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"

/* More significant digits than this are beyond int64 anyway; apimachinery
 * keeps them in an inf.Dec, but a quantity that long does not occur in
 * practice. Extra digits are dropped (truncated) after scaling exp10. */
#define KS_QTY_MAX_DIGITS 30

static int suffix(const char *s, struct ks_quantity *q)
{
	static const struct {
		const char *s;
		int exp10, exp2;
	} tab[] = {
		{ "Ki", 0, 10 }, { "Mi", 0, 20 }, { "Gi", 0, 30 }, { "Ti", 0, 40 },
		{ "Pi", 0, 50 }, { "Ei", 0, 60 }, { "n", -9, 0 },  { "u", -6, 0 },
		{ "m", -3, 0 },  { "", 0, 0 },    { "k", 3, 0 },   { "M", 6, 0 },
		{ "G", 9, 0 },   { "T", 12, 0 },  { "P", 15, 0 },  { "E", 18, 0 },
	};
	int64_t e = 0;
	bool neg = false;

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (strcmp(s, tab[i].s) == 0) {
			q->exp10 += tab[i].exp10;
			q->exp2 = tab[i].exp2;
			return 0;
		}
	}
	/* Decimal exponent: e/E, optional sign, at least one digit. */
	if (*s != 'e' && *s != 'E')
		return KM_EPARSE;
	s++;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (!*s)
		return KM_EPARSE;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || e > 1000)
			return KM_EPARSE;
		e = e * 10 + (*s - '0');
	}
	q->exp10 += (int)(neg ? -e : e);
	return 0;
}

int ks_quantity_parse(const char *s, struct ks_quantity *q)
{
	struct ks_quantity r = { 0 };
	int ndig = 0, nsig = 0;
	bool dot = false;

	if (*s == '+' || *s == '-')
		r.neg = *s++ == '-';
	for (; (*s >= '0' && *s <= '9') || *s == '.'; s++) {
		if (*s == '.') {
			if (dot)
				return KM_EPARSE;
			dot = true;
			continue;
		}
		ndig++;
		if (nsig == 0 && *s == '0') {
			if (dot)
				r.exp10--;
			continue;
		}
		if (nsig >= KS_QTY_MAX_DIGITS) {
			if (!dot)
				r.exp10++;
			continue;
		}
		r.mant = r.mant * 10 + (*s - '0');
		nsig++;
		if (dot)
			r.exp10--;
	}
	if (ndig == 0)
		return KM_EPARSE;
	if (suffix(s, &r))
		return KM_EPARSE;
	*q = r;
	return 0;
}

int64_t ks_quantity_scaled(const struct ks_quantity *q, int scale)
{
	const __int128 lim = (__int128)INT64_MAX;
	__int128 num = q->mant, den = 1;
	int e = q->exp10 - scale;

	if (num == 0)
		return 0;
	for (int i = 0; i < q->exp2; i++) {
		num *= 2;
		if (num > lim)
			return q->neg ? INT64_MIN : INT64_MAX;
	}
	for (; e > 0; e--) {
		num *= 10;
		if (num > lim)
			return q->neg ? INT64_MIN : INT64_MAX;
	}
	for (; e < 0; e++) {
		den *= 10;
		if (den > num * 10) {
			/* Far below one unit: rounds up to one. */
			return q->neg ? -1 : 1;
		}
	}
	num = (num + den - 1) / den;
	if (num > lim)
		return q->neg ? INT64_MIN : INT64_MAX;
	return q->neg ? -(int64_t)num : (int64_t)num;
}

static bool qty_of(const json_t *v, struct ks_quantity *q)
{
	char tmp[64];
	const char *s = json_string_value(v);

	if (json_is_integer(v)) {
		snprintf(tmp, sizeof(tmp), "%lld", (long long)json_integer_value(v));
		s = tmp;
	} else if (json_is_real(v)) {
		snprintf(tmp, sizeof(tmp), "%.17g", json_real_value(v));
		s = tmp;
	}
	return s && ks_quantity_parse(s, q) == 0;
}

bool ks_quantity_value(const json_t *v, double *out)
{
	struct ks_quantity q;

	if (!qty_of(v, &q))
		return false;
	*out = (double)ks_quantity_scaled(&q, 0);
	return true;
}

bool ks_quantity_milli(const json_t *v, double *out)
{
	struct ks_quantity q;

	int64_t whole;

	if (!qty_of(v, &q))
		return false;
	/* KSM's convertValueToFloat64: a value whose milli form would overflow
	 * int64 (Value() > MaxMilliValue = MaxInt64/1000) is taken whole, so
	 * 10000T prints 1e+16, not a saturated 9.223372036854776e+15. */
	whole = ks_quantity_scaled(&q, 0);
	if (whole > INT64_MAX / 1000)
		*out = (double)whole;
	else
		*out = (double)ks_quantity_scaled(&q, -3) / 1000;
	return true;
}

/* Go's math.Pow10, table for table (so AsApproximateFloat64 rounds as in
 * kube-state-metrics), instead of libm's pow(): this was the binary's only
 * use of libm, whose mapping alone costs ~0.3 MiB of RSS in every mode. */
static double go_pow10(int n)
{
	static const double tab[32] = {
		1e00, 1e01, 1e02, 1e03, 1e04, 1e05, 1e06, 1e07, 1e08, 1e09,
		1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
		1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28, 1e29,
		1e30, 1e31,
	};
	static const double pos32[10] = {
		1e00, 1e32, 1e64, 1e96, 1e128, 1e160, 1e192, 1e224, 1e256, 1e288,
	};
	static const double neg32[11] = {
		1e-00, 1e-32, 1e-64, 1e-96, 1e-128, 1e-160, 1e-192, 1e-224, 1e-256, 1e-288, 1e-320,
	};

	if (n >= 0 && n <= 308)
		return pos32[n / 32] * tab[n % 32];
	if (n < 0 && n >= -323)
		return neg32[-n / 32] / tab[-n % 32];
	return n > 0 ? __builtin_inf() : 0;
}

bool ks_quantity_approx(const json_t *v, double *out)
{
	struct ks_quantity q;
	double d;

	if (!qty_of(v, &q))
		return false;
	/* exp2 is 0 or a binary suffix's 10..60: an exact power of two. */
	d = (double)q.mant * go_pow10(q.exp10) * (double)((uint64_t)1 << q.exp2);
	*out = q.neg ? -d : d;
	return true;
}
