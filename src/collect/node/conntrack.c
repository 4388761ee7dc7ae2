/* conntrack: node_nf_conntrack_entries(_limit) from
 * <procfs>/sys/net/netfilter/nf_conntrack_{count,max}. Missing files (module
 * not loaded) fail the collector, as node-exporter's ErrNoData does. */
#include "collect/node/node_int.h"

#include "base/err.h"

static int read_one(struct node_ctx *ctx, const char *rel, double *v)
{
	const char *data, *p;
	size_t len;
	int rc;

	rc = procfile_read(&ctx->nc->pf, ctx->procfs, rel, &data, &len);
	if (rc)
		return rc;
	p = data;
	return node_parse_double_field(&p, data + len, v);
}

int node_conntrack(struct node_ctx *ctx)
{
	double count, max;
	int rc;

	rc = read_one(ctx, "sys/net/netfilter/nf_conntrack_count", &count);
	if (!rc)
		rc = read_one(ctx, "sys/net/netfilter/nf_conntrack_max", &max);
	if (!rc)
		rc = node_write1(ctx->out, "node_nf_conntrack_entries",
				 "Number of currently allocated flow entries for connection tracking.",
				 EXPO_GAUGE, count);
	if (!rc)
		rc = node_write1(ctx->out, "node_nf_conntrack_entries_limit",
				 "Maximum size of connection tracking table.", EXPO_GAUGE, max);
	return rc;
}
