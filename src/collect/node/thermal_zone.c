/* thermal_zone: node_thermal_zone_temp{zone,type} (Celsius) and
 * node_cooling_device_{cur,max}_state{name,type} from <sysfs>/class/thermal,
 * as node-exporter v1.12.1 (procfs sysfs): every thermal_zone<digit>* is
 * exported (zone = the name without "thermal_zone"; an unreadable type is
 * "", an unreadable temp 0); a cooling_device<digit>* whose files are
 * missing or unreadable is skipped, one whose states do not parse fails the
 * collector. No class/thermal (VMs, containers): nothing, success. */
#include "collect/node/node_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/parse.h"

#define TZ_NAME_MAX 64
#define TZ_TYPE_MAX 128
/* Entries of class/thermal read per scrape. */
#define TZ_MAX 4096

struct tz_row {
	char name[TZ_NAME_MAX];
	char type[TZ_TYPE_MAX];
	bool cooling;              /* cooling_device, else thermal_zone */
	double v[2];               /* temp; or cur_state, max_state */
};

/* dir/file trimmed of surrounding whitespace into dst; KM_* on failure. */
static int read_str(struct node_ctx *ctx, const char *dir, const char *file, char *dst,
		    size_t cap)
{
	char rel[2 * TZ_NAME_MAX + 32];
	const char *data;
	size_t len;
	int rc;

	snprintf(rel, sizeof(rel), "class/thermal/%s/%s", dir, file);
	rc = procfile_read(&ctx->nc->pf, ctx->sysfs, rel, &data, &len);
	if (rc)
		return rc;
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == ' ' || data[len - 1] == '\t'))
		len--;
	while (len > 0 && (*data == ' ' || *data == '\t' || *data == '\n')) {
		data++;
		len--;
	}
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, data, len);
	dst[len] = '\0';
	return 0;
}

static int read_int(struct node_ctx *ctx, const char *dir, const char *file, double *v)
{
	char s[32];
	int64_t x;
	int rc = read_str(ctx, dir, file, s, sizeof(s));

	if (rc)
		return rc;
	rc = parse_i64(s, strlen(s), &x);
	if (!rc)
		*v = (double)x;
	return rc;
}

static bool prefixed_digit(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(name, prefix, n) == 0 && name[n] >= '0' && name[n] <= '9';
}

static int cmp_tz(const void *a, const void *b)
{
	return strcmp(((const struct tz_row *)a)->name, ((const struct tz_row *)b)->name);
}

static int write_rows(struct node_ctx *ctx, struct tz_row *rows, size_t n)
{
	static const char *const cd_name[2] = { "node_cooling_device_cur_state",
						"node_cooling_device_max_state" };
	static const char *const cd_help[2] = { "Current throttle state of the cooling device",
						"Maximum throttle state of the cooling device" };
	bool any_tz = false, any_cd = false;
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		any_tz |= !rows[i].cooling;
		any_cd |= rows[i].cooling;
	}
	if (any_tz)
		rc = expo_family(ctx->out, "node_thermal_zone_temp", "Zone temperature in Celsius",
				 EXPO_GAUGE);
	for (size_t i = 0; !rc && i < n; i++) {
		struct label_pair l[2] = { { "type", rows[i].type }, { "zone", rows[i].name } };

		if (!rows[i].cooling)
			rc = expo_sample(ctx->out, "node_thermal_zone_temp", l, 2, rows[i].v[0] / 1000.0);
	}
	for (int k = 0; any_cd && !rc && k < 2; k++) {
		rc = expo_family(ctx->out, cd_name[k], cd_help[k], EXPO_GAUGE);
		for (size_t i = 0; !rc && i < n; i++) {
			struct label_pair l[2] = { { "name", rows[i].name }, { "type", rows[i].type } };

			if (rows[i].cooling)
				rc = expo_sample(ctx->out, cd_name[k], l, 2, rows[i].v[k]);
		}
	}
	return rc;
}

int node_thermal_zone(struct node_ctx *ctx)
{
	struct node_collector *nc = ctx->nc;
	char dir[PATH_MAX];
	struct tz_row *rows;
	struct dirent *de;
	size_t n = 0;
	DIR *d;
	int rc;

	rc = node_path_join(dir, sizeof(dir), ctx->sysfs, "class/thermal");
	if (rc)
		return rc;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : km_from_errno(errno);
	while ((de = readdir(d)) != NULL) {
		bool cooling = prefixed_digit(de->d_name, "cooling_device");
		struct tz_row *r;

		if (!cooling && !prefixed_digit(de->d_name, "thermal_zone"))
			continue;
		if (strlen(de->d_name) >= TZ_NAME_MAX)
			continue;
		if (n == TZ_MAX) {
			rc = KM_ETOOBIG;
			break;
		}
		rc = node_rows_reserve(nc, (n + 1) * sizeof(*rows));
		if (rc)
			break;
		r = (struct tz_row *)nc->rows + n;
		memset(r, 0, sizeof(*r));
		r->cooling = cooling;
		if (!cooling) {
			if (read_str(ctx, de->d_name, "type", r->type, sizeof(r->type)))
				r->type[0] = '\0';
			if (read_int(ctx, de->d_name, "temp", &r->v[0]))
				r->v[0] = 0;
			snprintf(r->name, sizeof(r->name), "%s", de->d_name + strlen("thermal_zone"));
		} else {
			rc = read_str(ctx, de->d_name, "type", r->type, sizeof(r->type));
			if (!rc)
				rc = read_int(ctx, de->d_name, "max_state", &r->v[1]);
			if (!rc)
				rc = read_int(ctx, de->d_name, "cur_state", &r->v[0]);
			if (rc == KM_ENOENT || rc == KM_EACCES || rc == KM_EIO) {
				rc = 0;
				continue;
			}
			if (rc)
				break;
			snprintf(r->name, sizeof(r->name), "%s", de->d_name + strlen("cooling_device"));
		}
		n++;
	}
	closedir(d);
	if (rc)
		return rc;
	rows = nc->rows;
	if (n)
		qsort(rows, n, sizeof(*rows), cmp_tz);
	return write_rows(ctx, rows, n);
}
