/* arp: node_arp_entries{device} from <procfs>/net/arp, the neighbour
 * entries per device. node-exporter counts the same entries over netlink
 * by default (states other than NOARP, which /proc/net/arp also leaves
 * out). Lines are the 9-field header or 6 fields (IP, HW type, flags, HW
 * address, mask, device); anything else fails the collector. */
#include "collect/node/node_int.h"

#include <string.h>

#include "base/err.h"
#include "base/parse.h"

#define ARP_IFNAME_MAX 64
/* Devices counted per scrape (a node has far fewer with neighbours). */
#define ARP_DEV_MAX 65536

struct arp_row {
	char dev[ARP_IFNAME_MAX];
	double n;
};

int node_arp_parse(struct node_ctx *ctx, const char *data, size_t len)
{
	struct node_collector *nc = ctx->nc;
	const char *p = data, *end = data + len, *line;
	struct arp_row *rows = nc->rows;
	size_t llen, n = 0;
	int rc;

	while (node_next_line(&p, end, &line, &llen)) {
		const char *lp = line, *f[9], *dev;
		size_t fl[9], width = 0, i, dn;

		while (width < 9 && parse_field(&lp, line + llen, &f[width], &fl[width]))
			width++;
		if (width == 9 || width == 0)
			continue;
		if (width != 6)
			return KM_EPARSE;
		/* Flags as Go's ParseUint(s, 0, 8): "0x2". */
		if (fl[2] < 3 || f[2][0] != '0' || (f[2][1] != 'x' && f[2][1] != 'X'))
			return KM_EPARSE;
		dev = f[5];
		dn = fl[5];
		if (dn >= ARP_IFNAME_MAX)
			return KM_EPARSE;
		for (i = 0; i < n; i++)
			if (strlen(rows[i].dev) == dn && memcmp(rows[i].dev, dev, dn) == 0)
				break;
		if (i == n) {
			if (n == ARP_DEV_MAX)
				return KM_ETOOBIG;
			rc = node_rows_reserve(nc, (n + 1) * sizeof(*rows));
			if (rc)
				return rc;
			rows = nc->rows;
			memcpy(rows[n].dev, dev, dn);
			rows[n].dev[dn] = '\0';
			rows[n].n = 0;
			n++;
		}
		rows[i].n++;
	}
	if (n == 0)
		return 0;
	rc = expo_family(ctx->out, "node_arp_entries", "ARP entries by device", EXPO_GAUGE);
	for (size_t i = 0; !rc && i < n; i++) {
		struct label_pair l = { "device", rows[i].dev };

		rc = expo_sample(ctx->out, "node_arp_entries", &l, 1, rows[i].n);
	}
	return rc;
}

int node_arp(struct node_ctx *ctx)
{
	const char *data;
	size_t len;
	int rc = procfile_read(&ctx->nc->pf, ctx->procfs, "net/arp", &data, &len);

	if (!rc)
		rc = node_arp_parse(ctx, data, len);
	return rc;
}
