/* meminfo: node_memory_* gauges from <procfs>/meminfo.
 *
 * node-exporter >= v1.9 exports a fixed list of fields (the procfs Meminfo
 * struct) rather than every line; the list is below. "Key(x):" becomes
 * Key_x; a value with a kB unit is multiplied by 1024 and the name gets
 * _bytes; HugePages_* counts have no unit and no suffix. */
#include "collect/node/node_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/parse.h"

/* Exported names without the _bytes suffix (v1.9 list + Zswap from v1.10.1),
 * sorted in strcmp() order (exported() searches it). */
static const char *const mem_fields[] = {
	"Active", "Active_anon", "Active_file", "AnonHugePages", "AnonPages", "Bounce",
	"Buffers", "Cached", "CmaFree", "CmaTotal", "CommitLimit", "Committed_AS",
	"DirectMap1G", "DirectMap2M", "DirectMap4k", "Dirty", "HardwareCorrupted",
	"HugePages_Free", "HugePages_Rsvd", "HugePages_Surp", "HugePages_Total",
	"Hugepagesize", "Inactive", "Inactive_anon", "Inactive_file", "KernelStack",
	"Mapped", "MemAvailable", "MemFree", "MemTotal", "Mlocked", "NFS_Unstable",
	"PageTables", "Percpu", "SReclaimable", "SUnreclaim", "Shmem", "ShmemHugePages",
	"ShmemPmdMapped", "Slab", "SwapCached", "SwapFree", "SwapTotal", "Unevictable",
	"VmallocChunk", "VmallocTotal", "VmallocUsed", "Writeback", "WritebackTmp",
	"Zswap", "Zswapped",
};

static int cmp_field(const void *key, const void *elem)
{
	return strcmp(key, *(const char *const *)elem);
}

/* mem_fields is sorted (strcmp order): a binary search, 6 compares a line
 * instead of up to 51. */
static bool exported(const char *key)
{
	return bsearch(key, mem_fields, sizeof(mem_fields) / sizeof(mem_fields[0]),
		       sizeof(mem_fields[0]), cmp_field) != NULL;
}

/* "Active(anon):" -> "Active_anon" into dst; false if it does not fit or
 * does not end in ':'. */
static bool key_name(const char *f, size_t n, char *dst, size_t dstlen)
{
	size_t j = 0;

	if (n < 2 || f[n - 1] != ':')
		return false;
	n--;
	for (size_t i = 0; i < n; i++) {
		char c = f[i];

		if (c == ')')
			continue;
		if (c == '(')
			c = '_';
		if (j + 1 >= dstlen)
			return false;
		dst[j++] = c;
	}
	dst[j] = '\0';
	return true;
}

int node_meminfo_parse(struct node_ctx *ctx, const char *data, size_t len)
{
	const char *p, *end, *line;
	size_t llen;
	int rc;

	node_seen_reset(&ctx->nc->seen);
	p = data;
	end = data + len;
	while (node_next_line(&p, end, &line, &llen)) {
		const char *lp = line, *lend = line + llen, *f, *unit;
		char key[64], name[96], help[128];
		size_t flen, ulen;
		double v;
		bool bytes = false;

		if (!parse_field(&lp, lend, &f, &flen))
			continue;
		if (!key_name(f, flen, key, sizeof(key)))
			return KM_EPARSE;
		rc = node_parse_double_field(&lp, lend, &v);
		if (rc)
			return rc;
		if (parse_field(&lp, lend, &unit, &ulen)) {
			if (ulen != 2 || memcmp(unit, "kB", 2) != 0)
				return KM_EPARSE;
			v *= 1024;
			bytes = true;
		}
		if (!exported(key))
			continue;
		{
			const struct node_span sfx = bytes ? NS("_bytes") : NS("");
			const struct node_span nm[] = { NS("node_memory_"), NSS(key), sfx };
			const struct node_span hp[] = { NS("Memory information field "), NSS(key), sfx,
							NS(".") };

			node_cat(name, sizeof(name), nm, 3);
			node_cat(help, sizeof(help), hp, 4);
		}
		rc = node_seen_add(&ctx->nc->seen, name);
		if (rc < 0)
			return rc;
		if (rc)
			continue;
		rc = node_write1(ctx->out, name, help, EXPO_GAUGE, v);
		if (rc)
			return rc;
	}
	return 0;
}

int node_meminfo(struct node_ctx *ctx)
{
	const char *data;
	size_t len;
	int rc = procfile_read(&ctx->nc->pf, ctx->procfs, "meminfo", &data, &len);

	if (!rc)
		rc = node_meminfo_parse(ctx, data, len);
	return rc;
}
