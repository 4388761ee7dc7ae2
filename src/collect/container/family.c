/* container_* family writer. */
#include "collect/container/family.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/vec.h"
#include "expo/writer.h"
#include "collect/container/rootfs.h"

#define CTR_STRS_CAP (64u << 20)

/* Escaping grows a value at most 3x (a stray byte becomes U+FFFD). */
#define CTR_PRE_CAP (4 * CTR_STRS_CAP)
#define CTR_EXTRA_CAP 4096

void ctr_rows_init(struct ctr_rows *rows)
{
	memset(rows, 0, sizeof(*rows));
	buf_init(&rows->strs, CTR_STRS_CAP);
	buf_init(&rows->pre, CTR_PRE_CAP);
	buf_init(&rows->extra, CTR_EXTRA_CAP);
}

void ctr_rows_fini(struct ctr_rows *rows)
{
	free(rows->v);
	buf_fini(&rows->strs);
	buf_fini(&rows->pre);
	buf_fini(&rows->extra);
	memset(rows, 0, sizeof(*rows));
}

int ctr_rows_reset(struct ctr_rows *rows)
{
	rows->n = 0;
	buf_reset(&rows->strs);
	return buf_add(&rows->strs, "", 1);  /* offset 0: the empty value */
}

struct ctr_row *ctr_rows_add(struct ctr_rows *rows)
{
	struct ctr_row *row;

	/* Bounded by the walk: CG_MAX_NODES cgroups, a few rows each. */
	if (VEC_RESERVE(rows->v, rows->cap, rows->n + 1, 64, VEC_UNBOUNDED))
		return NULL;
	row = &rows->v[rows->n++];
	memset(row, 0, sizeof(*row));
	return row;
}

int ctr_row_set(struct ctr_rows *rows, struct ctr_row *row, enum ctr_label l, const char *s)
{
	size_t off = rows->strs.len;
	int err;

	if (!*s) {
		row->lbl[l] = 0;
		return KM_OK;
	}
	err = buf_add(&rows->strs, s, strlen(s) + 1);
	if (err)
		return err;
	row->lbl[l] = (uint32_t)off;
	return KM_OK;
}

const char *ctr_row_get(const struct ctr_rows *rows, const struct ctr_row *row, enum ctr_label l)
{
	return rows->strs.data + row->lbl[l];
}

/* Families whose value is one number per row. */
enum fam_val {
	FV_CFS_PERIODS, FV_CFS_THR_PERIODS, FV_CFS_THR_SECS, FV_CFS_BURST_PERIODS, FV_CFS_BURST_SECS,
	FV_CPU_SYS, FV_CPU_USAGE, FV_CPU_USER,
	FV_LAST_SEEN, FV_MEM_CACHE, FV_MEM_FAILCNT, FV_MEM_MAPPED, FV_MEM_MAX, FV_MEM_RSS,
	FV_MEM_SWAP, FV_MEM_USAGE, FV_MEM_WS, FV_OOM, FV_SPEC_CPU_PERIOD, FV_SPEC_CPU_QUOTA,
	FV_SPEC_CPU_SHARES, FV_SPEC_MEM_LIMIT, FV_START, FV_THREADS, FV_THREADS_MAX,
	FV_LOAD, FV_HEALTH, FV_FDS, FV_PROCESSES, FV_SOCKETS, FV_MEM_KERNEL, FV_MEM_ACTIVE_FILE,
	FV_MEM_INACTIVE_FILE, FV_SPEC_MEM_RES, FV_SPEC_MEM_SWAP, FV_ULIMIT_NOFILE,
	FV_PSI_0,  /* + PSI_* index */
	FV_PSI_LAST = FV_PSI_0 + PSI_COUNT - 1,
	FV_IO_RBYTES, FV_IO_READS, FV_IO_WBYTES, FV_IO_WRITES,
	FV_NET_0,  /* + index into cg_netif.v */
};

/* FK_ROW: one sample per row (cpu="total" on the CPU usage family,
 * ulimit="max_open_files" on the ulimit one); FK_TASKS: five per row, one per
 * task state; FK_MEMFAIL: four per row, {pgfault,pgmajfault} x
 * {container,hierarchy}; FK_IO/FK_NET: one per device/interface. */
