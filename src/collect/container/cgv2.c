/* cgroup v2 (unified) readers: cpu.stat, cpu.max, cpu.weight, memory.*,
 * pids.*, io.stat. Formulas from cAdvisor v0.52.1 / opencontainers fs2. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "base/parse.h"
#include "collect/container/cgread.h"

/* A cgroup that was removed mid-scrape has lost even cgroup.procs. */
static bool cgroup_gone(int dirfd)
{
	struct stat sb;

	return fstatat(dirfd, "cgroup.procs", &sb, AT_SYMLINK_NOFOLLOW) != 0;
}

static void read_cpu(struct cg_reader *r, int dirfd, struct cg_stats *st)
{
	uint64_t usage = 0, user = 0, sys = 0, periods = 0, thr = 0, thr_us = 0;
	uint64_t bursts = 0, burst_us = 0;
	struct cg_kv kv[] = {
		{ "usage_usec", &usage, false },   { "user_usec", &user, false },
		{ "system_usec", &sys, false },    { "nr_periods", &periods, false },
		{ "nr_throttled", &thr, false },   { "throttled_usec", &thr_us, false },
		{ "nr_bursts", &bursts, false },   { "burst_usec", &burst_us, false },
	};
	size_t len;

	if (cg_read_file(r, dirfd, "cpu.stat", &len) != 0)
		return;
	if (cg_parse_kv(r->buf, len, kv, sizeof(kv) / sizeof(kv[0])) != 0 || !kv[0].found) {
		r->malformed++;
		return;
	}
	st->usage_ns = usage * 1000;
	st->have |= CGS_CPU_USAGE;
	if (kv[1].found && kv[2].found) {
		st->user_ns = user * 1000;
		st->system_ns = sys * 1000;
		st->have |= CGS_CPU_USER_SYS;
	}
	if (kv[3].found && kv[4].found && kv[5].found) {
		st->nr_periods = periods;
		st->nr_throttled = thr;
		st->throttled_ns = thr_us * 1000;
		/* absent before Linux 5.14: 0, as cAdvisor reports them then */
		st->nr_bursts = bursts;
		st->burst_ns = burst_us * 1000;
		st->have |= CGS_CPU_CFS;
	}
}

/* cpu.max is "<quota|max> <period>"; cpu.weight maps back to shares with
 * cAdvisor's linear inverse 2 + (w-1)*262142/9999 (integer division). Like
 * cAdvisor, every v2 cgroup has a CPU spec; absent files give 0. */
static void read_cpu_spec(struct cg_reader *r, int dirfd, struct cg_stats *st)
{
	uint64_t w;
	size_t len;

	st->quota_us = 0;
	st->period_us = 0;
	st->shares = 0;
	st->have |= CGS_CPU_SPEC;
	if (cg_read_u64(r, dirfd, "cpu.weight", false, &w) == 0 && w > 0)
		st->shares = 2 + (w - 1) * 262142 / 9999;
	if (cg_read_file(r, dirfd, "cpu.max", &len) == 0) {
		const char *p = r->buf;
		const char *end = r->buf + len;
		const char *q;
		const char *per;
		size_t qn;
		size_t pn;
		uint64_t quota = 0;
		uint64_t period = 0;

		if (!parse_field(&p, end, &q, &qn) || !parse_field(&p, end, &per, &pn) ||
		    parse_u64(per, pn, &period) != 0 ||
		    (!(qn == 3 && memcmp(q, "max", 3) == 0) && parse_u64(q, qn, &quota) != 0) ||
		    quota > INT64_MAX) {
			r->malformed++;
			return;
		}
		st->quota_us = (int64_t)quota;
		st->period_us = period;
	}
}

static void read_memory(struct cg_reader *r, int dirfd, bool is_root, struct cg_stats *st)
{
	uint64_t anon = 0, file = 0, mapped = 0, inactive = 0, usage = 0, v;
	uint64_t active = 0, pgfault = 0, pgmajfault = 0, kernel = 0;
	struct cg_kv kv[] = {
		{ "anon", &anon, false },
		{ "file", &file, false },
		{ "file_mapped", &mapped, false },
		{ "inactive_file", &inactive, false },
		{ "active_file", &active, false },
		{ "pgfault", &pgfault, false },
		{ "pgmajfault", &pgmajfault, false },
		{ "kernel", &kernel, false },
	};
	size_t len;
	int err;

	/* the limit is spec, independent of the usage files */
	if (cg_read_u64(r, dirfd, "memory.max", true, &v) == 0) {
		st->mem_limit = v > (1ull << 62) ? 0 : v;
		st->have |= CGS_MEM_LIMIT;
		/* absent files are 0, "max" is over 2^62 and so 0, as in cAdvisor */
		v = 0;
		(void)cg_read_u64(r, dirfd, "memory.min", true, &v);
		st->mem_reservation = v > (1ull << 62) ? 0 : v;
		v = 0;
		(void)cg_read_u64(r, dirfd, "memory.swap.max", true, &v);
		st->swap_limit = v > (1ull << 62) ? 0 : v;
	}
	if (!is_root) {
		err = cg_read_u64(r, dirfd, "memory.current", false, &usage);
		if (err)
			return;
	}
	if (cg_read_file(r, dirfd, "memory.stat", &len) != 0)
		return;
	if (cg_parse_kv(r->buf, len, kv, sizeof(kv) / sizeof(kv[0])) != 0 || !kv[0].found || !kv[1].found) {
		r->malformed++;
		return;
	}
	if (is_root)
		usage = anon + file;
	st->mem_usage = usage;
	st->working_set = usage > inactive ? usage - inactive : 0;
	st->rss = anon;
	st->cache = file;
	st->mapped_file = mapped;
	st->inactive_file = inactive;
	st->active_file = active;
	st->pgfault = pgfault;
	st->pgmajfault = pgmajfault;
	st->kernel_usage = kernel;
	st->have |= CGS_MEM | CGS_MEM_MAX | CGS_MEM_SWAP | CGS_MEM_FAILCNT;
	st->mem_max_usage = cg_read_u64(r, dirfd, "memory.peak", false, &v) == 0 ? v : 0;
	st->swap = cg_read_u64(r, dirfd, "memory.swap.current", false, &v) == 0 ? v : 0;
	st->failcnt = 0;  /* not kept by the kernel on v2 */
}

