/* The node collector: the table of sub-collectors, failure isolation and the
 * node_scrape_collector_* meta families. */
#include "collect/node/node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/vec.h"
#include "collect/node/node_int.h"

struct node_sub {
	const char *name;               /* node-exporter's collector name */
	int (*fn)(struct node_ctx *ctx);
	bool off_by_default;            /* node_exporter's defaultDisabled */
};

/* Alphabetical, as node-exporter lists its collectors (textfile last). */
static const struct node_sub node_subs[] = {
	{ .name = "arp", .fn = node_arp },
	{ .name = "bonding", .fn = node_bonding },
	{ .name = "conntrack", .fn = node_conntrack },
	{ .name = "cpu", .fn = node_cpu },
	{ .name = "cpufreq", .fn = node_cpufreq },
	{ .name = "diskstats", .fn = node_diskstats },
	{ .name = "entropy", .fn = node_entropy },
	{ .name = "filefd", .fn = node_filefd },
	{ .name = "filesystem", .fn = node_filesystem },
	{ .name = "hwmon", .fn = node_hwmon },
	{ .name = "loadavg", .fn = node_loadavg },
	{ .name = "mdadm", .fn = node_mdadm },
	{ .name = "meminfo", .fn = node_meminfo },
	{ .name = "netclass", .fn = node_netclass },
	{ .name = "netdev", .fn = node_netdev },
	{ .name = "netstat", .fn = node_netstat },
	{ .name = "os", .fn = node_os },
	{ .name = "powersupplyclass", .fn = node_powersupply },
	{ .name = "pressure", .fn = node_pressure },
	{ .name = "schedstat", .fn = node_schedstat },
	{ .name = "sockstat", .fn = node_sockstat },
	{ .name = "softnet", .fn = node_softnet },
	{ .name = "stat", .fn = node_stat },
	{ .name = "systemd", .fn = node_systemd, .off_by_default = true },
	{ .name = "thermal_zone", .fn = node_thermal_zone },
	{ .name = "time", .fn = node_time },
	{ .name = "timex", .fn = node_timex },
	{ .name = "udp_queues", .fn = node_udp_queues },
	{ .name = "uname", .fn = node_uname },
	{ .name = "vmstat", .fn = node_vmstat },
	/* Last: it leaves out a family another collector already wrote. */
	{ .name = "textfile", .fn = node_textfile },
};

#define NSUBS (sizeof(node_subs) / sizeof(node_subs[0]))

_Static_assert(NSUBS <= 64, "node_opts.disabled has one bit per sub-collector");

size_t node_sub_count(void)
{
	return NSUBS;
}

const char *node_sub_name(size_t i)
{
	return i < NSUBS ? node_subs[i].name : NULL;
}

uint64_t node_sub_default_off(void)
{
	uint64_t m = 0;

	for (size_t i = 0; i < NSUBS; i++)
		if (node_subs[i].off_by_default)
			m |= 1ull << i;
	return m;
}

int node_sub_index(const char *name)
{
	for (size_t i = 0; i < NSUBS; i++)
		if (strcmp(node_subs[i].name, name) == 0)
			return (int)i;
	return -1;
}

static struct rx *compile_default(const char *pattern)
{
	char err[256];
	struct rx *r = rx_new_search(pattern, err, sizeof(err));

	/* The defaults are constants: failing to compile them is a bug. They use
	 * node-exporter's (Go) search semantics, not Prometheus anchoring. */
	if (!r)
		log_error("node", "default regex: %s", err);
	return r;
}

/* Descriptors the fd cache may hold: NODE_FDCACHE_MAX, but at most a
 * quarter of RLIMIT_NOFILE so HTTP connections and the Kubernetes client
 * always have room. */
static size_t fdcache_limit(void)
{
	struct rlimit rl;
	size_t max = NODE_FDCACHE_MAX;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur / 4 < max)
		max = (size_t)(rl.rlim_cur / 4);
	return max;
}

struct node_collector *node_collector_new(void)
{
	struct node_collector *nc = calloc(1, sizeof(*nc));

	if (!nc)
		return NULL;
	pthread_mutex_init(&nc->mu, NULL);
	fdcache_init(&nc->fds, fdcache_limit());
	procfile_init(&nc->pf, &nc->fds);
	procfile_init(&nc->pf2, &nc->fds);
	nc->def_mount_exclude = compile_default(NODE_DEF_MOUNT_EXCLUDE);
	nc->def_fstype_exclude = compile_default(NODE_DEF_FSTYPE_EXCLUDE);
	nc->def_disk_exclude = compile_default(NODE_DEF_DISK_EXCLUDE);
	nc->def_vmstat_fields = compile_default(NODE_DEF_VMSTAT_FIELDS);
	nc->def_netstat_fields = compile_default(NODE_DEF_NETSTAT_FIELDS);
	nc->limits = calloc(NSUBS, sizeof(*nc->limits));
	nc->stuck = stuck_set_new();
	nc->statfs_fn = statfs;
	if (!nc->stuck || !nc->def_mount_exclude || !nc->def_fstype_exclude || !nc->def_disk_exclude ||
	    !nc->def_vmstat_fields || !nc->def_netstat_fields || !nc->limits) {
		node_collector_free(nc);
		return NULL;
	}
	return nc;
}

