/* cgroup v2 readers: cgv2_read (cpu.stat, cpu.weight, cpu.max, memory.max,
 * memory.current, memory.stat, memory.peak, memory.swap.current,
 * memory.events, pids.current, pids.max) for a container cgroup and for the
 * root, cgv2_read_io (io.stat) and cg_first_pid (cgroup.procs). Sections of
 * the input, split at NUL bytes, in the order of names[] below.
 * Invariants: the working set never exceeds the usage; every io entry
 * belongs to the row it was read for. */
#include "collect/container/cgread.h"
#include "fuzz/fuzz_cgroup.h"

int fuzz_cgroup_v2(const uint8_t *data, size_t size)
{
	static const char *const names[] = {
		"cgroup.procs", "cpu.stat", "cpu.weight", "cpu.max", "memory.max",
		"memory.current", "memory.stat", "memory.peak", "memory.swap.current",
		"memory.events", "pids.current", "pids.max", "io.stat", NULL,
	};
	struct cg_reader r;
	struct cg_stats st;
	struct fcg_dir d;
	uint64_t pid;

	fcg_dir_make(&d, names, data, size);
	cg_reader_init(&r);
	for (int root = 0; root < 2; root++) {
		if (cgv2_read(&r, d.fd, root, &st) == 0 && (st.have & CGS_MEM))
			FUZZ_CHECK(st.working_set <= st.mem_usage);
	}
	if (cgv2_read_io(&r, d.fd, 7) == 0)
		for (size_t i = 0; i < r.nios; i++)
			FUZZ_CHECK(r.ios[i].row == 7);
	(void)cg_first_pid(&r, d.fd, &pid);
	cg_reader_fini(&r);
	fcg_dir_remove(&d);
	return 0;
}
