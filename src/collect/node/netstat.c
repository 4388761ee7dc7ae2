/* netstat: node_netstat_<Proto>_<Field> (untyped) from <procfs>/net/netstat
 * and <procfs>/net/snmp (pairs of "Proto: names..." / "Proto: values..."
 * lines) and <procfs>/net/snmp6 ("Ip6InReceives value" lines, the protocol
 * being the prefix up to the first '6'), filtered by netstat_fields.
 * snmp6 is optional (IPv6 disabled); a header/value mismatch fails. */
#include "collect/node/node_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/parse.h"
#include "scrape/labels.h"

#define NS_NAME_MAX 128

/* Writes proto_field = val when the filter selects it; *sel (may be NULL)
 * is the decision. known: the caller knows the field is selected. */
static int emit(struct node_ctx *ctx, const char *proto, size_t plen, const char *field,
		size_t flen, const char *val, size_t vlen, bool known, bool *sel)
{
	char key[NS_NAME_MAX], name[NS_NAME_MAX + 16], help[NS_NAME_MAX + 16];
	size_t n = plen + 1 + flen;
	double v;
	int rc;

	/* Every field is checked against the filter on every scrape: the key is
	 * built without printf and the decision comes from the cache. Only
	 * selected values are parsed, as node-exporter does (a malformed value
	 * of a field it does not export does not fail the collector). */
	if (n >= sizeof(key))
		return KM_EPARSE;
	memcpy(key, proto, plen);
	key[plen] = '_';
	memcpy(key + plen + 1, field, flen);
	key[n] = '\0';
	if (!known && !node_rx_match(&ctx->nc->rxc[RXC_NETSTAT], ctx->netstat_fields, key, n))
		return 0;
	if (sel)
		*sel = true;
	rc = parse_double(val, vlen, &v);
	if (rc)
		return rc;
	node_cat(name, sizeof(name), (const struct node_span[]){ NS("node_netstat_"), NSS(key) }, 2);
	/* The filter may pass any field text (".*_InErrors"); a name that is
	 * not a metric name would break the whole exposition. */
	if (!metric_name_valid(name, strlen(name)))
		return 0;
	rc = node_seen_add(&ctx->nc->seen, name);
	if (rc)
		return rc < 0 ? rc : 0;
	node_cat(help, sizeof(help),
		 (const struct node_span[]){ NS("Statistic "), { proto, plen }, { field, flen },
					     NS(".") },
		 4);
	return node_write1(ctx->out, name, help, EXPO_UNTYPED, v);
}

/* The decisions for header line hl of this scrape's next position: an
 * entry whose decisions are valid (*valid) or one emptied to record them
 * in; NULL past NODE_NS_LINES or without memory (decide name by name). */
static struct ns_line *line_decisions(struct node_ctx *ctx, const char *hl, size_t hlen,
				      bool *valid)
{
	struct node_collector *nc = ctx->nc;
	uint32_t epoch = rxcache_bind(&nc->rxc[RXC_NETSTAT], ctx->netstat_fields);
	struct ns_line *l;
	size_t fields = 1;

	*valid = false;
	if (!epoch || nc->ns_next >= NODE_NS_LINES)
		return NULL;
	l = &nc->ns_lines[nc->ns_next++];
	if (l->hdr && l->epoch == epoch && l->len == hlen && memcmp(l->hdr, hl, hlen) == 0) {
		*valid = true;
		return l;
	}
	/* Every field is preceded by a blank or starts the line. */
	for (size_t i = 0; i < hlen; i++)
		fields += hl[i] == ' ' || hl[i] == '\t';
	free(l->hdr);
	free(l->match);
	free(l->fld);
	*l = (struct ns_line){ 0 };
	l->hdr = malloc(hlen + 1);
	l->match = calloc(fields, 1);
	l->fld = calloc(fields, sizeof(*l->fld));
	if (!l->hdr || !l->match || !l->fld || hlen > UINT32_MAX) {
		free(l->hdr);
		free(l->match);
		free(l->fld);
		*l = (struct ns_line){ 0 };
		return NULL;
	}
	memcpy(l->hdr, hl, hlen);
	l->hdr[hlen] = '\0';
	l->n = fields;
	l->epoch = epoch;
	return l;
}

