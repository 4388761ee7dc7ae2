/* mdadm: node_md_* from <procfs>/mdstat and <sysfs>/block/md*\/md, with
 * node_exporter v1.12.1's semantics (its procfs v0.21.1 parser):
 *  - mdstat: one device per line that is not blank, does not start with a
 *    space or "unused" and is not the first "Personalities : " line; the
 *    three lines after it must exist. Status from the next line ("N blocks
 *    ... [total/active] [UU_]"; raid0/linear count the "[" of the device
 *    line, "inactive" has no disks), failed/spare from the "(F)"/"(S)"
 *    counts of the device line, the sync line (after an optional bitmap
 *    line) turns the state into recovering/reshaping/checking/resyncing and
 *    gives blocks_synced ("(done/total)"; 0 when PENDING or DELAYED).
 *    Anything that does not parse fails the whole collector, as there.
 *  - sysfs: every block/md*\/md; level, array_state, metadata_version, uuid
 *    and each dev-*\/state must be readable; raid_disks (plain or "N (M)"
 *    during a reshape; absent for container/imsm/ddf or an empty level)
 *    gives node_md_raid_disks, degraded (raid1/4/5/6/10) node_md_degraded.
 *  - no mdstat (no md driver): KM_ENODATA, as node_exporter's ErrNoData.
 * One difference: a sysfs failure drops the mdstat families too (a failed
 * collector never keeps partial output here; node_exporter keeps what it
 * sent before the error). */
#include "collect/node/node_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "base/parse.h"

#define MD_NAME_MAX 64
#define MD_PERS_MAX 32     /* personalities remembered */
#define MD_PERS_LEN 32
#define MD_MAX 4096        /* arrays per scrape */

enum { MDS_ACTIVE, MDS_INACTIVE, MDS_RECOVERING, MDS_RESYNC, MDS_CHECK, MDS_N, MDS_OTHER = MDS_N };

struct md_row {
	char name[MD_NAME_MAX];
	int state;                 /* MDS_* */
	double total, active, failed, spare, blocks, synced;
};

struct md_pers {
	char name[MD_PERS_MAX][MD_PERS_LEN];
	size_t n;
};

struct span {
	const char *p;
	size_t n;
};

/* src into dst (cap bytes), cut to fit. */
static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static struct span trim(struct span s)
{
	while (s.n && is_space(s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n && is_space(s.p[s.n - 1]))
		s.n--;
	return s;
}

static bool contains(struct span s, const char *needle)
{
	return memmem(s.p, s.n, needle, strlen(needle)) != NULL;
}

static size_t count(struct span s, const char *needle)
{
	size_t k = 0, nl = strlen(needle);
	const char *p = s.p, *end = s.p + s.n;
	const char *hit;

	while ((hit = memmem(p, (size_t)(end - p), needle, nl)) != NULL) {
		k++;
		p = hit + nl;
	}
	return k;
}

/* Index of the first byte of needle in s at or after from; -1 if none. */
static long find(struct span s, size_t from, const char *needle)
{
	const char *hit;

	if (from > s.n)
		return -1;
	hit = memmem(s.p + from, s.n - from, needle, strlen(needle));
	return hit ? (long)(hit - s.p) : -1;
}

/* Up to max whitespace-separated fields of s; returns how many there are in
 * all (more than max when the line has more). */
static size_t fields(struct span s, struct span *f, size_t max)
{
	size_t n = 0, i = 0;

	while (i < s.n) {
		size_t b;

		while (i < s.n && is_space(s.p[i]))
			i++;
		if (i == s.n)
			break;
		b = i;
		while (i < s.n && !is_space(s.p[i]))
			i++;
		if (n < max)
			f[n] = (struct span){ s.p + b, i - b };
		n++;
	}
	return n;
}

/* Line k of data (Go's strings.Split on "\n"); false past the last. */
static bool line_at(const char *data, size_t len, size_t k, struct span *out)
{
	const char *p = data, *end = data + len;

	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (k == 0) {
			*out = (struct span){ p, nl ? (size_t)(nl - p) : (size_t)(end - p) };
			return true;
		}
		if (!nl)
			return false;
		p = nl + 1;
		k--;
	}
}

/* strconv.ParseInt(s, 10, 64): optional sign, digits, nothing else. */
static int go_int(struct span s, double *out)
{
	int64_t v;
	int rc = parse_i64(s.p, s.n, &v);

	if (!rc)
		*out = (double)v;
	return rc;
}