enum fam_kind { FK_ROW, FK_TASKS, FK_MEMFAIL, FK_IO, FK_NET, FK_FS, FK_SCRAPE_ERROR };

/* Values of the "/" row's filesystems (FK_FS, and FK_IO families that have
 * them too); FSV_DS_0 + DS_* are /proc/diskstats columns. */
enum { FSV_NONE = -1, FSV_INODES_FREE = 0, FSV_INODES, FSV_LIMIT, FSV_USAGE, FSV_DS_0 };

struct fam {
	const char *name;
	const char *help;
	enum expo_type type;
	enum fam_kind kind;
	int val;            /* enum fam_val */
	bool ts;            /* carries the stats timestamp */
	int fsv;            /* FSV_*: the "/" row's per-filesystem value, or FSV_NONE */
};

#define C EXPO_COUNTER
#define G EXPO_GAUGE
/* In name order, as client_golang sorts them. */
static const struct fam fams[] = {
	{ "container_cpu_cfs_burst_periods_total", "Number of periods when burst occurs.", C, FK_ROW, FV_CFS_BURST_PERIODS, true, FSV_NONE },
	{ "container_cpu_cfs_burst_seconds_total", "Total time duration the container has been bursted.", C, FK_ROW, FV_CFS_BURST_SECS, true, FSV_NONE },
	{ "container_cpu_cfs_periods_total", "Number of elapsed enforcement period intervals.", C, FK_ROW, FV_CFS_PERIODS, true, FSV_NONE },
	{ "container_cpu_cfs_throttled_periods_total", "Number of throttled period intervals.", C, FK_ROW, FV_CFS_THR_PERIODS, true, FSV_NONE },
	{ "container_cpu_cfs_throttled_seconds_total", "Total time duration the container has been throttled.", C, FK_ROW, FV_CFS_THR_SECS, true, FSV_NONE },
	{ "container_cpu_load_average_10s", "Value of container cpu load average over the last 10 seconds.", G, FK_ROW, FV_LOAD, true, FSV_NONE },
	{ "container_cpu_load_d_average_10s", "Value of container cpu load.d average over the last 10 seconds.", G, FK_ROW, FV_LOAD, true, FSV_NONE },
	{ "container_cpu_system_seconds_total", "Cumulative system cpu time consumed in seconds.", C, FK_ROW, FV_CPU_SYS, true, FSV_NONE },
	{ "container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.", C, FK_ROW, FV_CPU_USAGE, true, FSV_NONE },
	{ "container_cpu_user_seconds_total", "Cumulative user cpu time consumed in seconds.", C, FK_ROW, FV_CPU_USER, true, FSV_NONE },
	{ "container_file_descriptors", "Number of open file descriptors for the container.", G, FK_ROW, FV_FDS, true, FSV_NONE },
	{ "container_fs_inodes_free", "Number of available Inodes", G, FK_FS, 0, true, FSV_INODES_FREE },
	{ "container_fs_inodes_total", "Number of Inodes", G, FK_FS, 0, true, FSV_INODES },
	{ "container_fs_io_current", "Number of I/Os currently in progress", G, FK_FS, 0, true, FSV_DS_0 + DS_IO_NOW },
	{ "container_fs_io_time_seconds_total", "Cumulative count of seconds spent doing I/Os", C, FK_FS, 0, true, FSV_DS_0 + DS_IO_MS },
	{ "container_fs_io_time_weighted_seconds_total", "Cumulative weighted I/O time in seconds", C, FK_FS, 0, true, FSV_DS_0 + DS_IO_WEIGHTED_MS },
	{ "container_fs_limit_bytes", "Number of bytes that can be consumed by the container on this filesystem.", G, FK_FS, 0, true, FSV_LIMIT },
	{ "container_fs_read_seconds_total", "Cumulative count of seconds spent reading", C, FK_FS, 0, true, FSV_DS_0 + DS_READ_MS },
	{ "container_fs_reads_bytes_total", "Cumulative count of bytes read", C, FK_IO, FV_IO_RBYTES, true, FSV_NONE },
	{ "container_fs_reads_merged_total", "Cumulative count of reads merged", C, FK_FS, 0, true, FSV_DS_0 + DS_READS_MERGED },
	{ "container_fs_reads_total", "Cumulative count of reads completed", C, FK_IO, FV_IO_READS, true, FSV_DS_0 + DS_READS },
	{ "container_fs_sector_reads_total", "Cumulative count of sector reads completed", C, FK_FS, 0, true, FSV_DS_0 + DS_SECTORS_READ },
	{ "container_fs_sector_writes_total", "Cumulative count of sector writes completed", C, FK_FS, 0, true, FSV_DS_0 + DS_SECTORS_WRITTEN },
	{ "container_fs_usage_bytes", "Number of bytes that are consumed by the container on this filesystem.", G, FK_FS, 0, true, FSV_USAGE },
	{ "container_fs_write_seconds_total", "Cumulative count of seconds spent writing", C, FK_FS, 0, true, FSV_DS_0 + DS_WRITE_MS },
	{ "container_fs_writes_bytes_total", "Cumulative count of bytes written", C, FK_IO, FV_IO_WBYTES, true, FSV_NONE },
	{ "container_fs_writes_merged_total", "Cumulative count of writes merged", C, FK_FS, 0, true, FSV_DS_0 + DS_WRITES_MERGED },
	{ "container_fs_writes_total", "Cumulative count of writes completed", C, FK_IO, FV_IO_WRITES, true, FSV_DS_0 + DS_WRITES },
	{ "container_health_state", "The result of the container's health check", G, FK_ROW, FV_HEALTH, true, FSV_NONE },
	{ "container_last_seen", "Last time a container was seen by the exporter", G, FK_ROW, FV_LAST_SEEN, true, FSV_NONE },
	{ "container_memory_cache", "Number of bytes of page cache memory.", G, FK_ROW, FV_MEM_CACHE, true, FSV_NONE },
	{ "container_memory_failcnt", "Number of memory usage hits limits", C, FK_ROW, FV_MEM_FAILCNT, true, FSV_NONE },
	{ "container_memory_failures_total", "Cumulative count of memory allocation failures.", C, FK_MEMFAIL, 0, true, FSV_NONE },
	{ "container_memory_kernel_usage", "Size of kernel memory allocated in bytes.", G, FK_ROW, FV_MEM_KERNEL, true, FSV_NONE },
	{ "container_memory_mapped_file", "Size of memory mapped files in bytes.", G, FK_ROW, FV_MEM_MAPPED, true, FSV_NONE },
	{ "container_memory_max_usage_bytes", "Maximum memory usage recorded in bytes", G, FK_ROW, FV_MEM_MAX, true, FSV_NONE },
	{ "container_memory_rss", "Size of RSS in bytes.", G, FK_ROW, FV_MEM_RSS, true, FSV_NONE },
	{ "container_memory_swap", "Container swap usage in bytes.", G, FK_ROW, FV_MEM_SWAP, true, FSV_NONE },
	{ "container_memory_total_active_file_bytes", "Current total active file in bytes.", G, FK_ROW, FV_MEM_ACTIVE_FILE, true, FSV_NONE },
	{ "container_memory_total_inactive_file_bytes", "Current total inactive file in bytes.", G, FK_ROW, FV_MEM_INACTIVE_FILE, true, FSV_NONE },
	{ "container_memory_usage_bytes", "Current memory usage in bytes, including all memory regardless of when it was accessed", G, FK_ROW, FV_MEM_USAGE, true, FSV_NONE },
	{ "container_memory_working_set_bytes", "Current working set in bytes.", G, FK_ROW, FV_MEM_WS, true, FSV_NONE },
	{ "container_network_receive_bytes_total", "Cumulative count of bytes received", C, FK_NET, FV_NET_0 + 0, true, FSV_NONE },
	{ "container_network_receive_errors_total", "Cumulative count of errors encountered while receiving", C, FK_NET, FV_NET_0 + 2, true, FSV_NONE },
	{ "container_network_receive_packets_dropped_total", "Cumulative count of packets dropped while receiving", C, FK_NET, FV_NET_0 + 3, true, FSV_NONE },
	{ "container_network_receive_packets_total", "Cumulative count of packets received", C, FK_NET, FV_NET_0 + 1, true, FSV_NONE },
	{ "container_network_transmit_bytes_total", "Cumulative count of bytes transmitted", C, FK_NET, FV_NET_0 + 4, true, FSV_NONE },
	{ "container_network_transmit_errors_total", "Cumulative count of errors encountered while transmitting", C, FK_NET, FV_NET_0 + 6, true, FSV_NONE },
	{ "container_network_transmit_packets_dropped_total", "Cumulative count of packets dropped while transmitting", C, FK_NET, FV_NET_0 + 7, true, FSV_NONE },
	{ "container_network_transmit_packets_total", "Cumulative count of packets transmitted", C, FK_NET, FV_NET_0 + 5, true, FSV_NONE },
	{ "container_oom_events_total", "Count of out of memory events observed for the container", C, FK_ROW, FV_OOM, true, FSV_NONE },
	{ "container_pressure_cpu_stalled_seconds_total", "Total time duration no tasks in the container could make progress due to CPU congestion.", C, FK_ROW, FV_PSI_0 + PSI_CPU_FULL, true, FSV_NONE },
	{ "container_pressure_cpu_waiting_seconds_total", "Total time duration tasks in the container have waited due to CPU congestion.", C, FK_ROW, FV_PSI_0 + PSI_CPU_SOME, true, FSV_NONE },
	{ "container_pressure_io_stalled_seconds_total", "Total time duration no tasks in the container could make progress due to IO congestion.", C, FK_ROW, FV_PSI_0 + PSI_IO_FULL, true, FSV_NONE },
	{ "container_pressure_io_waiting_seconds_total", "Total time duration tasks in the container have waited due to IO congestion.", C, FK_ROW, FV_PSI_0 + PSI_IO_SOME, true, FSV_NONE },
	{ "container_pressure_memory_stalled_seconds_total", "Total time duration no tasks in the container could make progress due to memory congestion.", C, FK_ROW, FV_PSI_0 + PSI_MEM_FULL, true, FSV_NONE },
	{ "container_pressure_memory_waiting_seconds_total", "Total time duration tasks in the container have waited due to memory congestion.", C, FK_ROW, FV_PSI_0 + PSI_MEM_SOME, true, FSV_NONE },
	{ "container_processes", "Number of processes running inside the container.", G, FK_ROW, FV_PROCESSES, true, FSV_NONE },
	{ "container_scrape_error", "1 if there was an error while getting container metrics, 0 otherwise", G, FK_SCRAPE_ERROR, 0, false, FSV_NONE },
	{ "container_sockets", "Number of open sockets for the container.", G, FK_ROW, FV_SOCKETS, true, FSV_NONE },
	{ "container_spec_cpu_period", "CPU period of the container.", G, FK_ROW, FV_SPEC_CPU_PERIOD, false, FSV_NONE },
	{ "container_spec_cpu_quota", "CPU quota of the container.", G, FK_ROW, FV_SPEC_CPU_QUOTA, false, FSV_NONE },
	{ "container_spec_cpu_shares", "CPU share of the container.", G, FK_ROW, FV_SPEC_CPU_SHARES, false, FSV_NONE },
	{ "container_spec_memory_limit_bytes", "Memory limit for the container.", G, FK_ROW, FV_SPEC_MEM_LIMIT, false, FSV_NONE },
	{ "container_spec_memory_reservation_limit_bytes", "Memory reservation limit for the container.", G, FK_ROW, FV_SPEC_MEM_RES, false, FSV_NONE },
	{ "container_spec_memory_swap_limit_bytes", "Memory swap limit for the container.", G, FK_ROW, FV_SPEC_MEM_SWAP, false, FSV_NONE },
	{ "container_start_time_seconds", "Start time of the container since unix epoch in seconds.", G, FK_ROW, FV_START, false, FSV_NONE },
	{ "container_tasks_state", "Number of tasks in given state", G, FK_TASKS, 0, true, FSV_NONE },
	{ "container_threads", "Number of threads running inside the container", G, FK_ROW, FV_THREADS, true, FSV_NONE },
	{ "container_threads_max", "Maximum number of threads allowed inside the container, infinity if value is zero", G, FK_ROW, FV_THREADS_MAX, true, FSV_NONE },
	{ "container_ulimits_soft", "Soft ulimit values for the container root process. Unlimited if -1, except priority and nice", G, FK_ROW, FV_ULIMIT_NOFILE, true, FSV_NONE },
};
#undef C
#undef G

