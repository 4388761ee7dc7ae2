/* The node parsers of small "key value" files, each on the whole input:
 * meminfo, vmstat, the leading numbers of loadavg / file-nr /
 * nf_conntrack_*, pressure (some and full totals), os-release, udev data
 * (node_disk_info) and netclass attribute numbers. */
#include "fuzz/fuzz_node.h"

int fuzz_node_kv(const uint8_t *data, size_t size)
{
	char udev[NODE_UDEV_N][NODE_UDEV_VAL_MAX];
	struct fnode f;
	char *s = fnode_dup(data, size);
	double v[3], d;

	fnode_init(&f);
	fnode_check(&f, node_meminfo_parse(&f.ctx, s, size));
	fnode_check(&f, node_vmstat_parse(&f.ctx, s, size));
	fnode_check(&f, node_os_parse(&f.ctx, s, size));
	(void)node_parse_numbers(s, size, v, 3);
	(void)node_psi_total(s, size, "some", &d);
	(void)node_psi_total(s, size, "full", &d);
	node_udev_parse(s, size, udev);
	for (int i = 0; i < NODE_UDEV_N; i++)
		FUZZ_CHECK(memchr(udev[i], '\0', NODE_UDEV_VAL_MAX) != NULL);
	(void)node_netclass_parse_num(s, size, &d);
	fnode_fini(&f);
	free(s);
	return 0;
}
