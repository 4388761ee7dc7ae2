/* hwmon: node_hwmon_* from <sysfs>/class/hwmon, as node_exporter v1.12.1.
 *
 * Chip label: for hwmonN with a device link, "<type>_<name>" of the link's
 * real path (its last two components, cleaned: lower case, every byte
 * outside [a-z0-9:_] -> '_', one '_' per UTF-8 character, '_' trimmed at
 * both ends), else the cleaned "name" file, else the cleaned real directory
 * name; two chips with the same label get "_<name file>" appended, or
 * "_hwmonN" when that does not separate them either. node_hwmon_chip_names
 * {chip,chip_name} names the chip by its "name" file.
 *
 * Sensors: every file of hwmonN and hwmonN/device whose name splits as
 * <type><id>[_<property>] (the upstream pattern
 * ^([^0-9]+)([0-9]*)?(_(.+))?$ with its backtracking) with type one of
 * vrm, beep_enable, update_interval, in, cpu, fan, pwm, temp, curr, power,
 * energy, humidity, intrusion, freq; the sensor label is type + decimal id
 * ("temp01" -> "temp1"), the value the first 128 bytes of one read without
 * surrounding newlines; unreadable files are skipped. Family names, units,
 * HELP texts and the counter type of energy follow upstream's rules per
 * type and property (see write_sensor()); values that do not parse as Go
 * floats are skipped.
 *
 * No class/hwmon: KM_ENODATA. A chip directory that cannot be listed fails
 * the collector (node_exporter: lastErr).
 *
 * Filters (node_exporter's --collector.hwmon.{chip,sensor}-{include,exclude},
 * search semantics, both of a pair allowed: ignored when the exclude matches
 * or the include does not): chips on the final (de-duplicated) chip label,
 * sensors on "<chip label>;<sensor>" (e.g. "platform_coretemp_0;temp1"); a
 * filtered sensor loses every family, node_hwmon_chip_names stays. */
#include "collect/node/node_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/parse.h"

#define HW_NAME_MAX 128      /* cleaned chip/sensor/label text */
#define HW_PROP_MAX 64
#define HW_VAL_MAX 129       /* 128 bytes read + NUL */
#define HW_FAM_MAX 192
#define HW_HELP_MAX 256
#define HW_CHIPS_MAX 1024
#define HW_CHIP_MAX (2 * HW_NAME_MAX + 2) /* base + '_' + suffix */
#define HW_PROPS_MAX 8192    /* sensor files of one chip */
#define HW_ROWS_MAX 65536

struct hw_prop {
	char sensor[HW_PROP_MAX];   /* "temp1" */
	char prop[HW_PROP_MAX];     /* "input", "" */
	char value[HW_VAL_MAX];
};

struct hw_row {
	char fam[HW_FAM_MAX];
	char help[HW_HELP_MAX];
	char chip[HW_CHIP_MAX];
	char sensor[HW_NAME_MAX];
	char label[HW_VAL_MAX];     /* sensor_label's label, chip_names' chip_name */
	int kind;                   /* HW_SENSOR, HW_CHIPNAME, HW_LABEL */
	bool counter;
	size_t seq;                 /* creation order, for a stable sort */
	double v;
};

enum { HW_SENSOR, HW_CHIPNAME, HW_LABEL };

struct hw_chip {
	char dir[PATH_MAX];
	char base[HW_NAME_MAX];
	char name_file[HW_NAME_MAX];   /* trimmed "name" ("" if unreadable) */
	char entry[HW_NAME_MAX];       /* hwmonN */
};

/* Everything one scrape builds; freed at the end. */
struct hw_state {
	struct hw_prop *props;
	size_t nprops, cap_props;
	struct hw_row *rows;
	size_t nrows, cap_rows;
	const struct node_opts *opts; /* borrowed; NULL: no filters */
};

/* src into dst (cap bytes), cut to fit. */
static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static const char *const sensor_types[] = { "vrm", "beep_enable", "update_interval", "in",
					    "cpu", "fan", "pwm", "temp", "curr", "power",
					    "energy", "humidity", "intrusion", "freq", NULL };

