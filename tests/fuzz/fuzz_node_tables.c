/* The node parsers of table-shaped /proc files, each on the whole input:
 * net/dev, diskstats (node_disk_info's nested reads fail: no udev, no
 * sysfs), net/netstat + net/snmp (header/value line pairs), net/snmp6 and
 * mdstat (device lines with the three lines after them). */
#include "fuzz/fuzz_node.h"

int fuzz_node_tables(const uint8_t *data, size_t size)
{
	struct fnode f;
	char *s = fnode_dup(data, size);

	fnode_init(&f);
	fnode_check(&f, node_netdev_parse(&f.ctx, s, size));
	fnode_check(&f, node_diskstats_parse(&f.ctx, s, size));
	fnode_check(&f, node_netstat_pairs_parse(&f.ctx, s, size));
	fnode_check(&f, node_netstat_snmp6_parse(&f.ctx, s, size));
	fnode_check(&f, node_mdadm_parse(&f.ctx, s, size));
	fnode_fini(&f);
	free(s);
	return 0;
}
