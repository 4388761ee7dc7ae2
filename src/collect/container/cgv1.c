/* cgroup v1 (and hybrid) readers: cpuacct, cpu, memory, pids and blkio
 * controller directories. Formulas from cAdvisor v0.52.1 / opencontainers fs. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "base/parse.h"
#include "collect/container/cgread.h"

/* cAdvisor converts cpuacct.stat ticks with a hard-coded CLK_TCK of 100. */
#define V1_NS_PER_TICK 10000000ull

static bool cgroup_gone(const int fds[CG_C_COUNT])
{
	struct stat sb;

	for (int i = 0; i < CG_C_COUNT; i++)
		if (fds[i] >= 0 && fstatat(fds[i], "cgroup.procs", &sb, AT_SYMLINK_NOFOLLOW) == 0)
			return false;
	return true;
}

static void read_cpuacct(struct cg_reader *r, int fd, struct cg_stats *st)
{
	uint64_t user = 0;
	uint64_t sys = 0;
	struct cg_kv kv[] = { { "user", &user, false }, { "system", &sys, false } };
	size_t len;

	if (fd < 0)
		return;
	if (cg_read_u64(r, fd, "cpuacct.usage", false, &st->usage_ns) == 0)
		st->have |= CGS_CPU_USAGE;
	if (cg_read_file(r, fd, "cpuacct.stat", &len) != 0)
		return;
	if (cg_parse_kv(r->buf, len, kv, 2) != 0 || !kv[0].found || !kv[1].found) {
		r->malformed++;
		return;
	}
	st->user_ns = user * V1_NS_PER_TICK;
	st->system_ns = sys * V1_NS_PER_TICK;
	st->have |= CGS_CPU_USER_SYS;
}

/* Like cAdvisor, an existing cpu controller directory means a CPU spec;
 * cpu.cfs_quota_us of -1 (or absent) is no quota. */
static void read_cpu(struct cg_reader *r, int fd, struct cg_stats *st)
{
	uint64_t periods = 0, thr = 0, thr_ns = 0, v;
	struct cg_kv kv[] = {
		{ "nr_periods", &periods, false },
		{ "nr_throttled", &thr, false },
		{ "throttled_time", &thr_ns, false },
	};
	size_t len;

	if (fd < 0)
		return;
	st->have |= CGS_CPU_SPEC;
	st->shares = cg_read_u64(r, fd, "cpu.shares", false, &v) == 0 ? v : 0;
	st->period_us = cg_read_u64(r, fd, "cpu.cfs_period_us", false, &v) == 0 ? v : 0;
	st->quota_us = 0;
	if (cg_read_file(r, fd, "cpu.cfs_quota_us", &len) == 0) {
		int64_t q;

		while (len > 0 && (r->buf[len - 1] == '\n' || r->buf[len - 1] == ' '))
			len--;
		if (parse_i64(r->buf, len, &q) != 0)
			r->malformed++;
		else if (q > 0)
			st->quota_us = q;
	}
	if (cg_read_file(r, fd, "cpu.stat", &len) != 0)
		return;
	if (cg_parse_kv(r->buf, len, kv, 3) != 0) {
		r->malformed++;
		return;
	}
	/* nr_bursts and burst_time are not read: cAdvisor's v1 reader (the
	 * opencontainers/cgroups fs CpuGroup) ignores them, so its burst
	 * families say 0 on v1 whatever the kernel counts. */
	if (kv[0].found && kv[1].found && kv[2].found) {
		st->nr_periods = periods;
		st->nr_throttled = thr;
		st->throttled_ns = thr_ns;
		st->have |= CGS_CPU_CFS;
	}
}

/* memory.stat: total_* when memory.use_hierarchy is 1 (or absent, as on
 * every kernel since 5.16), the local value otherwise. */
