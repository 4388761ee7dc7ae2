/* netclass: per-device properties from <sysfs>/class/net/<dev>/: node_network_up
 * (operstate == "up"), node_network_info and the numeric "Network device
 * property" gauges/counters node-exporter exports. An attribute the kernel
 * refuses to read (EINVAL for carrier/speed on a down link) is skipped for
 * that device, as node-exporter does. */
#include "collect/node/node_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "base/parse.h"

#define NC_NAME_MAX 64
#define NC_STR_MAX 256

struct nc_attr {
	const char *file;
	const char *metric;     /* suffix after node_network_ */
	enum expo_type type;
	double scale;
};

static const struct nc_attr nc_attrs[] = {
	{ "addr_assign_type", "address_assign_type", EXPO_GAUGE, 1 },
	{ "carrier", "carrier", EXPO_GAUGE, 1 },
	{ "carrier_changes", "carrier_changes_total", EXPO_COUNTER, 1 },
	{ "carrier_down_count", "carrier_down_changes_total", EXPO_COUNTER, 1 },
	{ "carrier_up_count", "carrier_up_changes_total", EXPO_COUNTER, 1 },
	{ "dev_id", "device_id", EXPO_GAUGE, 1 },
	{ "dormant", "dormant", EXPO_GAUGE, 1 },
	{ "flags", "flags", EXPO_GAUGE, 1 },
	{ "ifindex", "iface_id", EXPO_GAUGE, 1 },
	{ "iflink", "iface_link", EXPO_GAUGE, 1 },
	{ "link_mode", "iface_link_mode", EXPO_GAUGE, 1 },
	{ "mtu", "mtu_bytes", EXPO_GAUGE, 1 },
	{ "name_assign_type", "name_assign_type", EXPO_GAUGE, 1 },
	{ "netdev_group", "net_dev_group", EXPO_GAUGE, 1 },
	/* Mbit/s to bytes/s. */
	{ "speed", "speed_bytes", EXPO_GAUGE, 1000.0 * 1000.0 / 8.0 },
	{ "tx_queue_len", "transmit_queue_length", EXPO_GAUGE, 1 },
	{ "type", "protocol_type", EXPO_GAUGE, 1 },
};

#define NATTRS (sizeof(nc_attrs) / sizeof(nc_attrs[0]))

enum { S_ADDRESS, S_BROADCAST, S_DUPLEX, S_IFALIAS, S_OPERSTATE, NSTRS };
static const char *const nc_str_files[NSTRS] = { "address", "broadcast", "duplex",
						 "ifalias", "operstate" };

/* Positions of the carrier counters in nc_attrs above (guarded by
 * test_node_netclass_rename.sh, which compares the derived sum with the
 * carrier_changes file). */
enum { A_CARRIER_CHANGES = 2, A_CARRIER_DOWN = 3, A_CARRIER_UP = 4 };

/* Positions of the attributes whose show() refuses (EINVAL) a device that is
 * not running (below: "flags" first). */
enum { A_CARRIER = 1, A_DORMANT = 6, A_FLAGS = 7, A_SPEED = 14 };

struct nc_row {
	char dev[NC_NAME_MAX];
	uint64_t ino;           /* inode of the device directory (fd cache tag) */
	bool on_sysfs;          /* listed from a real sysfs (not a copy of one) */
	char s[NSTRS][NC_STR_MAX];
	double v[NATTRS];
	uint32_t have;          /* bit i: v[i] was readable */
};

int node_netclass_parse_num(const char *s, size_t n, double *out)
{
	uint64_t v = 0;
	int64_t iv;
	int rc;

	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		if (n > 18)
			return KM_ERANGE;
		for (size_t i = 2; i < n; i++) {
			char c = s[i];
			int d = c >= '0' && c <= '9' ? c - '0' :
				c >= 'a' && c <= 'f' ? c - 'a' + 10 :
				c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

			if (d < 0)
				return KM_EPARSE;
			v = v * 16 + (uint64_t)d;
		}
		*out = (double)v;
		return 0;
	}
	rc = parse_i64(s, n, &iv);
	if (!rc)
		*out = (double)iv;
	return rc;
}

/* Reads one attribute into pf2, trailing newline removed; a KM_* error when
 * the kernel refuses it (the caller then skips the attribute). */
