/* loadavg: node_load1/5/15 from <procfs>/loadavg. */
#include "collect/node/node_int.h"

#include "base/err.h"

int node_loadavg(struct node_ctx *ctx)
{
	static const char *const names[3] = { "node_load1", "node_load5", "node_load15" };
	static const char *const helps[3] = { "1m load average.", "5m load average.",
					      "15m load average." };
	double v[3];
	/* All three fields are checked before anything is written. */
	int rc = node_read_numbers(ctx, "loadavg", v, 3);

	for (int i = 0; i < 3 && !rc; i++)
		rc = node_write1(ctx->out, names[i], helps[i], EXPO_GAUGE, v[i]);
	return rc;
}
