/* powersupplyclass: node_power_supply_* from <sysfs>/class/power_supply, as
 * node_exporter v1.12.1 (its procfs v0.21.1 reader):
 *  - every entry of class/power_supply (sorted), each regular file of it
 *    read once (first 128 bytes, trimmed); a file that is gone, ENODEV or
 *    EOPNOTSUPP is skipped, any other read error fails the collector;
 *  - numeric attributes parse as Go's strconv.ParseInt(s, 0, 64) (0x, 0o,
 *    0b and leading-0 octal prefixes, '_' between digits); one that does
 *    not parse fails the collector, as upstream;
 *  - µA/µV/µWh/µW attributes are exported divided by 1e6, temperatures
 *    (tenths of a degree) by 10, the rest as read, each under upstream's
 *    metric name with HELP "<name> value of /sys/class/power_supply/
 *    <power_supply>."; the text attributes become labels of
 *    node_power_supply_info (empty ones left out).
 * No class/power_supply: KM_ENODATA. --collector.powersupply.ignored-supplies
 * (search semantics; default ^$, which ignores nothing) drops the supplies
 * whose directory name matches before any of their files is read. */
#include "collect/node/node_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"

#define PS_NAME_MAX 128
#define PS_STR_MAX 129
#define PS_MAX 256

struct ps_attr {
	const char *file;
	const char *metric;    /* NULL: parsed (it must parse) but not exported */
	double scale;
};

/* Sorted by metric name: the order families are written in. */
static const struct ps_attr attrs[] = {
	{ "authentic", "authentic", 1 },
	{ "calibrate", "calibrate", 1 },
	{ "capacity", "capacity", 1 },
	{ "capacity_alert_max", "capacity_alert_max", 1 },
	{ "capacity_alert_min", "capacity_alert_min", 1 },
	{ "charge_now", "charge_ampere", 1e6 },
	{ "charge_control_limit", "charge_control_limit", 1e6 },
	{ "charge_control_limit_max", "charge_control_limit_max", 1e6 },
	{ "charge_counter", "charge_counter", 1e6 },
	{ "charge_empty", "charge_empty", 1e6 },
	{ "charge_empty_design", "charge_empty_design", 1e6 },
	{ "charge_full", "charge_full", 1e6 },
	{ "charge_full_design", "charge_full_design", 1e6 },
	{ "charge_term_current", "charge_term_current", 1e6 },
	{ "constant_charge_current", "constant_charge_current", 1e6 },
	{ "constant_charge_current_max", "constant_charge_current_max", 1e6 },
	{ "constant_charge_voltage", "constant_charge_voltage", 1e6 },
	{ "constant_charge_voltage_max", "constant_charge_voltage_max", 1e6 },
	{ "current_now", "current_ampere", 1e6 },
	{ "current_boot", "current_boot", 1e6 },
	{ "current_max", "current_max", 1e6 },
	{ "cycle_count", "cyclecount", 1 },
	{ "energy_empty", "energy_empty", 1e6 },
	{ "energy_empty_design", "energy_empty_design", 1e6 },
	{ "energy_full", "energy_full", 1e6 },
	{ "energy_full_design", "energy_full_design", 1e6 },
	{ "energy_now", "energy_watthour", 1e6 },
	{ "input_current_limit", "input_current_limit", 1e6 },
	{ "online", "online", 1 },
	{ "power_now", "power_watt", 1e6 },
	{ "precharge_current", "precharge_current", 1e6 },
	{ "present", "present", 1 },
	{ "temp_alert_max", "temp_alert_max_celsius", 10 },
	{ "temp_alert_min", "temp_alert_min_celsius", 10 },
	{ "temp_ambient", "temp_ambient_celsius", 10 },
	{ "temp_ambient_max", "temp_ambient_max_celsius", 10 },
	{ "temp_ambient_min", "temp_ambient_min_celsius", 10 },
	{ "temp", "temp_celsius", 10 },
	{ "temp_max", "temp_max_celsius", 10 },
	{ "temp_min", "temp_min_celsius", 10 },
	{ "time_to_empty_now", "time_to_empty_seconds", 1 },
	{ "time_to_full_now", "time_to_full_seconds", 1 },
	{ "voltage_boot", "voltage_boot", 1e6 },
	{ "voltage_max", "voltage_max", 1e6 },
	{ "voltage_max_design", "voltage_max_design", 1e6 },
	{ "voltage_min", "voltage_min", 1e6 },
	{ "voltage_min_design", "voltage_min_design", 1e6 },
	{ "voltage_ocv", "voltage_ocv", 1e6 },
	{ "voltage_now", "voltage_volt", 1e6 },
	{ "charge_avg", NULL, 1 },
	{ "current_avg", NULL, 1 },
	{ "energy_avg", NULL, 1 },
	{ "power_avg", NULL, 1 },
	{ "time_to_empty_avg", NULL, 1 },
	{ "time_to_full_avg", NULL, 1 },
	{ "voltage_avg", NULL, 1 },
};

