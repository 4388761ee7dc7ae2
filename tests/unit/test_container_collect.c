/* Container collector over fixture cgroup trees: v2+systemd+containerd,
 * v1+cgroupfs+docker, v1+systemd+CRI-O, hybrid, host mode, malformed and
 * missing files. Values are asserted exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <jansson.h>

#include "base/err.h"
#include "collect/container/container.h"
#include "collect/container/podmap.h"
#include "collect/stats.h"
#include "container/fake_crio.h"
#include "container/fixture.h"
#include "dl/curl.h"

/* Allocation counter for test_steady_state_no_alloc: glibc lets a program
 * replace malloc, calloc, realloc and free (its own reallocarray, strdup,
 * qsort and friends call them through the PLT), so every heap allocation of
 * the process passes here. ASan brings its own allocator: not under ASan. */
#if defined(__SANITIZE_ADDRESS__)
#define COUNT_ALLOCS 0
#else
#define COUNT_ALLOCS 1
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
static _Atomic unsigned long allocs;

void *malloc(size_t n)
{
	allocs++;
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	allocs++;
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	allocs++;
	return __libc_realloc(p, n);
}

void free(void *p)
{
	__libc_free(p);
}
#endif

#define NOW_MS 1700000000000LL
#define TS " 1700000000000"

#define UID1 "11111111-2222-3333-4444-555555555555"
#define UID1S "11111111_2222_3333_4444_555555555555"
#define UID2 "22222222-2222-3333-4444-555555555555"
#define UID2S "22222222_2222_3333_4444_555555555555"
#define UID3S "33333333_2222_3333_4444_555555555555"
#define ID(c) c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
	      c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c
#define SB1 ID("a")
#define APP ID("b")
#define SIDE ID("c")
#define INIT ID("d")
#define OLD ID("e")
#define NEW ID("f")
#define SB2 ID("9")
#define SB3 ID("8")

struct fx {
	char root[512];
	char proc[600];
	char sys[600];
	struct buf out;
	struct container_collector *cc;
	struct podmap *pm;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(fx_tmpdir(f->root, sizeof(f->root)), 0);
	snprintf(f->proc, sizeof(f->proc), "%s/proc", f->root);
	snprintf(f->sys, sizeof(f->sys), "%s/sys", f->root);
	buf_init(&f->out, 16 << 20);
	f->cc = container_collector_new();
	f->pm = podmap_new();
	assert_non_null(f->cc);
	assert_non_null(f->pm);
	assert_int_equal(fx_write(f->root, "proc/stat", "cpu  1 2 3 4\nbtime 1000\n"), 0);
	assert_int_equal(fx_write(f->root, "proc/meminfo",
				  "MemTotal: 100 kB\nSwapTotal: 2048 kB\nSwapFree: 1024 kB\n"), 0);
	assert_int_equal(fx_write(f->root, "proc/1/net/dev",
		"Inter-|   Receive                                                |  Transmit\n"
		" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
		"    lo: 100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0\n"
		"  eth0: 1000 10 1 2 0 0 0 0 2000 20 3 4 0 0 0 0\n"), 0);
	assert_int_equal(fx_write(f->root, "proc/4242/net/dev",
		"Inter-|   Receive                                                |  Transmit\n"
		" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
		"    lo: 5 1 0 0 0 0 0 0 5 1 0 0 0 0 0 0\n"
		"  eth0: 7000 70 0 1 0 0 0 0 8000 80 0 2 0 0 0 0\n"), 0);
	/* machine facts: 2 sockets x 2 cores; cAdvisor counts distinct "core id"
	 * values (0 and 1) as the physical cores, not per socket */
	assert_int_equal(fx_write(f->root, "proc/cpuinfo",
		"processor\t: 0\nphysical id\t: 0\ncore id\t\t: 0\n\n"
		"processor\t: 1\nphysical id\t: 0\ncore id\t\t: 1\n\n"
		"processor\t: 2\nphysical id\t: 1\ncore id\t\t: 0\n\n"
		"processor\t: 3\nphysical id\t: 1\ncore id\t\t: 1\n"), 0);
	assert_int_equal(fx_write(f->root, "proc/sys/kernel/random/boot_id", "b00t\n"), 0);
	assert_int_equal(fx_write(f->root, "proc/sys/kernel/osrelease", "6.1.0-test\n"), 0);
	assert_int_equal(fx_write(f->root, "etc/machine-id", "m4ch1ne\n"), 0);
	assert_int_equal(fx_write(f->root, "usr/lib/os-release", "NAME=\"X\"\nPRETTY_NAME=\"Test OS 1\"\n"), 0);
	assert_int_equal(fx_write(f->root, "sys/dev/block/8:0/uevent", "MAJOR=8\nMINOR=0\nDEVNAME=sda\nDEVTYPE=disk\n"), 0);
	assert_int_equal(fx_write(f->root, "sys/dev/block/7:0/uevent", "MAJOR=7\nMINOR=0\nDEVNAME=loop0\n"), 0);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	fx_rmtree(f->root);
	buf_fini(&f->out);
	container_collector_free(f->cc);
	podmap_free(f->pm);
	free(f);
	return 0;
}

static void add_pod(struct fx *f, const char *js)
{
	json_error_t e;
	json_t *pod = json_loads(js, 0, &e);

	assert_non_null(pod);
	assert_int_equal(podmap_upsert(f->pm, pod), 0);
	json_decref(pod);
}

static void run(struct fx *f, bool host)
{
	struct container_opts o = {
		.procfs = f->proc, .sysfs = f->sys, .rootfs = f->root, .podmap = host ? NULL : f->pm,
		.now_ms = NOW_MS,
	};

	buf_reset(&f->out);
	assert_int_equal(container_collect(f->cc, &o, &f->out, NULL), 0);
	if (getenv("K8SMON_TEST_DUMP")) {  /* debugging aid: the last exposition */
		FILE *d = fopen(getenv("K8SMON_TEST_DUMP"), "w");

		if (d) {
			fputs(buf_cstr(&f->out), d);
			fclose(d);
		}
	}
}

/* Asserts that the exposition has exactly this line. */
#define HAS(f, line) has_line(f, line, __LINE__)
static void has_line(struct fx *f, const char *line, int at)
{
	const char *s = buf_cstr(&f->out);
	size_t n = strlen(line);

	for (const char *p = strstr(s, line); p; p = strstr(p + 1, line))
		if ((p == s || p[-1] == '\n') && p[n] == '\n')
			return;
	fail_msg("line %d: missing \"%s\" (%zu bytes of output)", at, line, strlen(s));
}

#define LACKS(f, sub) lacks(f, sub, __LINE__)
static void lacks(struct fx *f, const char *sub, int at)
{
	if (strstr(buf_cstr(&f->out), sub))
		fail_msg("line %d: unexpected \"%s\"", at, sub);
}

/* ---- v2 helpers ---- */

static void v2_cg(struct fx *f, const char *rel, const char *cpustat, const char *cpumax,
		  const char *mem_current, const char *memstat, const char *memmax,
		  const char *procs)
{
	char p[1024];
	struct { const char *file; const char *val; } files[] = {
		{ "cgroup.procs", procs }, { "cpu.stat", cpustat }, { "cpu.max", cpumax },
		{ "cpu.weight", "100\n" }, { "memory.current", mem_current },
		{ "memory.stat", memstat }, { "memory.max", memmax },
		{ "memory.peak", "209715200\n" }, { "memory.swap.current", "0\n" },
		{ "memory.events", "low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\n" },
		{ "pids.current", "5\n" }, { "pids.max", "max\n" }, { "cgroup.events", "populated 1\n" },
	};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (!files[i].val)
			continue;
		snprintf(p, sizeof(p), "sys/fs/cgroup%s/%s", rel, files[i].file);
		assert_int_equal(fx_write(f->root, p, files[i].val), 0);
	}
	snprintf(p, sizeof(p), "sys/fs/cgroup%s", rel);
	assert_int_equal(fx_mtime(f->root, p, 1600000000), 0);
}

#define V2STAT "usage_usec 2500000\nuser_usec 1500000\nsystem_usec 1000000\nnr_periods 100\nnr_throttled 7\nthrottled_usec 350000\nnr_bursts 3\nburst_usec 250000\n"
#define V2MEM "anon 52428800\nfile 41943040\nkernel 0\nfile_mapped 1048576\ninactive_file 20971520\n"
#define POD1 "/kubepods.slice/kubepods-pod" UID1S ".slice"
#define POD2 "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID2S ".slice"
#define POD3 "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID3S ".slice"