static bool pers_known(const struct md_pers *ps, struct span w)
{
	if (memchr(w.p, '(', w.n) || memchr(w.p, '[', w.n))
		return false;
	for (size_t i = 0; i < ps->n; i++)
		if (strlen(ps->name[i]) == w.n && memcmp(ps->name[i], w.p, w.n) == 0)
			return true;
	return false;
}

static int parse_personalities(struct md_pers *ps, struct span rest)
{
	struct span f[MD_PERS_MAX];
	size_t n = fields(rest, f, MD_PERS_MAX);

	if (n > MD_PERS_MAX)
		return KM_ETOOBIG;
	for (size_t i = 0; i < n; i++) {
		/* "[raid1]" without its brackets. */
		if (f[i].n < 2 || f[i].n - 2 >= MD_PERS_LEN)
			return KM_EPARSE;
		memcpy(ps->name[ps->n], f[i].p + 1, f[i].n - 2);
		ps->name[ps->n][f[i].n - 2] = '\0';
		ps->n++;
	}
	return 0;
}

/* "[total/active] [U_]" after the first "<digits> blocks " of the status
 * line, the last such group winning (the greedy ".*" of the upstream
 * pattern). */
static int status_groups(struct span st, double *total, double *active)
{
	long b = -1;

	for (long at = 0; (at = find(st, (size_t)at, " blocks ")) >= 0; at++)
		if (at > 0 && is_digit(st.p[at - 1])) {
			b = at + 8;
			break;
		}
	if (b < 0)
		return KM_EPARSE;
	for (long i = (long)st.n - 1; i >= b; i--) {
		size_t j = (size_t)i, d1, d2, u;

		if (st.p[j] != '[')
			continue;
		d1 = ++j;
		while (j < st.n && is_digit(st.p[j]))
			j++;
		if (j == d1 || j >= st.n || st.p[j] != '/')
			continue;
		d2 = ++j;
		while (j < st.n && is_digit(st.p[j]))
			j++;
		if (j == d2 || j + 2 >= st.n || st.p[j] != ']' || st.p[j + 1] != ' ' ||
		    st.p[j + 2] != '[')
			continue;
		u = j += 3;
		while (j < st.n && (st.p[j] == 'U' || st.p[j] == '_'))
			j++;
		if (j == u || j >= st.n || st.p[j] != ']')
			continue;
		if (go_int((struct span){ st.p + d1, d2 - 1 - d1 }, total) ||
		    go_int((struct span){ st.p + d2, (size_t)(u - 3) - d2 }, active))
			return KM_ERANGE;
		return 0;
	}
	return KM_EPARSE;
}

/* The text between the first `start` and the last `stop_char`-class byte
 * or `stop` string after it (at least one byte between), as the upstream
 * "start(.+)stop" patterns capture it. upper: stop is any of A-Z. */
static int capture(struct span s, const char *start, const char *stop, bool upper,
		   struct span *out)
{
	long a = find(s, 0, start);
	size_t from, stopn = upper ? 1 : strlen(stop);

	if (a < 0)
		return KM_EPARSE;
	from = (size_t)a + strlen(start);
	for (size_t e = s.n; e >= from + 1 + stopn; e--) {
		size_t at = e - stopn;
		bool hit = upper ? (s.p[at] >= 'A' && s.p[at] <= 'Z')
				 : memcmp(s.p + at, stop, stopn) == 0;

		if (hit) {
			*out = (struct span){ s.p + from, at - from };
			return 0;
		}
	}
	return KM_EPARSE;
}

static int go_float(struct span s, double *out)
{
	return parse_double(s.p, s.n, out);
}

/* The sync line: blocks done (the "(done/total)" group); pct, finish and
 * speed must parse too, as upstream fails on them. */
