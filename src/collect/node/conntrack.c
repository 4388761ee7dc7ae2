/* conntrack: node_nf_conntrack_entries(_limit) from
 * <procfs>/sys/net/netfilter/nf_conntrack_{count,max}. Missing files (module
 * not loaded) fail the collector, as node-exporter's ErrNoData does. */
#include "collect/node/node_int.h"

#include "base/err.h"

int node_conntrack(struct node_ctx *ctx)
{
	double count, max;
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
	return rc;
}