/* The value of family val for a row; false when cAdvisor would not emit it. */
static bool row_value(const struct cg_stats *s, int val, int64_t ts_ms, double *v)
{
	unsigned h = s->have;
	bool cfs = (h & CGS_CPU_CFS) && (h & CGS_CPU_SPEC) && s->quota_us != 0;

	switch (val) {
	case FV_CFS_PERIODS: *v = (double)s->nr_periods; return cfs;
	case FV_CFS_THR_PERIODS: *v = (double)s->nr_throttled; return cfs;
	case FV_CFS_THR_SECS: *v = (double)s->throttled_ns / 1e9; return cfs;
	case FV_CFS_BURST_PERIODS: *v = (double)s->nr_bursts; return cfs;
	case FV_CFS_BURST_SECS: *v = (double)s->burst_ns / 1e9; return cfs;
	case FV_CPU_SYS: *v = (double)s->system_ns / 1e9; return h & CGS_CPU_USER_SYS;
	case FV_CPU_USER: *v = (double)s->user_ns / 1e9; return h & CGS_CPU_USER_SYS;
	case FV_CPU_USAGE: *v = (double)s->usage_ns / 1e9; return (h & CGS_CPU_USAGE) && s->usage_ns;
	case FV_LAST_SEEN: *v = (double)(ts_ms / 1000); return true;
	case FV_MEM_CACHE: *v = (double)s->cache; return h & CGS_MEM;
	case FV_MEM_FAILCNT: *v = (double)s->failcnt; return h & CGS_MEM_FAILCNT;
	case FV_MEM_MAPPED: *v = (double)s->mapped_file; return h & CGS_MEM;
	case FV_MEM_MAX: *v = (double)s->mem_max_usage; return h & CGS_MEM_MAX;
	case FV_MEM_RSS: *v = (double)s->rss; return h & CGS_MEM;
	case FV_MEM_SWAP: *v = (double)s->swap; return h & CGS_MEM_SWAP;
	case FV_MEM_USAGE: *v = (double)s->mem_usage; return h & CGS_MEM;
	case FV_MEM_WS: *v = (double)s->working_set; return h & CGS_MEM;
	case FV_OOM: *v = (double)s->oom_kills; return h & CGS_OOM;
	case FV_SPEC_CPU_PERIOD: *v = (double)s->period_us; return h & CGS_CPU_SPEC;
	case FV_SPEC_CPU_QUOTA: *v = (double)s->quota_us; return (h & CGS_CPU_SPEC) && s->quota_us;
	case FV_SPEC_CPU_SHARES: *v = (double)s->shares; return h & CGS_CPU_SPEC;
	case FV_SPEC_MEM_LIMIT: *v = (double)s->mem_limit; return h & CGS_MEM_LIMIT;
	case FV_START: *v = (double)s->start_time; return h & CGS_START;
	/* cAdvisor has process stats (zero when unread) for every cgroup */
	case FV_THREADS: *v = (double)s->threads; return true;
	case FV_THREADS_MAX: *v = (double)s->threads_max; return true;
	case FV_PROCESSES: *v = (double)s->processes; return true;
	case FV_FDS: *v = (double)s->fds; return true;
	case FV_SOCKETS: *v = (double)s->sockets; return true;
	case FV_ULIMIT_NOFILE: *v = (double)s->nofile_soft; return h & CGS_ULIMIT;
	/* The kubelet never starts cAdvisor's netlink load reader, so its load
	 * averages are 0 on every row, and a CRI container has no Docker health
	 * check (cAdvisor: -1). Written as the kubelet serves them. */
	case FV_LOAD: *v = 0; return true;
	case FV_HEALTH: *v = -1; return true;
	case FV_MEM_KERNEL: *v = (double)s->kernel_usage; return h & CGS_MEM;
	case FV_MEM_ACTIVE_FILE: *v = (double)s->active_file; return h & CGS_MEM;
	case FV_MEM_INACTIVE_FILE: *v = (double)s->inactive_file; return h & CGS_MEM;
	case FV_SPEC_MEM_RES: *v = (double)s->mem_reservation; return h & CGS_MEM_LIMIT;
	case FV_SPEC_MEM_SWAP: *v = (double)s->swap_limit; return h & CGS_MEM_LIMIT;
	default:
		if (val >= FV_PSI_0 && val <= FV_PSI_LAST) {
			*v = (double)s->psi_us[val - FV_PSI_0] / 1e6;
			return h & CGS_PSI;
		}
		return false;
	}
}

