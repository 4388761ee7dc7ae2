/* udp_queues: node_udp_queues{queue,ip} from <procfs>/net/udp and udp6:
 * the sums of the tx_queue and rx_queue columns (hex "tx:rx", bytes) of
 * every socket line. As node-exporter: a missing file skips its ip, both
 * missing fails the collector (no data); a line with fewer than 10 columns
 * or a bad queue field fails it. */
#include "collect/node/node_int.h"

#include <string.h>

#include "base/err.h"
#include "base/parse.h"

/* A hex field of /proc as a sample value. */
static int hex_u64(const char *s, size_t n, double *out)
{
	uint64_t v;
	int rc = parse_hex_u64(s, n, &v);

	if (!rc)
		*out = (double)v;
	return rc;
}

int node_udp_queues_parse(const char *data, size_t len, double *tx, double *rx)
{
	const char *p = data, *end = data + len, *line;
	size_t llen;
	bool header = true;

	*tx = *rx = 0;
	while (node_next_line(&p, end, &line, &llen)) {
		const char *lp = line, *f[10], *colon;
		size_t fl[10], width = 0;
		double t, r;
		int rc;

		if (header) {
			header = false;
			continue;
		}
		while (width < 10 && parse_field(&lp, line + llen, &f[width], &fl[width]))
			width++;
		if (width < 10)
			return KM_EPARSE;
		if (!memchr(f[0], ':', fl[0]) || !memchr(f[1], ':', fl[1]) || !memchr(f[2], ':', fl[2]))
			return KM_EPARSE;
		colon = memchr(f[4], ':', fl[4]);
		if (!colon)
			return KM_EPARSE;
		rc = hex_u64(f[4], (size_t)(colon - f[4]), &t);
		if (!rc)
			rc = hex_u64(colon + 1, fl[4] - (size_t)(colon - f[4]) - 1, &r);
		if (rc)
			return rc;
		*tx += t;
		*rx += r;
	}
	return 0;
}

int node_udp_queues(struct node_ctx *ctx)
{
	static const char *const files[2] = { "net/udp", "net/udp6" };
	static const char *const ip[2] = { "v4", "v6" };
	static const char *const name = "node_udp_queues";
	double q[2][2];
	bool have[2] = { false, false };
	const char *data;
	size_t len;
	int rc;

	for (int i = 0; i < 2; i++) {
		rc = procfile_read(&ctx->nc->pf, ctx->procfs, files[i], &data, &len);
		if (rc == KM_ENOENT)
			continue;
		if (!rc)
			rc = node_udp_queues_parse(data, len, &q[i][0], &q[i][1]);
		if (rc)
			return rc;
		have[i] = true;
	}
	if (!have[0] && !have[1])
		return KM_ENODATA;
	rc = expo_family(ctx->out, name,
			 "Number of allocated memory in the kernel for UDP datagrams in bytes.",
			 EXPO_GAUGE);
	for (int i = 0; !rc && i < 2; i++) {
		struct label_pair l[2] = { { "ip", ip[i] }, { "queue", "tx" } };

		if (!have[i])
			continue;
		rc = expo_sample(ctx->out, name, l, 2, q[i][0]);
		l[1].value = "rx";
		if (!rc)
			rc = expo_sample(ctx->out, name, l, 2, q[i][1]);
	}
	return rc;
}