static int recovery_line(struct span s, double *synced)
{
	struct span c;
	double total, x;
	long a = -1;
	int rc;

	for (long at = 0; (at = find(s, (size_t)at, "(")) >= 0; at++) {
		size_t j = (size_t)at + 1, d1 = j, d2;

		while (j < s.n && is_digit(s.p[j]))
			j++;
		if (j == d1 || j >= s.n || s.p[j] != '/')
			continue;
		d2 = ++j;
		while (j < s.n && is_digit(s.p[j]))
			j++;
		if (j == d2 || j >= s.n || s.p[j] != ')')
			continue;
		if (go_int((struct span){ s.p + d1, d2 - 1 - d1 }, synced) ||
		    go_int((struct span){ s.p + d2, j - d2 }, &total))
			return KM_ERANGE;
		a = at;
		break;
	}
	if (a < 0)
		return KM_EPARSE;
	rc = capture(s, "= ", "%", false, &c);
	if (!rc)
		rc = go_float(trim(c), &x);
	if (!rc)
		rc = capture(s, "finish=", "min", false, &c);
	if (!rc)
		rc = go_float(c, &x);
	if (!rc)
		rc = capture(s, "speed=", NULL, true, &c);
	if (!rc)
		rc = go_float(c, &x);
	return rc;
}

/* Component fields ("sda1[3](S)"): the last "[N]" of each must fit int32. */
static int components(const struct span *f, size_t nf)
{
	for (size_t k = 0; k < nf; k++) {
		for (size_t i = f[k].n; i-- > 0;) {
			size_t j = i + 1, d = j;
			int64_t v;

			if (f[k].p[i] != '[')
				continue;
			while (j < f[k].n && is_digit(f[k].p[j]))
				j++;
			if (j == d || j >= f[k].n || f[k].p[j] != ']')
				continue;
			if (parse_i64(f[k].p + d, j - d, &v) || v > INT32_MAX)
				return KM_ERANGE;
			break;
		}
	}
	return 0;
}

#define MD_FIELDS_MAX 256

static int parse_device(const char *data, size_t len, size_t i, struct span line,
			const struct md_pers *ps, struct md_row *r)
{
	struct span f[MD_FIELDS_MAX], st = { 0 }, sync = { 0 }, tmp;
	size_t nf = fields(line, f, MD_FIELDS_MAX), start = 0;
	const char *state;
	size_t state_n;
	int rc;

	if (nf > MD_FIELDS_MAX)
		return KM_ETOOBIG;
	if (nf < 3)
		return KM_EPARSE;
	if (f[0].n >= MD_NAME_MAX)
		return KM_ETOOBIG;
	memcpy(r->name, f[0].p, f[0].n);
	r->name[f[0].n] = '\0';
	state = f[2].p;
	state_n = f[2].n;
	if (nf > 3) {
		if (pers_known(ps, f[3]))
			start = 4;
		else if (nf > 4 && pers_known(ps, f[4]))
			start = 5;
	}
	if (!line_at(data, len, i + 3, &tmp))
		return KM_EPARSE;
	r->failed = (double)count(line, "(F)");
	r->spare = (double)count(line, "(S)");
	line_at(data, len, i + 1, &st);
	{
		struct span sf[1];

		if (fields(st, sf, 1) < 1)
			return KM_EPARSE;
		rc = go_int(sf[0], &r->blocks);
		if (rc)
			return rc;
	}
	if (contains(line, "raid0") || contains(line, "linear")) {
		r->total = r->active = (double)count(line, "[");
	} else if (contains(line, "inactive")) {
		r->total = r->active = 0;
	} else {
		rc = status_groups(st, &r->total, &r->active);
		if (rc)
			return rc;
	}
	line_at(data, len, i + 2, &sync);
	if (contains(sync, "bitmap"))
		line_at(data, len, i + 3, &sync);
	r->synced = r->blocks;
	r->state = MDS_OTHER;
	if (contains(sync, "recovery") || contains(sync, "reshape") || contains(sync, "resync") ||
	    contains(sync, "check")) {
		if (contains(sync, "recovery"))
			r->state = MDS_RECOVERING;
		else if (contains(sync, "reshape"))
			r->state = MDS_OTHER;
		else if (contains(sync, "check"))
			r->state = MDS_CHECK;
		else
			r->state = MDS_RESYNC;
		if (contains(sync, "PENDING") || contains(sync, "DELAYED")) {
			r->synced = 0;
		} else {
			rc = recovery_line(sync, &r->synced);
			if (rc)
				return rc;
		}
	} else if (state_n == 6 && memcmp(state, "active", 6) == 0) {
		r->state = MDS_ACTIVE;
	} else if (state_n == 8 && memcmp(state, "inactive", 8) == 0) {
		r->state = MDS_INACTIVE;
	}
	return components(f + start, nf - start);
}