static double io_value(const struct cg_io *io, int val)
{
	switch (val) {
	case FV_IO_RBYTES: return (double)io->rbytes;
	case FV_IO_READS: return (double)io->rios;
	case FV_IO_WBYTES: return (double)io->wbytes;
	default: return (double)io->wios;
	}
}

static const char *const base_names[CL_COUNT] = { "container", "id", "image", "name",
						  "namespace", "pod" };

/* Renders every row's base labels into rows->pre (offsets in row->pre). */
static int render_rows(struct ctr_rows *rows)
{
	int err = KM_OK;

	buf_reset(&rows->pre);
	for (size_t i = 0; i < rows->n && !err; i++) {
		struct ctr_row *row = &rows->v[i];

		for (int l = 0; l < CL_COUNT && !err; l++) {
			struct label_pair lb = { base_names[l],
						 ctr_row_get(rows, row, (enum ctr_label)l) };

			if (l)
				err = buf_addc(&rows->pre, ',');
			row->pre[l] = (uint32_t)rows->pre.len;
			if (!err)
				err = expo_label_pairs(&rows->pre, &lb, 1);
		}
		row->pre[CL_COUNT] = (uint32_t)rows->pre.len + 1;
	}
	return err;
}

/* Base labels [from, to) of row as one span (without the trailing comma). */
static struct expo_span row_span(const struct ctr_rows *rows, const struct ctr_row *row,
				 int from, int to)
{
	if (from >= to)
		return (struct expo_span){ NULL, 0 };
	return (struct expo_span){ rows->pre.data + row->pre[from],
				   row->pre[to] - 1 - row->pre[from] };
}