#define PS_NATTR (sizeof(attrs) / sizeof(attrs[0]))

/* Label names of node_power_supply_info, sorted (power_supply is the name). */
static const char *const str_files[] = { "capacity_level", "charge_type", "health",
					 "manufacturer", "model_name", "power_supply", "scope",
					 "serial_number", "status", "technology", "type",
					 "usb_type" };

#define PS_NSTR (sizeof(str_files) / sizeof(str_files[0]))
#define PS_NAME_SLOT 5 /* "power_supply" */

struct ps_row {
	char str[PS_NSTR][PS_STR_MAX];
	double v[PS_NATTR];
	bool has[PS_NATTR];
};

static int digit_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	return 99;
}

/* strconv.ParseInt(s, 0, 64). */
int node_go_parse_int0(const char *s, double *out)
{
	bool neg = false, prefixed = false, any = false, last_us = false;
	unsigned base = 10;
	uint64_t v = 0, lim;

	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		prefixed = true;
	} else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
		base = 2;
		s += 2;
		prefixed = true;
	} else if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
		base = 8;
		s += 2;
		prefixed = true;
	} else if (s[0] == '0' && s[1]) {
		base = 8;
		s++;
		any = true; /* the leading 0 is a digit */
		prefixed = true;
	}
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *s; s++) {
		unsigned d;

		/* '_' only between digits (or after a base prefix). */
		if (*s == '_') {
			if (last_us || (!any && !prefixed))
				return KM_EPARSE;
			last_us = true;
			continue;
		}
		d = (unsigned)digit_val(*s);
		if (d >= base)
			return KM_EPARSE;
		if (v > (lim - d) / base)
			return KM_ERANGE;
		v = v * base + d;
		any = true;
		last_us = false;
	}
	if (!any || last_us)
		return KM_EPARSE;
	*out = neg ? -(double)v : (double)v;
	return 0;
}

/* One read of at most 128 bytes, trimmed (procfs's SysReadFile); *e errno. */
static int read_trim(const char *path, char *dst, int *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	ssize_t n;
	char *b = dst, *end;

	*e = 0;
	if (fd < 0) {
		*e = errno;
		return -1;
	}
	n = read(fd, dst, 128);
	if (n < 0)
		*e = errno;
	close(fd);
	if (n < 0)
		return -1;
	dst[n] = '\0';
	while (*b == ' ' || *b == '\t' || *b == '\n' || *b == '\r' || *b == '\v' || *b == '\f')
		b++;
	end = b + strlen(b);
	while (end > b && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' ||
			   end[-1] == '\r' || end[-1] == '\v' || end[-1] == '\f'))
		*--end = '\0';
	memmove(dst, b, (size_t)(end - b) + 1);
	return 0;
}

static int read_supply(const char *dir, struct ps_row *r)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int rc = 0;

	if (!d)
		return km_from_errno(errno);
	while (!rc && (de = readdir(d)) != NULL) {
		char path[PATH_MAX], val[PS_STR_MAX];
		int e;

		if (de->d_type != DT_REG)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		if (read_trim(path, val, &e) != 0) {
			if (e == ENOENT || e == ENODEV || e == EOPNOTSUPP)
				continue;
			rc = km_from_errno(e);
			break;
		}
		for (size_t i = 0; i < PS_NATTR; i++) {
			if (strcmp(attrs[i].file, de->d_name) != 0)
				continue;
			rc = node_go_parse_int0(val, &r->v[i]);
			r->has[i] = rc == 0;
			break;
		}
		for (size_t i = 0; i < PS_NSTR; i++)
			if (i != PS_NAME_SLOT && strcmp(str_files[i], de->d_name) == 0)
				memcpy(r->str[i], val, strlen(val) + 1);
	}
	closedir(d);
	return rc;
}