static int write_mdstat(struct node_ctx *ctx, const struct md_row *rows, size_t n)
{
	static const char *const disk_state[3] = { "active", "failed", "spare" };
	static const char *const md_state[MDS_N] = { "active", "inactive", "recovering", "resync",
						     "check" };
	struct buf *out = ctx->out;
	int rc = expo_family(out, "node_md_blocks", "Total number of blocks on device.",
			     EXPO_GAUGE);

	for (size_t i = 0; !rc && i < n; i++) {
		struct label_pair l = { "device", rows[i].name };

		rc = expo_sample(out, "node_md_blocks", &l, 1, rows[i].blocks);
	}
	if (!rc)
		rc = expo_family(out, "node_md_blocks_synced", "Number of blocks synced on device.",
				 EXPO_GAUGE);
	for (size_t i = 0; !rc && i < n; i++) {
		struct label_pair l = { "device", rows[i].name };

		rc = expo_sample(out, "node_md_blocks_synced", &l, 1, rows[i].synced);
	}
	if (!rc)
		rc = expo_family(out, "node_md_disks", "Number of active/failed/spare disks of device.",
				 EXPO_GAUGE);
	for (size_t i = 0; !rc && i < n; i++) {
		const double v[3] = { rows[i].active, rows[i].failed, rows[i].spare };

		for (int k = 0; !rc && k < 3; k++) {
			struct label_pair l[2] = { { "device", rows[i].name },
						   { "state", disk_state[k] } };

			rc = expo_sample(out, "node_md_disks", l, 2, v[k]);
		}
	}
	if (!rc)
		rc = expo_family(out, "node_md_disks_required", "Total number of disks of device.",
				 EXPO_GAUGE);
	for (size_t i = 0; !rc && i < n; i++) {
		struct label_pair l = { "device", rows[i].name };

		rc = expo_sample(out, "node_md_disks_required", &l, 1, rows[i].total);
	}
	if (!rc)
		rc = expo_family(out, "node_md_state", "Indicates the state of md-device.",
				 EXPO_GAUGE);
	for (size_t i = 0; !rc && i < n; i++) {
		for (int k = 0; !rc && k < MDS_N; k++) {
			struct label_pair l[2] = { { "device", rows[i].name },
						   { "state", md_state[k] } };

			rc = expo_sample(out, "node_md_state", l, 2, rows[i].state == k ? 1 : 0);
		}
	}
	return rc;
}

int node_mdadm_parse(struct node_ctx *ctx, const char *data, size_t len)
{
	struct node_collector *nc = ctx->nc;
	struct md_pers ps;
	struct span line;
	size_t n = 0;
	int rc;

	ps.n = 0;
	for (size_t i = 0; line_at(data, len, i, &line); i++) {
		static const char pers[] = "Personalities : ";
		struct md_row *r;

		if (trim(line).n == 0 || line.p[0] == ' ' ||
		    (line.n >= 6 && memcmp(line.p, "unused", 6) == 0))
			continue;
		if (ps.n == 0 && line.n >= sizeof(pers) - 1 &&
		    memcmp(line.p, pers, sizeof(pers) - 1) == 0) {
			rc = parse_personalities(&ps, (struct span){ line.p + sizeof(pers) - 1,
								     line.n - (sizeof(pers) - 1) });
			if (rc)
				return rc;
			continue;
		}
		if (n == MD_MAX)
			return KM_ETOOBIG;
		rc = node_rows_reserve(nc, (n + 1) * sizeof(*r));
		if (rc)
			return rc;
		r = (struct md_row *)nc->rows + n;
		memset(r, 0, sizeof(*r));
		rc = parse_device(data, len, i, line, &ps, r);
		if (rc)
			return rc;
		n++;
	}
	return write_mdstat(ctx, nc->rows, n);
}

/* base/rel trimmed, as procfs's SysReadFile (one read, first 128 bytes). */
static int sys_str(struct node_ctx *ctx, const char *rel, char *dst, size_t cap)
{
	const char *data;
	size_t len;
	struct span s;
	int rc = procfile_read(&ctx->nc->pf, ctx->sysfs, rel, &data, &len);

	if (rc)
		return rc;
	s = trim((struct span){ data, len < 128 ? len : 128 });
	if (s.n >= cap)
		s.n = cap - 1;
	memcpy(dst, s.p, s.n);
	dst[s.n] = '\0';
	return 0;
}