/* An extra label of a sample, slotted before base label `at`. */
struct extra {
	const char *name;
	const char *val;
	int at;
};

/* Writes one sample of row with the base labels and the extras x[0..nx)
 * (at most 2, in label order) at their alphabetical places. Writes the
 * family header before its first sample. */
static int sample(struct buf *out, const struct fam *f, bool *started, struct ctr_rows *rows,
		  const struct ctr_row *row, const struct extra *x, size_t nx, double v,
		  int64_t ts_ms)
{
	struct expo_span sp[5];
	size_t n = 0;
	size_t ends[2];
	int from = 0;
	int err;

	if (!*started) {
		err = expo_family(out, f->name, f->help, f->type);
		if (err)
			return err;
		*started = true;
	}
	buf_reset(&rows->extra);
	for (size_t i = 0; i < nx; i++) {
		struct label_pair lp = { x[i].name, x[i].val };

		err = expo_label_pairs(&rows->extra, &lp, 1);
		if (err)
			return err;
		ends[i] = rows->extra.len;
	}
	/* spans are taken after the buffer is final (it may move while growing) */
	for (size_t i = 0; i < nx; i++) {
		size_t start = i ? ends[i - 1] : 0;

		if (from < x[i].at)
			sp[n++] = row_span(rows, row, from, x[i].at);
		sp[n++] = (struct expo_span){ rows->extra.data + start, ends[i] - start };
		from = x[i].at;
	}
	if (from < CL_COUNT || n == 0)
		sp[n++] = row_span(rows, row, from, CL_COUNT);
	return expo_sample_spans(out, f->name, sp, n, v, f->ts ? ts_ms : -1);
}