/* Go's cleanMetricName on the first n bytes of s into dst. */
static void clean_name(const char *s, size_t n, char *dst, size_t cap)
{
	size_t w = 0, b = 0, e;

	for (size_t i = 0; i < n && w + 1 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ':' || c == '_') {
			dst[w++] = (char)c;
			continue;
		}
		dst[w++] = '_';
		/* One '_' per UTF-8 character (a well-formed multi-byte one). */
		if (c >= 0xc0 && c < 0xf8) {
			size_t k = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1, j = 0;

			while (j < k && i + 1 + j < n && ((unsigned char)s[i + 1 + j] & 0xc0) == 0x80)
				j++;
			if (j == k)
				i += k;
		}
	}
	dst[w] = '\0';
	while (dst[b] == '_')
		b++;
	e = strlen(dst + b);
	memmove(dst, dst + b, e + 1);
	while (e > 0 && dst[e - 1] == '_')
		dst[--e] = '\0';
}

/* Upstream's explodeSensorFilename(): type, id (-1: none) and property of
 * a file name, trying the longest type first as the regex backtracks. */
static bool explode(const char *f, char *type, size_t tcap, long *id, const char **prop)
{
	size_t n = strlen(f), maxt = 0;

	while (maxt < n && !(f[maxt] >= '0' && f[maxt] <= '9'))
		maxt++;
	for (size_t t = maxt; t >= 1; t--) {
		size_t maxd = 0;

		while (t + maxd < n && f[t + maxd] >= '0' && f[t + maxd] <= '9')
			maxd++;
		for (size_t d = maxd + 1; d-- > 0;) {
			const char *rest = f + t + d;

			if (*rest && !(rest[0] == '_' && rest[1]))
				continue;
			if (t >= tcap)
				return false;
			memcpy(type, f, t);
			type[t] = '\0';
			*id = 0;
			if (d) {
				uint64_t v;

				/* strconv.Atoi: int64 */
				if (parse_u64(f + t, d, &v) || v > INT64_MAX)
					return false;
				*id = (long)v;
			}
			*prop = *rest ? rest + 1 : "";
			return true;
		}
	}
	return false;
}

static bool is_sensor_type(const char *t)
{
	for (size_t i = 0; sensor_types[i]; i++)
		if (strcmp(t, sensor_types[i]) == 0)
			return true;
	return false;
}

/* One read of at most 128 bytes, as upstream's sysReadFile. */
static int read128(const char *path, char *dst)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	ssize_t n;

	if (fd < 0)
		return km_from_errno(errno);
	n = read(fd, dst, 128);
	close(fd);
	if (n < 0)
		return KM_EIO;
	dst[n] = '\0';
	return 0;
}

static struct hw_prop *prop_find(struct hw_state *s, const char *sensor, const char *prop)
{
	for (size_t i = 0; i < s->nprops; i++)
		if (strcmp(s->props[i].sensor, sensor) == 0 && strcmp(s->props[i].prop, prop) == 0)
			return &s->props[i];
	return NULL;
}

static int add_value_file(struct hw_state *s, const char *sensor, const char *prop,
			  const char *path)
{
	char v[HW_VAL_MAX];
	struct hw_prop *p;
	char *b = v, *e;

	if (strlen(prop) >= HW_PROP_MAX || read128(path, v) != 0)
		return 0;
	/* strings.Trim(value, "\n") */
	while (*b == '\n')
		b++;
	e = b + strlen(b);
	while (e > b && e[-1] == '\n')
		*--e = '\0';
	p = prop_find(s, sensor, prop);
	if (!p) {
		if (s->nprops == HW_PROPS_MAX)
			return KM_ETOOBIG;
		if (s->nprops == s->cap_props) {
			size_t nc = s->cap_props ? s->cap_props * 2 : 64;
			void *t = realloc(s->props, nc * sizeof(*s->props));

			if (!t)
				return KM_ENOMEM;
			s->props = t;
			s->cap_props = nc;
		}
		p = &s->props[s->nprops++];
		copy_str(p->sensor, sizeof(p->sensor), sensor);
		copy_str(p->prop, sizeof(p->prop), prop);
	}
	memcpy(p->value, b, strlen(b) + 1);
	return 0;
}

