/* The /proc readers of the container collector: a sandbox process's
 * net/dev (cg_read_netdev), meminfo swap and stat btime. Sections of the
 * input, split at NUL bytes: <pid>/net/dev, meminfo, stat. Invariant: every
 * interface kept has a non-empty NUL-terminated name and the row it was
 * read for. */
#include "collect/container/cgread.h"
#include "fuzz/fuzz_cgroup.h"

int fuzz_cgroup_proc(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "1/net/dev", "meminfo", "stat", NULL };
	struct cg_reader r;
	struct fcg_dir d;
	uint64_t swap;
	int64_t btime;

	fcg_dir_make(&d, names, data, size);
	cg_reader_init(&r);
	if (cg_read_netdev(&r, d.path, 1, 5) == 0)
		for (size_t i = 0; i < r.nnets; i++) {
			FUZZ_CHECK(r.nets[i].row == 5);
			FUZZ_CHECK(r.nets[i].name[0] != '\0');
			FUZZ_CHECK(memchr(r.nets[i].name, '\0', sizeof(r.nets[i].name)) != NULL);
		}
	(void)cg_read_meminfo_swap(&r, d.path, &swap);
	(void)cg_read_btime(&r, d.path, &btime);
	cg_reader_fini(&r);
	fcg_dir_remove(&d);
	return 0;
}