static int sys_uint(struct node_ctx *ctx, const char *rel, double *v)
{
	const char *data;
	size_t len;
	uint64_t x;
	struct span s;
	int rc = procfile_read(&ctx->nc->pf, ctx->sysfs, rel, &data, &len);

	if (rc)
		return rc;
	s = trim((struct span){ data, len });
	rc = parse_u64(s.p, s.n, &x);
	if (!rc)
		*v = (double)x;
	return rc;
}

static bool level_is(const char *level, const char *const *set)
{
	for (; *set; set++)
		if (strcmp(level, *set) == 0)
			return true;
	return false;
}

/* "a / b" as fmt.Sscanf("%d / %d") reads it (trailing text ignored). */
static int sync_completed(const char *s)
{
	const char *p = s;
	int parts = 0;

	while (parts < 2) {
		const char *d;

		while (*p == ' ')
			p++;
		d = p;
		while (is_digit(*p))
			p++;
		if (p == d)
			return KM_EPARSE;
		if (++parts == 2)
			break;
		while (*p == ' ')
			p++;
		if (*p++ != '/')
			return KM_EPARSE;
	}
	return 0;
}

struct mdraid {
	bool has_disks;
	double disks, degraded;
};

/* Every dev-*\/state of one array must be readable. */
static int read_components(struct node_ctx *ctx, const char *md)
{
	char dir[PATH_MAX], rel[PATH_MAX], tmp[32];
	struct dirent *de;
	DIR *d;
	int rc = 0;

	snprintf(rel, sizeof(rel), "block/%s/md", md);
	rc = node_path_join(dir, sizeof(dir), ctx->sysfs, rel);
	if (rc)
		return rc;
	d = opendir(dir);
	if (!d)
		return km_from_errno(errno);
	while (!rc && (de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "dev-", 4) != 0)
			continue;
		if (snprintf(rel, sizeof(rel), "block/%s/md/%s/state", md, de->d_name) >=
		    (int)sizeof(rel))
			rc = KM_EINVAL;
		else
			rc = sys_str(ctx, rel, tmp, sizeof(tmp));
	}
	closedir(d);
	return rc;
}

static int read_mdraid(struct node_ctx *ctx, const char *md, struct mdraid *m)
{
	static const char *const chunk_levels[] = { "raid0", "raid4", "raid5", "raid6", "raid10",
						    NULL };
	static const char *const degr_levels[] = { "raid1", "raid4", "raid5", "raid6", "raid10",
						   NULL };
	static const char *const no_disks[] = { "container", "imsm", "ddf", "", NULL };
	char rel[PATH_MAX], level[130], tmp[130];
	static const char *const must[] = { "array_state", "metadata_version" };
	double x;
	int rc;

	memset(m, 0, sizeof(*m));
	snprintf(rel, sizeof(rel), "block/%s/md/level", md);
	rc = sys_str(ctx, rel, level, sizeof(level));
	for (size_t k = 0; !rc && k < 2; k++) {
		snprintf(rel, sizeof(rel), "block/%s/md/%s", md, must[k]);
		rc = sys_str(ctx, rel, tmp, sizeof(tmp));
	}
	if (rc)
		return rc;
	if (!level_is(level, no_disks)) {
		const char *data;
		size_t len;
		struct span s;
		uint64_t v;

		snprintf(rel, sizeof(rel), "block/%s/md/raid_disks", md);
		rc = procfile_read(&ctx->nc->pf, ctx->sysfs, rel, &data, &len);
		if (rc)
			return rc;
		s = trim((struct span){ data, len });
		if (s.n && !parse_u64(s.p, s.n, &v)) {
			m->has_disks = true;
			m->disks = (double)v;
		} else if (s.n) {
			const char *sp = memchr(s.p, ' ', s.n);

			/* "current (previous)" while reshaping. */
			if (sp && sp > s.p && !parse_u64(s.p, (size_t)(sp - s.p), &v)) {
				m->has_disks = true;
				m->disks = (double)v;
			}
		}
	}
	snprintf(rel, sizeof(rel), "block/%s/md/uuid", md);
	rc = sys_str(ctx, rel, tmp, sizeof(tmp));
	if (!rc)
		rc = read_components(ctx, md);
	if (!rc && level_is(level, chunk_levels)) {
		snprintf(rel, sizeof(rel), "block/%s/md/chunk_size", md);
		rc = sys_uint(ctx, rel, &x);
	}
	if (!rc && level_is(level, degr_levels)) {
		snprintf(rel, sizeof(rel), "block/%s/md/degraded", md);
		rc = sys_uint(ctx, rel, &m->degraded);
		if (!rc) {
			snprintf(rel, sizeof(rel), "block/%s/md/sync_action", md);
			rc = sys_str(ctx, rel, tmp, sizeof(tmp));
		}
		if (!rc) {
			snprintf(rel, sizeof(rel), "block/%s/md/sync_completed", md);
			rc = sys_str(ctx, rel, tmp, sizeof(tmp));
		}
		if (!rc && strcmp(tmp, "none") != 0)
			rc = sync_completed(tmp);
	}
	return rc;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Names of block/md* with an md/ entry, sorted (filepath.Glob order). */
static int list_arrays(struct node_ctx *ctx, char (**names)[MD_NAME_MAX], size_t *n)
{
	char dir[PATH_MAX], p[PATH_MAX];
	struct dirent *de;
	struct stat sb;
	size_t cap = 0;
	DIR *d;
	int rc;

	*names = NULL;
	*n = 0;
	rc = node_path_join(dir, sizeof(dir), ctx->sysfs, "block");
	if (rc)
		return rc;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : km_from_errno(errno);
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "md", 2) != 0 || strlen(de->d_name) >= MD_NAME_MAX)
			continue;
		if (snprintf(p, sizeof(p), "%s/%s/md", dir, de->d_name) >= (int)sizeof(p) ||
		    lstat(p, &sb) != 0)
			continue;
		if (*n == MD_MAX) {
			rc = KM_ETOOBIG;
			break;
		}
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			void *t = realloc(*names, nc * sizeof(**names));

			if (!t) {
				rc = KM_ENOMEM;
				break;
			}
			*names = t;
			cap = nc;
		}
		copy_str((*names)[*n], MD_NAME_MAX, de->d_name);
		(*n)++;
	}
	closedir(d);
	if (!rc && *n)
		qsort(*names, *n, MD_NAME_MAX, cmp_name);
	return rc;
}

