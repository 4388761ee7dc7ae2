/* diskstats: node_disk_* from <procfs>/diskstats (sectors are 512 bytes,
 * times in ms), only as many fields as the kernel prints (14, 18 or 20
 * columns), plus node_disk_info from udev data under
 * <rootfs>/run/udev/data/b<major>:<minor> and <sysfs>/block/<dev>/queue/rotational.
 * Default device exclude (>= v1.8) drops partitions, ram, zram and loop. */
#include "collect/node/node_int.h"

#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/parse.h"

#define DISK_NAME_MAX 64
#define DISK_FIELDS 17

struct disk_field {
	const char *name;
	const char *help;
	enum expo_type type;
	double scale;
};

static const struct disk_field disk_fields[DISK_FIELDS] = {
	{ "node_disk_reads_completed_total", "The total number of reads completed successfully.",
	  EXPO_COUNTER, 1 },
	{ "node_disk_reads_merged_total", "The total number of reads merged.", EXPO_COUNTER, 1 },
	{ "node_disk_read_bytes_total", "The total number of bytes read successfully.",
	  EXPO_COUNTER, 512 },
	{ "node_disk_read_time_seconds_total", "The total number of seconds spent by all reads.",
	  EXPO_COUNTER, 0.001 },
	{ "node_disk_writes_completed_total",
	  "The total number of writes completed successfully.", EXPO_COUNTER, 1 },
	{ "node_disk_writes_merged_total", "The number of writes merged.", EXPO_COUNTER, 1 },
	{ "node_disk_written_bytes_total", "The total number of bytes written successfully.",
	  EXPO_COUNTER, 512 },
	{ "node_disk_write_time_seconds_total",
	  "This is the total number of seconds spent by all writes.", EXPO_COUNTER, 0.001 },
	{ "node_disk_io_now", "The number of I/Os currently in progress.", EXPO_GAUGE, 1 },
	{ "node_disk_io_time_seconds_total", "Total seconds spent doing I/Os.", EXPO_COUNTER,
	  0.001 },
	{ "node_disk_io_time_weighted_seconds_total",
	  "The weighted # of seconds spent doing I/Os.", EXPO_COUNTER, 0.001 },
	{ "node_disk_discards_completed_total",
	  "The total number of discards completed successfully.", EXPO_COUNTER, 1 },
	{ "node_disk_discards_merged_total", "The total number of discards merged.",
	  EXPO_COUNTER, 1 },
	/* Not scaled to bytes: node-exporter exports sectors here. */
	{ "node_disk_discarded_sectors_total",
	  "The total number of sectors discarded successfully.", EXPO_COUNTER, 1 },
	{ "node_disk_discard_time_seconds_total",
	  "This is the total number of seconds spent by all discards.", EXPO_COUNTER, 0.001 },
	{ "node_disk_flush_requests_total",
	  "The total number of flush requests completed successfully", EXPO_COUNTER, 1 },
	{ "node_disk_flush_requests_time_seconds_total",
	  "This is the total number of seconds spent by all flush requests.", EXPO_COUNTER,
	  0.001 },
};

struct disk_row {
	char dev[DISK_NAME_MAX];
	uint64_t major, minor;
	int nf;                    /* fields present */
	double v[DISK_FIELDS];
};

/* udev properties node_disk_info uses. */
enum { U_PATH, U_WWN, U_MODEL, U_SERIAL, U_REVISION, U_SCSI_SERIAL, U_ID_SERIAL, NUDEV };
static const char *const udev_keys[NUDEV] = { "ID_PATH", "ID_WWN", "ID_MODEL",
					      "ID_SERIAL_SHORT", "ID_REVISION",
					      "SCSI_IDENT_SERIAL", "ID_SERIAL" };

#define UDEV_VAL_MAX NODE_UDEV_VAL_MAX
_Static_assert(NUDEV == NODE_UDEV_N, "udev key count");

static void read_udev(struct node_ctx *ctx, const struct disk_row *r,
		      char val[NUDEV][UDEV_VAL_MAX])
{
	char rel[96];
	const char *data;
	size_t len;

	char maj[24], min[24];

	node_fmt_u64(maj, sizeof(maj), r->major);
	node_fmt_u64(min, sizeof(min), r->minor);
	node_cat(rel, sizeof(rel),
		 (const struct node_span[]){ NS("run/udev/data/b"), NSS(maj), NS(":"), NSS(min) }, 4);
	/* Without udev the labels stay empty, as in node-exporter. */
	if (procfile_read(&ctx->nc->pf2, ctx->rootfs, rel, &data, &len) != 0) {
		data = "";
		len = 0;
	}
	node_udev_parse(data, len, val);
}

void node_udev_parse(const char *data, size_t len, char val[NODE_UDEV_N][NODE_UDEV_VAL_MAX])
{
	const char *p, *end, *line;
	size_t llen;

	for (int i = 0; i < NUDEV; i++)
		val[i][0] = '\0';
	p = data;
	end = data + len;
	while (node_next_line(&p, end, &line, &llen)) {
		const char *eq;

		if (llen < 3 || line[0] != 'E' || line[1] != ':')
			continue;
		eq = memchr(line + 2, '=', llen - 2);
		if (!eq)
			continue;
		for (int i = 0; i < NUDEV; i++) {
			size_t kl = strlen(udev_keys[i]);
			size_t vl = (size_t)(line + llen - eq - 1);

			if ((size_t)(eq - line - 2) != kl || memcmp(line + 2, udev_keys[i], kl))
				continue;
			if (vl >= UDEV_VAL_MAX)
				vl = UDEV_VAL_MAX - 1;
			memcpy(val[i], eq + 1, vl);
			val[i][vl] = '\0';
		}
	}
}

