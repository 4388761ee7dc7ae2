/* sockstat: node_sockstat_<PROTO>_<field> gauges from <procfs>/net/sockstat
 * and net/sockstat6, as node-exporter's sockstat collector names them:
 * "sockets: used N" becomes node_sockstat_sockets_used (IPv4 only), every
 * other line "PROTO: key value ..." gives inuse (always, 0 when absent),
 * orphan, tw, alloc, mem, memory when present, and mem_bytes = mem * page
 * size. A missing file (IPv6 disabled) is skipped; a malformed one fails
 * the collector. */
#include "collect/node/node_int.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/parse.h"

/* Keys node-exporter exports, in its order; mem_bytes is derived. */
enum { SS_INUSE, SS_ORPHAN, SS_TW, SS_ALLOC, SS_MEM, SS_MEMORY, SS_NKEYS };

static const char *const ss_keys[SS_NKEYS] = { "inuse", "orphan", "tw", "alloc", "mem", "memory" };

#define SS_PROTO_MAX 32

static int ss_write(struct node_ctx *ctx, const char *proto, size_t plen, const char *key,
		    double v)
{
	char name[128], help[128];
	int n;

	if (node_cat(name, sizeof(name),
		     (const struct node_span[]){ NS("node_sockstat_"), { proto, plen }, NS("_"),
						 NSS(key) },
		     4) >= sizeof(name))
		return KM_EPARSE;
	if (strcmp(key, "used") == 0)
		node_cat(help, sizeof(help), (const struct node_span[]){ NS("Number of IPv4 sockets in use.") }, 1);
	else
		node_cat(help, sizeof(help),
			 (const struct node_span[]){ NS("Number of "), { proto, plen },
						     NS(" sockets in state "), NSS(key), NS(".") },
			 5);
	/* A repeated protocol line must not repeat a family. */
	n = node_seen_add(&ctx->nc->seen, name);
	if (n)
		return n < 0 ? n : 0;
	return node_write1(ctx->out, name, help, EXPO_GAUGE, v);
}

/* One "PROTO: k v k v ..." line. */
static int ss_line(struct node_ctx *ctx, const char *line, size_t llen, bool ipv6, double page)
{
	const char *p = line, *end = line + llen, *f, *proto;
	double v[SS_NKEYS];
	bool have[SS_NKEYS] = { false };
	size_t n, plen;
	int npairs = 0;
	int rc;

	if (!parse_field(&p, end, &proto, &plen) || plen < 2 || proto[plen - 1] != ':')
		return KM_EPARSE;
	plen--;
	if (plen >= SS_PROTO_MAX)
		return KM_EPARSE;
	for (;;) {
		const char *k;
		size_t kn;
		double x;

		if (!parse_field(&p, end, &k, &kn))
			break;
		/* Odd number of fields: node-exporter rejects the file. */
		if (!parse_field(&p, end, &f, &n))
			return KM_EPARSE;
		rc = parse_double(f, n, &x);
		if (rc)
			return rc;
		npairs++;
		if (plen == 7 && memcmp(proto, "sockets", 7) == 0) {
			if (kn == 4 && memcmp(k, "used", 4) == 0) {
				v[0] = x;
				have[0] = true;
			}
			continue;
		}
		for (int i = 0; i < SS_NKEYS; i++) {
			if (strlen(ss_keys[i]) == kn && memcmp(ss_keys[i], k, kn) == 0) {
				v[i] = x;
				have[i] = true;
			}
		}
	}
	if (npairs == 0)
		return KM_EPARSE;
	if (plen == 7 && memcmp(proto, "sockets", 7) == 0) {
		/* sockstat6 has no such line; node-exporter ignores one there. */
		if (ipv6)
			return 0;
		return ss_write(ctx, "sockets", 7, "used", have[0] ? v[0] : 0);
	}
	if (!have[SS_INUSE]) {
		v[SS_INUSE] = 0;
		have[SS_INUSE] = true;
	}
	for (int i = 0; i < SS_NKEYS; i++) {
		if (!have[i])
			continue;
		rc = ss_write(ctx, proto, plen, ss_keys[i], v[i]);
		if (rc)
			return rc;
	}
	if (have[SS_MEM])
		return ss_write(ctx, proto, plen, "mem_bytes", v[SS_MEM] * page);
	return 0;
}

int node_sockstat_parse(struct node_ctx *ctx, const char *data, size_t len, bool ipv6)
{
	const char *p = data, *end = data + len, *line;
	double page = (double)sysconf(_SC_PAGESIZE);
	size_t llen;
	int rc;

	while (node_next_line(&p, end, &line, &llen)) {
		rc = ss_line(ctx, line, llen, ipv6, page);
		if (rc)
			return rc;
	}
	return 0;
}

int node_sockstat(struct node_ctx *ctx)
{
	static const char *const files[2] = { "net/sockstat", "net/sockstat6" };
	const char *data;
	size_t len;
	int rc;

	node_seen_reset(&ctx->nc->seen);
	for (int i = 0; i < 2; i++) {
		/* Per scrape: udp_queues, which runs next, takes its "UDP: inuse"
		 * counts from these bytes (procfile_peek_scrape()). */
		rc = procfile_read_scrape(&ctx->nc->pf, ctx->procfs, files[i], &data, &len);
		if (rc == KM_ENOENT)
			continue;
		if (!rc)
			rc = node_sockstat_parse(ctx, data, len, i == 1);
		if (rc)
			return rc;
	}
	return 0;
}
