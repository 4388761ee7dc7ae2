/* stat: boot time, context switches, forks, interrupts and process counts
 * from <procfs>/stat. A key missing from the file is exported as 0, as
 * node-exporter (procfs) does; a key whose value does not parse fails. */
#include "collect/node/node_int.h"

#include <string.h>

#include "base/err.h"
#include "base/parse.h"

struct stat_key {
	const char *key;
	const char *name;
	const char *help;
	enum expo_type type;
};

static const struct stat_key stat_keys[] = {
	{ "btime", "node_boot_time_seconds", "Node boot time, in unixtime.", EXPO_GAUGE },
	{ "ctxt", "node_context_switches_total", "Total number of context switches.", EXPO_COUNTER },
	{ "processes", "node_forks_total", "Total number of forks.", EXPO_COUNTER },
	{ "intr", "node_intr_total", "Total number of interrupts serviced.", EXPO_COUNTER },
	{ "procs_blocked", "node_procs_blocked",
	  "Number of processes blocked waiting for I/O to complete.", EXPO_GAUGE },
	{ "procs_running", "node_procs_running", "Number of processes in runnable state.",
	  EXPO_GAUGE },
};

#define NKEYS (sizeof(stat_keys) / sizeof(stat_keys[0]))

int node_stat_parse(struct node_ctx *ctx, const char *data, size_t len)
{
	double v[NKEYS] = { 0 };
	const char *p, *end, *line, *f;
	size_t llen, flen;
	int rc = 0;

	p = data;
	end = data + len;
	while (node_next_line(&p, end, &line, &llen)) {
		const char *lp = line, *lend = line + llen;

		if (!parse_field(&lp, lend, &f, &flen))
			continue;
		for (size_t i = 0; i < NKEYS; i++) {
			if (flen != strlen(stat_keys[i].key) || memcmp(f, stat_keys[i].key, flen))
				continue;
			/* intr: the first number is the total. */
			rc = node_parse_double_field(&lp, lend, &v[i]);
			if (rc)
				return rc;
			break;
		}
	}
	for (size_t i = 0; i < NKEYS && !rc; i++)
		rc = node_write1(ctx->out, stat_keys[i].name, stat_keys[i].help, stat_keys[i].type,
				 v[i]);
	return rc;
}

int node_stat(struct node_ctx *ctx)
{
	const char *data;
	size_t len;
	int rc = procfile_read_scrape(&ctx->nc->pf, ctx->procfs, "stat", &data, &len);

	if (!rc)
		rc = node_stat_parse(ctx, data, len);
	return rc;
}
