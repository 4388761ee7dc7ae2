/* Per-cgroup statistics and the readers that fill them from cgroup v1
 * (cgv1.c), cgroup v2 (cgv2.c) and /proc (net/dev, meminfo; cgread.c).
 *
 * Every file is read with one read() into the reader's reusable buffer (a
 * second read only when the buffer was filled), so a steady-state scrape
 * allocates nothing. A missing file leaves its fields unset (the family is
 * not emitted for that cgroup); a malformed file does the same and bumps
 * cg_reader.malformed, which the collector exports as container_scrape_error.
 * Unit conversions follow cAdvisor v0.52.1 (reference B.4). */
#ifndef K8SMON_COLLECT_CONTAINER_CGREAD_H
#define K8SMON_COLLECT_CONTAINER_CGREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collect/container/cgroup.h"

/* Which fields of struct cg_stats are valid. */
enum {
	CGS_CPU_USAGE = 1u << 0,   /* usage_ns */
	CGS_CPU_USER_SYS = 1u << 1,/* user_ns, system_ns */
	CGS_CPU_CFS = 1u << 2,     /* nr_periods, nr_throttled, throttled_ns */
	CGS_CPU_SPEC = 1u << 3,    /* quota_us, period_us, shares */
	CGS_MEM = 1u << 4,         /* usage, working_set, rss, cache, mapped_file */
	CGS_MEM_MAX = 1u << 5,     /* max_usage */
	CGS_MEM_SWAP = 1u << 6,    /* swap */
	CGS_MEM_FAILCNT = 1u << 7, /* failcnt */
	CGS_MEM_LIMIT = 1u << 8,   /* mem_limit */
	CGS_OOM = 1u << 9,         /* oom_kills */
	CGS_START = 1u << 10,      /* start_time */
	CGS_PIDS = 1u << 11,       /* threads, threads_max */
	CGS_PROCS = 1u << 12,      /* processes, fds, sockets */
	CGS_ULIMIT = 1u << 13,     /* nofile_soft */
	CGS_PSI = 1u << 14,        /* psi_us (cgroup v2 only, 0 where a file is absent) */
};

/* Pressure totals of cpu/memory/io.pressure, "some" and "full" lines. */
enum { PSI_CPU_SOME = 0, PSI_CPU_FULL, PSI_MEM_SOME, PSI_MEM_FULL, PSI_IO_SOME, PSI_IO_FULL,
       PSI_COUNT };

struct cg_stats {
	unsigned have;          /* CGS_* bits */
	uint64_t usage_ns;      /* total CPU time */
	uint64_t user_ns;
	uint64_t system_ns;
	uint64_t nr_periods;
	uint64_t nr_throttled;
	uint64_t throttled_ns;
	uint64_t nr_bursts;     /* v2 only: cAdvisor's v1 reader leaves both 0 */
	uint64_t burst_ns;
	int64_t quota_us;       /* 0 = no quota */
	uint64_t period_us;
	uint64_t shares;
	uint64_t mem_usage;
	uint64_t mem_max_usage;
	uint64_t working_set;
	uint64_t rss;
	uint64_t cache;
	uint64_t mapped_file;
	uint64_t swap;
	uint64_t failcnt;
	uint64_t mem_limit;     /* 0 = unlimited (cAdvisor: values > 2^62 -> 0) */
	/* With CGS_MEM_LIMIT (cAdvisor's memory spec): v1 soft_limit_in_bytes
	 * and memsw.limit_in_bytes, v2 memory.min and memory.swap.max; an
	 * absent file is 0, as is anything > 2^62. */
	uint64_t mem_reservation;
	uint64_t swap_limit;
	/* With CGS_MEM: memory.stat's pgfault/pgmajfault (the cgroup's own on
	 * v1, where cAdvisor reports that one value for both of its scopes),
	 * total_active_file/total_inactive_file (v1) or active_file/
	 * inactive_file (v2), and the kernel memory (v1
	 * memory.kmem.usage_in_bytes, v2 memory.stat kernel). */
	uint64_t pgfault;
	uint64_t pgmajfault;
	uint64_t active_file;
	uint64_t inactive_file;
	uint64_t kernel_usage;
	uint64_t oom_kills;
	int64_t start_time;     /* unix seconds */
	uint64_t threads;
	uint64_t threads_max;   /* 0 = unlimited */
	/* CGS_PROCS: over the pids of the cgroup's own cgroup.procs (not its
	 * descendants'), as cAdvisor counts: processes, entries of each
	 * /proc/<pid>/fd, and those that link to "socket:[...]". */
	uint64_t processes;
	uint64_t fds;
	uint64_t sockets;
	int64_t nofile_soft;    /* CGS_ULIMIT: "Max open files" soft limit, -1 = unlimited */
	uint64_t psi_us[PSI_COUNT]; /* CGS_PSI: total= of each line, microseconds */
};

struct cg_netif {
	uint32_t row;           /* owning row index */
	char name[32];
	uint64_t v[8];          /* rx bytes, packets, errs, drop; tx bytes, packets, errs, drop */
};

