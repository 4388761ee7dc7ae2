/* netdev: node_network_<key>_total counters per device from
 * <procfs>/net/dev. node-exporter reads the same numbers over netlink by
 * default (the kernel folds its stats64 fields into these columns the same
 * way). receive_nohandler is not in net/dev: it is read from
 * <sysfs>/class/net/<dev>/statistics/rx_nohandler (the same rtnl_link_stats64
 * field netlink returns; 0 when the file is absent, as netlink's zeroed
 * field for devices that never count it).
 * No device is excluded by default upstream (lo is exported). */
#include "collect/node/node_int.h"

#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/parse.h"

#define NETDEV_COLS 16
/* Columns of a row: net/dev's, then receive_nohandler. */
#define NETDEV_NOHANDLER NETDEV_COLS
#define NETDEV_KEYS (NETDEV_COLS + 1)
#define IFNAME_MAX 64

static const char *const netdev_keys[NETDEV_KEYS] = {
	"receive_bytes", "receive_packets", "receive_errs", "receive_drop",
	"receive_fifo", "receive_frame", "receive_compressed", "receive_multicast",
	"transmit_bytes", "transmit_packets", "transmit_errs", "transmit_drop",
	"transmit_fifo", "transmit_colls", "transmit_carrier", "transmit_compressed",
	"receive_nohandler",
};

struct netdev_row {
	char dev[IFNAME_MAX];
	double v[NETDEV_KEYS];
};

/* rx_nohandler of dev from sysfs into *v (0 when absent or unreadable:
 * a device without the counter must not fail the whole collector). A
 * present but malformed file fails it. */
static int read_nohandler(struct node_ctx *ctx, const char *dev, double *v)
{
	char rel[128];
	const char *data;
	size_t len;
	int rc;

	*v = 0;
	if (node_cat(rel, sizeof(rel),
		     (const struct node_span[]){ NS("class/net/"), NSS(dev),
						 NS("/statistics/rx_nohandler") },
		     3) >= sizeof(rel))
		return KM_EPARSE;
	rc = procfile_read(&ctx->nc->pf2, ctx->sysfs, rel, &data, &len);
	if (rc)
		return 0;
	return node_parse_numbers(data, len, v, 1);
}

int node_netdev_parse(struct node_ctx *ctx, const char *data, size_t len)
{
	struct node_collector *nc = ctx->nc;
	struct netdev_row *rows;
	const char *p, *end, *line;
	size_t llen, n = 0;
	int lineno = 0;
	int rc;

	p = data;
	end = data + len;
	while (node_next_line(&p, end, &line, &llen)) {
		const char *colon, *lp, *lend = line + llen, *name;
		size_t nlen;

		/* Two header lines. */
		if (++lineno <= 2)
			continue;
		colon = memchr(line, ':', llen);
		if (!colon)
			return KM_EPARSE;
		name = line;
		while (name < colon && (*name == ' ' || *name == '\t'))
			name++;
		nlen = (size_t)(colon - name);
		if (nlen == 0 || nlen >= IFNAME_MAX)
			return KM_EPARSE;
		if (ctx->netdev_exclude && node_rx_match(&ctx->nc->rxc[RXC_NETDEV], ctx->netdev_exclude, name, nlen))
			continue;
		if (ctx->netdev_include &&
		    !node_rx_match(&ctx->nc->rxc[RXC_NETDEV_INC], ctx->netdev_include, name, nlen))
			continue;
		rc = node_rows_reserve(nc, (n + 1) * sizeof(*rows));
		if (rc)
			return rc;
		rows = nc->rows;
		memcpy(rows[n].dev, name, nlen);
		rows[n].dev[nlen] = '\0';
		lp = colon + 1;
		for (int i = 0; i < NETDEV_COLS; i++) {
			rc = node_parse_double_field(&lp, lend, &rows[n].v[i]);
			if (rc)
				return rc;
		}
		rc = read_nohandler(ctx, rows[n].dev, &rows[n].v[NETDEV_NOHANDLER]);
		if (rc)
			return rc;
		n++;
	}
	/* node-exporter prints no family without samples. */
	if (n == 0)
		return 0;
	rows = nc->rows;
	for (int i = 0; i < NETDEV_KEYS; i++) {
		char mname[64], help[64];

		node_cat(mname, sizeof(mname),
			 (const struct node_span[]){ NS("node_network_"), NSS(netdev_keys[i]),
						     NS("_total") },
			 3);
		node_cat(help, sizeof(help),
			 (const struct node_span[]){ NS("Network device statistic "),
						     NSS(netdev_keys[i]), NS(".") },
			 3);
		rc = expo_family(ctx->out, mname, help, EXPO_COUNTER);
		for (size_t r = 0; !rc && r < n; r++) {
			struct label_pair l = { "device", rows[r].dev };

			rc = expo_sample(ctx->out, mname, &l, 1, rows[r].v[i]);
		}
		if (rc)
			return rc;
	}
	return 0;
}

int node_netdev(struct node_ctx *ctx)
{
	const char *data;
	size_t len;
	int rc = procfile_read(&ctx->nc->pf, ctx->procfs, "net/dev", &data, &len);

	if (!rc)
		rc = node_netdev_parse(ctx, data, len);
	return rc;
}