static void read_memory(struct cg_reader *r, int fd, struct cg_stats *st)
{
	uint64_t v[14] = { 0 };
	struct cg_kv kv[] = {
		{ "total_rss", &v[0], false },         { "rss", &v[1], false },
		{ "total_cache", &v[2], false },       { "cache", &v[3], false },
		{ "total_mapped_file", &v[4], false }, { "mapped_file", &v[5], false },
		{ "total_swap", &v[6], false },        { "swap", &v[7], false },
		{ "total_inactive_file", &v[8], false }, { "inactive_file", &v[9], false },
		{ "total_active_file", &v[10], false }, { "pgfault", &v[11], false },
		{ "pgmajfault", &v[12], false },
	};
	uint64_t usage;
	uint64_t hier = 1;
	uint64_t x;
	int h;
	size_t len;

	if (fd < 0)
		return;
	if (cg_read_u64(r, fd, "memory.limit_in_bytes", false, &x) == 0) {
		st->mem_limit = x > (1ull << 62) ? 0 : x;
		st->have |= CGS_MEM_LIMIT;
		/* cAdvisor reads an absent file as 0 (memsw without swap accounting) */
		x = 0;
		(void)cg_read_u64(r, fd, "memory.soft_limit_in_bytes", false, &x);
		st->mem_reservation = x > (1ull << 62) ? 0 : x;
		x = 0;
		(void)cg_read_u64(r, fd, "memory.memsw.limit_in_bytes", false, &x);
		st->swap_limit = x > (1ull << 62) ? 0 : x;
	}
	if (cg_read_u64(r, fd, "memory.usage_in_bytes", false, &usage) != 0)
		return;
	(void)cg_read_u64(r, fd, "memory.use_hierarchy", false, &hier);
	h = hier ? 0 : 1;  /* index offset: total_* or local */
	if (cg_read_file(r, fd, "memory.stat", &len) != 0)
		return;
	if (cg_parse_kv(r->buf, len, kv, sizeof(kv) / sizeof(kv[0])) != 0 || !kv[0 + h].found || !kv[2 + h].found) {
		r->malformed++;
		return;
	}
	st->mem_usage = usage;
	st->rss = v[0 + h];
	st->cache = v[2 + h];
	st->mapped_file = v[4 + h];
	st->swap = v[6 + h];
	st->working_set = usage > v[8] ? usage - v[8] : 0;
	st->inactive_file = v[8];
	st->active_file = v[10];
	st->pgfault = v[11];
	st->pgmajfault = v[12];
	st->kernel_usage = cg_read_u64(r, fd, "memory.kmem.usage_in_bytes", false, &x) == 0 ? x : 0;
	st->have |= CGS_MEM | CGS_MEM_SWAP;
	if (cg_read_u64(r, fd, "memory.max_usage_in_bytes", false, &x) == 0) {
		st->mem_max_usage = x;
		st->have |= CGS_MEM_MAX;
	}
	if (cg_read_u64(r, fd, "memory.failcnt", false, &x) == 0) {
		st->failcnt = x;
		st->have |= CGS_MEM_FAILCNT;
	}
}

/* oom_kill in memory.oom_control (kernel >= 4.13). */
static void read_oom(struct cg_reader *r, int fd, struct cg_stats *st)
{
	uint64_t oom = 0;
	struct cg_kv kv[] = { { "oom_kill", &oom, false } };
	size_t len;

	if (fd < 0 || cg_read_file(r, fd, "memory.oom_control", &len) != 0)
		return;
	if (cg_parse_kv(r->buf, len, kv, 1) == 0 && kv[0].found) {
		st->oom_kills = oom;
		st->have |= CGS_OOM;
	}
}

static void read_pids(struct cg_reader *r, int fd, struct cg_stats *st)
{
	uint64_t cur;
	uint64_t max;

	if (fd < 0 || cg_read_u64(r, fd, "pids.current", false, &cur) != 0)
		return;
	if (cg_read_u64(r, fd, "pids.max", true, &max) != 0)
		max = UINT64_MAX;
	st->threads = cur;
	st->threads_max = max == UINT64_MAX ? 0 : max;
	st->have |= CGS_PIDS;
}