struct cg_io {
	uint32_t row;
	uint32_t major;
	uint32_t minor;
	uint64_t rbytes;
	uint64_t wbytes;
	uint64_t rios;
	uint64_t wios;
	char dev[48];           /* "/dev/<name>", filled by the collector; "" = not exported */
};

struct cg_reader {
	char *buf;              /* owned, reused for every file */
	size_t alloc;
	unsigned malformed;     /* malformed files seen since the last reset */
	unsigned denied;        /* /proc/<pid>/fd listings refused (EACCES/EPERM:
				 * another UID's process without CAP_SYS_PTRACE)
				 * since the last reset */
	unsigned missing;       /* files found absent (KM_ENOENT), ever; a reader
				 * compares it before and after a cgroup to know
				 * whether to check that the cgroup still exists */
	/* Per-row outputs appended by the readers; owned, reused. */
	struct cg_netif *nets;
	size_t nnets;
	size_t capnets;
	struct cg_io *ios;
	size_t nios;
	size_t capios;
};

#define CG_READ_MAX (1u << 20)  /* largest file we accept */

void cg_reader_init(struct cg_reader *r);
void cg_reader_fini(struct cg_reader *r);
/* Empties the per-scrape outputs, keeping memory. */
void cg_reader_reset(struct cg_reader *r);

/* Reads name relative to dirfd (never following a symlink) into r->buf,
 * NUL-terminated; *len gets its length. KM_ENOENT when absent (counted in
 * r->missing; also when its cgroup was removed under it), KM_ETOOBIG
 * past CG_READ_MAX, KM_EIO otherwise. */
int cg_read_file(struct cg_reader *r, int dirfd, const char *name, size_t *len);
/* Reads a file holding one unsigned number (or "max" when max_ok, giving
 * UINT64_MAX). KM_EPARSE when malformed (counted). */
int cg_read_u64(struct cg_reader *r, int dirfd, const char *name, bool max_ok, uint64_t *out);

/* One wanted key of a "key value" file. */
struct cg_kv {
	const char *key;
	uint64_t *dst;
	bool found;
};
/* Parses "key value" lines of data and fills the wanted keys in one pass.
 * Returns KM_EPARSE if a wanted key has a malformed value. */
int cg_parse_kv(const char *data, size_t len, struct cg_kv *kv, size_t nkv);

/* Appends a zeroed slot to r->ios. */
int cg_push_io(struct cg_reader *r, struct cg_io **out);
/* Parses "MAJ:MIN". */
int cg_parse_majmin(const char *s, size_t n, uint32_t *maj, uint32_t *min);

/* Fills st from the v2 cgroup open at dirfd. is_root selects the root
 * formulas (usage from memory.stat anon+file). Returns KM_ENOENT only when
 * the cgroup itself is gone: checked (cgroup.procs) only when a file was
 * missing, so a steady-state read costs no extra syscall. */
int cgv2_read(struct cg_reader *r, int dirfd, bool is_root, struct cg_stats *st);
/* v2 io.stat of dirfd, appended to r->ios for row. */
int cgv2_read_io(struct cg_reader *r, int dirfd, uint32_t row);

/* Fills st from the v1 controller directories fds[CG_C_*] (-1 when that
 * controller is absent). KM_ENOENT as for cgv2_read. */
int cgv1_read(struct cg_reader *r, const int fds[CG_C_COUNT], struct cg_stats *st);
/* v1 blkio of dirfd, appended to r->ios for row. */
int cgv1_read_io(struct cg_reader *r, int dirfd, uint32_t row);

/* Start time: earliest mtime of the directory and of marker (cgroup.events on
 * v2, cgroup.clone_children on v1), floored at btime. */
void cg_read_start(int dirfd, const char *marker, int64_t btime, struct cg_stats *st);

/* First pid listed in dirfd's cgroup.procs; KM_ENOENT when none. */
int cg_first_pid(struct cg_reader *r, int dirfd, uint64_t *pid);
/* Appends the interfaces of <procfs>/<pid>/net/dev to r->nets for row,
 * skipping lo*, veth*, docker*, nerdctl* as cAdvisor does. */
int cg_read_netdev(struct cg_reader *r, const char *procfs, uint64_t pid, uint32_t row);
/* Fills processes, fds and sockets of st (CGS_PROCS) from dirfd's
 * cgroup.procs and <procfs>/<pid>/fd. A process that exits meanwhile is
 * skipped; a listing the kernel refuses counts 0 and bumps r->denied.
 * KM_ENOENT when cgroup.procs is absent; never allocates. */
int cg_read_procs(struct cg_reader *r, int dirfd, const char *procfs, struct cg_stats *st);
/* Soft "Max open files" of <procfs>/<pid>/limits into st (CGS_ULIMIT). */
int cg_read_ulimit(struct cg_reader *r, const char *procfs, uint64_t pid, struct cg_stats *st);
/* SwapTotal - SwapFree from <procfs>/meminfo, in bytes. */
int cg_read_meminfo_swap(struct cg_reader *r, const char *procfs, uint64_t *swap);
/* btime from <procfs>/stat. */
int cg_read_btime(struct cg_reader *r, const char *procfs, int64_t *btime);

#endif
