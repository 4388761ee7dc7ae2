/* entropy: node_entropy_available_bits / node_entropy_pool_size_bits from
 * <procfs>/sys/kernel/random/{entropy_avail,poolsize}; either missing or
 * malformed fails the collector, as in node-exporter. */
#include "collect/node/node_int.h"

#include "base/err.h"

int node_entropy(struct node_ctx *ctx)
{
	double avail, pool;
	int rc = node_read_numbers(ctx, "sys/kernel/random/entropy_avail", &avail, 1);

	if (!rc)
		rc = node_read_numbers(ctx, "sys/kernel/random/poolsize", &pool, 1);
	if (!rc)
		rc = node_write1(ctx->out, "node_entropy_available_bits", "Bits of available entropy.",
				 EXPO_GAUGE, avail);
	if (!rc)
		rc = node_write1(ctx->out, "node_entropy_pool_size_bits", "Bits of entropy pool.",
				 EXPO_GAUGE, pool);
	return rc;
}
