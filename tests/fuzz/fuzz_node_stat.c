/* /proc/stat: the stat sub-collector (boot time, context switches, ...) and
 * the cpu one (per-CPU lines), the latter twice: the whole input, then its
 * second half as the next scrape, through the counter-hygiene cache. */
#include "fuzz/fuzz_node.h"

int fuzz_node_stat(const uint8_t *data, size_t size)
{
	struct fnode f;
	char *s = fnode_dup(data, size);
	size_t half = size / 2;

	fnode_init(&f);
	fnode_check(&f, node_stat_parse(&f.ctx, s, size));
	fnode_check(&f, node_cpu_parse(&f.ctx, s, size));
	fnode_check(&f, node_cpu_parse(&f.ctx, s + half, size - half));
	fnode_fini(&f);
	free(s);
	return 0;
}