/* Index of the first base label that sorts after name. */
static int extra_at(const char *name)
{
	int i = 0;

	while (i < CL_COUNT && strcmp(base_names[i], name) < 0)
		i++;
	return i;
}

/* In label-value order, as the kubelet's registry sorts a family's rows. */
static const char *const task_states[] = { "iowaiting", "running", "sleeping", "stopped",
					   "uninterruptible" };

static int write_row_family(struct buf *out, const struct fam *f, bool *started,
			    struct ctr_rows *rows, size_t i, int64_t ts_ms)
{
	const struct ctr_row *row = &rows->v[i];
	const struct cg_stats *st = &row->st;
	struct extra x[2];
	int err = KM_OK;
	double v;

	switch (f->kind) {
	case FK_TASKS:
		/* cAdvisor fills task states only from its netlink load reader,
		 * which the kubelet never starts: 0 in every state. */
		x[0] = (struct extra){ "state", NULL, CL_COUNT };
		for (size_t k = 0; k < sizeof(task_states) / sizeof(task_states[0]) && !err; k++) {
			x[0].val = task_states[k];
			err = sample(out, f, started, rows, row, x, 1, 0, ts_ms);
		}
		return err;
	case FK_MEMFAIL:
		if (!(st->have & CGS_MEM))
			return KM_OK;
		x[0] = (struct extra){ "failure_type", NULL, extra_at("failure_type") };
		x[1] = (struct extra){ "scope", NULL, CL_COUNT };
		for (int k = 0; k < 4 && !err; k++) {
			x[0].val = k < 2 ? "pgfault" : "pgmajfault";
			x[1].val = k % 2 ? "hierarchy" : "container";
			err = sample(out, f, started, rows, row, x, 2,
				     (double)(k < 2 ? st->pgfault : st->pgmajfault), ts_ms);
		}
		return err;
	default:
		if (!row_value(st, f->val, ts_ms, &v))
			return KM_OK;
		if (f->val == FV_CPU_USAGE) {
			x[0] = (struct extra){ "cpu", "total", extra_at("cpu") };
			return sample(out, f, started, rows, row, x, 1, v, ts_ms);
		}
		if (f->val == FV_ULIMIT_NOFILE) {
			x[0] = (struct extra){ "ulimit", "max_open_files", CL_COUNT };
			return sample(out, f, started, rows, row, x, 1, v, ts_ms);
		}
		return sample(out, f, started, rows, row, NULL, 0, v, ts_ms);
	}
}

