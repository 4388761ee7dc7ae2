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

/* True when the kernel's socket count says <procfs>/net/udp (i 0) or udp6
 * (i 1) has no socket line, so that the file need not be read: reading it
 * walks the whole UDP hash table (~13-16 us per file here) to print only
 * its header. "UDP: inuse" in net/sockstat is sock_prot_inuse_get(net,
 * &udp_prot): +1 when udp_lib_get_port() hashes an AF_INET socket, -1 in
 * udp_lib_unhash(), exactly the sockets /proc/net/udp lists for the
 * namespace; "UDP6: inuse" of net/sockstat6 the same for udpv6_prot and
 * udp6 (net/ipv4/proc.c, net/ipv6/proc.c, net/ipv4/udp.c). Taken only from
 * the sockstat collector's bytes of this scrape (it runs first), and only
 * while the udp file is a kept descriptor of the kernel's procfs: a copy of
 * /proc (node-exporter's fixtures) is always read. The count and the file
 * are one snapshot a few microseconds earlier than the read. */
static bool udp_none(struct node_ctx *ctx, int i)
{
	static const char *const files[2] = { "net/udp", "net/udp6" };
	static const char *const stat_files[2] = { "net/sockstat", "net/sockstat6" };
	static const char *const keys[2] = { "UDP:", "UDP6:" };
	const char *data, *p, *end, *line, *f;
	size_t len, llen, klen = strlen(keys[i]), flen;

	if (!procfile_kept(&ctx->nc->pf, ctx->procfs, files[i]) ||
	    procfile_peek_scrape(&ctx->nc->pf, ctx->procfs, stat_files[i], &data, &len))
		return false;
	p = data;
	end = data + len;
	while (node_next_line(&p, end, &line, &llen)) {
		const char *lp = line, *lend = line + llen;

		if (!parse_field(&lp, lend, &f, &flen) || flen != klen || memcmp(f, keys[i], klen))
			continue;
		/* "UDP: inuse N mem M": only a literal 0 says empty. */
		return parse_field(&lp, lend, &f, &flen) && flen == 5 && !memcmp(f, "inuse", 5) &&
		       parse_field(&lp, lend, &f, &flen) && flen == 1 && f[0] == '0';
	}
	return false;
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
		if (udp_none(ctx, i)) {
			q[i][0] = q[i][1] = 0;
			have[i] = true;
			continue;
		}
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
