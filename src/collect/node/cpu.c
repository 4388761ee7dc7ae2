/* cpu: node_cpu_seconds_total and node_cpu_guest_seconds_total from the
 * per-CPU "cpuN" lines of <procfs>/stat (the aggregate "cpu" line is not
 * used), in USER_HZ = 100 ticks as procfs hard-codes.
 *
 * Counter hygiene as node-exporter does it: a per-CPU cache holds the last
 * exported values. If a CPU's idle time drops by 3 s or more the CPU was
 * hot-plugged and its cache starts over; otherwise a field that goes backwards
 * (kernel accounting jitter) keeps its old value, so rate() never sees a
 * counter reset. CPUs that disappear are dropped from the cache. */
#include "collect/node/node_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/parse.h"

#define USER_HZ 100.0
#define JUMP_BACK_SECONDS 3.0

static const char *const cpu_modes[8] = { "user", "nice", "system", "idle",
					  "iowait", "irq", "softirq", "steal" };

static int grow(struct cpu_times **arr, size_t *n, size_t need)
{
	struct cpu_times *p;

	if (need <= *n)
		return 0;
	p = realloc(*arr, need * sizeof(*p));
	if (!p)
		return KM_ENOMEM;
	memset(p + *n, 0, (need - *n) * sizeof(*p));
	*arr = p;
	*n = need;
	return 0;
}

/* Parses every cpuN line into nc->cpu_new; touches nothing else, so a
 * malformed file leaves the cache as it was. */
static int parse_stat(struct node_collector *nc, const char *data, size_t len)
{
	const char *p = data, *end = data + len, *line, *f;
	size_t llen, flen;
	int rc;

	for (size_t i = 0; i < nc->ncpu_new; i++)
		nc->cpu_new[i].present = false;
	while (node_next_line(&p, end, &line, &llen)) {
		const char *lp = line, *lend = line + llen;
		struct cpu_times *t;
		uint64_t id;
		int nf = 0;

		if (llen < 4 || memcmp(line, "cpu", 3) != 0 || line[3] < '0' || line[3] > '9')
			continue;
		if (!parse_field(&lp, lend, &f, &flen))
			return KM_EPARSE;
		rc = parse_u64(f + 3, flen - 3, &id);
		if (rc)
			return rc;
		if (id >= NODE_CPU_MAX)
			return KM_ERANGE;
		rc = grow(&nc->cpu_new, &nc->ncpu_new, (size_t)id + 1);
		if (rc)
			return rc;
		t = &nc->cpu_new[id];
		memset(t, 0, sizeof(*t));
		while (nf < CPU_NFIELDS && parse_field(&lp, lend, &f, &flen)) {
			double v;

			rc = parse_double(f, flen, &v);
			if (rc)
				return rc;
			t->v[nf++] = v / USER_HZ;
		}
		/* Kernels since 2.6.33 print 10 fields; fewer than the first
		 * four is no /proc/stat at all. */
		if (nf < 4)
			return KM_EPARSE;
		t->present = true;
	}
	return 0;
}

static void apply_hygiene(struct node_collector *nc)
{
	for (size_t i = 0; i < nc->ncpu; i++) {
		if (i >= nc->ncpu_new || !nc->cpu_new[i].present)
			nc->cpu[i].present = false;
	}
	for (size_t i = 0; i < nc->ncpu_new; i++) {
		const struct cpu_times *n = &nc->cpu_new[i];
		struct cpu_times *c = &nc->cpu[i];

		if (!n->present)
			continue;
		if (!c->present || c->v[CPU_IDLE] - n->v[CPU_IDLE] >= JUMP_BACK_SECONDS) {
			*c = *n;
			continue;
		}
		for (int f = 0; f < CPU_NFIELDS; f++)
			if (n->v[f] >= c->v[f])
				c->v[f] = n->v[f];
	}
}

int node_cpu_parse(struct node_ctx *ctx, const char *data, size_t len)
{
	struct node_collector *nc = ctx->nc;
	struct label_pair l[2] = { { "cpu", NULL }, { "mode", NULL } };
	char id[24];
	int rc;

	rc = parse_stat(nc, data, len);
	if (rc)
		return rc;
	rc = grow(&nc->cpu, &nc->ncpu, nc->ncpu_new);
	if (rc)
		return rc;
	apply_hygiene(nc);

	l[0].value = id;
	rc = expo_family(ctx->out, "node_cpu_seconds_total",
			 "Seconds the CPUs spent in each mode.", EXPO_COUNTER);
	for (size_t i = 0; !rc && i < nc->ncpu; i++) {
		if (!nc->cpu[i].present)
			continue;
		node_fmt_u64(id, sizeof(id), i);
		for (int m = 0; !rc && m < 8; m++) {
			l[1].value = cpu_modes[m];
			rc = expo_sample(ctx->out, "node_cpu_seconds_total", l, 2, nc->cpu[i].v[m]);
		}
	}
	if (!rc)
		rc = expo_family(ctx->out, "node_cpu_guest_seconds_total",
				 "Seconds the CPUs spent in guests (VMs) for each mode.",
				 EXPO_COUNTER);
	for (size_t i = 0; !rc && i < nc->ncpu; i++) {
		if (!nc->cpu[i].present)
			continue;
		node_fmt_u64(id, sizeof(id), i);
		l[1].value = "user";
		rc = expo_sample(ctx->out, "node_cpu_guest_seconds_total", l, 2,
				 nc->cpu[i].v[CPU_GUEST]);
		if (!rc) {
			l[1].value = "nice";
			rc = expo_sample(ctx->out, "node_cpu_guest_seconds_total", l, 2,
					 nc->cpu[i].v[CPU_GUEST_NICE]);
		}
	}
	return rc;
}

int node_cpu(struct node_ctx *ctx)
{
	const char *data;
	size_t len;
	int rc = procfile_read_scrape(&ctx->nc->pf, ctx->procfs, "stat", &data, &len);

	if (!rc)
		rc = node_cpu_parse(ctx, data, len);
	if (!rc)
		rc = node_cpu_throttle(ctx);
	return rc;
}