static double fs_value(const struct rootfs_entry *e, int fsv)
{
	switch (fsv) {
	case FSV_INODES_FREE: return (double)e->inodes_free;
	case FSV_INODES: return (double)e->inodes;
	case FSV_LIMIT: return (double)e->limit;
	case FSV_USAGE: return (double)e->usage;
	default:
		break;
	}
	fsv -= FSV_DS_0;
	/* cAdvisor divides diskstats' milliseconds by 1e9 as if nanoseconds */
	if (fsv == DS_READ_MS || fsv == DS_WRITE_MS || fsv == DS_IO_MS || fsv == DS_IO_WEIGHTED_MS)
		return (double)e->ds[fsv] / 1e9;
	return (double)e->ds[fsv];
}

/* The "/" row's filesystems (row 0 is "/" whenever the walk had a root). */
static const struct ctr_row *fs_row(const struct ctr_rows *rows, const struct rootfs *fs)
{
	if (!fs || fs->n == 0 || rows->n == 0 || strcmp(ctr_row_get(rows, &rows->v[0], CL_ID), "/"))
		return NULL;
	return &rows->v[0];
}

/* True when the "/" row has a filesystem of this device label: its
 * diskstats rows replace the cgroup io rows of the same device. */
static bool fs_has_dev(const struct rootfs *fs, const char *dev)
{
	for (size_t i = 0; i < fs->n; i++)
		if (strcmp(fs->v[i].dev, dev) == 0)
			return true;
	return false;
}

/* A CRI-O container's row of family f: cAdvisor's CRI-O handler fills only
 * the usage, inodes and limit of its FsStats; the free inodes and the
 * diskstats counters stay 0. */
static double crio_value(const struct ctr_row *row, const struct rootfs_entry *e, int fsv)
{
	switch (fsv) {
	case FSV_INODES: return (double)row->cfs.inodes;
	case FSV_LIMIT: return (double)e->limit;
	case FSV_USAGE: return (double)row->cfs.bytes;
	default: return 0;
	}
}

/* The host filesystem holding a CRI-O container's writable layer. */
static const struct rootfs_entry *crio_fs_entry(const struct rootfs *fs, const struct ctr_row *row)
{
	for (size_t i = 0; fs && i < fs->n; i++)
		if (fs->v[i].major == row->cfs.major && fs->v[i].minor == row->cfs.minor)
			return &fs->v[i];
	return NULL;
}

