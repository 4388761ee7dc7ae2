/* cgroup v1 readers: cgv1_read with every controller in one directory
 * (cpuacct.*, cpu.*, memory.*, pids.*) and cgv1_read_io (blkio, two of the
 * candidate file names per kind so the fallback runs). Sections of the
 * input, split at NUL bytes, in the order of names[] below. Invariants as
 * for v2. */
#include "collect/container/cgread.h"
#include "fuzz/fuzz_cgroup.h"

int fuzz_cgroup_v1(const uint8_t *data, size_t size)
{
	static const char *const names[] = {
		"cgroup.procs", "cpuacct.usage", "cpuacct.stat", "cpu.shares",
		"cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.stat", "memory.limit_in_bytes",
		"memory.usage_in_bytes", "memory.use_hierarchy", "memory.stat",
		"memory.max_usage_in_bytes", "memory.failcnt", "memory.oom_control",
		"pids.current", "pids.max", "blkio.io_service_bytes_recursive",
		"blkio.throttle.io_service_bytes", "blkio.io_serviced_recursive",
		"blkio.throttle.io_serviced", NULL,
	};
	struct cg_reader r;
	struct cg_stats st;
	struct fcg_dir d;
	int fds[CG_C_COUNT];

	fcg_dir_make(&d, names, data, size);
	for (int i = 0; i < CG_C_COUNT; i++)
		fds[i] = d.fd;
	cg_reader_init(&r);
	if (cgv1_read(&r, fds, &st) == 0 && (st.have & CGS_MEM))
		FUZZ_CHECK(st.working_set <= st.mem_usage);
	if (cgv1_read_io(&r, d.fd, 3) == 0)
		for (size_t i = 0; i < r.nios; i++)
			FUZZ_CHECK(r.ios[i].row == 3);
	cg_reader_fini(&r);
	fcg_dir_remove(&d);
	return 0;
}