static int write_info(struct node_ctx *ctx, const struct disk_row *rows, size_t n)
{
	char val[NUDEV][UDEV_VAL_MAX], maj[24], min[24], rot[24];
	int rc;

	rc = expo_family(ctx->out, "node_disk_info", "Info of /sys/block/<block_device>.",
			 EXPO_GAUGE);
	for (size_t i = 0; !rc && i < n; i++) {
		char rel[DISK_NAME_MAX + 32];
		const char *data;
		size_t len;
		const char *serial;

		read_udev(ctx, &rows[i], val);
		/* node-exporter v1.12: SCSI_IDENT_SERIAL, else ID_SERIAL_SHORT,
		 * else ID_SERIAL (virtio disks have only that). */
		serial = val[U_SCSI_SERIAL][0] ? val[U_SCSI_SERIAL] :
			 val[U_SERIAL][0] ? val[U_SERIAL] : val[U_ID_SERIAL];
		node_fmt_u64(maj, sizeof(maj), rows[i].major);
		node_fmt_u64(min, sizeof(min), rows[i].minor);
		/* node-exporter v1.12: "1" for a rotational device, "0" for
		 * anything else, including an unreadable or absent file. */
		memcpy(rot, "0", 2);
		node_cat(rel, sizeof(rel),
			 (const struct node_span[]){ NS("block/"), NSS(rows[i].dev), NS("/queue/rotational") }, 3);
		if (procfile_read(&ctx->nc->pf2, ctx->sysfs, rel, &data, &len) == 0) {
			double r;

			if (node_parse_numbers(data, len, &r, 1) == 0 && r == 1)
				memcpy(rot, "1", 2);
		}
		struct label_pair l[9] = {
			{ "device", rows[i].dev }, { "major", maj }, { "minor", min },
			{ "model", val[U_MODEL] }, { "path", val[U_PATH] },
			{ "revision", val[U_REVISION] }, { "rotational", rot },
			{ "serial", serial }, { "wwn", val[U_WWN] },
		};

		rc = expo_sample(ctx->out, "node_disk_info", l, 9, 1);
	}
	return rc;
}

int node_diskstats_parse(struct node_ctx *ctx, const char *data, size_t len)
{
	struct node_collector *nc = ctx->nc;
	struct disk_row *rows;
	const char *p, *end, *line;
	size_t llen, n = 0;
	int rc;

	p = data;
	end = data + len;
	while (node_next_line(&p, end, &line, &llen)) {
		const char *lp = line, *lend = line + llen, *f;
		size_t flen;
		struct disk_row *r;
		uint64_t maj, min;

		if (!parse_field(&lp, lend, &f, &flen))
			continue;
		if ((rc = parse_u64(f, flen, &maj)) != 0)
			return rc;
		if (!parse_field(&lp, lend, &f, &flen))
			return KM_EPARSE;
		if ((rc = parse_u64(f, flen, &min)) != 0)
			return rc;
		if (!parse_field(&lp, lend, &f, &flen) || flen >= DISK_NAME_MAX)
			return KM_EPARSE;
		if (ctx->diskstats_include
			    ? !node_rx_match(&ctx->nc->rxc[RXC_DISK_INC], ctx->diskstats_include, f, flen)
			    : node_rx_match(&ctx->nc->rxc[RXC_DISK], ctx->diskstats_exclude, f, flen))
			continue;
		rc = node_rows_reserve(nc, (n + 1) * sizeof(*r));
		if (rc)
			return rc;
		r = (struct disk_row *)nc->rows + n;
		memcpy(r->dev, f, flen);
		r->dev[flen] = '\0';
		r->major = maj;
		r->minor = min;
		r->nf = 0;
		while (r->nf < DISK_FIELDS && parse_field(&lp, lend, &f, &flen)) {
			rc = parse_double(f, flen, &r->v[r->nf]);
			if (rc)
				return rc;
			r->v[r->nf] *= disk_fields[r->nf].scale;
			r->nf++;
		}
		/* Kernels since 2.6 print at least 11 statistics. */
		if (r->nf < 11)
			return KM_EPARSE;
		n++;
	}
	if (n == 0)
		return 0;
	rows = nc->rows;
	for (int fi = 0; fi < DISK_FIELDS; fi++) {
		bool any = false;

		for (size_t i = 0; i < n; i++)
			any |= rows[i].nf > fi;
		if (!any)
			continue;
		rc = expo_family(ctx->out, disk_fields[fi].name, disk_fields[fi].help,
				 disk_fields[fi].type);
		for (size_t i = 0; !rc && i < n; i++) {
			struct label_pair l = { "device", rows[i].dev };

			if (rows[i].nf > fi)
				rc = expo_sample(ctx->out, disk_fields[fi].name, &l, 1, rows[i].v[fi]);
		}
		if (rc)
			return rc;
	}
	return write_info(ctx, rows, n);
}

int node_diskstats(struct node_ctx *ctx)
{
	const char *data;
	size_t len;
	int rc = procfile_read(&ctx->nc->pf, ctx->procfs, "diskstats", &data, &len);

	if (!rc)
		rc = node_diskstats_parse(ctx, data, len);
	return rc;
}
