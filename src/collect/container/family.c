/* container_* family writer. */
#include "collect/container/family.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/vec.h"
#include "expo/writer.h"

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
	FV_CFS_PERIODS, FV_CFS_THR_PERIODS, FV_CFS_THR_SECS, FV_CPU_SYS, FV_CPU_USAGE, FV_CPU_USER,
	FV_LAST_SEEN, FV_MEM_CACHE, FV_MEM_FAILCNT, FV_MEM_MAPPED, FV_MEM_MAX, FV_MEM_RSS,
	FV_MEM_SWAP, FV_MEM_USAGE, FV_MEM_WS, FV_OOM, FV_SPEC_CPU_PERIOD, FV_SPEC_CPU_QUOTA,
	FV_SPEC_CPU_SHARES, FV_SPEC_MEM_LIMIT, FV_START, FV_THREADS, FV_THREADS_MAX,
	FV_IO_RBYTES, FV_IO_READS, FV_IO_WBYTES, FV_IO_WRITES,
	FV_NET_0,  /* + index into cg_netif.v */
};

enum fam_kind { FK_ROW, FK_IO, FK_NET };

struct fam {
	const char *name;
	const char *help;
	enum expo_type type;
	enum fam_kind kind;
	int val;            /* enum fam_val */
	bool ts;            /* carries the stats timestamp */
};