/* Forgets l's decisions (its line was not parsed to the end). */
static void line_drop(struct ns_line *l)
{
	if (l) {
		free(l->hdr);
		l->hdr = NULL;
		l->len = 0;
	}
}

int node_netstat_pairs_parse(struct node_ctx *ctx, const char *data, size_t len)
{
	const char *p, *end, *hl, *vl;
	size_t hlen, vlen;
	struct ns_line *dl;
	bool valid;
	int rc;

	p = data;
	end = data + len;
	while (node_next_line(&p, end, &hl, &hlen)) {
		const char *hp = hl, *hend = hl + hlen, *vp, *vend, *hf, *vf;
		size_t hflen, vflen, plen;

		if (hlen == 0)
			continue;
		if (!node_next_line(&p, end, &vl, &vlen))
			return KM_EPARSE;
		vp = vl;
		vend = vl + vlen;
		if (!parse_field(&hp, hend, &hf, &hflen) || !parse_field(&vp, vend, &vf, &vflen) ||
		    hflen != vflen || hf[hflen - 1] != ':' || memcmp(hf, vf, hflen) != 0)
			return KM_EPARSE;
		plen = hflen - 1;
		dl = line_decisions(ctx, hl, hlen, &valid);
		for (size_t k = 0;; k++) {
			bool vn = parse_field(&vp, vend, &vf, &vflen);
			bool sel = false;
			bool hn;

			/* The header is the recorded one byte for byte: its
			 * fields are where they were (~300 splits a scrape). */
			if (valid) {
				hn = k < dl->nf;
				if (hn) {
					hf = hl + dl->fld[k].off;
					hflen = dl->fld[k].len;
				}
			} else {
				hn = parse_field(&hp, hend, &hf, &hflen);
			}
			if (hn != vn || (dl && k >= dl->n)) {
				line_drop(dl);
				return KM_EPARSE;
			}
			if (!hn) {
				if (dl && !valid)
					dl->nf = k;
				break;
			}
			if (dl && !valid)
				dl->fld[k] = (struct ns_field){ (uint32_t)(hf - hl), (uint32_t)hflen };
			if (valid && !dl->match[k])
				continue;
			rc = emit(ctx, vl, plen, hf, hflen, vf, vflen, valid, &sel);
			if (rc) {
				if (!valid)
					line_drop(dl);
				return rc;
			}
			if (dl && !valid)
				dl->match[k] = sel;
		}
		/* Recorded in full: valid from the next scrape on. */
		if (dl && !valid)
			dl->len = hlen;
	}
	return 0;
}

int node_netstat_snmp6_parse(struct node_ctx *ctx, const char *data, size_t len)
{
	const char *p, *end, *line;
	size_t llen;
	int rc;

	p = data;
	end = data + len;
	while (node_next_line(&p, end, &line, &llen)) {
		const char *lp = line, *lend = line + llen, *k, *v, *six;
		size_t klen, vlen, plen;

		if (!parse_field(&lp, lend, &k, &klen))
			continue;
		if (!parse_field(&lp, lend, &v, &vlen))
			return KM_EPARSE;
		six = memchr(k, '6', klen);
		if (!six)
			continue;
		plen = (size_t)(six - k) + 1;
		rc = emit(ctx, k, plen, k + plen, klen - plen, v, vlen, false, NULL);
		if (rc)
			return rc;
	}
	return 0;
}

static int pairs(struct node_ctx *ctx, const char *rel)
{
	const char *data;
	size_t len;
	int rc = procfile_read(&ctx->nc->pf, ctx->procfs, rel, &data, &len);

	if (!rc)
		rc = node_netstat_pairs_parse(ctx, data, len);
	return rc;
}

static int snmp6(struct node_ctx *ctx)
{
	const char *data;
	size_t len;
	int rc = procfile_read(&ctx->nc->pf, ctx->procfs, "net/snmp6", &data, &len);

	if (rc == KM_ENOENT)
		return 0;
	if (!rc)
		rc = node_netstat_snmp6_parse(ctx, data, len);
	return rc;
}

int node_netstat(struct node_ctx *ctx)
{
	int rc;

	node_seen_reset(&ctx->nc->seen);
	ctx->nc->ns_next = 0;
	rc = pairs(ctx, "net/netstat");
	if (!rc)
		rc = pairs(ctx, "net/snmp");
	if (!rc)
		rc = snmp6(ctx);
	return rc;
}