static int cmp_row(const void *a, const void *b)
{
	return strcmp(((const struct ps_row *)a)->str[PS_NAME_SLOT],
		      ((const struct ps_row *)b)->str[PS_NAME_SLOT]);
}

static int write_rows(struct node_ctx *ctx, const struct ps_row *rows, size_t n)
{
	char name[96], help[160];
	int rc = 0;

	for (size_t a = 0; !rc && a < PS_NATTR; a++) {
		bool any = false;

		if (!attrs[a].metric)
			continue;
		for (size_t i = 0; i < n; i++)
			any |= rows[i].has[a];
		if (!any)
			continue;
		snprintf(name, sizeof(name), "node_power_supply_%s", attrs[a].metric);
		snprintf(help, sizeof(help), "%s value of /sys/class/power_supply/<power_supply>.",
			 attrs[a].metric);
		rc = expo_family(ctx->out, name, help, EXPO_GAUGE);
		for (size_t i = 0; !rc && i < n; i++) {
			struct label_pair l = { "power_supply", rows[i].str[PS_NAME_SLOT] };

			if (rows[i].has[a])
				rc = expo_sample(ctx->out, name, &l, 1, rows[i].v[a] / attrs[a].scale);
		}
	}
	if (!rc && n)
		rc = expo_family(ctx->out, "node_power_supply_info",
				 "info of /sys/class/power_supply/<power_supply>.", EXPO_GAUGE);
	for (size_t i = 0; !rc && i < n; i++) {
		struct label_pair l[PS_NSTR];
		size_t nl = 0;

		for (size_t k = 0; k < PS_NSTR; k++)
			if (rows[i].str[k][0])
				l[nl++] = (struct label_pair){ str_files[k], rows[i].str[k] };
		rc = expo_sample(ctx->out, "node_power_supply_info", l, nl, 1);
	}
	return rc;
}

int node_powersupply(struct node_ctx *ctx)
{
	struct node_collector *nc = ctx->nc;
	char top[PATH_MAX], dir[PATH_MAX];
	struct dirent *de;
	size_t n = 0;
	DIR *d;
	int rc;

	rc = node_path_join(top, sizeof(top), ctx->sysfs, "class/power_supply");
	if (rc)
		return rc;
	d = opendir(top);
	if (!d)
		return errno == ENOENT ? KM_ENODATA : km_from_errno(errno);
	while ((de = readdir(d)) != NULL) {
		struct ps_row *r;

		if (de->d_name[0] == '.' &&
		    (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		if (ctx->opts && ctx->opts->powersupply_ignored &&
		    rx_match(ctx->opts->powersupply_ignored, de->d_name, strlen(de->d_name)))
			continue;
		if (strlen(de->d_name) >= PS_NAME_MAX || n == PS_MAX) {
			rc = KM_ETOOBIG;
			break;
		}
		rc = node_rows_reserve(nc, (n + 1) * sizeof(*r));
		if (rc)
			break;
		r = (struct ps_row *)nc->rows + n;
		memset(r, 0, sizeof(*r));
		memcpy(r->str[PS_NAME_SLOT], de->d_name, strlen(de->d_name) + 1);
		if (snprintf(dir, sizeof(dir), "%s/%s", top, de->d_name) >= (int)sizeof(dir)) {
			rc = KM_EINVAL;
			break;
		}
		rc = read_supply(dir, r);
		if (rc)
			break;
		n++;
	}
	closedir(d);
	if (rc)
		return rc;
	if (n)
		qsort(nc->rows, n, sizeof(struct ps_row), cmp_row);
	return write_rows(ctx, nc->rows, n);
}