void node_collector_free(struct node_collector *nc)
{
	if (!nc)
		return;
	rx_free(nc->def_mount_exclude);
	rx_free(nc->def_fstype_exclude);
	rx_free(nc->def_disk_exclude);
	rx_free(nc->def_vmstat_fields);
	rx_free(nc->def_netstat_fields);
	procfile_fini(&nc->pf);
	procfile_fini(&nc->pf2);
	node_dirs_fini(nc);
	free(nc->thr_absent_sysfs);
	free(nc->os.text);
	free(nc->os.path);
	fdcache_fini(&nc->fds);
	for (size_t i = 0; i < NODE_RXC_N; i++)
		rxcache_fini(&nc->rxc[i]);
	for (size_t i = 0; i < NODE_NS_LINES; i++) {
		free(nc->ns_lines[i].hdr);
		free(nc->ns_lines[i].match);
		free(nc->ns_lines[i].fld);
	}
	free(nc->cpu);
	free(nc->cpu_new);
	free(nc->rows);
	free(nc->limits);
	stuck_set_unref(nc->stuck);
	pthread_mutex_destroy(&nc->mu);
	free(nc);
}

int node_rows_reserve(struct node_collector *nc, size_t bytes)
{
	/* Bounded by the /proc file the rows are parsed from. */
	return vec_reserve(&nc->rows, &nc->rows_alloc, bytes, 1, 4096, VEC_UNBOUNDED);
}

void node_seen_reset(struct node_seen *s)
{
	s->n = 0;
}

/* 64-bit hash of a name, 8 bytes a step: FNV-1a's multiply per byte is a
 * serial chain (~100 cycles for a 25-byte name, ~170 names a scrape). Each
 * step h = mix(h ^ word) is a bijection (odd multiply, xor-shift), so names
 * of one length that differ in one word never collide; the length seeds h. */
static uint64_t name_hash(const char *name)
{
	const uint64_t k1 = 0xff51afd7ed558ccdull, k2 = 0xc4ceb9fe1a85ec53ull;
	size_t n = strlen(name), i = 0;
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, name + i, 8);
		h = (h ^ w) * k1;
		h ^= h >> 32;
	}
	w = 0;
	for (size_t k = 0; i + k < n; k++)
		w |= (uint64_t)(unsigned char)name[i + k] << (8 * k);
	h = (h ^ w) * k2;
	h ^= h >> 29;
	h *= k1;
	h ^= h >> 32;
	return h;
}

int node_seen_add(struct node_seen *s, const char *name)
{
	uint64_t h = name_hash(name);

	/* A linear scan: a few hundred names at most, once per scrape. */
	for (size_t i = 0; i < s->n; i++)
		if (s->h[i] == h)
			return 1;
	if (s->n == NODE_SEEN_MAX)
		return KM_ETOOBIG;
	s->h[s->n++] = h;
	return 0;
}

int node_write1(struct buf *out, const char *name, const char *help, enum expo_type type,
		double v)
{
	return expo_family_sample(out, name, help, type, v);
}

static const char *or_default(const char *s, const char *def)
{
	return s && *s ? s : def;
}

static const struct rx *rx_or(const struct rx *r, const struct rx *def)
{
	return r ? r : def;
}

#ifndef K8SMON_VERSION
#define K8SMON_VERSION "dev"
#endif

#if defined(__x86_64__)
#define NODE_GOARCH "amd64"
#elif defined(__aarch64__)
#define NODE_GOARCH "arm64"
#elif defined(__i386__)
#define NODE_GOARCH "386"
#elif defined(__arm__)
#define NODE_GOARCH "arm"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NODE_GOARCH "ppc64le"
#elif defined(__s390x__)
#define NODE_GOARCH "s390x"
#elif defined(__riscv) && __riscv_xlen == 64
#define NODE_GOARCH "riscv64"
#else
#define NODE_GOARCH "unknown"
#endif

/* node_exporter_build_info, which node-exporter registers outside its
 * collectors and dashboards use to list instances (node-mixin's "USE
 * Method / Node" fills its instance dropdown from it). Same label names;
 * version is k8smon's, goarch in Go's spelling, goversion empty (no Go). */
static int write_build_info(struct buf *out)
{
	static const char *const name = "node_exporter_build_info";
	const struct label_pair l[] = {
		{ "branch", "" },
		{ "goarch", NODE_GOARCH },
		{ "goos", "linux" },
		{ "goversion", "" },
		{ "revision", "unknown" },
		{ "tags", "unknown" },
		{ "version", K8SMON_VERSION },
	};
	int rc = expo_family(out, name,
			     "A metric with a constant '1' value labeled by version, revision, branch, goversion from which node_exporter was built, and the goos and goarch for the build.",
			     EXPO_GAUGE);

	if (!rc)
		rc = expo_sample(out, name, l, sizeof(l) / sizeof(l[0]), 1);
	return rc;
}

