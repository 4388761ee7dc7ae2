/* softnet: node_softnet_* per CPU from <procfs>/net/softnet_stat (one line
 * per online CPU, hex columns). As node-exporter (procfs): at least 9
 * columns; processed, dropped, time_squeezed are columns 0-2 and
 * cpu_collision column 8; received_rps (10+ columns), flow_limit_count (11+)
 * and backlog_len plus the CPU number (13+ columns, else the line index). */
#include "collect/node/node_int.h"

#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/parse.h"

enum { SN_PROCESSED, SN_DROPPED, SN_SQUEEZED, SN_COLLISION, SN_RPS, SN_FLOW, SN_BACKLOG,
       SN_N };

struct softnet_row {
	double v[SN_N];
	uint32_t cpu;
};

static const struct {
	const char *name;
	const char *help;
	enum expo_type type;
} sn_fam[SN_N] = {
	{ "node_softnet_processed_total", "Number of processed packets", EXPO_COUNTER },
	{ "node_softnet_dropped_total", "Number of dropped packets", EXPO_COUNTER },
	{ "node_softnet_times_squeezed_total",
	  "Number of times processing packets ran out of quota", EXPO_COUNTER },
	{ "node_softnet_cpu_collision_total",
	  "Number of collision occur while obtaining device lock while transmitting",
	  EXPO_COUNTER },
	{ "node_softnet_received_rps_total", "Number of times cpu woken up received_rps",
	  EXPO_COUNTER },
	{ "node_softnet_flow_limit_count_total", "Number of times flow limit has been reached",
	  EXPO_COUNTER },
	{ "node_softnet_backlog_len", "Softnet backlog status", EXPO_GAUGE },
};

/* Columns of a line parsed as 32-bit hex (the kernel prints %08x). */
#define SN_COLS_MAX 32

static int hex32(const char *s, size_t n, uint32_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 8)
		return KM_EPARSE;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return KM_EPARSE;
		v = v * 16 + (uint64_t)d;
	}
	*out = (uint32_t)v;
	return 0;
}

static int sn_line(const char *line, size_t llen, uint32_t index, struct softnet_row *r)
{
	const char *p = line, *end = line + llen, *f;
	uint32_t c[SN_COLS_MAX];
	size_t n, width = 0;
	int rc;

	while (parse_field(&p, end, &f, &n)) {
		/* Columns past the ones node-exporter reads are not parsed. */
		if (width < 13) {
			rc = hex32(f, n, &c[width]);
			if (rc)
				return rc;
		}
		if (width < SN_COLS_MAX)
			width++;
	}
	if (width < 9)
		return KM_EPARSE;
	memset(r, 0, sizeof(*r));
	r->v[SN_PROCESSED] = c[0];
	r->v[SN_DROPPED] = c[1];
	r->v[SN_SQUEEZED] = c[2];
	r->v[SN_COLLISION] = c[8];
	if (width >= 10)
		r->v[SN_RPS] = c[9];
	if (width >= 11)
		r->v[SN_FLOW] = c[10];
	r->cpu = index;
	if (width >= 13) {
		r->v[SN_BACKLOG] = c[11];
		r->cpu = c[12];
	}
	return 0;
}

int node_softnet_parse(struct node_ctx *ctx, const char *data, size_t len)
{
	struct node_collector *nc = ctx->nc;
	const char *p = data, *end = data + len, *line;
	struct softnet_row *rows;
	size_t llen, n = 0;
	int rc;

	while (node_next_line(&p, end, &line, &llen)) {
		if (n >= NODE_CPU_MAX)
			return KM_ETOOBIG;
		rc = node_rows_reserve(nc, (n + 1) * sizeof(*rows));
		if (rc)
			return rc;
		rows = nc->rows;
		rc = sn_line(line, llen, (uint32_t)n, &rows[n]);
		if (rc)
			return rc;
		n++;
	}
	if (n == 0)
		return 0;
	rows = nc->rows;
	for (int i = 0; i < SN_N; i++) {
		rc = expo_family(ctx->out, sn_fam[i].name, sn_fam[i].help, sn_fam[i].type);
		for (size_t r = 0; !rc && r < n; r++) {
			char cpu[16];
			struct label_pair l = { "cpu", cpu };

			node_fmt_u64(cpu, sizeof(cpu), rows[r].cpu);
			rc = expo_sample(ctx->out, sn_fam[i].name, &l, 1, rows[r].v[i]);
		}
		if (rc)
			return rc;
	}
	return 0;
}

int node_softnet(struct node_ctx *ctx)
{
	const char *data;
	size_t len;
	int rc = procfile_read(&ctx->nc->pf, ctx->procfs, "net/softnet_stat", &data, &len);

	if (!rc)
		rc = node_softnet_parse(ctx, data, len);
	return rc;
}
