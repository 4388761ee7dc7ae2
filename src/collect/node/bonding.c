/* bonding: node_bonding_slaves / node_bonding_active{master} from
 * <sysfs>/class/net: bonding_masters lists the masters, <master>/bonding/
 * slaves their slaves, and a slave is active when
 * <master>/lower_<slave>/bonding_slave/mii_status (older kernels:
 * slave_<slave>/...) reads "up". As node-exporter: no bonding_masters (the
 * module is not loaded) is no data (KM_ENODATA: success 0, not an error);
 * any other file that cannot be read fails the collector. */
#include "collect/node/node_int.h"

#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/parse.h"

/* bonding_masters and slaves are sysfs attributes: at most a page. */
#define BOND_LIST_MAX 4096
#define BOND_NAME_MAX 64

struct bond_row {
	char master[BOND_NAME_MAX];
	double slaves, active;
};

/* Copies the file base/rel into dst (NUL-terminated). */
static int read_list(struct node_ctx *ctx, const char *rel, char *dst, size_t *n)
{
	const char *data;
	size_t len;
	int rc = procfile_read(&ctx->nc->pf, ctx->sysfs, rel, &data, &len);

	if (rc)
		return rc;
	if (len >= BOND_LIST_MAX)
		return KM_ETOOBIG;
	memcpy(dst, data, len);
	dst[len] = '\0';
	*n = len;
	return 0;
}

static int slave_up(struct node_ctx *ctx, const char *master, const char *slave, size_t sl,
		    bool *up)
{
	char rel[3 * BOND_NAME_MAX + 64];
	const char *data;
	size_t len;
	int rc;

	snprintf(rel, sizeof(rel), "class/net/%s/lower_%.*s/bonding_slave/mii_status", master,
		 (int)sl, slave);
	rc = procfile_read(&ctx->nc->pf, ctx->sysfs, rel, &data, &len);
	if (rc == KM_ENOENT) {
		snprintf(rel, sizeof(rel), "class/net/%s/slave_%.*s/bonding_slave/mii_status",
			 master, (int)sl, slave);
		rc = procfile_read(&ctx->nc->pf, ctx->sysfs, rel, &data, &len);
	}
	if (rc)
		return rc;
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == ' ' || data[len - 1] == '\t'))
		len--;
	while (len > 0 && (*data == ' ' || *data == '\t' || *data == '\n')) {
		data++;
		len--;
	}
	*up = len == 2 && memcmp(data, "up", 2) == 0;
	return 0;
}

int node_bonding(struct node_ctx *ctx)
{
	struct node_collector *nc = ctx->nc;
	char masters[BOND_LIST_MAX], slaves[BOND_LIST_MAX];
	const char *mp, *mf;
	struct bond_row *rows;
	size_t mlen, mfl, n = 0;
	int rc;

	rc = read_list(ctx, "class/net/bonding_masters", masters, &mlen);
	if (rc)
		return rc == KM_ENOENT ? KM_ENODATA : rc;
	mp = masters;
	while (parse_field(&mp, masters + mlen, &mf, &mfl)) {
		char rel[BOND_NAME_MAX + 32], master[BOND_NAME_MAX];
		const char *sp, *sf;
		size_t slen, sfl;

		if (mfl >= BOND_NAME_MAX)
			return KM_EPARSE;
		memcpy(master, mf, mfl);
		master[mfl] = '\0';
		snprintf(rel, sizeof(rel), "class/net/%s/bonding/slaves", master);
		rc = read_list(ctx, rel, slaves, &slen);
		if (rc)
			return rc;
		rc = node_rows_reserve(nc, (n + 1) * sizeof(*rows));
		if (rc)
			return rc;
		rows = nc->rows;
		memcpy(rows[n].master, master, mfl + 1);
		rows[n].slaves = rows[n].active = 0;
		sp = slaves;
		while (parse_field(&sp, slaves + slen, &sf, &sfl)) {
			bool up = false;

			if (sfl >= BOND_NAME_MAX)
				return KM_EPARSE;
			rc = slave_up(ctx, master, sf, sfl, &up);
			if (rc)
				return rc;
			rows[n].slaves++;
			rows[n].active += up;
		}
		n++;
	}
	if (n == 0)
		return 0;
	rows = nc->rows;
	rc = expo_family(ctx->out, "node_bonding_slaves",
			 "Number of configured slaves per bonding interface.", EXPO_GAUGE);
	for (size_t i = 0; !rc && i < n; i++) {
		struct label_pair l = { "master", rows[i].master };

		rc = expo_sample(ctx->out, "node_bonding_slaves", &l, 1, rows[i].slaves);
	}
	if (!rc)
		rc = expo_family(ctx->out, "node_bonding_active",
				 "Number of active slaves per bonding interface.", EXPO_GAUGE);
	for (size_t i = 0; !rc && i < n; i++) {
		struct label_pair l = { "master", rows[i].master };

		rc = expo_sample(ctx->out, "node_bonding_active", &l, 1, rows[i].active);
	}
	return rc;
}
