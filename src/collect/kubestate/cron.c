/* Cron schedules as the CronJob controller and kube-state-metrics read them
 * (github.com/robfig/cron/v3 ParseStandard): five fields minute hour
 * day-of-month month day-of-week with "*", "?", lists, ranges, steps and
 * JAN-DEC / SUN-SAT names; descriptors @yearly @annually @monthly @weekly
 * @daily @midnight @hourly and "@every <Go duration>"; an optional
 * "CRON_TZ=<zone> " or "TZ=<zone> " prefix.
 *
 * Time zones: no zone, "", "UTC", "Etc/UTC" and "Local" (UTC in KSM's
 * distroless image) are UTC. Another zone under /usr/share/zoneinfo is read
 * (tz.c) and the fields match its wall-clock time; a wall time that a DST
 * change skips or repeats maps to one instant by the offset in effect just
 * before it, which can differ from robfig/cron inside those hours. A zone
 * that does not exist is a parse error, as time.LoadLocation fails. */
#include "collect/kubestate/ks_cron.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "base/err.h"
#include "collect/kubestate/tz.h"

#define STAR (1ull << 63)

struct bounds {
	unsigned min, max;
	const char *const *names; /* names[i] is value min+i... or NULL */
	unsigned name_base;
};

static const char *const months[] = { "jan", "feb", "mar", "apr", "may", "jun",
				      "jul", "aug", "sep", "oct", "nov", "dec", NULL };
static const char *const days[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL };

static const struct bounds B_MIN = { 0, 59, NULL, 0 }, B_HOUR = { 0, 23, NULL, 0 },
			   B_DOM = { 1, 31, NULL, 0 }, B_MONTH = { 1, 12, months, 1 },
			   B_DOW = { 0, 6, days, 0 };

static uint64_t bits(unsigned lo, unsigned hi, unsigned step)
{
	uint64_t b = 0;

	for (unsigned i = lo; i <= hi; i += step)
		b |= 1ull << i;
	return b;
}

static uint64_t all(const struct bounds *r)
{
	return bits(r->min, r->max, 1) | STAR;
}

/* strconv.Atoi on s[0..n) (optional sign), non-negative result. */
static int parse_uint(const char *s, size_t n, unsigned *out)
{
	size_t i = 0;
	unsigned long v = 0;

	if (n && (s[0] == '+'))
		i++;
	if (i == n)
		return KM_EPARSE;
	for (; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return KM_EPARSE;
		v = v * 10 + (unsigned long)(s[i] - '0');
		if (v > 1000000)
			return KM_EPARSE;
	}
	*out = (unsigned)v;
	return 0;
}

static int int_or_name(const char *s, size_t n, const struct bounds *r, unsigned *out)
{
	if (r->names) {
		for (unsigned i = 0; r->names[i]; i++) {
			if (strlen(r->names[i]) == n && strncasecmp(s, r->names[i], n) == 0) {
				*out = i + r->name_base;
				return 0;
			}
		}
	}
	return parse_uint(s, n, out);
}

/* One comma-separated element: "*", "?", "a", "a-b", each optionally
 * followed by "/step"; "a/step" means a-max/step. */
static int range(const char *s, size_t n, const struct bounds *r, uint64_t *out)
{
	const char *slash = memchr(s, '/', n), *dash;
	size_t rn = slash ? (size_t)(slash - s) : n;
	unsigned lo, hi, step = 1;
	uint64_t extra = 0;
	bool single = false;

	if (slash && memchr(slash + 1, '/', n - rn - 1))
		return KM_EPARSE;
	dash = memchr(s, '-', rn);
	if ((rn == 1 && (s[0] == '*' || s[0] == '?'))) {
		lo = r->min;
		hi = r->max;
		extra = STAR;
	} else {
		size_t ln = dash ? (size_t)(dash - s) : rn;
		if (int_or_name(s, ln, r, &lo))
			return KM_EPARSE;
		if (dash) {
			if (memchr(dash + 1, '-', rn - ln - 1) ||
			    int_or_name(dash + 1, rn - ln - 1, r, &hi))
				return KM_EPARSE;
		} else {
			hi = lo;
			single = true;
		}
	}
	if (slash) {
		if (parse_uint(slash + 1, n - rn - 1, &step))
			return KM_EPARSE;
		if (single)
			hi = r->max;
		if (step > 1)
			extra = 0;
	}
	if (lo < r->min || hi > r->max || lo > hi || step == 0)
		return KM_EPARSE;
	*out = bits(lo, hi, step) | extra;
	return 0;
}

