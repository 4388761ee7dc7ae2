/* schedstat: node_schedstat_{running,waiting}_seconds_total and
 * node_schedstat_timeslices_total per CPU from <procfs>/schedstat: the 7th,
 * 8th and 9th numbers of each "cpuN" line (nanoseconds running, waiting,
 * timeslices). As node-exporter (procfs): lines with fewer numbers, or a
 * number that does not parse, are skipped; a missing file fails the
 * collector (no data: kernels without CONFIG_SCHEDSTATS). */
#include "collect/node/node_int.h"

#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/parse.h"

#define SCHED_CPU_NAME 16

struct sched_row {
	char cpu[SCHED_CPU_NAME];
	double v[3];
};

int node_schedstat_parse(struct node_ctx *ctx, const char *data, size_t len)
{
	static const struct {
		const char *name, *help;
		double scale;
	} fam[3] = {
		{ "node_schedstat_running_seconds_total",
		  "Number of seconds CPU spent running a process.", 1e9 },
		{ "node_schedstat_waiting_seconds_total",
		  "Number of seconds spent by processing waiting for this CPU.", 1e9 },
		{ "node_schedstat_timeslices_total", "Number of timeslices executed by CPU.", 0 },
	};
	struct node_collector *nc = ctx->nc;
	const char *p = data, *end = data + len, *line;
	struct sched_row *rows;
	size_t llen, n = 0;
	int rc;

	while (node_next_line(&p, end, &line, &llen)) {
		const char *lp = line, *f;
		size_t fl, nd = 0;
		uint64_t num[10];
		bool ok = true;
		int nf = 0;

		if (llen < 4 || memcmp(line, "cpu", 3) != 0)
			continue;
		while (3 + nd < llen && line[3 + nd] >= '0' && line[3 + nd] <= '9')
			nd++;
		if (nd == 0 || nd >= SCHED_CPU_NAME || line[3 + nd] != ' ')
			continue;
		lp = line + 3 + nd;
		while (nf < 9 && parse_field(&lp, line + llen, &f, &fl)) {
			if (parse_u64(f, fl, &num[nf]) != 0)
				ok = false;
			nf++;
		}
		if (nf < 9 || !ok)
			continue;
		if (n >= NODE_CPU_MAX)
			return KM_ETOOBIG;
		rc = node_rows_reserve(nc, (n + 1) * sizeof(*rows));
		if (rc)
			return rc;
		rows = nc->rows;
		memcpy(rows[n].cpu, line + 3, nd);
		rows[n].cpu[nd] = '\0';
		rows[n].v[0] = (double)num[6] / 1e9;
		rows[n].v[1] = (double)num[7] / 1e9;
		rows[n].v[2] = (double)num[8];
		n++;
	}
	if (n == 0)
		return 0;
	rows = nc->rows;
	for (int i = 0; i < 3; i++) {
		rc = expo_family(ctx->out, fam[i].name, fam[i].help, EXPO_COUNTER);
		for (size_t r = 0; !rc && r < n; r++) {
			struct label_pair l = { "cpu", rows[r].cpu };

			rc = expo_sample(ctx->out, fam[i].name, &l, 1, rows[r].v[i]);
		}
		if (rc)
			return rc;
	}
	return 0;
}

int node_schedstat(struct node_ctx *ctx)
{
	const char *data;
	size_t len;
	int rc = procfile_read_boot(&ctx->nc->pf, ctx->procfs, "schedstat", &data, &len);

	if (rc == KM_ENOENT)
		return KM_ENODATA; /* a kernel without CONFIG_SCHEDSTATS, as node-exporter */
	if (!rc)
		rc = node_schedstat_parse(ctx, data, len);
	return rc;
}