static int write_mdraids(struct node_ctx *ctx, char (*names)[MD_NAME_MAX],
			 const struct mdraid *m, size_t n)
{
	bool any_disks = false;
	int rc = 0;

	for (size_t i = 0; i < n; i++)
		any_disks |= m[i].has_disks;
	if (any_disks)
		rc = expo_family(ctx->out, "node_md_raid_disks", "Number of raid disks on device.",
				 EXPO_GAUGE);
	for (size_t i = 0; !rc && i < n; i++) {
		struct label_pair l = { "device", names[i] };

		if (m[i].has_disks)
			rc = expo_sample(ctx->out, "node_md_raid_disks", &l, 1, m[i].disks);
	}
	if (!rc && n)
		rc = expo_family(ctx->out, "node_md_degraded", "Number of degraded disks on device.",
				 EXPO_GAUGE);
	for (size_t i = 0; !rc && i < n; i++) {
		struct label_pair l = { "device", names[i] };

		rc = expo_sample(ctx->out, "node_md_degraded", &l, 1, m[i].degraded);
	}
	return rc;
}

static int node_mdraids(struct node_ctx *ctx)
{
	char (*names)[MD_NAME_MAX] = NULL;
	struct mdraid *m = NULL;
	size_t n = 0;
	int rc = list_arrays(ctx, &names, &n);

	if (rc || n == 0)
		goto out;
	m = calloc(n, sizeof(*m));
	if (!m) {
		rc = KM_ENOMEM;
		goto out;
	}
	for (size_t i = 0; !rc && i < n; i++)
		rc = read_mdraid(ctx, names[i], &m[i]);
	if (!rc)
		rc = write_mdraids(ctx, names, m, n);
out:
	free(names);
	free(m);
	return rc;
}

int node_mdadm(struct node_ctx *ctx)
{
	const char *data;
	size_t len;
	int rc = procfile_read(&ctx->nc->pf, ctx->procfs, "mdstat", &data, &len);

	if (rc == KM_ENOENT)
		return KM_ENODATA;
	if (!rc)
		rc = node_mdadm_parse(ctx, data, len);
	if (!rc)
		rc = node_mdraids(ctx);
	/* A missing sysfs file is upstream's ErrNotExist -> ErrNoData. */
	return rc == KM_ENOENT ? KM_ENODATA : rc;
}