static void build_v2(struct fx *f)
{
	assert_int_equal(fx_write(f->root, "sys/fs/cgroup/cgroup.controllers", "cpu io memory pids\n"), 0);
	assert_int_equal(fx_write(f->root, "sys/fs/cgroup/cgroup.procs", "1\n"), 0);
	assert_int_equal(fx_write(f->root, "sys/fs/cgroup/cpu.stat", "usage_usec 9000000\nuser_usec 6000000\nsystem_usec 3000000\n"), 0);
	assert_int_equal(fx_write(f->root, "sys/fs/cgroup/memory.stat", "anon 1000\nfile 2000\ninactive_file 500\n"), 0);
	v2_cg(f, "/kubepods.slice", "usage_usec 1\n", NULL, "1\n", "anon 1\nfile 0\n", "max\n", "");
	v2_cg(f, "/kubepods.slice/kubepods-burstable.slice", "usage_usec 1\n", NULL, "1\n", "anon 1\nfile 0\n", "max\n", "");
	v2_cg(f, "/kubepods.slice/kubepods-besteffort.slice", "usage_usec 1\n", NULL, "1\n", "anon 1\nfile 0\n", "max\n", "");
	/* guaranteed pod: sandbox, two containers, an init container */
	v2_cg(f, POD1, V2STAT, "100000 100000\n", "104857600\n", V2MEM, "536870912\n", "");
	v2_cg(f, POD1 "/cri-containerd-" SB1 ".scope", "usage_usec 1000\nuser_usec 0\nsystem_usec 1000\n", "max 100000\n", "4096\n", "anon 4096\nfile 0\ninactive_file 0\n", "max\n", "4242\n");
	v2_cg(f, POD1 "/cri-containerd-" APP ".scope", V2STAT, "50000 100000\n", "104857600\n", V2MEM, "268435456\n", "4300\n4301\n");
	assert_int_equal(fx_write(f->root, "sys/fs/cgroup" POD1 "/cri-containerd-" APP ".scope/io.stat",
				  "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n7:0 rbytes=1 wbytes=1 rios=1 wios=1 dbytes=0 dios=0\n"), 0);
	assert_int_equal(fx_mtime(f->root, "sys/fs/cgroup" POD1 "/cri-containerd-" APP ".scope/cgroup.events", 1600000500), 0);
	assert_int_equal(fx_mtime(f->root, "sys/fs/cgroup" POD1 "/cri-containerd-" APP ".scope", 1600000000), 0);
	v2_cg(f, POD1 "/cri-containerd-" SIDE ".scope", "usage_usec 0\nuser_usec 0\nsystem_usec 0\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n", "max 100000\n", "1000\n", "anon 1000\nfile 0\ninactive_file 4000\n", "max\n", "4400\n");
	v2_cg(f, POD1 "/cri-containerd-" INIT ".scope", "usage_usec 3000000\nuser_usec 2000000\nsystem_usec 1000000\n", "max 100000\n", "0\n", "anon 0\nfile 0\n", "max\n", "");
	/* burstable pod with a restarted container: old and new cgroups */
	v2_cg(f, POD2, "usage_usec 1\n", "max 100000\n", "1\n", "anon 1\nfile 0\n", "max\n", "");
	v2_cg(f, POD2 "/cri-containerd-" SB2 ".scope", "usage_usec 10\n", "max 100000\n", "1\n", "anon 1\nfile 0\n", "max\n", "4500\n");
	v2_cg(f, POD2 "/cri-containerd-" OLD ".scope", "usage_usec 7000000\n", "max 100000\n", "1\n", "anon 1\nfile 0\n", "max\n", "");
	v2_cg(f, POD2 "/cri-containerd-" NEW ".scope", "usage_usec 500000\n", "max 100000\n", "1\n", "anon 1\nfile 0\n", "max\n", "4600\n");
	/* best-effort pod the pod map does not know */
	v2_cg(f, POD3, "usage_usec 1\n", "max 100000\n", "1\n", "anon 1\nfile 0\n", "max\n", "");
	v2_cg(f, POD3 "/cri-containerd-" SB3 ".scope", "usage_usec 20\n", "max 100000\n", "1\n", "anon 1\nfile 0\n", "max\n", "4700\n");
	/* a container cgroup that vanished (no files left) */
	assert_int_equal(fx_mkdir(f->root, "sys/fs/cgroup" POD1 "/cri-containerd-" ID("7") ".scope"), 0);

	add_pod(f, "{\"metadata\":{\"uid\":\"" UID1 "\",\"namespace\":\"default\",\"name\":\"web\"},"
		"\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"nginx:1.25\"},{\"name\":\"side\",\"image\":\"busybox\"}]},"
		"\"status\":{\"initContainerStatuses\":[{\"name\":\"init\",\"containerID\":\"containerd://" INIT "\",\"image\":\"docker.io/library/busybox:1.36\"}],"
		"\"containerStatuses\":[{\"name\":\"app\",\"containerID\":\"containerd://" APP "\",\"image\":\"docker.io/library/nginx:1.25\",\"restartCount\":0},"
		"{\"name\":\"side\",\"containerID\":\"containerd://" SIDE "\",\"image\":\"\"}]}}");
	add_pod(f, "{\"metadata\":{\"uid\":\"" UID2 "\",\"namespace\":\"prod\",\"name\":\"api-0\"},"
		"\"status\":{\"containerStatuses\":[{\"name\":\"api\",\"containerID\":\"containerd://" NEW "\",\"image\":\"ghcr.io/x/api:2\",\"restartCount\":3,"
		"\"lastState\":{\"terminated\":{\"containerID\":\"containerd://" OLD "\",\"exitCode\":1}}}]}}");
}

#define APPL "container=\"app\",id=\"" POD1 "/cri-containerd-" APP ".scope\",image=\"docker.io/library/nginx:1.25\",name=\"" APP "\",namespace=\"default\",pod=\"web\""
#define APPL_CPU "container=\"app\",cpu=\"total\",id=\"" POD1 "/cri-containerd-" APP ".scope\",image=\"docker.io/library/nginx:1.25\",name=\"" APP "\",namespace=\"default\",pod=\"web\""

static void test_v2_systemd_containerd(void **state)
{
	struct fx *f = *state;

	build_v2(f);
	run(f, false);
	/* app container: every family */
	HAS(f, "container_cpu_usage_seconds_total{" APPL_CPU "} 2.5" TS);
	HAS(f, "container_cpu_user_seconds_total{" APPL "} 1.5" TS);
	HAS(f, "container_cpu_system_seconds_total{" APPL "} 1" TS);
	HAS(f, "container_cpu_cfs_periods_total{" APPL "} 100" TS);
	HAS(f, "container_cpu_cfs_throttled_periods_total{" APPL "} 7" TS);
	HAS(f, "container_cpu_cfs_throttled_seconds_total{" APPL "} 0.35" TS);
	HAS(f, "container_cpu_cfs_burst_periods_total{" APPL "} 3" TS);
	HAS(f, "container_cpu_cfs_burst_seconds_total{" APPL "} 0.25" TS);
	HAS(f, "container_memory_usage_bytes{" APPL "} 104857600" TS);
	HAS(f, "container_memory_working_set_bytes{" APPL "} 83886080" TS);
	HAS(f, "container_memory_rss{" APPL "} 52428800" TS);
	HAS(f, "container_memory_cache{" APPL "} 41943040" TS);
	HAS(f, "container_memory_mapped_file{" APPL "} 1048576" TS);
	HAS(f, "container_memory_swap{" APPL "} 0" TS);
	HAS(f, "container_memory_max_usage_bytes{" APPL "} 209715200" TS);
	HAS(f, "container_memory_failcnt{" APPL "} 0" TS);
	HAS(f, "container_oom_events_total{" APPL "} 2" TS);
	HAS(f, "container_threads{" APPL "} 5" TS);
	HAS(f, "container_threads_max{" APPL "} 0" TS);
	HAS(f, "container_spec_memory_limit_bytes{" APPL "} 268435456");
	HAS(f, "container_spec_cpu_quota{" APPL "} 50000");
	HAS(f, "container_spec_cpu_period{" APPL "} 100000");
	HAS(f, "container_spec_cpu_shares{" APPL "} 2597");
	HAS(f, "container_start_time_seconds{" APPL "} 1600000000");
	HAS(f, "container_last_seen{" APPL "} 1700000000" TS);
	HAS(f, "container_fs_reads_bytes_total{container=\"app\",device=\"/dev/sda\",id=\"" POD1 "/cri-containerd-" APP ".scope\",image=\"docker.io/library/nginx:1.25\",name=\"" APP "\",namespace=\"default\",pod=\"web\"} 4096" TS);
	HAS(f, "container_fs_writes_bytes_total{container=\"app\",device=\"/dev/sda\",id=\"" POD1 "/cri-containerd-" APP ".scope\",image=\"docker.io/library/nginx:1.25\",name=\"" APP "\",namespace=\"default\",pod=\"web\"} 8192" TS);
	HAS(f, "container_fs_reads_total{container=\"app\",device=\"/dev/sda\",id=\"" POD1 "/cri-containerd-" APP ".scope\",image=\"docker.io/library/nginx:1.25\",name=\"" APP "\",namespace=\"default\",pod=\"web\"} 1" TS);
	HAS(f, "container_fs_writes_total{container=\"app\",device=\"/dev/sda\",id=\"" POD1 "/cri-containerd-" APP ".scope\",image=\"docker.io/library/nginx:1.25\",name=\"" APP "\",namespace=\"default\",pod=\"web\"} 2" TS);
	LACKS(f, "loop0");
	/* side: unlimited memory -> 0, no quota -> no cfs / quota series, cpu 0 -> no usage */
	HAS(f, "container_spec_memory_limit_bytes{container=\"side\",id=\"" POD1 "/cri-containerd-" SIDE ".scope\",image=\"busybox\",name=\"" SIDE "\",namespace=\"default\",pod=\"web\"} 0");
	HAS(f, "container_memory_working_set_bytes{container=\"side\",id=\"" POD1 "/cri-containerd-" SIDE ".scope\",image=\"busybox\",name=\"" SIDE "\",namespace=\"default\",pod=\"web\"} 0" TS);
	LACKS(f, "container_cpu_cfs_periods_total{container=\"side\"");
	LACKS(f, "container_spec_cpu_quota{container=\"side\"");
	LACKS(f, "container_cpu_usage_seconds_total{container=\"side\"");
	/* init container named */
	HAS(f, "container_cpu_usage_seconds_total{container=\"init\",cpu=\"total\",id=\"" POD1 "/cri-containerd-" INIT ".scope\",image=\"docker.io/library/busybox:1.36\",name=\"" INIT "\",namespace=\"default\",pod=\"web\"} 3" TS);
	/* sandbox: container="", network only here */
	HAS(f, "container_cpu_usage_seconds_total{container=\"\",cpu=\"total\",id=\"" POD1 "/cri-containerd-" SB1 ".scope\",image=\"\",name=\"" SB1 "\",namespace=\"default\",pod=\"web\"} 0.001" TS);
	HAS(f, "container_network_receive_bytes_total{container=\"\",id=\"" POD1 "/cri-containerd-" SB1 ".scope\",image=\"\",interface=\"eth0\",name=\"" SB1 "\",namespace=\"default\",pod=\"web\"} 7000" TS);
	HAS(f, "container_network_transmit_packets_dropped_total{container=\"\",id=\"" POD1 "/cri-containerd-" SB1 ".scope\",image=\"\",interface=\"eth0\",name=\"" SB1 "\",namespace=\"default\",pod=\"web\"} 2" TS);
	LACKS(f, "interface=\"lo\"");
	LACKS(f, "container_network_receive_bytes_total{container=\"app\"");
	/* pod row */
	HAS(f, "container_cpu_usage_seconds_total{container=\"\",cpu=\"total\",id=\"" POD1 "\",image=\"\",name=\"\",namespace=\"default\",pod=\"web\"} 2.5" TS);
	HAS(f, "container_spec_cpu_quota{container=\"\",id=\"" POD1 "\",image=\"\",name=\"\",namespace=\"default\",pod=\"web\"} 100000");
	/* restarted container: both cgroups named "api" */
	HAS(f, "container_cpu_usage_seconds_total{container=\"api\",cpu=\"total\",id=\"" POD2 "/cri-containerd-" OLD ".scope\",image=\"ghcr.io/x/api:2\",name=\"" OLD "\",namespace=\"prod\",pod=\"api-0\"} 7" TS);
	HAS(f, "container_cpu_usage_seconds_total{container=\"api\",cpu=\"total\",id=\"" POD2 "/cri-containerd-" NEW ".scope\",image=\"ghcr.io/x/api:2\",name=\"" NEW "\",namespace=\"prod\",pod=\"api-0\"} 0.5" TS);
	/* unknown pod: id only; its containers id + name */
	HAS(f, "container_cpu_usage_seconds_total{container=\"\",cpu=\"total\",id=\"" POD3 "\",image=\"\",name=\"\",namespace=\"\",pod=\"\"} 1e-06" TS);
	HAS(f, "container_cpu_usage_seconds_total{container=\"\",cpu=\"total\",id=\"" POD3 "/cri-containerd-" SB3 ".scope\",image=\"\",name=\"" SB3 "\",namespace=\"\",pod=\"\"} 2e-05" TS);
	LACKS(f, "container_network_receive_bytes_total{container=\"\",id=\"" POD3);
	/* root: anon+file usage, swap from meminfo, host network */
	HAS(f, "container_cpu_usage_seconds_total{container=\"\",cpu=\"total\",id=\"/\",image=\"\",name=\"\",namespace=\"\",pod=\"\"} 9" TS);
	HAS(f, "container_memory_usage_bytes{container=\"\",id=\"/\",image=\"\",name=\"\",namespace=\"\",pod=\"\"} 3000" TS);
	HAS(f, "container_memory_working_set_bytes{container=\"\",id=\"/\",image=\"\",name=\"\",namespace=\"\",pod=\"\"} 2500" TS);
	HAS(f, "container_memory_swap{container=\"\",id=\"/\",image=\"\",name=\"\",namespace=\"\",pod=\"\"} 1048576" TS);
	HAS(f, "container_network_receive_errors_total{container=\"\",id=\"/\",image=\"\",interface=\"eth0\",name=\"\",namespace=\"\",pod=\"\"} 1" TS);
	LACKS(f, "container_spec_memory_limit_bytes{container=\"\",id=\"/\"");
	/* QoS and kubepods rows */
	HAS(f, "container_memory_usage_bytes{container=\"\",id=\"/kubepods.slice\",image=\"\",name=\"\",namespace=\"\",pod=\"\"} 1" TS);
	HAS(f, "container_memory_usage_bytes{container=\"\",id=\"/kubepods.slice/kubepods-burstable.slice\",image=\"\",name=\"\",namespace=\"\",pod=\"\"} 1" TS);
	/* vanished cgroup skipped, no error */
	LACKS(f, ID("7"));
	HAS(f, "container_scrape_error 0");
	HAS(f, "# TYPE container_cpu_usage_seconds_total counter");
	HAS(f, "# HELP container_memory_working_set_bytes Current working set in bytes.");
}

