/* cpufreq: node_cpu_{frequency,frequency_avg,frequency_min,frequency_max,
 * scaling_frequency,scaling_frequency_min,scaling_frequency_max}_hertz{cpu}
 * and node_cpu_scaling_governor{cpu,governor} from
 * <sysfs>/devices/system/cpu/cpu<N>/cpufreq, as node-exporter v1.12.1
 * (procfs SystemCpufreq):
 *  - devices/system/cpu/offline must be readable; the CPUs it lists are left
 *    out; a CPU without a cpufreq directory is skipped;
 *  - kHz files that are missing or unreadable are left out, a malformed one
 *    fails the collector; scaling_available_governors, scaling_driver,
 *    scaling_governor, related_cpus and scaling_setspeed must all be
 *    readable; stats/time_in_state, when present, must be well formed;
 *  - no CPU at all fails the collector (no data: VMs without cpufreq). */
#include "collect/node/node_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "base/parse.h"

enum { CF_CUR, CF_AVG, CF_MIN, CF_MAX, CF_SCUR, CF_SMIN, CF_SMAX, CF_N };

static const struct {
	const char *file, *name, *help;
} cf_fam[CF_N] = {
	{ "cpuinfo_cur_freq", "node_cpu_frequency_hertz", "Current CPU thread frequency in hertz." },
	{ "cpuinfo_avg_freq", "node_cpu_frequency_avg_hertz", "Average CPU thread frequency in hertz." },
	{ "cpuinfo_min_freq", "node_cpu_frequency_min_hertz", "Minimum CPU thread frequency in hertz." },
	{ "cpuinfo_max_freq", "node_cpu_frequency_max_hertz", "Maximum CPU thread frequency in hertz." },
	{ "scaling_cur_freq", "node_cpu_scaling_frequency_hertz",
	  "Current scaled CPU thread frequency in hertz." },
	{ "scaling_min_freq", "node_cpu_scaling_frequency_min_hertz",
	  "Minimum scaled CPU thread frequency in hertz." },
	{ "scaling_max_freq", "node_cpu_scaling_frequency_max_hertz",
	  "Maximum scaled CPU thread frequency in hertz." },
};

#define CF_GOV_MAX 256

struct cf_row {
	unsigned cpu;
	char name[16];
	double v[CF_N];
	uint32_t have;                 /* bit i: v[i] read */
	char governor[64];
	char available[CF_GOV_MAX];    /* space-separated, as the kernel writes it */
};

/* cpufreq/<file> of cpu n into dst (trimmed); KM_* on failure. */
static int cf_read(struct node_ctx *ctx, const char *cpu, const char *file, char *dst,
		   size_t cap)
{
	char rel[128];
	const char *data;
	size_t len;
	int rc;

	node_cat(rel, sizeof(rel),
		 (const struct node_span[]){ NS("devices/system/cpu/"), NSS(cpu), NS("/cpufreq/"), NSS(file) },
		 4);
	rc = procfile_read(&ctx->nc->pf, ctx->sysfs, rel, &data, &len);
	if (rc)
		return rc;
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == ' '))
		len--;
	while (len > 0 && (*data == ' ' || *data == '\n')) {
		data++;
		len--;
	}
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, data, len);
	dst[len] = '\0';
	return 0;
}

static bool cpu_listed(const char *list, unsigned cpu)
{
	const char *p = list;

	while (*p) {
		char *end;
		unsigned long a = strtoul(p, &end, 10), b = a;

		if (end == p)
			return false;
		if (*end == '-')
			b = strtoul(end + 1, &end, 10);
		if (cpu >= a && cpu <= b)
			return true;
		p = *end == ',' ? end + 1 : end;
		if (*end != ',')
			break;
	}
	return false;
}

/* The offline list as procfs accepts it: "", or N / N-M items joined by ','. */
static bool range_valid(const char *s)
{
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || *s == '-' || *s == ','))
			return false;
	return true;
}

static int read_cpu(struct node_ctx *ctx, const char *cpu, struct cf_row *r)
{
	static const char *const must[] = { "scaling_available_governors", "scaling_driver",
					    "scaling_governor", "related_cpus",
					    "scaling_setspeed" };
	char s[CF_GOV_MAX];
	int rc;

	for (int i = 0; i < CF_N; i++) {
		uint64_t v;

		rc = cf_read(ctx, cpu, cf_fam[i].file, s, sizeof(s));
		if (rc == KM_ENOENT || rc == KM_EACCES)
			continue;
		if (!rc)
			rc = parse_u64(s, strlen(s), &v);
		if (rc)
			return rc;
		r->v[i] = (double)v * 1000.0;
		r->have |= 1u << i;
	}
	for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++) {
		rc = cf_read(ctx, cpu, must[i], s, sizeof(s));
		if (rc)
			return rc;
		if (i == 0)
			memcpy(r->available, s, sizeof(r->available));
		else if (i == 2)
			snprintf(r->governor, sizeof(r->governor), "%.63s", s);
	}
	return 0;
}