static int read_attr(struct node_ctx *ctx, const struct nc_row *r, const char *file,
		     const char **val, size_t *vlen)
{
	char rel[NC_NAME_MAX + 64];
	const char *data;
	size_t len;
	int rc;

	/* Built without snprintf: ~90 attributes a scrape, snprintf was 5 %
	 * of the node collector's instructions. */
	node_cat(rel, sizeof(rel), (const struct node_span[]){ NS("class/net/"), NSS(r->dev), NS("/"), NSS(file) },
		 4);
	/* Tagged with the device directory's inode: a cached descriptor of a
	 * renamed interface is never read under its old name. */
	rc = procfile_read_tag(&ctx->nc->pf2, ctx->sysfs, rel, r->ino, &data, &len);
	if (rc)
		return rc;
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == ' '))
		len--;
	*val = data;
	*vlen = len;
	return 0;
}

/* node-exporter's adminstate label (v1.10+): IFF_UP of the flags
 * attribute, "unknown" when flags could not be read. */
static const char *admin_state(const struct nc_row *r)
{
	for (size_t a = 0; a < NATTRS; a++) {
		if (strcmp(nc_attrs[a].file, "flags") != 0)
			continue;
		if (!((r->have >> a) & 1u))
			return "unknown";
		return ((uint64_t)r->v[a] & 1u) ? "up" : "down";
	}
	return "unknown";
}

static int cmp_row(const void *a, const void *b)
{
	return strcmp(((const struct nc_row *)a)->dev, ((const struct nc_row *)b)->dev);
}

static int list_devices(struct node_ctx *ctx, size_t *count)
{
	struct dirent *de;
	struct stat st;
	bool on_sysfs = false;
	DIR *d;
	size_t n = 0;
	int rc;

	d = node_dir_open(ctx->nc, ctx->sysfs, "class/net", &on_sysfs);
	if (!d) {
		rc = errno == ENAMETOOLONG ? KM_EINVAL : KM_ENOENT;
		goto out;
	}
	/* On sysfs a class/net entry is a kernfs link to its device's
	 * directory (it cannot dangle or point at a file), and the link's own
	 * inode names the name->device binding: a rename moves the link, a new
	 * device makes a new one. lstat() of the link saves the walk through
	 * it to /sys/devices/.../net/<dev> (~3.7 us a device, 0.4 ms a scrape
	 * with 100 veth devices). Other trees keep following the link, which
	 * skips a dangling one. */
	rc = 0;
	while ((de = readdir(d)) != NULL) {
		struct nc_row *r;
		size_t nl = strlen(de->d_name);

		if (de->d_name[0] == '.' || nl >= NC_NAME_MAX)
			continue;
		/* Skip bonding_masters and other plain files. */
		if (fstatat(dirfd(d), de->d_name, &st, on_sysfs ? AT_SYMLINK_NOFOLLOW : 0) != 0 ||
		    !(S_ISDIR(st.st_mode) || (on_sysfs && S_ISLNK(st.st_mode))))
			continue;
		if (ctx->netclass_exclude && node_rx_match(&ctx->nc->rxc[RXC_NETCLASS], ctx->netclass_exclude,
							 de->d_name, nl))
			continue;
		rc = node_rows_reserve(ctx->nc, (n + 1) * sizeof(*r));
		if (rc)
			break;
		r = (struct nc_row *)ctx->nc->rows + n;
		memcpy(r->dev, de->d_name, nl + 1);
		r->ino = (uint64_t)st.st_ino;
		r->on_sysfs = on_sysfs;
		n++;
	}
	node_dir_close(ctx->nc, d);
out:
	*count = n;
	return rc;
}

/* carrier_changes as the kernel computes it, from the up and down counts
 * read for the same device: since Linux 4.16 (the commit that added
 * carrier_up_count and carrier_down_count) carrier_changes_show() in
 * net/core/net-sysfs.c prints atomic_read(up) + atomic_read(down) with
 * "%d", so the sum wraps as an int does. One sysfs read less per device
 * (~1 us, 100 a scrape on a node with 100 veth devices). Only on a real
 * sysfs: a copy of one (node_exporter's fixtures) need not add up, and a
 * kernel without the counts has no up/down files, so the file is read. */
static bool carrier_changes_derived(struct nc_row *r)
{
	const uint32_t both = (1u << A_CARRIER_UP) | (1u << A_CARRIER_DOWN);
	uint32_t sum;

	if (!r->on_sysfs || (r->have & both) != both)
		return false;
	sum = (uint32_t)(int64_t)r->v[A_CARRIER_UP] + (uint32_t)(int64_t)r->v[A_CARRIER_DOWN];
	r->v[A_CARRIER_CHANGES] = (double)(int32_t)sum;
	r->have |= 1u << A_CARRIER_CHANGES;
	return true;
}

/* Attribute i into r->v[i], r->have bit i set when readable and parsed. */
static void read_num(struct node_ctx *ctx, struct nc_row *r, size_t i)
{
	const char *val;
	size_t vlen;

	if (read_attr(ctx, r, nc_attrs[i].file, &val, &vlen) != 0)
		return;
	if (node_netclass_parse_num(val, vlen, &r->v[i]) != 0)
		return;
	r->v[i] *= nc_attrs[i].scale;
	r->have |= 1u << i;
}