struct sub_result {
	double seconds;
	bool ran;
	bool ok;
};

static int write_meta(struct buf *out, const struct sub_result *res)
{
	struct label_pair l;
	int rc;

	l.name = "collector";
	rc = expo_family(out, "node_scrape_collector_duration_seconds",
			 "node_exporter: Duration of a collector scrape.", EXPO_GAUGE);
	for (size_t i = 0; !rc && i < NSUBS; i++) {
		if (!res[i].ran)
			continue;
		l.value = node_subs[i].name;
		rc = expo_sample(out, "node_scrape_collector_duration_seconds", &l, 1,
				 res[i].seconds);
	}
	if (!rc)
		rc = expo_family(out, "node_scrape_collector_success",
				 "node_exporter: Whether a collector succeeded.", EXPO_GAUGE);
	for (size_t i = 0; !rc && i < NSUBS; i++) {
		if (!res[i].ran)
			continue;
		l.value = node_subs[i].name;
		rc = expo_sample(out, "node_scrape_collector_success", &l, 1, res[i].ok ? 1 : 0);
	}
	return rc;
}

int node_collect(struct node_collector *nc, const struct node_opts *opts, struct buf *out,
		 struct collect_stats *stats)
{
	static const struct node_opts no_opts;
	struct sub_result res[NSUBS];
	struct node_ctx ctx;
	size_t start = out->len;
	char sname[STATS_NAME_MAX];
	int rc;

	if (!opts)
		opts = &no_opts;
	memset(res, 0, sizeof(res));
	ctx.nc = nc;
	ctx.out = out;
	ctx.procfs = or_default(opts->procfs, "/proc");
	ctx.sysfs = or_default(opts->sysfs, "/sys");
	ctx.rootfs = or_default(opts->rootfs, "/");
	ctx.mount_points_exclude = rx_or(opts->mount_points_exclude, nc->def_mount_exclude);
	ctx.fs_types_exclude = rx_or(opts->fs_types_exclude, nc->def_fstype_exclude);
	ctx.netdev_exclude = opts->netdev_exclude;
	ctx.netdev_include = opts->netdev_include;
	ctx.diskstats_include = opts->diskstats_include;
	ctx.netclass_exclude = opts->netclass_exclude;
	ctx.diskstats_exclude = rx_or(opts->diskstats_exclude, nc->def_disk_exclude);
	ctx.vmstat_fields = rx_or(opts->vmstat_fields, nc->def_vmstat_fields);
	ctx.netstat_fields = rx_or(opts->netstat_fields, nc->def_netstat_fields);
	ctx.textfile_dir = opts->textfile_dir;
	ctx.mount_timeout_ms = opts->mount_timeout_ms > 0 ? opts->mount_timeout_ms : 5000;
	ctx.out_start = start;
	ctx.opts = opts;

	pthread_mutex_lock(&nc->mu);
	for (size_t i = 0; i < NSUBS; i++) {
		const struct node_sub *s = &node_subs[i];
		size_t mark = out->len;
		int64_t t0;
		bool nodata;

		if (opts->collectors && !rx_match(opts->collectors, s->name, strlen(s->name)))
			continue;
		if (opts->disabled & (1ull << i))
			continue;
		if (s->off_by_default && !(opts->enabled & (1ull << i)))
			continue;
		t0 = clock_mono_ns();
		rc = s->fn(&ctx);
		res[i].seconds = (double)(clock_mono_ns() - t0) / 1e9;
		res[i].ran = true;
		res[i].ok = rc == 0;
		/* KM_ENODATA is node_exporter's ErrNoData: the subsystem is
		 * absent here (no bonding, no /proc/schedstat). success stays 0
		 * as there, but it is not a failure to count or alert on. */
		nodata = rc == KM_ENODATA;
		if (rc) {
			/* Never a partial family: drop everything this one wrote. */
			buf_truncate(out, mark);
			log_limited(&nc->limits[i], 60000, nodata ? LOG_DEBUG : LOG_WARN, "node",
				    "collector %s %s: %s (last file %s)", s->name,
				    nodata ? "returned no data" : "failed", km_strerror(rc),
				    nc->pf.path);
		}
		if (stats) {
			node_cat(sname, sizeof(sname), (const struct node_span[]){ NS("node."), NSS(s->name) }, 2);
			collect_stats_record(stats, sname, res[i].seconds, res[i].ok || nodata);
		}
	}
	rc = write_meta(out, res);
	if (!rc)
		rc = write_build_info(out);
	node_dirs_sweep(nc);
	fdcache_sweep(&nc->fds);
	for (size_t i = 0; i < NODE_RXC_N; i++)
		rxcache_sweep(&nc->rxc[i]);
	pthread_mutex_unlock(&nc->mu);
	if (rc)
		buf_truncate(out, start);
	return rc;
}
