/* loadavg: node_load1/5/15 from <procfs>/loadavg. */
#include "collect/node/node_int.h"

#include "base/err.h"

int node_loadavg(struct node_ctx *ctx)
{
	static const char *const names[3] = { "node_load1", "node_load5", "node_load15" };
	static const char *const helps[3] = { "1m load average.", "5m load average.",
					      "15m load average." };
	const char *data, *p, *end;
	double v[3];
	size_t len;
	int rc;

	rc = procfile_read(&ctx->nc->pf, ctx->procfs, "loadavg", &data, &len);
	if (rc)
		return rc;
	p = data;
	end = data + len;
	/* Check all three fields before writing anything. */
	for (int i = 0; i < 3; i++) {
		rc = node_parse_double_field(&p, end, &v[i]);
		if (rc)
			return rc;
	}
	for (int i = 0; i < 3 && !rc; i++)
		rc = node_write1(ctx->out, names[i], helps[i], EXPO_GAUGE, v[i]);
	return rc;
}