int cgv1_read(struct cg_reader *r, const int fds[CG_C_COUNT], struct cg_stats *st)
{
	unsigned missing0 = r->missing;

	memset(st, 0, sizeof(*st));
	read_cpuacct(r, fds[CG_C_CPUACCT], st);
	read_cpu(r, fds[CG_C_CPU], st);
	read_memory(r, fds[CG_C_MEMORY], st);
	read_oom(r, fds[CG_C_MEMORY], st);
	read_pids(r, fds[CG_C_PIDS], st);
	/* as in cgv2_read: checked only when a file read as absent */
	if (r->missing != missing0 && cgroup_gone(fds))
		return KM_ENOENT;
	return KM_OK;
}

/* Finds the slot of (row, maj, min) among this row's entries, or adds one. */
static int io_slot(struct cg_reader *r, size_t first, uint32_t row, uint32_t maj, uint32_t min,
		   struct cg_io **out)
{
	int err;

	for (size_t i = first; i < r->nios; i++) {
		if (r->ios[i].major == maj && r->ios[i].minor == min) {
			*out = &r->ios[i];
			return KM_OK;
		}
	}
	err = cg_push_io(r, out);
	if (err)
		return err;
	memset(*out, 0, sizeof(**out));
	(*out)->row = row;
	(*out)->major = maj;
	(*out)->minor = min;
	return KM_OK;
}

/* Parses "MAJ:MIN Read|Write|... N" lines of the first candidate file that
 * has any, into the read/write fields chosen by bytes. */
static int read_blkio_file(struct cg_reader *r, int fd, const char *const *names, size_t first,
			   uint32_t row, bool bytes)
{
	for (; *names; names++) {
		size_t len;
		const char *p;
		const char *end;
		bool any = false;

		if (cg_read_file(r, fd, *names, &len) != 0)
			continue;
		p = r->buf;
		end = r->buf + len;
		while (p < end) {
			const char *eol = memchr(p, '\n', (size_t)(end - p));
			const char *le = eol ? eol : end;
			const char *dev, *op, *val;
			size_t dn, on, vn;
			uint32_t maj, min;
			uint64_t v;
			struct cg_io *io;
			int err;
			const char *ls = p;

			p = eol ? eol + 1 : end;
			if (!parse_field(&ls, le, &dev, &dn) || !parse_field(&ls, le, &op, &on) ||
			    !parse_field(&ls, le, &val, &vn))
				continue;  /* "Total N" or an empty line */
			if (cg_parse_majmin(dev, dn, &maj, &min) != 0 || parse_u64(val, vn, &v) != 0) {
				r->malformed++;
				return KM_EPARSE;
			}
			any = true;
			if (!((on == 4 && memcmp(op, "Read", 4) == 0) ||
			      (on == 5 && memcmp(op, "Write", 5) == 0)))
				continue;
			err = io_slot(r, first, row, maj, min, &io);
			if (err)
				return err;
			if (op[0] == 'R')
				*(bytes ? &io->rbytes : &io->rios) = v;
			else
				*(bytes ? &io->wbytes : &io->wios) = v;
		}
		if (any)
			return KM_OK;
	}
	return KM_OK;
}

int cgv1_read_io(struct cg_reader *r, int dirfd, uint32_t row)
{
	static const char *const bytes[] = {
		"blkio.bfq.io_service_bytes_recursive", "blkio.io_service_bytes_recursive",
		"blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_service_bytes", NULL,
	};
	static const char *const ops[] = {
		"blkio.bfq.io_serviced_recursive", "blkio.io_serviced_recursive",
		"blkio.throttle.io_serviced_recursive", "blkio.throttle.io_serviced", NULL,
	};
	size_t first = r->nios;
	int err;

	if (dirfd < 0)
		return KM_OK;
	err = read_blkio_file(r, dirfd, bytes, first, row, true);
	if (err)
		return err;
	return read_blkio_file(r, dirfd, ops, first, row, false);
}