static int field(const char *s, size_t n, const struct bounds *r, uint64_t *out)
{
	*out = 0;
	while (n) {
		const char *comma = memchr(s, ',', n);
		size_t en = comma ? (size_t)(comma - s) : n;
		uint64_t b;
		if (range(s, en, r, &b))
			return KM_EPARSE;
		*out |= b;
		if (!comma)
			return 0;
		s = comma + 1;
		n -= en + 1;
		if (!n)
			return KM_EPARSE; /* trailing comma: empty range */
	}
	return 0;
}

/* Go time.ParseDuration, to whole seconds (ConstantDelaySchedule drops
 * the fraction; under 1 s becomes 1 s). */
static int go_duration(const char *s, int64_t *secs)
{
	static const struct {
		const char *u;
		double ns;
	} units[] = { { "ns", 1 }, { "us", 1e3 }, { "\xc2\xb5s", 1e3 }, { "\xce\xbcs", 1e3 },
		      { "ms", 1e6 }, { "s", 1e9 },  { "m", 60e9 },	   { "h", 3600e9 } };
	double total = 0;
	int sign = 1;

	if (*s == '-' || *s == '+')
		sign = *s++ == '-' ? -1 : 1;
	if (strcmp(s, "0") == 0) {
		*secs = 1;
		return 0;
	}
	if (!*s)
		return KM_EPARSE;
	while (*s) {
		char *end;
		double v;
		size_t best = 0, bi = 0;
		if (!isdigit((unsigned char)*s) && *s != '.')
			return KM_EPARSE;
		v = strtod(s, &end);
		if (end == s)
			return KM_EPARSE;
		s = end;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t l = strlen(units[i].u);
			if (strncmp(s, units[i].u, l) == 0 && l > best) {
				best = l;
				bi = i;
			}
		}
		if (!best)
			return KM_EPARSE;
		total += v * units[bi].ns;
		s += best;
	}
	total *= sign;
	*secs = total < 1e9 ? 1 : (int64_t)(total / 1e9);
	return 0;
}

static bool utc_zone(const char *z, size_t n)
{
	return n == 0 || (n == 3 && memcmp(z, "UTC", 3) == 0) ||
	       (n == 7 && memcmp(z, "Etc/UTC", 7) == 0) || (n == 5 && memcmp(z, "Local", 5) == 0);
}