static void read_events(struct cg_reader *r, int dirfd, struct cg_stats *st)
{
	uint64_t oom = 0;
	struct cg_kv kv[] = { { "oom_kill", &oom, false } };
	size_t len;

	if (cg_read_file(r, dirfd, "memory.events", &len) != 0)
		return;
	if (cg_parse_kv(r->buf, len, kv, 1) != 0) {
		r->malformed++;
		return;
	}
	if (kv[0].found) {
		st->oom_kills = oom;
		st->have |= CGS_OOM;
	}
}

static void read_pids(struct cg_reader *r, int dirfd, struct cg_stats *st)
{
	uint64_t cur;
	uint64_t max;

	if (cg_read_u64(r, dirfd, "pids.current", false, &cur) != 0)
		return;
	if (cg_read_u64(r, dirfd, "pids.max", true, &max) != 0)
		max = UINT64_MAX;
	st->threads = cur;
	st->threads_max = max == UINT64_MAX ? 0 : max;
	st->have |= CGS_PIDS;
}

/* "some avg10=.. avg60=.. avg300=.. total=N" and the same for "full": the
 * totals into out[0] (some) and out[1] (full). A line without total= (or a
 * malformed one) counts as malformed; an absent file leaves 0, as cAdvisor
 * reports pressure it cannot read. */
static void read_psi(struct cg_reader *r, int dirfd, const char *name, uint64_t out[2])
{
	size_t len;
	const char *p;
	const char *end;

	if (cg_read_file(r, dirfd, name, &len) != 0)
		return;
	p = r->buf;
	end = r->buf + len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol ? eol : end;
		const char *f;
		size_t fn;
		int slot = -1;

		if (parse_field(&p, le, &f, &fn)) {
			if (fn == 4 && memcmp(f, "some", 4) == 0)
				slot = 0;
			else if (fn == 4 && memcmp(f, "full", 4) == 0)
				slot = 1;
		}
		while (slot >= 0 && parse_field(&p, le, &f, &fn)) {
			if (fn > 6 && memcmp(f, "total=", 6) == 0) {
				if (parse_u64(f + 6, fn - 6, &out[slot]) != 0)
					r->malformed++;
				slot = -1;
			}
		}
		if (slot >= 0)
			r->malformed++;  /* some/full without total= */
		p = eol ? eol + 1 : end;
	}
}

int cgv2_read(struct cg_reader *r, int dirfd, bool is_root, struct cg_stats *st)
{
	unsigned missing0 = r->missing;

	memset(st, 0, sizeof(*st));
	read_cpu(r, dirfd, st);
	read_cpu_spec(r, dirfd, st);
	read_memory(r, dirfd, is_root, st);
	read_events(r, dirfd, st);
	read_pids(r, dirfd, st);
	/* The kubelet (1.34+) has cAdvisor export pressure on cgroup v2 for
	 * every cgroup, 0 where it has no *.pressure file (the root). */
	if (!is_root) {
		read_psi(r, dirfd, "cpu.pressure", &st->psi_us[PSI_CPU_SOME]);
		read_psi(r, dirfd, "memory.pressure", &st->psi_us[PSI_MEM_SOME]);
		read_psi(r, dirfd, "io.pressure", &st->psi_us[PSI_IO_SOME]);
	}
	st->have |= CGS_PSI;
	/* Files of a removed cgroup read as absent; when none was, every value
	 * above was read from the live cgroup. */
	if (!is_root && r->missing != missing0 && cgroup_gone(dirfd))
		return KM_ENOENT;
	return KM_OK;
}

int cgv2_read_io(struct cg_reader *r, int dirfd, uint32_t row)
{
	size_t len;
	const char *p;
	const char *end;
	int err = cg_read_file(r, dirfd, "io.stat", &len);

	if (err)
		return err == KM_ENOENT ? KM_OK : err;
	p = r->buf;
	end = r->buf + len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol ? eol : end;
		const char *f;
		size_t fn;
		struct cg_io io = { .row = row };
		struct cg_io *slot;

		if (parse_field(&p, le, &f, &fn)) {
			if (cg_parse_majmin(f, fn, &io.major, &io.minor) != 0) {
				r->malformed++;
				return KM_EPARSE;
			}
			while (parse_field(&p, le, &f, &fn)) {
				const char *eq = memchr(f, '=', fn);
				uint64_t v;
				size_t kn;

				if (!eq || parse_u64(eq + 1, fn - (size_t)(eq + 1 - f), &v) != 0)
					continue;  /* future keys with other syntax */
				kn = (size_t)(eq - f);
				if (kn == 6 && memcmp(f, "rbytes", 6) == 0)
					io.rbytes = v;
				else if (kn == 6 && memcmp(f, "wbytes", 6) == 0)
					io.wbytes = v;
				else if (kn == 4 && memcmp(f, "rios", 4) == 0)
					io.rios = v;
				else if (kn == 4 && memcmp(f, "wios", 4) == 0)
					io.wios = v;
			}
			err = cg_push_io(r, &slot);
			if (err)
				return err;
			*slot = io;
		}
		p = eol ? eol + 1 : end;
	}
	return KM_OK;
}