/* Pod deleted from the map: its rows lose their names; re-added: back. */
static void test_v2_podmap_changes(void **state)
{
	struct fx *f = *state;

	build_v2(f);
	assert_int_equal(podmap_delete(f->pm, "default", "web"), 0);
	run(f, false);
	HAS(f, "container_cpu_usage_seconds_total{container=\"\",cpu=\"total\",id=\"" POD1 "/cri-containerd-" APP ".scope\",image=\"\",name=\"" APP "\",namespace=\"\",pod=\"\"} 2.5" TS);
	assert_int_equal(podmap_delete_uid(f->pm, UID2), 0);
	assert_int_equal(podmap_count(f->pm), 0);
}

static void test_host_mode(void **state)
{
	struct fx *f = *state;

	build_v2(f);
	v2_cg(f, "/system.slice/docker-" APP ".scope", "usage_usec 4000000\n", "max 100000\n", "10\n", "anon 10\nfile 0\n", "max\n", "99\n");
	/* the other runtime hierarchies: docker and containerd (cgroupfs
	 * driver), podman, CRI-O and containerd under system.slice */
	v2_cg(f, "/docker/" SIDE, "usage_usec 1000000\n", "max 100000\n", "10\n", "anon 10\nfile 0\n", "max\n", "98\n");
	v2_cg(f, "/k8s.io/" INIT, "usage_usec 2000000\n", "max 100000\n", "10\n", "anon 10\nfile 0\n", "max\n", "97\n");
	v2_cg(f, "/default/" OLD, "usage_usec 3000000\n", "max 100000\n", "10\n", "anon 10\nfile 0\n", "max\n", "96\n");
	v2_cg(f, "/moby/" NEW, "usage_usec 5000000\n", "max 100000\n", "10\n", "anon 10\nfile 0\n", "max\n", "95\n");
	v2_cg(f, "/machine.slice/libpod-" SB2 ".scope", "usage_usec 6000000\n", "max 100000\n", "10\n", "anon 10\nfile 0\n", "max\n", "94\n");
	v2_cg(f, "/system.slice/crio-" SB3 ".scope", "usage_usec 7000000\n", "max 100000\n", "10\n", "anon 10\nfile 0\n", "max\n", "93\n");
	v2_cg(f, "/system.slice/cri-containerd-" ID("6") ".scope", "usage_usec 8000000\n", "max 100000\n", "10\n", "anon 10\nfile 0\n", "max\n", "92\n");
	/* not containers: a plain service, a name that is not an ID, conmon */
	v2_cg(f, "/docker/not-a-container", "usage_usec 1\n", "max 100000\n", "10\n", "anon 10\nfile 0\n", "max\n", "91\n");
	v2_cg(f, "/system.slice/crio-conmon-" SB3 ".scope", "usage_usec 1\n", "max 100000\n", "10\n", "anon 10\nfile 0\n", "max\n", "90\n");
	assert_int_equal(fx_mkdir(f->root, "sys/fs/cgroup/system.slice/cron.service"), 0);
	run(f, true);
	HAS(f, "container_cpu_usage_seconds_total{container=\"\",cpu=\"total\",id=\"/system.slice/docker-" APP ".scope\",image=\"\",name=\"" APP "\",namespace=\"\",pod=\"\"} 4" TS);
	HAS(f, "container_cpu_usage_seconds_total{container=\"\",cpu=\"total\",id=\"/docker/" SIDE "\",image=\"\",name=\"" SIDE "\",namespace=\"\",pod=\"\"} 1" TS);
	HAS(f, "container_cpu_usage_seconds_total{container=\"\",cpu=\"total\",id=\"/k8s.io/" INIT "\",image=\"\",name=\"" INIT "\",namespace=\"\",pod=\"\"} 2" TS);
	HAS(f, "container_cpu_usage_seconds_total{container=\"\",cpu=\"total\",id=\"/default/" OLD "\",image=\"\",name=\"" OLD "\",namespace=\"\",pod=\"\"} 3" TS);
	HAS(f, "container_cpu_usage_seconds_total{container=\"\",cpu=\"total\",id=\"/moby/" NEW "\",image=\"\",name=\"" NEW "\",namespace=\"\",pod=\"\"} 5" TS);
	HAS(f, "container_cpu_usage_seconds_total{container=\"\",cpu=\"total\",id=\"/machine.slice/libpod-" SB2 ".scope\",image=\"\",name=\"" SB2 "\",namespace=\"\",pod=\"\"} 6" TS);
	HAS(f, "container_cpu_usage_seconds_total{container=\"\",cpu=\"total\",id=\"/system.slice/crio-" SB3 ".scope\",image=\"\",name=\"" SB3 "\",namespace=\"\",pod=\"\"} 7" TS);
	HAS(f, "container_cpu_usage_seconds_total{container=\"\",cpu=\"total\",id=\"/system.slice/cri-containerd-" ID("6") ".scope\",image=\"\",name=\"" ID("6") "\",namespace=\"\",pod=\"\"} 8" TS);
	LACKS(f, "not-a-container");
	LACKS(f, "crio-conmon");
	/* host-runtime containers get no network (only "/" has it) */
	LACKS(f, "container_network_receive_bytes_total{container=\"\",id=\"/docker/");
	HAS(f, "container_cpu_usage_seconds_total{container=\"\",cpu=\"total\",id=\"" POD1 "/cri-containerd-" APP ".scope\",image=\"\",name=\"" APP "\",namespace=\"\",pod=\"\"} 2.5" TS);
	LACKS(f, "cron.service");
	LACKS(f, "namespace=\"default\"");
	/* no pod network in host mode, host network on "/" */
	LACKS(f, "interface=\"eth0\",name=\"" SB1);
	HAS(f, "container_network_receive_bytes_total{container=\"\",id=\"/\",image=\"\",interface=\"eth0\",name=\"\",namespace=\"\",pod=\"\"} 1000" TS);
}

/* ---- v1 ---- */

static void v1_file(struct fx *f, const char *ctrl, const char *rel, const char *file, const char *val)
{
	char p[1024];

	snprintf(p, sizeof(p), "sys/fs/cgroup/%s%s/%s", ctrl, rel, file);
	assert_int_equal(fx_write(f->root, p, val), 0);
}