/* time.LoadLocation succeeds: a tz database name that exists here. */
static bool zone_exists(const char *z, size_t n)
{
	char path[512];
	struct stat st;

	if (n > 200 || memchr(z, '\0', n) || (n >= 2 && memmem(z, n, "..", 2)) || z[0] == '/')
		return false;
	snprintf(path, sizeof(path), "/usr/share/zoneinfo/%.*s", (int)n, z);
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int descriptor(const char *s, struct ks_cron *c)
{
	c->minute = 1;
	c->hour = 1;
	c->dom = all(&B_DOM);
	c->month = all(&B_MONTH);
	c->dow = all(&B_DOW);
	if (strcmp(s, "@yearly") == 0 || strcmp(s, "@annually") == 0) {
		c->dom = 1ull << 1;
		c->month = 1ull << 1;
	} else if (strcmp(s, "@monthly") == 0) {
		c->dom = 1ull << 1;
	} else if (strcmp(s, "@weekly") == 0) {
		c->dow = 1;
	} else if (strcmp(s, "@daily") == 0 || strcmp(s, "@midnight") == 0) {
		/* midnight every day: the defaults */
	} else if (strcmp(s, "@hourly") == 0) {
		c->hour = all(&B_HOUR);
	} else if (strncmp(s, "@every ", 7) == 0) {
		return go_duration(s + 7, &c->every);
	} else {
		return KM_EPARSE;
	}
	return 0;
}

int ks_cron_parse(const char *spec, const char *tz, struct ks_cron *c)
{
	char buf[1024];
	const char *s = buf, *f[6];
	size_t fl[6], nf = 0;

	memset(c, 0, sizeof(*c));
	/* KSM prefixes spec.timeZone as CRON_TZ=<zone>. */
	if (tz)
		snprintf(buf, sizeof(buf), "CRON_TZ=%s %s", tz, spec);
	else
		snprintf(buf, sizeof(buf), "%s", spec);
	if (!*s)
		return KM_EPARSE;
	if (strncmp(s, "TZ=", 3) == 0 || strncmp(s, "CRON_TZ=", 8) == 0) {
		const char *sp = strchr(s, ' '), *eq = strchr(s, '=');
		if (!sp)
			return KM_EPARSE;
		if (!utc_zone(eq + 1, (size_t)(sp - eq - 1))) {
			size_t zn = (size_t)(sp - eq - 1);
			if (!zone_exists(eq + 1, zn) || zn >= sizeof(c->zone))
				return KM_EPARSE;
			c->non_utc = true;
			memcpy(c->zone, eq + 1, zn);
			c->zone[zn] = '\0';
		}
		s = sp;
		while (isspace((unsigned char)*s))
			s++;
	}
	if (*s == '@')
		return descriptor(s, c);
	while (*s) {
		while (isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		if (nf == 6)
			return KM_EPARSE;
		f[nf] = s;
		while (*s && !isspace((unsigned char)*s))
			s++;
		fl[nf] = (size_t)(s - f[nf]);
		nf++;
	}
	if (nf != 5)
		return KM_EPARSE;
	if (field(f[0], fl[0], &B_MIN, &c->minute) || field(f[1], fl[1], &B_HOUR, &c->hour) ||
	    field(f[2], fl[2], &B_DOM, &c->dom) || field(f[3], fl[3], &B_MONTH, &c->month) ||
	    field(f[4], fl[4], &B_DOW, &c->dow))
		return KM_EPARSE;
	return 0;
}

static bool day_matches(const struct ks_cron *c, const struct tm *t)
{
	bool dom = c->dom & (1ull << t->tm_mday), dow = c->dow & (1ull << t->tm_wday);

	if ((c->dom & STAR) || (c->dow & STAR))
		return dom && dow;
	return dom || dow;
}

/* The first whole minute strictly after `after` whose time of day and date,
 * read as UTC, match the fields. */
static int next_wall(const struct ks_cron *c, int64_t after, int64_t *next)
{
	int64_t start, day;
	struct tm t;
	time_t tt;
	int year_limit;

	/* robfig: the first whole minute at or after after+1s that matches. */
	start = after + 1;
	start = (start + 59) / 60 * 60 - ((start % 60 < 0) ? 60 : 0);
	tt = (time_t)start;
	gmtime_r(&tt, &t);
	year_limit = t.tm_year + 5;
	day = start - (start % 86400 + 86400) % 86400;
	for (int i = 0; i < 366 * 7; i++, day += 86400) {
		int h0 = 0, m0 = 0;
		tt = (time_t)day;
		gmtime_r(&tt, &t);
		if (t.tm_year > year_limit)
			break;
		if (!(c->month & (1ull << (t.tm_mon + 1))) || !day_matches(c, &t))
			continue;
		if (i == 0) {
			h0 = (int)((start - day) / 3600);
			m0 = (int)((start - day) % 3600 / 60);
		}
		for (int h = h0; h < 24; h++) {
			if (!(c->hour & (1ull << h)))
				continue;
			for (int m = h == h0 ? m0 : 0; m < 60; m++) {
				if (c->minute & (1ull << m)) {
					*next = day + h * 3600 + m * 60;
					return 0;
				}
			}
		}
	}
	return KM_ENOENT; /* none within five years: robfig returns time.Time{} */
}

int ks_cron_next_in(const struct ks_cron *c, const char *zonedir, int64_t after, int64_t *next)
{
	struct ks_tz tz;
	int64_t wall, u;
	int rc;

	if (c->every) {
		*next = after + c->every;
		return 0;
	}
	if (!c->non_utc)
		return next_wall(c, after, next);
	if (ks_tz_load(zonedir, c->zone, strlen(c->zone), &tz))
		return KM_EINVAL;
	/* Search in wall-clock seconds (UTC + offset), map the match back. */
	wall = after + ks_tz_offset(&tz, after);
	for (int i = 0; i < 4; i++) {
		rc = next_wall(c, wall, &wall);
		if (rc)
			break;
		u = wall - ks_tz_offset(&tz, wall - ks_tz_offset(&tz, wall));
		if (u > after) {
			*next = u;
			break;
		}
		rc = KM_ENOENT; /* a wall time repeated by a DST change: the next one */
	}
	ks_tz_free(&tz);
	return rc;
}

int ks_cron_next(const struct ks_cron *c, int64_t after, int64_t *next)
{
	return ks_cron_next_in(c, NULL, after, next);
}