static int cmp_cf(const void *a, const void *b)
{
	const struct cf_row *x = a, *y = b;

	return x->cpu < y->cpu ? -1 : x->cpu > y->cpu;
}

static int write_rows(struct node_ctx *ctx, const struct cf_row *rows, size_t n)
{
	int rc = 0;

	for (int i = 0; !rc && i < CF_N; i++) {
		bool any = false;

		for (size_t r = 0; r < n; r++)
			any |= (rows[r].have >> i) & 1u;
		if (!any)
			continue;
		rc = expo_family(ctx->out, cf_fam[i].name, cf_fam[i].help, EXPO_GAUGE);
		for (size_t r = 0; !rc && r < n; r++) {
			struct label_pair l = { "cpu", rows[r].name };

			if ((rows[r].have >> i) & 1u)
				rc = expo_sample(ctx->out, cf_fam[i].name, &l, 1, rows[r].v[i]);
		}
	}
	{
		bool any = false;

		for (size_t r = 0; r < n; r++)
			any |= rows[r].governor[0] != '\0';
		if (!rc && any)
			rc = expo_family(ctx->out, "node_cpu_scaling_governor",
					 "Current enabled CPU frequency governor.", EXPO_GAUGE);
		for (size_t r = 0; !rc && any && r < n; r++) {
			const char *p = rows[r].available;

			if (!rows[r].governor[0])
				continue;
			/* Split on single spaces, as node-exporter does. */
			for (;;) {
				const char *sp = strchr(p, ' ');
				size_t gl = sp ? (size_t)(sp - p) : strlen(p);
				char g[64];
				struct label_pair l[2] = { { "cpu", rows[r].name }, { "governor", g } };

				snprintf(g, sizeof(g), "%.*s", (int)gl, p);
				rc = expo_sample(ctx->out, "node_cpu_scaling_governor", l, 2,
						 strcmp(g, rows[r].governor) == 0);
				if (rc || !sp)
					break;
				p = sp + 1;
			}
		}
	}
	return rc;
}

int node_cpufreq(struct node_ctx *ctx)
{
	struct node_collector *nc = ctx->nc;
	char offline[1024], path[PATH_MAX];
	struct cf_row *rows;
	struct dirent *de;
	size_t n = 0, seen = 0;
	const char *data;
	size_t len;
	DIR *d;
	int rc;

	rc = procfile_read(&nc->pf, ctx->sysfs, "devices/system/cpu/offline", &data, &len);
	if (rc)
		return rc;
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == ' '))
		len--;
	if (len >= sizeof(offline))
		return KM_ETOOBIG;
	memcpy(offline, data, len);
	offline[len] = '\0';
	if (!range_valid(offline))
		return KM_EPARSE;
	d = node_dir_open(nc, ctx->sysfs, "devices/system/cpu", NULL);
	if (!d)
		return errno == ENAMETOOLONG ? KM_EINVAL : km_from_errno(errno);
	while ((de = readdir(d)) != NULL) {
		char *end;
		unsigned long cpu;
		struct cf_row *r;
		struct stat st;

		if (strncmp(de->d_name, "cpu", 3) != 0 || de->d_name[3] < '0' || de->d_name[3] > '9')
			continue;
		cpu = strtoul(de->d_name + 3, &end, 10);
		if (cpu >= NODE_CPU_MAX || strlen(de->d_name) >= sizeof(r->name) + 3)
			continue;
		seen++;
		if (cpu_listed(offline, (unsigned)cpu))
			continue;
		if (node_cat(path, sizeof(path),
			     (const struct node_span[]){ { de->d_name, strnlen(de->d_name, 32) },
							 NS("/cpufreq") },
			     2) >= sizeof(path)) {
			rc = KM_EINVAL;
			break;
		}
		/* Relative to the listing: a VM's absent cpufreq costs a
		 * two-step walk, not one from the root per CPU. */
		if (fstatat(dirfd(d), path, &st, 0) != 0) {
			if (errno == ENOENT)
				continue;
			rc = km_from_errno(errno);
			break;
		}
		rc = node_rows_reserve(nc, (n + 1) * sizeof(*rows));
		if (rc)
			break;
		r = (struct cf_row *)nc->rows + n;
		memset(r, 0, sizeof(*r));
		r->cpu = (unsigned)cpu;
		snprintf(r->name, sizeof(r->name), "%s", de->d_name + 3);
		rc = read_cpu(ctx, de->d_name, r);
		if (rc)
			break;
		n++;
	}
	node_dir_close(nc, d);
	if (rc)
		return rc;
	/* node-exporter: no CPU directory at all is "no cpufreq files". */
	if (seen == 0)
		return KM_ENOENT;
	rows = nc->rows;
	if (n)
		qsort(rows, n, sizeof(*rows), cmp_cf);
	return write_rows(ctx, rows, n);
}