#define C EXPO_COUNTER
#define G EXPO_GAUGE
/* In name order, as client_golang sorts them. */
static const struct fam fams[] = {
	{ "container_cpu_cfs_periods_total", "Number of elapsed enforcement period intervals.", C, FK_ROW, FV_CFS_PERIODS, true },
	{ "container_cpu_cfs_throttled_periods_total", "Number of throttled period intervals.", C, FK_ROW, FV_CFS_THR_PERIODS, true },
	{ "container_cpu_cfs_throttled_seconds_total", "Total time duration the container has been throttled.", C, FK_ROW, FV_CFS_THR_SECS, true },
	{ "container_cpu_system_seconds_total", "Cumulative system cpu time consumed in seconds.", C, FK_ROW, FV_CPU_SYS, true },
	{ "container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.", C, FK_ROW, FV_CPU_USAGE, true },
	{ "container_cpu_user_seconds_total", "Cumulative user cpu time consumed in seconds.", C, FK_ROW, FV_CPU_USER, true },
	{ "container_fs_reads_bytes_total", "Cumulative count of bytes read", C, FK_IO, FV_IO_RBYTES, true },
	{ "container_fs_reads_total", "Cumulative count of reads completed", C, FK_IO, FV_IO_READS, true },
	{ "container_fs_writes_bytes_total", "Cumulative count of bytes written", C, FK_IO, FV_IO_WBYTES, true },
	{ "container_fs_writes_total", "Cumulative count of writes completed", C, FK_IO, FV_IO_WRITES, true },
	{ "container_last_seen", "Last time a container was seen by the exporter", G, FK_ROW, FV_LAST_SEEN, true },
	{ "container_memory_cache", "Number of bytes of page cache memory.", G, FK_ROW, FV_MEM_CACHE, true },
	{ "container_memory_failcnt", "Number of memory usage hits limits", C, FK_ROW, FV_MEM_FAILCNT, true },
	{ "container_memory_mapped_file", "Size of memory mapped files in bytes.", G, FK_ROW, FV_MEM_MAPPED, true },
	{ "container_memory_max_usage_bytes", "Maximum memory usage recorded in bytes", G, FK_ROW, FV_MEM_MAX, true },
	{ "container_memory_rss", "Size of RSS in bytes.", G, FK_ROW, FV_MEM_RSS, true },
	{ "container_memory_swap", "Container swap usage in bytes.", G, FK_ROW, FV_MEM_SWAP, true },
	{ "container_memory_usage_bytes", "Current memory usage in bytes, including all memory regardless of when it was accessed", G, FK_ROW, FV_MEM_USAGE, true },
	{ "container_memory_working_set_bytes", "Current working set in bytes.", G, FK_ROW, FV_MEM_WS, true },
	{ "container_network_receive_bytes_total", "Cumulative count of bytes received", C, FK_NET, FV_NET_0 + 0, true },
	{ "container_network_receive_errors_total", "Cumulative count of errors encountered while receiving", C, FK_NET, FV_NET_0 + 2, true },
	{ "container_network_receive_packets_dropped_total", "Cumulative count of packets dropped while receiving", C, FK_NET, FV_NET_0 + 3, true },
	{ "container_network_receive_packets_total", "Cumulative count of packets received", C, FK_NET, FV_NET_0 + 1, true },
	{ "container_network_transmit_bytes_total", "Cumulative count of bytes transmitted", C, FK_NET, FV_NET_0 + 4, true },
	{ "container_network_transmit_errors_total", "Cumulative count of errors encountered while transmitting", C, FK_NET, FV_NET_0 + 6, true },
	{ "container_network_transmit_packets_dropped_total", "Cumulative count of packets dropped while transmitting", C, FK_NET, FV_NET_0 + 7, true },
	{ "container_network_transmit_packets_total", "Cumulative count of packets transmitted", C, FK_NET, FV_NET_0 + 5, true },
	{ "container_oom_events_total", "Count of out of memory events observed for the container", C, FK_ROW, FV_OOM, true },
	{ "container_spec_cpu_period", "CPU period of the container.", G, FK_ROW, FV_SPEC_CPU_PERIOD, false },
	{ "container_spec_cpu_quota", "CPU quota of the container.", G, FK_ROW, FV_SPEC_CPU_QUOTA, false },
	{ "container_spec_cpu_shares", "CPU share of the container.", G, FK_ROW, FV_SPEC_CPU_SHARES, false },
	{ "container_spec_memory_limit_bytes", "Memory limit for the container.", G, FK_ROW, FV_SPEC_MEM_LIMIT, false },
	{ "container_start_time_seconds", "Start time of the container since unix epoch in seconds.", G, FK_ROW, FV_START, false },
	{ "container_threads", "Number of threads running inside the container", G, FK_ROW, FV_THREADS, true },
	{ "container_threads_max", "Maximum number of threads allowed inside the container, infinity if value is zero", G, FK_ROW, FV_THREADS_MAX, true },
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
	case FV_THREADS: *v = (double)s->threads; return h & CGS_PIDS;
	case FV_THREADS_MAX: *v = (double)s->threads_max; return h & CGS_PIDS;
	default: return false;
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

/* Writes one sample of row with the base labels and, when xname is set, the
 * extra label xname=xval slotted at its alphabetical place (before base
 * label xat). Writes the family header before its first sample. */
static int sample(struct buf *out, const struct fam *f, bool *started, struct ctr_rows *rows,
		  const struct ctr_row *row, const char *xname, const char *xval, int xat,
		  double v, int64_t ts_ms)
{
	struct expo_span sp[3];
	size_t n = 0;
	int err;

	if (!*started) {
		err = expo_family(out, f->name, f->help, f->type);
		if (err)
			return err;
		*started = true;
	}
	if (!xname) {
		sp[n++] = row_span(rows, row, 0, CL_COUNT);
	} else {
		struct label_pair x = { xname, xval };

		buf_reset(&rows->extra);
		err = expo_label_pairs(&rows->extra, &x, 1);
		if (err)
			return err;
		sp[n++] = row_span(rows, row, 0, xat);
		sp[n++] = (struct expo_span){ rows->extra.data, rows->extra.len };
		sp[n++] = row_span(rows, row, xat, CL_COUNT);
	}
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

static int write_family(struct buf *out, const struct fam *f, struct ctr_rows *rows,
			const struct cg_reader *r, int64_t ts_ms)
{
	bool started = false;
	int err = KM_OK;

	if (f->kind == FK_ROW) {
		bool cpu = f->val == FV_CPU_USAGE;
		int at = extra_at("cpu");

		for (size_t i = 0; i < rows->n && !err; i++) {
			double v;

			if (!row_value(&rows->v[i].st, f->val, ts_ms, &v))
				continue;
			err = sample(out, f, &started, rows, &rows->v[i], cpu ? "cpu" : NULL, "total",
				     at, v, ts_ms);
		}
	} else if (f->kind == FK_IO) {
		int at = extra_at("device");

		for (size_t i = 0; i < r->nios && !err; i++) {
			const struct cg_io *io = &r->ios[i];

			if (!io->dev[0])
				continue;
			err = sample(out, f, &started, rows, &rows->v[io->row], "device", io->dev, at,
				     io_value(io, f->val), ts_ms);
		}
	} else {
		int at = extra_at("interface");

		for (size_t i = 0; i < r->nnets && !err; i++) {
			const struct cg_netif *ni = &r->nets[i];

			err = sample(out, f, &started, rows, &rows->v[ni->row], "interface", ni->name,
				     at, (double)ni->v[f->val - FV_NET_0], ts_ms);
		}
	}
	return err;
}

int ctr_write_families(struct buf *out, struct ctr_rows *rows, const struct cg_reader *r,
		       int64_t ts_ms, bool scrape_error)
{
	int err = render_rows(rows);

	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]) && !err; i++) {
		err = write_family(out, &fams[i], rows, r, ts_ms);
		if (!err && strcmp(fams[i].name, "container_oom_events_total") == 0) {
			/* container_scrape_error sorts right after it */
			err = expo_family(out, "container_scrape_error",
					  "1 if there was an error while getting container metrics, 0 otherwise",
					  EXPO_GAUGE);
			if (!err)
				err = expo_sample(out, "container_scrape_error", NULL, 0,
						  scrape_error ? 1 : 0);
		}
	}
	return err;
}