/* True when row ri has a cgroup io row of device dev in r (NULL: none). */
static bool io_has_dev(const struct cg_reader *r, size_t ri, const char *dev)
{
	for (size_t i = 0; r && i < r->nios; i++)
		if (r->ios[i].row == ri && strcmp(r->ios[i].dev, dev) == 0)
			return true;
	return false;
}

/* The filesystem rows of family f: "/"'s, then the CRI-O containers'. r:
 * the cgroup io rows already written in f (NULL: none); a CRI-O row of the
 * same device as one of them is left out, as the kubelet's registry drops
 * the second series of a label set (the cgroup one comes first). */
static int write_fs_rows(struct buf *out, const struct fam *f, bool *started,
			 struct ctr_rows *rows, const struct rootfs *fs, const struct cg_reader *r,
			 int64_t ts_ms)
{
	const struct ctr_row *root = fs_row(rows, fs);
	struct extra x = { "device", NULL, extra_at("device") };
	int err = KM_OK;

	for (size_t i = 0; root && i < fs->n && !err; i++) {
		x.val = fs->v[i].dev;
		err = sample(out, f, started, rows, root, &x, 1, fs_value(&fs->v[i], f->fsv), ts_ms);
	}
	for (size_t i = 0; i < rows->n && !err; i++) {
		const struct ctr_row *row = &rows->v[i];
		const struct rootfs_entry *e = row->has_cfs ? crio_fs_entry(fs, row) : NULL;

		if (!e || io_has_dev(r, i, e->dev))
			continue;
		x.val = e->dev;
		err = sample(out, f, started, rows, row, &x, 1, crio_value(row, e, f->fsv), ts_ms);
	}
	return err;
}

static int write_family(struct buf *out, const struct fam *f, struct ctr_rows *rows,
			const struct cg_reader *r, const struct rootfs *fs, int64_t ts_ms)
{
	bool started = false;
	bool root_fs = fs_row(rows, fs) != NULL;
	int err = KM_OK;

	if (f->kind == FK_FS) {
		err = write_fs_rows(out, f, &started, rows, fs, NULL, ts_ms);
	} else if (f->kind == FK_IO) {
		struct extra x = { "device", NULL, extra_at("device") };

		for (size_t i = 0; i < r->nios && !err; i++) {
			const struct cg_io *io = &r->ios[i];

			if (!io->dev[0])
				continue;
			if (f->fsv != FSV_NONE && root_fs && io->row == 0 && fs_has_dev(fs, io->dev))
				continue;
			x.val = io->dev;
			err = sample(out, f, &started, rows, &rows->v[io->row], &x, 1,
				     io_value(io, f->val), ts_ms);
		}
		if (!err && f->fsv != FSV_NONE)
			err = write_fs_rows(out, f, &started, rows, fs, r, ts_ms);
	} else if (f->kind == FK_NET) {
		struct extra x = { "interface", NULL, extra_at("interface") };

		for (size_t i = 0; i < r->nnets && !err; i++) {
			const struct cg_netif *ni = &r->nets[i];

			x.val = ni->name;
			err = sample(out, f, &started, rows, &rows->v[ni->row], &x, 1,
				     (double)ni->v[f->val - FV_NET_0], ts_ms);
		}
	} else {
		for (size_t i = 0; i < rows->n && !err; i++)
			err = write_row_family(out, f, &started, rows, i, ts_ms);
	}
	return err;
}

int ctr_write_families(struct buf *out, struct ctr_rows *rows, const struct cg_reader *r,
		       const struct rootfs *fs, int64_t ts_ms, bool scrape_error)
{
	int err = render_rows(rows);

	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]) && !err; i++) {
		if (fams[i].kind != FK_SCRAPE_ERROR) {
			err = write_family(out, &fams[i], rows, r, fs, ts_ms);
			continue;
		}
		err = expo_family(out, fams[i].name, fams[i].help, EXPO_GAUGE);
		if (!err)
			err = expo_sample(out, fams[i].name, NULL, 0, scrape_error ? 1 : 0);
	}
	return err;
}