/* A v1 cgroup in every controller; cpu and cpuacct named as given. */
static void v1_cg(struct fx *f, const char *cpu, const char *cpuacct, const char *rel,
		  const char *usage_ns, const char *quota, const char *limit, const char *procs)
{
	v1_file(f, cpu, rel, "cgroup.procs", procs);
	v1_file(f, cpu, rel, "cpu.shares", "512\n");
	v1_file(f, cpu, rel, "cpu.cfs_period_us", "100000\n");
	v1_file(f, cpu, rel, "cpu.cfs_quota_us", quota);
	v1_file(f, cpu, rel, "cpu.stat", "nr_periods 40\nnr_throttled 4\nthrottled_time 2000000000\nnr_bursts 5\nburst_time 1000000000\n");
	v1_file(f, cpuacct, rel, "cgroup.procs", procs);
	v1_file(f, cpuacct, rel, "cpuacct.usage", usage_ns);
	v1_file(f, cpuacct, rel, "cpuacct.stat", "user 150\nsystem 50\n");
	v1_file(f, "memory", rel, "cgroup.procs", procs);
	v1_file(f, "memory", rel, "memory.usage_in_bytes", "10485760\n");
	v1_file(f, "memory", rel, "memory.max_usage_in_bytes", "20971520\n");
	v1_file(f, "memory", rel, "memory.limit_in_bytes", limit);
	v1_file(f, "memory", rel, "memory.failcnt", "3\n");
	v1_file(f, "memory", rel, "memory.use_hierarchy", "1\n");
	v1_file(f, "memory", rel, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
	v1_file(f, "memory", rel, "memory.stat",
		"cache 1\nrss 2\nmapped_file 3\nswap 4\ninactive_file 5\n"
		"total_cache 4194304\ntotal_rss 5242880\ntotal_mapped_file 65536\ntotal_swap 4096\ntotal_inactive_file 2097152\n");
	v1_file(f, "blkio", rel, "cgroup.procs", procs);
	v1_file(f, "blkio", rel, "blkio.throttle.io_service_bytes_recursive",
		"8:0 Read 1024\n8:0 Write 2048\n8:0 Sync 0\n8:0 Async 0\n8:0 Total 3072\nTotal 3072\n");
	v1_file(f, "blkio", rel, "blkio.throttle.io_serviced_recursive",
		"8:0 Read 3\n8:0 Write 4\n8:0 Total 7\nTotal 7\n");
	v1_file(f, "blkio", rel, "blkio.bfq.io_service_bytes_recursive", "Total 0\n");
	v1_file(f, "pids", rel, "cgroup.procs", procs);
	v1_file(f, "pids", rel, "pids.current", "2\n");
	v1_file(f, "pids", rel, "pids.max", "max\n");
}

#define DPOD "/kubepods/burstable/pod" UID1

static void build_v1_docker(struct fx *f, const char *cpu, const char *cpuacct)
{
	v1_cg(f, cpu, cpuacct, "", "50000000000\n", "-1\n", "9223372036854771712\n", "1\n");
	v1_cg(f, cpu, cpuacct, "/kubepods", "1\n", "-1\n", "9223372036854771712\n", "");
	v1_cg(f, cpu, cpuacct, "/kubepods/burstable", "1\n", "-1\n", "9223372036854771712\n", "");
	v1_cg(f, cpu, cpuacct, DPOD, "3000000000\n", "-1\n", "1073741824\n", "");
	v1_cg(f, cpu, cpuacct, DPOD "/" SB1, "1000000\n", "-1\n", "9223372036854771712\n", "4242\n");
	v1_cg(f, cpu, cpuacct, DPOD "/" APP, "2000000000\n", "25000\n", "536870912\n", "4300\n");
	add_pod(f, "{\"metadata\":{\"uid\":\"" UID1 "\",\"namespace\":\"kube-system\",\"name\":\"dns\"},"
		"\"status\":{\"containerStatuses\":[{\"name\":\"coredns\",\"containerID\":\"docker://" APP "\",\"image\":\"coredns:1.11\",\"restartCount\":2}]}}");
}

#define DAPPL "container=\"coredns\",id=\"" DPOD "/" APP "\",image=\"coredns:1.11\",name=\"k8s_coredns_dns_kube-system_" UID1 "_2\",namespace=\"kube-system\",pod=\"dns\""
#define DSBL "container=\"POD\",id=\"" DPOD "/" SB1 "\",image=\"\",name=\"k8s_POD_dns_kube-system_" UID1 "_0\",namespace=\"kube-system\",pod=\"dns\""

static void check_v1_docker(struct fx *f)
{
	HAS(f, "container_cpu_usage_seconds_total{container=\"coredns\",cpu=\"total\",id=\"" DPOD "/" APP "\",image=\"coredns:1.11\",name=\"k8s_coredns_dns_kube-system_" UID1 "_2\",namespace=\"kube-system\",pod=\"dns\"} 2" TS);
	HAS(f, "container_cpu_user_seconds_total{" DAPPL "} 1.5" TS);
	HAS(f, "container_cpu_system_seconds_total{" DAPPL "} 0.5" TS);
	HAS(f, "container_cpu_cfs_periods_total{" DAPPL "} 40" TS);
	HAS(f, "container_cpu_cfs_throttled_periods_total{" DAPPL "} 4" TS);
	HAS(f, "container_cpu_cfs_throttled_seconds_total{" DAPPL "} 2" TS);
	/* cAdvisor's v1 reader ignores nr_bursts and burst_time */
	HAS(f, "container_cpu_cfs_burst_periods_total{" DAPPL "} 0" TS);
	HAS(f, "container_cpu_cfs_burst_seconds_total{" DAPPL "} 0" TS);
	HAS(f, "container_spec_cpu_quota{" DAPPL "} 25000");
	HAS(f, "container_spec_cpu_period{" DAPPL "} 100000");
	HAS(f, "container_spec_cpu_shares{" DAPPL "} 512");
	HAS(f, "container_spec_memory_limit_bytes{" DAPPL "} 536870912");
	HAS(f, "container_memory_usage_bytes{" DAPPL "} 10485760" TS);
	HAS(f, "container_memory_working_set_bytes{" DAPPL "} 8388608" TS);
	HAS(f, "container_memory_rss{" DAPPL "} 5242880" TS);
	HAS(f, "container_memory_cache{" DAPPL "} 4194304" TS);
	HAS(f, "container_memory_swap{" DAPPL "} 4096" TS);
	HAS(f, "container_memory_mapped_file{" DAPPL "} 65536" TS);
	HAS(f, "container_memory_max_usage_bytes{" DAPPL "} 20971520" TS);
	HAS(f, "container_memory_failcnt{" DAPPL "} 3" TS);
	HAS(f, "container_oom_events_total{" DAPPL "} 1" TS);
	HAS(f, "container_fs_reads_bytes_total{container=\"coredns\",device=\"/dev/sda\",id=\"" DPOD "/" APP "\",image=\"coredns:1.11\",name=\"k8s_coredns_dns_kube-system_" UID1 "_2\",namespace=\"kube-system\",pod=\"dns\"} 1024" TS);
	HAS(f, "container_fs_writes_total{container=\"coredns\",device=\"/dev/sda\",id=\"" DPOD "/" APP "\",image=\"coredns:1.11\",name=\"k8s_coredns_dns_kube-system_" UID1 "_2\",namespace=\"kube-system\",pod=\"dns\"} 4" TS);
	/* huge v1 limit -> 0; quota -1 -> no quota or cfs series */
	HAS(f, "container_spec_memory_limit_bytes{" DSBL "} 0");
	LACKS(f, "container_spec_cpu_quota{" DSBL);
	LACKS(f, "container_cpu_cfs_periods_total{" DSBL);
	HAS(f, "container_network_receive_bytes_total{container=\"POD\",id=\"" DPOD "/" SB1 "\",image=\"\",interface=\"eth0\",name=\"k8s_POD_dns_kube-system_" UID1 "_0\",namespace=\"kube-system\",pod=\"dns\"} 7000" TS);
	HAS(f, "container_spec_memory_limit_bytes{container=\"\",id=\"" DPOD "\",image=\"\",name=\"\",namespace=\"kube-system\",pod=\"dns\"} 1073741824");
	HAS(f, "container_cpu_usage_seconds_total{container=\"\",cpu=\"total\",id=\"/\",image=\"\",name=\"\",namespace=\"\",pod=\"\"} 50" TS);
	HAS(f, "container_scrape_error 0");
}

static void test_v1_cgroupfs_docker(void **state)
{
	struct fx *f = *state;

	build_v1_docker(f, "cpu,cpuacct", "cpu,cpuacct");
	run(f, false);
	check_v1_docker(f);
}

/* Separate cpu and cpuacct mounts plus a unified mount: hybrid, read as v1. */
static void test_hybrid(void **state)
{
	struct fx *f = *state;

	build_v1_docker(f, "cpu", "cpuacct");
	assert_int_equal(fx_write(f->root, "sys/fs/cgroup/unified/cgroup.controllers", ""), 0);
	assert_int_equal(fx_write(f->root, "sys/fs/cgroup/unified/kubepods/cgroup.procs", ""), 0);
	run(f, false);
	check_v1_docker(f);
}

#define CPOD "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID2S ".slice"

static void build_v1_crio(struct fx *f)
{
	v1_cg(f, "cpu,cpuacct", "cpu,cpuacct", "", "1\n", "-1\n", "9223372036854771712\n", "1\n");
	v1_cg(f, "cpu,cpuacct", "cpu,cpuacct", "/kubepods.slice", "1\n", "-1\n", "9223372036854771712\n", "");
	v1_cg(f, "cpu,cpuacct", "cpu,cpuacct", "/kubepods.slice/kubepods-besteffort.slice", "1\n", "-1\n", "9223372036854771712\n", "");
	v1_cg(f, "cpu,cpuacct", "cpu,cpuacct", CPOD, "1\n", "-1\n", "9223372036854771712\n", "");
	v1_cg(f, "cpu,cpuacct", "cpu,cpuacct", CPOD "/crio-" SB1 ".scope", "1000\n", "-1\n", "9223372036854771712\n", "4242\n");
	v1_cg(f, "cpu,cpuacct", "cpu,cpuacct", CPOD "/crio-conmon-" SB1 ".scope", "2000000000\n", "-1\n", "9223372036854771712\n", "4243\n");
	v1_cg(f, "cpu,cpuacct", "cpu,cpuacct", CPOD "/var-lib-x.mount", "1000\n", "-1\n", "9223372036854771712\n", "");
	v1_cg(f, "cpu,cpuacct", "cpu,cpuacct", CPOD "/crio-" APP ".scope", "1500000000\n", "-1\n", "9223372036854771712\n", "4300\n");
	add_pod(f, "{\"metadata\":{\"uid\":\"" UID2 "\",\"namespace\":\"ns1\",\"name\":\"job-x\"},"
		"\"status\":{\"containerStatuses\":[{\"name\":\"work\",\"containerID\":\"cri-o://" APP "\",\"image\":\"quay.io/w:1\",\"restartCount\":0}]}}");
}

static void test_v1_systemd_crio(void **state)
{
	struct fx *f = *state;

	build_v1_crio(f);
	run(f, false);
	HAS(f, "container_cpu_usage_seconds_total{container=\"work\",cpu=\"total\",id=\"" CPOD "/crio-" APP ".scope\",image=\"quay.io/w:1\",name=\"k8s_work_job-x_ns1_" UID2 "_0\",namespace=\"ns1\",pod=\"job-x\"} 1.5" TS);
	HAS(f, "container_network_transmit_bytes_total{container=\"POD\",id=\"" CPOD "/crio-" SB1 ".scope\",image=\"\",interface=\"eth0\",name=\"k8s_POD_job-x_ns1_" UID2 "_0\",namespace=\"ns1\",pod=\"job-x\"} 8000" TS);
	HAS(f, "container_spec_memory_limit_bytes{container=\"work\",id=\"" CPOD "/crio-" APP ".scope\",image=\"quay.io/w:1\",name=\"k8s_work_job-x_ns1_" UID2 "_0\",namespace=\"ns1\",pod=\"job-x\"} 0");
	/* conmon: a raw cgroup to cAdvisor (its CRI-O factory declines it), a row
	 * with only its id and no process limits; systemd's .mount units are not rows */
	HAS(f, "container_cpu_usage_seconds_total{container=\"\",cpu=\"total\",id=\"" CPOD "/crio-conmon-" SB1 ".scope\",image=\"\",name=\"\",namespace=\"\",pod=\"\"} 2" TS);
	LACKS(f, "container_ulimits_soft{container=\"\",id=\"" CPOD "/crio-conmon-");
	LACKS(f, ".mount");
	HAS(f, "container_scrape_error 0");
}

/* Removes the "/" row's container_fs_* lines (the test's real filesystem,
 * which other processes use) from b. */
static void drop_root_fs(struct buf *b)
{
	size_t w = 0;

	for (size_t r = 0; r < b->len;) {
		const char *nl = memchr(b->data + r, '\n', b->len - r);
		size_t n = nl ? (size_t)(nl - (b->data + r)) + 1 : b->len - r;
		bool root_fs = strncmp(b->data + r, "container_fs_", 13) == 0 &&
			       memmem(b->data + r, n, ",id=\"/\",", 8) != NULL;

		if (!root_fs) {
			memmove(b->data + w, b->data + r, n);
			w += n;
		}
		r += n;
	}
	buf_truncate(b, w);
}

/* One scrape by cc with CRI-O's socket sock, into f->out. */
static void run_crio(struct fx *f, struct container_collector *cc, const char *sock,
		     struct collect_stats *st)
{
	struct container_opts o = {
		.procfs = f->proc, .sysfs = f->sys, .rootfs = f->root, .podmap = f->pm,
		.now_ms = NOW_MS, .crio_socket = sock,
	};

	buf_reset(&f->out);
	assert_int_equal(container_collect(cc, &o, &f->out, st), 0);
}

#define CWORK "{container=\"work\",device=\"/dev/sda\",id=\"" CPOD "/crio-" APP ".scope\",image=\"quay.io/w:1\",name=\"k8s_work_job-x_ns1_" UID2 "_0\",namespace=\"ns1\",pod=\"job-x\"}"
#define CPODL "{container=\"POD\",device=\"/dev/sda\",id=\"" CPOD "/crio-" SB1 ".scope\",image=\"\",name=\"k8s_POD_job-x_ns1_" UID2 "_0\",namespace=\"ns1\",pod=\"job-x\"}"

/* CRI-O containers' own container_fs_* rows: CRI-O (a fake on a socket)
 * names the writable layer and log under rootfs; the rows carry the device
 * of the layer's filesystem and its size, the layer's bytes + the log's and
 * the layer's inodes (lstat sums here), 0 for the rest; a cgroup io row of
 * the same device wins over the 0 one (one series per label set). A CRI-O
 * that answers garbage changes nothing else in the exposition. */
static void test_crio_fs_rows(void **state)
{
	struct fx *f = *state;
	struct container_collector *good = container_collector_new();
	struct fake_crio bad_fc = { .ctr_mode = FC_GARBAGE };
	struct fake_crio good_fc = { 0 };
	struct buf base;
	struct buf self;
	struct collect_stats *st = collect_stats_new();
	struct stat sb;
	struct statvfs sv;
	char p[1200];
	char sock[700];
	char want[1024];
	uint64_t bytes = 0;
	char why[256];

	assert_non_null(good);
	assert_non_null(st);
	buf_init(&self, 1 << 20);
	assert_int_equal(dl_curl_load(why, sizeof(why)), 0);
	build_v1_crio(f);
	assert_int_equal(stat(f->root, &sb), 0);
	/* first a filesystem of the same major, another minor: not the layer's */
	snprintf(want, sizeof(want), "20 1 %u:%u / /other rw - ext4 /dev/sdq rw\n"
		 "21 1 %u:%u / / rw - ext4 /dev/sda rw\n", major(sb.st_dev), minor(sb.st_dev) + 1,
		 major(sb.st_dev), minor(sb.st_dev));
	assert_int_equal(fx_mkdir(f->root, "other"), 0);
	assert_int_equal(fx_write(f->root, "proc/1/mountinfo", want), 0);
	assert_int_equal(fx_write(f->root, "layer/diff/usr/data", "0123456789abcdef\n"), 0);
	assert_int_equal(fx_write(f->root, "layer/ctr.log", "a log line\n"), 0);
	assert_int_equal(fx_mkdir(f->root, "layer/merged"), 0);
	for (int i = 0; i < 4; i++) {
		static const char *const rel[] = { "layer/diff", "layer/diff/usr", "layer/diff/usr/data", "layer/ctr.log" };

		snprintf(p, sizeof(p), "%s/%s", f->root, rel[i]);
		assert_int_equal(lstat(p, &sb), 0);
		bytes += (uint64_t)sb.st_blocks * 512;
	}
	assert_int_equal(statvfs(f->root, &sv), 0);

	run(f, false);
	buf_init(&base, 16 << 20);
	assert_int_equal(buf_add(&base, f->out.data, f->out.len), 0);

	/* garbage from CRI-O: the same exposition as without CRI-O */
	snprintf(sock, sizeof(sock), "%s/bad.sock", f->root);
	snprintf(bad_fc.root, sizeof(bad_fc.root), "/layer/merged");
	assert_int_equal(fc_start(&bad_fc, sock), 0);
	run_crio(f, f->cc, sock, NULL);
	assert_int_equal(container_collect_settle(f->cc, 60000), KM_OK);
	run_crio(f, f->cc, sock, st);
	/* the failure is counted: a failed container.crio run in the self metrics */
	assert_int_equal(collect_stats_write(st, &self), 0);
	assert_non_null(strstr(buf_cstr(&self), "k8smon_collector_errors_total{collector=\"container.crio\"} 1\n"));
	assert_non_null(strstr(buf_cstr(&self), "k8smon_collector_errors_total{collector=\"container\"} 0\n"));
	run_crio(f, f->cc, sock, NULL);
	/* (the host filesystem's own free inodes and blocks move meanwhile) */
	drop_root_fs(&base);
	drop_root_fs(&f->out);
	assert_string_equal(buf_cstr(&f->out), buf_cstr(&base));
	assert_true(atomic_load(&bad_fc.requests) >= 2);

	/* CRI-O answering: the rows, for the app and the sandbox (it has eth0) */
	snprintf(sock, sizeof(sock), "%s/good.sock", f->root);
	snprintf(good_fc.root, sizeof(good_fc.root), "/layer/merged");
	snprintf(good_fc.log, sizeof(good_fc.log), "/layer/ctr.log");
	assert_int_equal(fc_start(&good_fc, sock), 0);
	run_crio(f, good, sock, st);
	LACKS(f, "container_fs_usage_bytes{container=\"work\"");  /* not measured yet */
	assert_int_equal(container_collect_settle(good, 60000), KM_OK);
	run_crio(f, good, sock, st);
	buf_reset(&self);
	assert_int_equal(collect_stats_write(st, &self), 0);
	assert_non_null(strstr(buf_cstr(&self), "k8smon_collector_success{collector=\"container.crio\"} 1\n"));
	snprintf(want, sizeof(want), "container_fs_usage_bytes" CWORK " %llu" TS, (unsigned long long)bytes);
	HAS(f, want);
	snprintf(want, sizeof(want), "container_fs_usage_bytes" CPODL " %llu" TS, (unsigned long long)bytes);
	HAS(f, want);
	HAS(f, "container_fs_inodes_total" CWORK " 3" TS);
	HAS(f, "container_fs_inodes_free" CWORK " 0" TS);
	snprintf(want, sizeof(want), "container_fs_limit_bytes" CWORK " %llu" TS,
		 (unsigned long long)sv.f_blocks * sv.f_frsize);
	HAS(f, want);
	HAS(f, "container_fs_io_time_weighted_seconds_total" CWORK " 0" TS);
	HAS(f, "container_fs_reads_merged_total" CWORK " 0" TS);
	/* the cgroup's blkio row of /dev/sda, not a second 0 one */
	HAS(f, "container_fs_reads_total" CWORK " 3" TS);
	LACKS(f, "container_fs_reads_total" CWORK " 0" TS);
	LACKS(f, "container_fs_usage_bytes{container=\"work\",device=\"/dev/sdq\"");
	/* no filesystem rows for the conmon cgroup or the pod */
	LACKS(f, "container_fs_usage_bytes{container=\"\",device=\"/dev/sda\",id=\"" CPOD);

	fc_stop(&bad_fc);
	fc_stop(&good_fc);
	container_collector_free(good);
	collect_stats_free(st);
	buf_fini(&self);
	buf_fini(&base);
}

/* Malformed files drop their families for that cgroup and raise
 * container_scrape_error; missing files drop them silently. */
static void test_malformed_and_missing(void **state)
{
	struct fx *f = *state;
	char p[1024];

	build_v2(f);
	snprintf(p, sizeof(p), "sys/fs/cgroup%s/cri-containerd-%s.scope/memory.stat", POD1, APP);
	assert_int_equal(fx_write(f->root, p, "anon lots\nfile 1\n"), 0);
	snprintf(p, sizeof(p), "sys/fs/cgroup%s/cri-containerd-%s.scope/cpu.max", POD1, APP);
	assert_int_equal(fx_write(f->root, p, "50000\n"), 0);
	snprintf(p, sizeof(p), "%s/sys/fs/cgroup%s/cri-containerd-%s.scope/cpu.stat", f->root, POD1, SIDE);
	assert_int_equal(unlink(p), 0);
	run(f, false);
	LACKS(f, "container_memory_usage_bytes{" APPL);
	LACKS(f, "container_spec_cpu_quota{" APPL);
	HAS(f, "container_cpu_usage_seconds_total{" APPL_CPU "} 2.5" TS);
	HAS(f, "container_spec_memory_limit_bytes{" APPL "} 268435456");
	LACKS(f, "container_cpu_user_seconds_total{container=\"side\"");
	HAS(f, "container_memory_usage_bytes{container=\"side\",id=\"" POD1 "/cri-containerd-" SIDE ".scope\",image=\"busybox\",name=\"" SIDE "\",namespace=\"default\",pod=\"web\"} 1000" TS);
	HAS(f, "container_scrape_error 1");
}

/* A malformed io.stat (v2) or blkio file (v1) drops the fs families of that
 * cgroup only: the other families and cgroups are still exported. */
static void test_malformed_io(void **state)
{
	struct fx *f = *state;
	char p[1024];

	build_v2(f);
	snprintf(p, sizeof(p), "sys/fs/cgroup%s/cri-containerd-%s.scope/io.stat", POD1, APP);
	assert_int_equal(fx_write(f->root, p, "8:0 rbytes=1 wbytes=2 rios=3 wios=4\nsda rbytes=1\n"), 0);
	snprintf(p, sizeof(p), "sys/fs/cgroup%s/cri-containerd-%s.scope/io.stat", POD1, SIDE);
	assert_int_equal(fx_write(f->root, p, "8:0 rbytes=512 wbytes=0 rios=5 wios=0\n"), 0);
	run(f, false);
	LACKS(f, "container_fs_reads_bytes_total{container=\"app\"");
	HAS(f, "container_fs_reads_bytes_total{container=\"side\",device=\"/dev/sda\",id=\"" POD1 "/cri-containerd-" SIDE ".scope\",image=\"busybox\",name=\"" SIDE "\",namespace=\"default\",pod=\"web\"} 512" TS);
	HAS(f, "container_cpu_usage_seconds_total{" APPL_CPU "} 2.5" TS);
	HAS(f, "container_memory_usage_bytes{" APPL "} 104857600" TS);
	HAS(f, "container_scrape_error 1");
}

/* The same on v1: a throttle bytes file with a bad line. */
static void test_malformed_io_v1(void **state)
{
	struct fx *f = *state;

	build_v1_docker(f, "cpu,cpuacct", "cpu,cpuacct");
	v1_file(f, "blkio", DPOD "/" APP, "blkio.throttle.io_service_bytes_recursive", "8:0 Read many\n");
	run(f, false);
	LACKS(f, "container_fs_reads_bytes_total{container=\"coredns\"");
	LACKS(f, "container_fs_writes_total{container=\"coredns\"");
	HAS(f, "container_fs_reads_bytes_total{container=\"POD\",device=\"/dev/sda\",id=\"" DPOD "/" SB1 "\",image=\"\",name=\"k8s_POD_dns_kube-system_" UID1 "_0\",namespace=\"kube-system\",pod=\"dns\"} 1024" TS);
	HAS(f, "container_cpu_usage_seconds_total{container=\"coredns\",cpu=\"total\",id=\"" DPOD "/" APP "\",image=\"coredns:1.11\",name=\"k8s_coredns_dns_kube-system_" UID1 "_2\",namespace=\"kube-system\",pod=\"dns\"} 2" TS);
	HAS(f, "container_scrape_error 1");
}

/* Issue #5: a steady-state scrape allocates nothing. After two warm-up
 * scrapes (arrays, arenas and the output buffer at their size) ten more
 * scrapes of the same tree must not call malloc/calloc/realloc at all. The
 * counter is checked to work first, so the test cannot pass vacuously. */
static void test_steady_state_no_alloc(void **state)
{
#if !COUNT_ALLOCS
	(void)state;
	skip();
#else
	struct fx *f = *state;
	unsigned long before;
	void *p;

	build_v2(f);
	/* more rows than the arrays' first capacities, so growth happened */
	for (int i = 0; i < 70; i++) {
		char rel[256];

		snprintf(rel, sizeof(rel), "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod%08x_0000_4000_8000_000000000000.slice", i);
		v2_cg(f, rel, "usage_usec 5\n", "max 100000\n", "1\n", "anon 1\nfile 0\n", "max\n", "");
	}
	run(f, false);
	run(f, false);
	before = allocs;
	p = malloc(16);
	free(p);
	assert_int_equal(allocs - before, 1);
	before = allocs;
	for (int i = 0; i < 10; i++)
		run(f, false);
	assert_int_equal(allocs - before, 0);
	HAS(f, "container_cpu_usage_seconds_total{" APPL_CPU "} 2.5" TS);
	HAS(f, "container_cpu_usage_seconds_total{container=\"\",cpu=\"total\",id=\"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod00000045_0000_4000_8000_000000000000.slice\",image=\"\",name=\"\",namespace=\"\",pod=\"\"} 5e-06" TS);
#endif
}

/* A symlink rel (under the fixture root) pointing at target. */
static void fx_link(struct fx *f, const char *rel, const char *target)
{
	char p[1024];

	snprintf(p, sizeof(p), "%s/%s", f->root, rel);
	assert_int_equal(symlink(target, p), 0);
}

/* fd tables and limits of the processes in build_v2's APP (4300, 4301) and of
 * pid 1: 4300 has 3 fds, 1 a socket; 4301 has 3, 2 sockets. */
static void build_procs(struct fx *f)
{
	assert_int_equal(fx_mkdir(f->root, "proc/4300/fd"), 0);
	assert_int_equal(fx_mkdir(f->root, "proc/4301/fd"), 0);
	fx_link(f, "proc/4300/fd/0", "/dev/null");
	fx_link(f, "proc/4300/fd/1", "pipe:[7]");
	fx_link(f, "proc/4300/fd/2", "socket:[100]");
	fx_link(f, "proc/4301/fd/0", "/dev/null");
	fx_link(f, "proc/4301/fd/1", "socket:[200]");
	fx_link(f, "proc/4301/fd/2", "socket:[201]");
	assert_int_equal(fx_write(f->root, "proc/4300/limits",
		"Limit                     Soft Limit           Hard Limit           Units     \n"
		"Max cpu time              unlimited            unlimited            seconds   \n"
		"Max open files            1024                 524288               files     \n"), 0);
	assert_int_equal(fx_write(f->root, "proc/1/limits",
		"Limit                     Soft Limit           Hard Limit           Units     \n"
		"Max open files            unlimited            unlimited            files     \n"), 0);
}

#define SIDEL "container=\"side\",id=\"" POD1 "/cri-containerd-" SIDE ".scope\",image=\"busybox\",name=\"" SIDE "\",namespace=\"default\",pod=\"web\""
#define POD1L "container=\"\",id=\"" POD1 "\",image=\"\",name=\"\",namespace=\"default\",pod=\"web\""
#define ROOTL "container=\"\",id=\"/\",image=\"\",name=\"\",namespace=\"\",pod=\"\""

static void test_v2_process_memory(void **state)
{
	struct fx *f = *state;

	build_v2(f);
	build_procs(f);
	assert_int_equal(fx_write(f->root, "sys/fs/cgroup" POD1 "/cri-containerd-" APP ".scope/memory.stat",
		"anon 52428800\nfile 41943040\nkernel 12288\nfile_mapped 1048576\n"
		"active_file 10485760\ninactive_file 20971520\npgfault 1234\npgmajfault 5\n"), 0);
	assert_int_equal(fx_write(f->root, "sys/fs/cgroup" POD1 "/cri-containerd-" APP ".scope/memory.min", "67108864\n"), 0);
	assert_int_equal(fx_write(f->root, "sys/fs/cgroup" POD1 "/cri-containerd-" APP ".scope/memory.swap.max", "max\n"), 0);
	assert_int_equal(fx_write(f->root, "sys/fs/cgroup" POD1 "/cri-containerd-" SIDE ".scope/memory.swap.max", "1048576\n"), 0);
	assert_int_equal(fx_write(f->root, "sys/fs/cgroup" POD1 "/cri-containerd-" APP ".scope/cpu.pressure",
		"some avg10=0.00 avg60=0.00 avg300=0.00 total=1500000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=250000\n"), 0);
	assert_int_equal(fx_write(f->root, "sys/fs/cgroup" POD1 "/cri-containerd-" APP ".scope/memory.pressure",
		"some avg10=1.00 avg60=0.50 avg300=0.10 total=42\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=7\n"), 0);
	assert_int_equal(fx_mtime(f->root, "sys/fs/cgroup", 1500000000), 0);
	run(f, false);
	/* "/": the hierarchy root's mtime (boot time 1000 is earlier) */
	HAS(f, "container_start_time_seconds{" ROOTL "} 1500000000");
	/* pressure (v2): total= in microseconds; "some" waiting, "full" stalled;
	 * no io.pressure -> 0; "/" has none of these files -> 0 */
	HAS(f, "container_pressure_cpu_waiting_seconds_total{" APPL "} 1.5" TS);
	HAS(f, "container_pressure_cpu_stalled_seconds_total{" APPL "} 0.25" TS);
	HAS(f, "container_pressure_memory_waiting_seconds_total{" APPL "} 4.2e-05" TS);
	HAS(f, "container_pressure_memory_stalled_seconds_total{" APPL "} 7e-06" TS);
	HAS(f, "container_pressure_io_waiting_seconds_total{" APPL "} 0" TS);
	HAS(f, "container_pressure_io_stalled_seconds_total{" ROOTL "} 0" TS);
	/* every family once, in name order (client_golang's order) */
	{
		const char *p = buf_cstr(&f->out);
		char prev[128] = "";

		while ((p = strstr(p, "# TYPE ")) != NULL) {
			char cur[128];
			size_t n;

			p += 7;
			n = strcspn(p, " ");
			assert_true(n < sizeof(cur));
			memcpy(cur, p, n);
			cur[n] = '\0';
			if (strcmp(prev, cur) >= 0)
				fail_msg("family %s after %s", cur, prev);
			memcpy(prev, cur, n + 1);
		}
	}
	/* APP: 2 processes, 3 + 3 fds, 1 + 2 sockets; ulimit of 4300 (first) */
	HAS(f, "container_processes{" APPL "} 2" TS);
	HAS(f, "container_file_descriptors{" APPL "} 6" TS);
	HAS(f, "container_sockets{" APPL "} 3" TS);
	HAS(f, "container_ulimits_soft{" APPL ",ulimit=\"max_open_files\"} 1024" TS);
	/* side: its pid 4400 has no /proc entry: counted, nothing open, no ulimit */
	HAS(f, "container_processes{" SIDEL "} 1" TS);
	HAS(f, "container_file_descriptors{" SIDEL "} 0" TS);
	LACKS(f, "container_ulimits_soft{" SIDEL);
	/* the pod cgroup holds no process itself; no root process, no ulimit */
	HAS(f, "container_processes{" POD1L "} 0" TS);
	HAS(f, "container_threads{" POD1L "} 5" TS);
	LACKS(f, "container_ulimits_soft{" POD1L);
	/* "/": pid 1, unlimited -> -1 */
	HAS(f, "container_processes{" ROOTL "} 1" TS);
	HAS(f, "container_ulimits_soft{" ROOTL ",ulimit=\"max_open_files\"} -1" TS);
	/* memory.stat extras */
	HAS(f, "container_memory_kernel_usage{" APPL "} 12288" TS);
	HAS(f, "container_memory_total_active_file_bytes{" APPL "} 10485760" TS);
	HAS(f, "container_memory_total_inactive_file_bytes{" APPL "} 20971520" TS);
	HAS(f, "container_memory_failures_total{container=\"app\",failure_type=\"pgfault\",id=\"" POD1 "/cri-containerd-" APP ".scope\",image=\"docker.io/library/nginx:1.25\",name=\"" APP "\",namespace=\"default\",pod=\"web\",scope=\"container\"} 1234" TS);
	HAS(f, "container_memory_failures_total{container=\"app\",failure_type=\"pgfault\",id=\"" POD1 "/cri-containerd-" APP ".scope\",image=\"docker.io/library/nginx:1.25\",name=\"" APP "\",namespace=\"default\",pod=\"web\",scope=\"hierarchy\"} 1234" TS);
	HAS(f, "container_memory_failures_total{container=\"app\",failure_type=\"pgmajfault\",id=\"" POD1 "/cri-containerd-" APP ".scope\",image=\"docker.io/library/nginx:1.25\",name=\"" APP "\",namespace=\"default\",pod=\"web\",scope=\"container\"} 5" TS);
	/* spec: memory.min, memory.swap.max ("max" -> 0; absent -> 0) */
	HAS(f, "container_spec_memory_reservation_limit_bytes{" APPL "} 67108864");
	HAS(f, "container_spec_memory_swap_limit_bytes{" APPL "} 0");
	HAS(f, "container_spec_memory_swap_limit_bytes{" SIDEL "} 1048576");
	HAS(f, "container_spec_memory_reservation_limit_bytes{" SIDEL "} 0");
	LACKS(f, "container_spec_memory_swap_limit_bytes{" ROOTL);
	/* what the kubelet serves without a load reader or health checks */
	HAS(f, "container_tasks_state{" APPL ",state=\"sleeping\"} 0" TS);
	HAS(f, "container_tasks_state{" APPL ",state=\"iowaiting\"} 0" TS);
	HAS(f, "container_cpu_load_average_10s{" APPL "} 0" TS);
	HAS(f, "container_health_state{" APPL "} -1" TS);
	HAS(f, "container_scrape_error 0");
}

static void test_v1_process_memory(void **state)
{
	struct fx *f = *state;

	build_v1_docker(f, "cpu,cpuacct", "cpu,cpuacct");
	build_procs(f);
	v1_file(f, "cpu,cpuacct", DPOD "/" APP, "cgroup.procs", "4300\n4301\n");
	v1_file(f, "memory", DPOD "/" APP, "memory.stat",
		"cache 1\nrss 2\nmapped_file 3\nswap 4\ninactive_file 5\nactive_file 6\npgfault 70\npgmajfault 8\n"
		"total_cache 4194304\ntotal_rss 5242880\ntotal_mapped_file 65536\ntotal_swap 4096\n"
		"total_inactive_file 2097152\ntotal_active_file 1048576\ntotal_pgfault 900\ntotal_pgmajfault 90\n");
	v1_file(f, "memory", DPOD "/" APP, "memory.kmem.usage_in_bytes", "245760\n");
	v1_file(f, "memory", DPOD "/" APP, "memory.soft_limit_in_bytes", "33554432\n");
	v1_file(f, "memory", DPOD "/" APP, "memory.memsw.limit_in_bytes", "536870912\n");
	run(f, false);
	/* cAdvisor: processes of the cpu controller's cgroup.procs */
	HAS(f, "container_processes{" DAPPL "} 2" TS);
	HAS(f, "container_file_descriptors{" DAPPL "} 6" TS);
	HAS(f, "container_sockets{" DAPPL "} 3" TS);
	HAS(f, "container_ulimits_soft{" DAPPL ",ulimit=\"max_open_files\"} 1024" TS);
	HAS(f, "container_memory_kernel_usage{" DAPPL "} 245760" TS);
	HAS(f, "container_memory_total_active_file_bytes{" DAPPL "} 1048576" TS);
	HAS(f, "container_memory_total_inactive_file_bytes{" DAPPL "} 2097152" TS);
	/* the cgroup's own pgfault for both scopes, as cAdvisor reports it */
	HAS(f, "container_memory_failures_total{container=\"coredns\",failure_type=\"pgfault\",id=\"" DPOD "/" APP "\",image=\"coredns:1.11\",name=\"k8s_coredns_dns_kube-system_" UID1 "_2\",namespace=\"kube-system\",pod=\"dns\",scope=\"hierarchy\"} 70" TS);
	HAS(f, "container_memory_failures_total{container=\"coredns\",failure_type=\"pgmajfault\",id=\"" DPOD "/" APP "\",image=\"coredns:1.11\",name=\"k8s_coredns_dns_kube-system_" UID1 "_2\",namespace=\"kube-system\",pod=\"dns\",scope=\"container\"} 8" TS);
	HAS(f, "container_spec_memory_reservation_limit_bytes{" DAPPL "} 33554432");
	HAS(f, "container_spec_memory_swap_limit_bytes{" DAPPL "} 536870912");
	/* absent soft limit / memsw (no swap accounting) -> 0 */
	HAS(f, "container_spec_memory_swap_limit_bytes{" DSBL "} 0");
	HAS(f, "container_spec_memory_reservation_limit_bytes{" DSBL "} 0");
	LACKS(f, "container_pressure_");  /* the kubelet serves pressure on v2 only */
	HAS(f, "container_scrape_error 0");
}

/* A pressure file without total= is malformed: scrape error, rest kept. */
static void test_malformed_psi(void **state)
{
	struct fx *f = *state;

	build_v2(f);
	assert_int_equal(fx_write(f->root, "sys/fs/cgroup" POD1 "/cri-containerd-" APP ".scope/io.pressure",
		"some avg10=0.00 avg60=0.00\n"), 0);
	run(f, false);
	HAS(f, "container_scrape_error 1");
	HAS(f, "container_pressure_io_waiting_seconds_total{" APPL "} 0" TS);
	HAS(f, "container_cpu_usage_seconds_total{" APPL_CPU "} 2.5" TS);
}

/* The "/" row's host filesystems: mount selection as cAdvisor's (bind mounts,
 * tmpfs by mount point, pseudo and transient mounts out), statfs values and
 * /proc/diskstats columns by hand. */
static void test_root_filesystems(void **state)
{
	struct fx *f = *state;
	struct statvfs sv;
	char want[512];

	build_v2(f);
	assert_int_equal(fx_write(f->root, "proc/1/mountinfo",
		"21 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
		"22 21 254:0 /var/lib/x /mnt/bind rw - ext4 /dev/vda rw\n"
		"23 21 0:23 / /dev/shm rw - tmpfs tmpfs rw\n"
		"24 21 0:27 / /dev/shm rw shared:2 master:1 - tmpfs shm rw\n"
		"25 21 0:5 / /proc rw - proc proc rw\n"
		"26 21 0:40 / /var/lib/kubelet/pods/u/volumes/x rw - tmpfs tmpfs rw\n"
		"27 21 8:17 / /data\\040disk rw - xfs /dev/sdb1 rw\n"
		"28 21 0:50 / /mnt/nfs rw - nfs4 srv:/x rw\n"
		"29 21 259:1 / /fast rw - ext4 /dev/nvme0n1p1 rw\n"
		"30 21 0:60 / /gone rw - ext4 /dev/sdz rw\n"), 0);
	assert_int_equal(fx_write(f->root, "proc/diskstats",
		" 254       0 vda 100 2 300 40 50 6 700 80 0 90 1000\n"
		"   8      17 sdb1 11 12 13 14 15 16 17 18 19 20 21\n"
		/* not a disk name cAdvisor reads, though of /dev/shm's major:minor */
		"   0      27 vdq-x 5 5 5 5 5 5 5 5 5 5 5\n"
		" 259       1 nvme0n1p1 9 9 9 9 9 9 9 9 9 9 9\n"), 0);
	assert_int_equal(fx_mkdir(f->root, "dev/shm"), 0);
	assert_int_equal(fx_mkdir(f->root, "data disk"), 0);
	assert_int_equal(fx_mkdir(f->root, "fast"), 0);
	/* no mnt/bind here: were the bind mount taken for /dev/vda, its statfs
	 * would fail and /dev/vda would be missing */
	run(f, false);
	/* every mount point lives on the test's own filesystem */
	assert_int_equal(statvfs(f->root, &sv), 0);
#define RFS(dev) "{container=\"\",device=\"" dev "\",id=\"/\",image=\"\",name=\"\",namespace=\"\",pod=\"\"}"
	snprintf(want, sizeof(want), "container_fs_limit_bytes" RFS("/dev/vda") " %llu" TS,
		 (unsigned long long)sv.f_blocks * sv.f_frsize);
	HAS(f, want);
	snprintf(want, sizeof(want), "container_fs_inodes_total" RFS("/dev/shm") " %llu" TS,
		 (unsigned long long)sv.f_files);
	HAS(f, want);
	LACKS(f, "device=\"/data disk\"");  /* sdb1 is the device label */
	snprintf(want, sizeof(want), "container_fs_limit_bytes" RFS("/dev/sdb1") " %llu" TS,
		 (unsigned long long)sv.f_blocks * sv.f_frsize);
	HAS(f, want);
	HAS(f, "container_fs_reads_total" RFS("/dev/vda") " 100" TS);
	HAS(f, "container_fs_reads_merged_total" RFS("/dev/vda") " 2" TS);
	HAS(f, "container_fs_sector_reads_total" RFS("/dev/vda") " 300" TS);
	HAS(f, "container_fs_read_seconds_total" RFS("/dev/vda") " 4e-08" TS);  /* ms / 1e9 */
	HAS(f, "container_fs_writes_total" RFS("/dev/vda") " 50" TS);
	HAS(f, "container_fs_writes_merged_total" RFS("/dev/vda") " 6" TS);
	HAS(f, "container_fs_sector_writes_total" RFS("/dev/vda") " 700" TS);
	HAS(f, "container_fs_write_seconds_total" RFS("/dev/vda") " 8e-08" TS);
	HAS(f, "container_fs_io_current" RFS("/dev/vda") " 0" TS);
	HAS(f, "container_fs_io_time_seconds_total" RFS("/dev/vda") " 9e-08" TS);
	HAS(f, "container_fs_io_time_weighted_seconds_total" RFS("/dev/vda") " 1e-06" TS);
	HAS(f, "container_fs_reads_total" RFS("/dev/sdb1") " 11" TS);
	HAS(f, "container_fs_io_time_weighted_seconds_total" RFS("/dev/sdb1") " 2.1e-08" TS);
	/* nvme is not a name cAdvisor reads diskstats for; tmpfs has none */
	HAS(f, "container_fs_reads_total" RFS("/dev/nvme0n1p1") " 0" TS);
	HAS(f, "container_fs_reads_total" RFS("/dev/shm") " 0" TS);
	/* one /dev/shm (the later mount), no bind, pseudo, transient, nfs or
	 * unreachable (statfs fails) filesystem */
	{
		const char *p = buf_cstr(&f->out);
		int n = 0;

		for (p = strstr(p, "container_fs_limit_bytes{"); p; p = strstr(p + 1, "container_fs_limit_bytes{"))
			n++;
		assert_int_equal(n, 4);  /* vda, shm, "data disk" (sdb1), nvme0n1p1 */
	}
	LACKS(f, "device=\"/mnt/bind\"");
	LACKS(f, "device=\"proc\"");
	LACKS(f, "volumes/x");
	LACKS(f, "srv:/x");
	LACKS(f, "/dev/sdz");
	/* container rows have no filesystem rows */
	LACKS(f, "container_fs_usage_bytes{container=\"app\"");
#undef RFS
}

/* -container.sandboxImage labels the sandbox rows, and only them. */
static void test_sandbox_image(void **state)
{
	struct fx *f = *state;
	struct container_opts o = {
		.procfs = f->proc, .sysfs = f->sys, .rootfs = f->root, .podmap = f->pm,
		.sandbox_image = "registry.k8s.io/pause:3.10", .now_ms = NOW_MS,
	};

	build_v2(f);
	buf_reset(&f->out);
	assert_int_equal(container_collect(f->cc, &o, &f->out, NULL), 0);
	HAS(f, "container_cpu_usage_seconds_total{container=\"\",cpu=\"total\",id=\"" POD1 "/cri-containerd-" SB1 ".scope\",image=\"registry.k8s.io/pause:3.10\",name=\"" SB1 "\",namespace=\"default\",pod=\"web\"} 0.001" TS);
	HAS(f, "container_cpu_usage_seconds_total{" APPL_CPU "} 2.5" TS);
	/* the pod row and an unknown pod's sandbox (no pod, so not known as one) */
	HAS(f, "container_cpu_usage_seconds_total{container=\"\",cpu=\"total\",id=\"" POD1 "\",image=\"\",name=\"\",namespace=\"default\",pod=\"web\"} 2.5" TS);
	HAS(f, "container_cpu_usage_seconds_total{container=\"\",cpu=\"total\",id=\"" POD3 "/cri-containerd-" SB3 ".scope\",image=\"\",name=\"" SB3 "\",namespace=\"\",pod=\"\"} 2e-05" TS);
}

static void test_no_cgroups(void **state)
{
	struct fx *f = *state;

	run(f, true);
	HAS(f, "# TYPE container_scrape_error gauge");
	HAS(f, "container_scrape_error 1");
	LACKS(f, "container_cpu");
	/* the machine facts do not depend on cgroups */
	HAS(f, "machine_scrape_error 0");
	HAS(f, "machine_cpu_cores{boot_id=\"b00t\",machine_id=\"m4ch1ne\",system_uuid=\"m4ch1ne\"} 4");
}

/* machine_* and cadvisor_version_info, values from the fixture by hand. */
static void test_machine(void **state)
{
	struct fx *f = *state;
	const char *out;
	char path[700];

#define ML "{boot_id=\"b00t\",machine_id=\"m4ch1ne\",system_uuid=\"uuid-1\"}"
	assert_int_equal(fx_write(f->root, "sys/class/dmi/id/product_uuid", "uuid-1\n"), 0);
	build_v2(f);
	run(f, false);
	HAS(f, "cadvisor_version_info{cadvisorRevision=\"\",cadvisorVersion=\"\",dockerVersion=\"\",kernelVersion=\"6.1.0-test\",osVersion=\"Test OS 1\"} 1");
	HAS(f, "machine_cpu_cores" ML " 4");
	HAS(f, "machine_cpu_physical_cores" ML " 2");
	HAS(f, "machine_cpu_sockets" ML " 2");
	HAS(f, "machine_cpu_books" ML " 0");
	HAS(f, "machine_cpu_drawers" ML " 0");
	HAS(f, "machine_memory_bytes" ML " 102400");     /* MemTotal 100 kB */
	HAS(f, "machine_swap_bytes" ML " 2097152");      /* SwapTotal 2048 kB */
	HAS(f, "machine_nvm_capacity{boot_id=\"b00t\",machine_id=\"m4ch1ne\",mode=\"memory_mode\",system_uuid=\"uuid-1\"} 0");
	HAS(f, "machine_nvm_capacity{boot_id=\"b00t\",machine_id=\"m4ch1ne\",mode=\"app_direct_mode\",system_uuid=\"uuid-1\"} 0");
	HAS(f, "machine_scrape_error 0");
#undef ML
	/* families in name order: version first, machine after every container_* */
	out = buf_cstr(&f->out);
	assert_true(strstr(out, "cadvisor_version_info") < strstr(out, "container_cpu"));
	assert_true(strstr(out, "container_ulimits_soft") < strstr(out, "machine_cpu_books"));
	/* no cpuinfo: a machine scrape error; memory still read */
	snprintf(path, sizeof(path), "%s/cpuinfo", f->proc);
	assert_int_equal(unlink(path), 0);
	run(f, false);
	HAS(f, "machine_scrape_error 1");
	HAS(f, "machine_memory_bytes{boot_id=\"b00t\",machine_id=\"m4ch1ne\",system_uuid=\"uuid-1\"} 102400");
	HAS(f, "container_scrape_error 0");
}

/* A too-small output buffer fails cleanly and rolls back. */
static void test_out_too_small(void **state)
{
	struct fx *f = *state;
	struct container_opts o = { .procfs = f->proc, .sysfs = f->sys, .podmap = f->pm, .now_ms = NOW_MS };
	struct buf b;

	build_v2(f);
	buf_init(&b, 4096);
	assert_int_equal(buf_adds(&b, "keep\n"), 0);
	assert_int_equal(container_collect(f->cc, &o, &b, NULL), KM_ETOOBIG);
	assert_string_equal(buf_cstr(&b), "keep\n");
	buf_fini(&b);
	/* and the next scrape works (state reused) */
	run(f, false);
	HAS(f, "container_cpu_usage_seconds_total{" APPL_CPU "} 2.5" TS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_v2_systemd_containerd, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_v2_podmap_changes, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_host_mode, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_v1_cgroupfs_docker, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_hybrid, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_v1_systemd_crio, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_crio_fs_rows, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_malformed_and_missing, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_malformed_io, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_malformed_io_v1, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_steady_state_no_alloc, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_no_cgroups, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_machine, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_v2_process_memory, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_v1_process_memory, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_malformed_psi, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_root_filesystems, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_sandbox_image, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_out_too_small, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests_name("container_collect", tests, NULL, NULL);
}