/* True when r's device is down on a real sysfs: IFF_UP clear in the flags
 * just read. In net/core/dev.c __dev_open() sets __LINK_STATE_START and
 * then IFF_UP, __dev_close_many() clears both, each under RTNL, so between
 * transitions IFF_UP is netif_running(); net-sysfs.c's carrier, dormant,
 * speed and duplex show() return -EINVAL for a device not running (carrier,
 * speed and duplex after taking RTNL). Those four reads are skipped, as
 * the kernel would have refused them at the flags read: the same snapshot,
 * four syscalls (and three RTNL round trips) less per down device (tunnel
 * fallback devices, ifb, unused NICs). A copy of sysfs is read in full. */
static bool down_on_sysfs(const struct nc_row *r)
{
	return r->on_sysfs && ((r->have >> A_FLAGS) & 1u) && !((uint64_t)r->v[A_FLAGS] & 1u);
}

static void read_row(struct node_ctx *ctx, struct nc_row *r)
{
	const char *val;
	size_t vlen;
	bool down;

	r->have = 0;
	read_num(ctx, r, A_FLAGS);
	down = down_on_sysfs(r);
	for (int i = 0; i < NSTRS; i++) {
		r->s[i][0] = '\0';
		if (down && i == S_DUPLEX)
			continue;
		if (read_attr(ctx, r, nc_str_files[i], &val, &vlen) == 0) {
			if (vlen >= NC_STR_MAX)
				vlen = NC_STR_MAX - 1;
			memcpy(r->s[i], val, vlen);
			r->s[i][vlen] = '\0';
		}
	}
	for (size_t i = 0; i < NATTRS; i++) {
		if (i == A_CARRIER_CHANGES || i == A_FLAGS)
			continue;
		if (down && (i == A_CARRIER || i == A_DORMANT || i == A_SPEED))
			continue;
		read_num(ctx, r, i);
	}
	if (!carrier_changes_derived(r))
		read_num(ctx, r, A_CARRIER_CHANGES);
}

int node_netclass(struct node_ctx *ctx)
{
	struct nc_row *rows;
	size_t n = 0;
	int rc;

	rc = list_devices(ctx, &n);
	if (rc)
		return rc;
	rows = ctx->nc->rows;
	if (n == 0)
		return 0;
	qsort(rows, n, sizeof(*rows), cmp_row);
	for (size_t i = 0; i < n; i++)
		read_row(ctx, &rows[i]);

	rc = expo_family(ctx->out, "node_network_up",
			 "Value is 1 if operstate is 'up', 0 otherwise.", EXPO_GAUGE);
	for (size_t i = 0; !rc && i < n; i++) {
		struct label_pair l = { "device", rows[i].dev };

		rc = expo_sample(ctx->out, "node_network_up", &l, 1,
				 strcmp(rows[i].s[S_OPERSTATE], "up") == 0);
	}
	if (!rc)
		rc = expo_family(ctx->out, "node_network_info",
				 "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
				 EXPO_GAUGE);
	for (size_t i = 0; !rc && i < n; i++) {
		struct label_pair l[7] = {
			{ "address", rows[i].s[S_ADDRESS] },
			{ "adminstate", admin_state(&rows[i]) },
			{ "broadcast", rows[i].s[S_BROADCAST] },
			{ "device", rows[i].dev },
			{ "duplex", rows[i].s[S_DUPLEX] },
			{ "ifalias", rows[i].s[S_IFALIAS] },
			{ "operstate", rows[i].s[S_OPERSTATE] },
		};

		rc = expo_sample(ctx->out, "node_network_info", l, 7, 1);
	}
	for (size_t a = 0; !rc && a < NATTRS; a++) {
		char name[64], help[80];
		bool any = false;

		for (size_t i = 0; i < n; i++)
			any |= (rows[i].have >> a) & 1u;
		if (!any)
			continue;
		node_cat(name, sizeof(name),
			 (const struct node_span[]){ NS("node_network_"), NSS(nc_attrs[a].metric) }, 2);
		node_cat(help, sizeof(help),
			 (const struct node_span[]){ NS("Network device property: "),
						     NSS(nc_attrs[a].metric) },
			 2);
		rc = expo_family(ctx->out, name, help, nc_attrs[a].type);
		for (size_t i = 0; !rc && i < n; i++) {
			struct label_pair l = { "device", rows[i].dev };

			if ((rows[i].have >> a) & 1u)
				rc = expo_sample(ctx->out, name, &l, 1, rows[i].v[a]);
		}
	}
	return rc;
}
