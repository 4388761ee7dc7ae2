/* vmstat: node_vmstat_<field> (untyped) for the <procfs>/vmstat fields that
 * match the vmstat_fields filter (default ^(oom_kill|pgpg|pswp|pg.*fault).*). */
#include "collect/node/node_int.h"

#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/parse.h"
#include "scrape/labels.h"

int node_vmstat_parse(struct node_ctx *ctx, const char *data, size_t len)
{
	const char *p, *end, *line;
	size_t llen;
	int rc;

	node_seen_reset(&ctx->nc->seen);
	p = data;
	end = data + len;
	while (node_next_line(&p, end, &line, &llen)) {
		const char *lp = line, *lend = line + llen, *f;
		char name[128], help[160];
		size_t flen;
		double v;

		if (!parse_field(&lp, lend, &f, &flen))
			continue;
		rc = node_parse_double_field(&lp, lend, &v);
		if (rc)
			return rc;
		if (flen > 64)
			return KM_EPARSE;
		if (!node_rx_match(&ctx->nc->rxc[RXC_VMSTAT], ctx->vmstat_fields, f, flen))
			continue;
		node_cat(name, sizeof(name), (const struct node_span[]){ NS("node_vmstat_"), { f, flen } }, 2);
		/* The filter may pass any field text ("pg.*fault"); a name that
		 * is not a metric name would break the whole exposition. */
		if (!metric_name_valid(name, strlen(name)))
			continue;
		rc = node_seen_add(&ctx->nc->seen, name);
		if (rc < 0)
			return rc;
		if (rc)
			continue;
		node_cat(help, sizeof(help),
			 (const struct node_span[]){ NS("/proc/vmstat information field "), { f, flen },
						     NS(".") },
			 3);
		rc = node_write1(ctx->out, name, help, EXPO_UNTYPED, v);
		if (rc)
			return rc;
	}
	return 0;
}

int node_vmstat(struct node_ctx *ctx)
{
	const char *data;
	size_t len;
	int rc = procfile_read(&ctx->nc->pf, ctx->procfs, "vmstat", &data, &len);

	if (!rc)
		rc = node_vmstat_parse(ctx, data, len);
	return rc;
}