/* Upstream's collectSensorData(): the sensor files of dir into s. */
static int collect_dir(struct hw_state *s, const char *dir)
{
	struct dirent *de;
	char path[PATH_MAX], type[HW_PROP_MAX], sensor[HW_PROP_MAX];
	DIR *d = opendir(dir);
	int rc = 0;

	if (!d)
		return km_from_errno(errno);
	while (!rc && (de = readdir(d)) != NULL) {
		const char *prop;
		long id;

		if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		if (!explode(de->d_name, type, sizeof(type), &id, &prop) || !is_sensor_type(type))
			continue;
		if (snprintf(sensor, sizeof(sensor), "%s%ld", type, id) >= (int)sizeof(sensor) ||
		    snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		rc = add_value_file(s, sensor, prop, path);
	}
	closedir(d);
	return rc;
}

static struct hw_row *row_new(struct hw_state *s)
{
	struct hw_row *r;

	if (s->nrows == HW_ROWS_MAX)
		return NULL;
	if (s->nrows == s->cap_rows) {
		size_t nc = s->cap_rows ? s->cap_rows * 2 : 64;
		void *t = realloc(s->rows, nc * sizeof(*s->rows));

		if (!t)
			return NULL;
		s->rows = t;
		s->cap_rows = nc;
	}
	r = &s->rows[s->nrows];
	memset(r, 0, sizeof(*r));
	r->seq = s->nrows++;
	return r;
}

static int add_row(struct hw_state *s, const char *chip, const char *sensor, const char *fam,
		   const char *help, bool counter, double v)
{
	struct hw_row *r = row_new(s);

	if (!r)
		return KM_ENOMEM;
	r->kind = HW_SENSOR;
	copy_str(r->fam, sizeof(r->fam), fam);
	copy_str(r->help, sizeof(r->help), help);
	copy_str(r->chip, sizeof(r->chip), chip);
	copy_str(r->sensor, sizeof(r->sensor), sensor);
	r->counter = counter;
	r->v = v;
	return 0;
}

/* strconv.ParseFloat: no surrounding space. */
static bool go_float(const char *s, double *v)
{
	size_t n = strlen(s);

	if (n == 0 || s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n')
		return false;
	return parse_double(s, n, v) == 0;
}

static const char *prop_value(const struct hw_state *s, size_t from, size_t to,
			      const char *prop)
{
	for (size_t i = from; i < to; i++)
		if (strcmp(s->props[i].prop, prop) == 0)
			return s->props[i].value;
	return NULL;
}

/* One property of one sensor: the family upstream picks for it. */
static int write_prop(struct hw_state *s, const char *chip, const char *sensor,
		      const char *type, const char *elem, const char *value, bool has_plain,
		      const char *label)
{
	char name[160], fam[HW_FAM_MAX], help[HW_HELP_MAX], ce[HW_PROP_MAX];
	const char *unit_elem = elem;
	double v;

	snprintf(name, sizeof(name), "node_hwmon_%s", type);
	if (strcmp(elem, "input") == 0) {
		if (has_plain)
			snprintf(name, sizeof(name), "node_hwmon_%s_input", type);
	} else if (*elem) {
		clean_name(elem, strlen(elem), ce, sizeof(ce));
		snprintf(name, sizeof(name), "node_hwmon_%s_%s", type, ce);
	}
	if (!go_float(value, &v))
		return 0;
#define EMIT(suffix, counter, val, ...)                                        \
	do {                                                                   \
		snprintf(fam, sizeof(fam), "%s%s", name, suffix);              \
		snprintf(help, sizeof(help), __VA_ARGS__);                     \
		return add_row(s, chip, sensor, fam, help, counter, val);      \
	} while (0)
	if (strcmp(elem, "fault") == 0 || strcmp(elem, "alarm") == 0)
		EMIT("", false, v, "Hardware sensor %s status (%s)", elem, type);
	if (strcmp(elem, "beep") == 0)
		EMIT("_enabled", false, v, "Hardware monitor sensor has beeping enabled");
	if (strcmp(type, "in") == 0 || strcmp(type, "cpu") == 0)
		EMIT("_volts", false, v * 0.001, "Hardware monitor for voltage (%s)", elem);
	if (strcmp(type, "temp") == 0 && strcmp(elem, "type") != 0) {
		if (!*elem)
			unit_elem = "input";
		EMIT("_celsius", false, v * 0.001, "Hardware monitor for temperature (%s)",
		     unit_elem);
	}
	if (strcmp(type, "curr") == 0)
		EMIT("_amps", false, v * 0.001, "Hardware monitor for current (%s)", elem);
	if (strcmp(type, "energy") == 0)
		EMIT("_joule_total", true, v / 1000000.0,
		     "Hardware monitor for joules used so far (%s)", elem);
	if (strcmp(type, "power") == 0 && strcmp(elem, "accuracy") == 0)
		EMIT("", false, v / 1000000.0, "Hardware monitor power meter accuracy, as a ratio");
	if (strcmp(type, "power") == 0 &&
	    (strcmp(elem, "average_interval") == 0 || strcmp(elem, "average_interval_min") == 0 ||
	     strcmp(elem, "average_interval_max") == 0))
		EMIT("_seconds", false, v * 0.001, "Hardware monitor power usage update interval (%s)",
		     elem);
	if (strcmp(type, "power") == 0)
		EMIT("_watt", false, v / 1000000.0, "Hardware monitor for power usage in watts (%s)",
		     elem);
	if (strcmp(type, "humidity") == 0)
		EMIT("", false, v / 1000000.0,
		     "Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the humidity as a percentage) (%s)",
		     elem);
	if (strcmp(type, "fan") == 0 &&
	    (strcmp(elem, "input") == 0 || strcmp(elem, "min") == 0 || strcmp(elem, "max") == 0 ||
	     strcmp(elem, "target") == 0))
		EMIT("_rpm", false, v, "Hardware monitor for fan revolutions per minute (%s)", elem);
	if (strcmp(type, "freq") == 0 && strcmp(elem, "input") == 0) {
		char cl[HW_NAME_MAX];

		if (!label)
			return 0;
		/* The sensor label is the cleaned "label" text here. */
		clean_name(label, strlen(label), cl, sizeof(cl));
		snprintf(fam, sizeof(fam), "%s_freq_mhz", name);
		return add_row(s, chip, cl, fam, "Hardware monitor for GPU frequency in MHz", false,
			       v / 1000000.0);
	}
	EMIT("", false, v, "Hardware monitor %s element %s", type, elem);
#undef EMIT
}

/* The rows of one sensor (props [from, to) share the sensor name). */
static int write_sensor(struct hw_state *s, const char *chip, size_t from, size_t to)
{
	const char *sensor = s->props[from].sensor, *prop;
	const char *label = prop_value(s, from, to, "label");
	const char *plain = prop_value(s, from, to, "");
	char type[HW_PROP_MAX];
	long id;
	double v;
	int rc = 0;

	if (!explode(sensor, type, sizeof(type), &id, &prop))
		return 0;
	if (label) {
		struct hw_row *r = row_new(s);

		if (!r)
			return KM_ENOMEM;
		r->kind = HW_LABEL;
		snprintf(r->fam, sizeof(r->fam), "node_hwmon_sensor_label");
		snprintf(r->help, sizeof(r->help), "Label for given chip and sensor");
		copy_str(r->chip, sizeof(r->chip), chip);
		copy_str(r->sensor, sizeof(r->sensor), sensor);
		copy_str(r->label, sizeof(r->label), label);
		r->v = 1;
	}
	if (strcmp(type, "beep_enable") == 0)
		return add_row(s, chip, sensor, "node_hwmon_beep_enabled", "Hardware beep enabled",
			       false, plain && strcmp(plain, "1") == 0 ? 1 : 0);
	if (strcmp(type, "vrm") == 0)
		return plain && go_float(plain, &v)
			       ? add_row(s, chip, sensor, "node_hwmon_voltage_regulator_version",
					 "Hardware voltage regulator", false, v)
			       : 0;
	if (strcmp(type, "update_interval") == 0)
		return plain && go_float(plain, &v)
			       ? add_row(s, chip, sensor, "node_hwmon_update_interval_seconds",
					 "Hardware monitor update interval", false, v * 0.001)
			       : 0;
	for (size_t i = from; !rc && i < to; i++) {
		if (strcmp(s->props[i].prop, "label") == 0)
			continue;
		rc = write_prop(s, chip, sensor, type, s->props[i].prop, s->props[i].value,
				plain != NULL, label);
	}
	return rc;
}

static int cmp_prop(const void *a, const void *b)
{
	const struct hw_prop *x = a, *y = b;
	int c = strcmp(x->sensor, y->sensor);

	return c ? c : strcmp(x->prop, y->prop);
}

/* node_exporter's deviceFilter.ignored(). */
static bool hw_ignored(const struct rx *exclude, const struct rx *include, const char *name)
{
	size_t n = strlen(name);

	return (exclude && rx_match(exclude, name, n)) || (include && !rx_match(include, name, n));
}

static bool sensor_ignored(const struct hw_state *s, const char *chip, const char *sensor)
{
	char key[HW_CHIP_MAX + HW_PROP_MAX + 2];

	if (!s->opts || (!s->opts->hwmon_sensor_exclude && !s->opts->hwmon_sensor_include))
		return false;
	snprintf(key, sizeof(key), "%s;%s", chip, sensor);
	return hw_ignored(s->opts->hwmon_sensor_exclude, s->opts->hwmon_sensor_include, key);
}

/* Upstream's updateHwmon() for one chip. */
static int update_chip(struct hw_state *s, const struct hw_chip *c, const char *chip)
{
	char dev[PATH_MAX], raw[HW_VAL_MAX], cn[HW_NAME_MAX];
	struct stat sb;
	size_t i = 0;
	int rc;

	s->nprops = 0;
	rc = collect_dir(s, c->dir);
	if (rc)
		return rc;
	if (snprintf(dev, sizeof(dev), "%s/device", c->dir) < (int)sizeof(dev) &&
	    stat(dev, &sb) == 0) {
		rc = collect_dir(s, dev);
		if (rc)
			return rc;
	}
	if (snprintf(dev, sizeof(dev), "%s/name", c->dir) < (int)sizeof(dev) &&
	    read128(dev, raw) == 0) {
		clean_name(raw, strlen(raw), cn, sizeof(cn));
		if (*cn) {
			struct hw_row *r = row_new(s);

			if (!r)
				return KM_ENOMEM;
			r->kind = HW_CHIPNAME;
			snprintf(r->fam, sizeof(r->fam), "node_hwmon_chip_names");
			snprintf(r->help, sizeof(r->help),
				 "Annotation metric for human-readable chip names");
			copy_str(r->chip, sizeof(r->chip), chip);
			copy_str(r->label, sizeof(r->label), cn);
			r->v = 1;
		}
	}
	if (s->nprops)
		qsort(s->props, s->nprops, sizeof(*s->props), cmp_prop);
	while (!rc && i < s->nprops) {
		size_t j = i + 1;

		while (j < s->nprops && strcmp(s->props[j].sensor, s->props[i].sensor) == 0)
			j++;
		if (!sensor_ignored(s, chip, s->props[i].sensor))
			rc = write_sensor(s, chip, i, j);
		i = j;
	}
	return rc;
}

/* Upstream's hwmonName(): the chip label before de-duplication. */
static bool chip_base(const char *dir, char *dst, size_t cap)
{
	char p[PATH_MAX], real[PATH_MAX], raw[HW_VAL_MAX];

	if (snprintf(p, sizeof(p), "%s/device", dir) < (int)sizeof(p) && realpath(p, real)) {
		char *slash = strrchr(real, '/');
		char name[HW_NAME_MAX], type[HW_NAME_MAX];
		const char *devname = slash ? slash + 1 : real;

		clean_name(devname, strlen(devname), name, sizeof(name));
		type[0] = '\0';
		if (slash) {
			char *prev;

			*slash = '\0';
			prev = strrchr(real, '/');
			clean_name(prev ? prev + 1 : real, strlen(prev ? prev + 1 : real), type,
				   sizeof(type));
		}
		if (*type && *name)
			return snprintf(dst, cap, "%s_%s", type, name) < (int)cap;
		if (*name) {
			copy_str(dst, cap, name);
			return true;
		}
	}
	if (snprintf(p, sizeof(p), "%s/name", dir) < (int)sizeof(p) && read128(p, raw) == 0 &&
	    *raw) {
		clean_name(raw, strlen(raw), dst, cap);
		if (*dst)
			return true;
	}
	if (realpath(dir, real)) {
		const char *slash = strrchr(real, '/');
		const char *b = slash ? slash + 1 : real;

		clean_name(b, strlen(b), dst, cap);
		if (*dst)
			return true;
	}
	return false;
}

static int cmp_row(const void *a, const void *b)
{
	const struct hw_row *x = a, *y = b;
	int c = strcmp(x->fam, y->fam);

	if (c)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int write_rows(struct node_ctx *ctx, struct hw_state *s)
{
	const char *fam = NULL;
	int rc = 0;

	/* Families must be contiguous: group by name, in creation order within
	 * one (the first HELP of a family is the one written). */
	if (s->nrows)
		qsort(s->rows, s->nrows, sizeof(*s->rows), cmp_row);
	for (size_t i = 0; !rc && i < s->nrows; i++) {
		const struct hw_row *r = &s->rows[i];
		struct label_pair l[3];
		size_t nl = 0;

		if (!fam || strcmp(fam, r->fam) != 0) {
			fam = r->fam;
			rc = expo_family(ctx->out, r->fam, r->help,
					 r->counter ? EXPO_COUNTER : EXPO_GAUGE);
			if (rc)
				break;
		}
		l[nl++] = (struct label_pair){ "chip", r->chip };
		if (r->kind == HW_CHIPNAME) {
			l[nl++] = (struct label_pair){ "chip_name", r->label };
		} else {
			if (r->kind == HW_LABEL)
				l[nl++] = (struct label_pair){ "label", r->label };
			l[nl++] = (struct label_pair){ "sensor", r->sensor };
		}
		rc = expo_sample(ctx->out, r->fam, l, nl, r->v);
	}
	return rc;
}

static int cmp_chip(const void *a, const void *b)
{
	return strcmp(((const struct hw_chip *)a)->entry, ((const struct hw_chip *)b)->entry);
}

/* The chip directories of class/hwmon (symlinks followed), sorted. */
static int list_chips(const char *top, struct hw_chip **out, size_t *n)
{
	struct hw_chip *chips = NULL;
	struct dirent *de;
	size_t cap = 0;
	DIR *d = opendir(top);
	int rc = 0;

	*n = 0;
	if (!d)
		return errno == ENOENT ? KM_ENODATA : km_from_errno(errno);
	while ((de = readdir(d)) != NULL) {
		char p[PATH_MAX], raw[HW_VAL_MAX];
		struct stat sb;
		struct hw_chip *c;

		if (de->d_name[0] == '.' || strlen(de->d_name) >= HW_NAME_MAX ||
		    snprintf(p, sizeof(p), "%s/%s", top, de->d_name) >= (int)sizeof(p) ||
		    stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode))
			continue;
		if (*n == HW_CHIPS_MAX) {
			rc = KM_ETOOBIG;
			break;
		}
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			void *t = realloc(chips, nc * sizeof(*chips));

			if (!t) {
				rc = KM_ENOMEM;
				break;
			}
			chips = t;
			cap = nc;
		}
		c = &chips[*n];
		memset(c, 0, sizeof(*c));
		if (!chip_base(p, c->base, sizeof(c->base)))
			continue;
		copy_str(c->dir, sizeof(c->dir), p);
		copy_str(c->entry, sizeof(c->entry), de->d_name);
		if (snprintf(p, sizeof(p), "%s/name", c->dir) < (int)sizeof(p) &&
		    read128(p, raw) == 0) {
			char *b = raw, *e = raw + strlen(raw);

			while (*b == ' ' || *b == '\t' || *b == '\n' || *b == '\r')
				b++;
			while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
				*--e = '\0';
			copy_str(c->name_file, sizeof(c->name_file), b);
		}
		(*n)++;
	}
	closedir(d);
	if (rc) {
		free(chips);
		*n = 0;
		return rc;
	}
	if (*n)
		qsort(chips, *n, sizeof(*chips), cmp_chip);
	*out = chips;
	return 0;
}

int node_hwmon(struct node_ctx *ctx)
{
	struct hw_state s = { .opts = ctx->opts };
	struct hw_chip *chips = NULL;
	char top[PATH_MAX];
	size_t n = 0;
	int rc, last = 0;

	rc = node_path_join(top, sizeof(top), ctx->sysfs, "class/hwmon");
	if (!rc)
		rc = list_chips(top, &chips, &n);
	for (size_t i = 0; !rc && i < n; i++) {
		char chip[HW_CHIP_MAX], suffix[HW_NAME_MAX];
		size_t same = 0, same_name = 0;

		for (size_t j = 0; j < n; j++) {
			if (strcmp(chips[j].base, chips[i].base) != 0)
				continue;
			same++;
			same_name += strcmp(chips[j].name_file, chips[i].name_file) == 0;
		}
		copy_str(chip, sizeof(chip), chips[i].base);
		if (same > 1) {
			clean_name(chips[i].name_file, strlen(chips[i].name_file), suffix,
				   sizeof(suffix));
			if (!*suffix || same_name > 1)
				clean_name(chips[i].entry, strlen(chips[i].entry), suffix,
					   sizeof(suffix));
			snprintf(chip, sizeof(chip), "%s_%s", chips[i].base, suffix);
		}
		if (s.opts && hw_ignored(s.opts->hwmon_chip_exclude, s.opts->hwmon_chip_include, chip))
			continue;
		rc = update_chip(&s, &chips[i], chip);
		/* A chip that cannot be listed: the others still report, the
		 * collector fails (upstream returns the last error). */
		if (rc == KM_ENOENT || rc == KM_EACCES || rc == KM_EIO) {
			last = rc;
			rc = 0;
		}
	}
	if (!rc)
		rc = write_rows(ctx, &s);
	free(chips);
	free(s.props);
	free(s.rows);
	return rc ? rc : last;
}
