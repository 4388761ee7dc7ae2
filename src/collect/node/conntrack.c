/* conntrack: node_nf_conntrack_entries(_limit) from
 * <procfs>/sys/net/netfilter/nf_conntrack_{count,max}, and
 * node_nf_conntrack_stat_* summed over the per-CPU lines of
 * <procfs>/net/stat/nf_conntrack (hex, 16 or 17 columns, search_restart
 * only in the 17th). Missing files (module not loaded) fail the collector,
 * as node-exporter's ErrNoData does. */
#include "collect/node/node_int.h"

#include "base/err.h"
#include "base/parse.h"

/* node_nf_conntrack_stat_<name>: column in net/stat/nf_conntrack, HELP. */
static const struct {
	const char *name;
	int col;
	const char *help;
} ct_stat[] = {
	{ "node_nf_conntrack_stat_found", 2, "Number of searched entries which were successful." },
	{ "node_nf_conntrack_stat_invalid", 4, "Number of packets seen which can not be tracked." },
	{ "node_nf_conntrack_stat_ignore", 5,
	  "Number of packets seen which are already connected to a conntrack entry." },
	{ "node_nf_conntrack_stat_insert", 8, "Number of entries inserted into the list." },
	{ "node_nf_conntrack_stat_insert_failed", 9,
	  "Number of entries for which list insertion was attempted but failed." },
	{ "node_nf_conntrack_stat_drop", 10, "Number of packets dropped due to conntrack failure." },
	{ "node_nf_conntrack_stat_early_drop", 11,
	  "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached." },
	{ "node_nf_conntrack_stat_search_restart", 16,
	  "Number of conntrack table lookups which had to be restarted due to hashtable resizes." },
};

#define CT_NSTAT (sizeof(ct_stat) / sizeof(ct_stat[0]))
#define CT_COLS 17

/* A hex field of /proc as a sample value. */
static int ct_hex(const char *s, size_t n, double *out)
{
	uint64_t v;
	int rc = parse_hex_u64(s, n, &v);

	if (!rc)
		*out = (double)v;
	return rc;
}

int node_conntrack_stat_parse(const char *data, size_t len, double sum[CT_STAT_N])
{
	const char *p = data, *end = data + len, *line;
	size_t llen;
	bool header = true;

	for (size_t i = 0; i < CT_NSTAT; i++)
		sum[i] = 0;
	while (node_next_line(&p, end, &line, &llen)) {
		const char *lp = line, *f;
		double c[CT_COLS + 1] = { 0 };
		size_t fl, width = 0;
		int rc;

		if (header) {
			header = false;
			continue;
		}
		while (parse_field(&lp, line + llen, &f, &fl)) {
			if (width == CT_COLS)
				return KM_EPARSE;
			rc = ct_hex(f, fl, &c[width]);
			if (rc)
				return rc;
			width++;
		}
		if (width < 16)
			return KM_EPARSE;
		for (size_t i = 0; i < CT_NSTAT; i++)
			sum[i] += c[ct_stat[i].col];
	}
	return 0;
}

int node_conntrack(struct node_ctx *ctx)
{
	double count, max, st[CT_STAT_N];
	const char *data;
	size_t len;
	int rc;

	rc = node_read_numbers(ctx, "sys/net/netfilter/nf_conntrack_count", &count, 1);
	if (!rc)
		rc = node_read_numbers(ctx, "sys/net/netfilter/nf_conntrack_max", &max, 1);
	if (!rc)
		rc = node_write1(ctx->out, "node_nf_conntrack_entries",
				 "Number of currently allocated flow entries for connection tracking.",
				 EXPO_GAUGE, count);
	if (!rc)
		rc = node_write1(ctx->out, "node_nf_conntrack_entries_limit",
				 "Maximum size of connection tracking table.", EXPO_GAUGE, max);
	if (!rc)
		rc = procfile_read(&ctx->nc->pf, ctx->procfs, "net/stat/nf_conntrack", &data, &len);
	if (!rc)
		rc = node_conntrack_stat_parse(data, len, st);
	for (size_t i = 0; !rc && i < CT_NSTAT; i++)
		rc = node_write1(ctx->out, ct_stat[i].name, ct_stat[i].help, EXPO_GAUGE, st[i]);
	return rc;
}
