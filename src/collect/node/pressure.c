/* pressure: PSI totals from <procfs>/pressure/{cpu,io,memory,irq}, the
 * "total=" field in microseconds converted to seconds. The cpu "full" line is
 * not exported (node-exporter ignores it). A missing cpu/io/memory file
 * (kernel < 4.20 or psi=0) fails the collector as node-exporter's "no data"
 * does; irq is optional (kernel >= 6.1). */
#include "collect/node/node_int.h"

#include <string.h>

#include "base/err.h"
#include "base/parse.h"

struct psi_metric {
	const char *file;
	const char *kind;   /* "some" or "full" */
	const char *name;
	const char *help;
	bool optional;
};

static const struct psi_metric psi_metrics[] = {
	{ "pressure/cpu", "some", "node_pressure_cpu_waiting_seconds_total",
	  "Total time in seconds that processes have waited for CPU time", false },
	{ "pressure/io", "some", "node_pressure_io_waiting_seconds_total",
	  "Total time in seconds that processes have waited due to IO congestion", false },
	{ "pressure/io", "full", "node_pressure_io_stalled_seconds_total",
	  "Total time in seconds no process could make progress due to IO congestion", false },
	{ "pressure/memory", "some", "node_pressure_memory_waiting_seconds_total",
	  "Total time in seconds that processes have waited for memory", false },
	{ "pressure/memory", "full", "node_pressure_memory_stalled_seconds_total",
	  "Total time in seconds no process could make progress due to memory congestion",
	  false },
	{ "pressure/irq", "full", "node_pressure_irq_stalled_seconds_total",
	  "Total time in seconds no process could make progress due to IRQ congestion", true },
};

int node_psi_total(const char *data, size_t len, const char *kind, double *out)
{
	const char *p = data, *end = data + len, *line, *f;
	size_t llen, flen;

	while (node_next_line(&p, end, &line, &llen)) {
		const char *lp = line, *lend = line + llen;

		if (!parse_field(&lp, lend, &f, &flen) || flen != 4 || memcmp(f, kind, 4) != 0)
			continue;
		while (parse_field(&lp, lend, &f, &flen)) {
			uint64_t us;
			int rc;

			if (flen < 6 || memcmp(f, "total=", 6) != 0)
				continue;
			rc = parse_u64(f + 6, flen - 6, &us);
			if (rc)
				return rc;
			/* Divided twice, as node-exporter does: the last bit can differ
			 * from one division by 1e6. */
			*out = (double)us / 1000.0 / 1000.0;
			return 0;
		}
		return KM_EPARSE;
	}
	return KM_ENOENT;
}

int node_pressure(struct node_ctx *ctx)
{
	const char *data = NULL, *loaded = NULL;
	size_t len = 0;
	int rc = 0;

	for (size_t i = 0; i < sizeof(psi_metrics) / sizeof(psi_metrics[0]); i++) {
		const struct psi_metric *m = &psi_metrics[i];
		double v;

		/* Consecutive entries share a file: read it once. */
		if (!loaded || strcmp(loaded, m->file) != 0) {
			/* irq: created by psi_proc_init() or never. */
			rc = m->optional ? procfile_read_boot(&ctx->nc->pf, ctx->procfs, m->file, &data, &len) :
					   procfile_read(&ctx->nc->pf, ctx->procfs, m->file, &data, &len);
			if (rc && m->optional)
				break;
			if (rc)
				return rc;
			loaded = m->file;
		}
		rc = node_psi_total(data, len, m->kind, &v);
		if (rc)
			return rc;
		rc = node_write1(ctx->out, m->name, m->help, EXPO_COUNTER, v);
		if (rc)
			return rc;
	}
	return 0;
}
