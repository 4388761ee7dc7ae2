/* Node collector: node-exporter compatible node_* families read from
 * -path.procfs, -path.sysfs and -path.rootfs.
 *
 * A struct node_collector owns the state that must survive between scrapes
 * (per-CPU counter cache, reusable read buffers, compiled default filters) and
 * serialises scrapes with a mutex, so it may be called from any HTTP thread.
 * Options are passed per call so a new configuration applies on the next
 * scrape without rebuilding the collector.
 *
 * Sub-collectors carry node-exporter's collector names: arp, conntrack, cpu,
 * diskstats, entropy, filefd, filesystem, hwmon, loadavg, meminfo, netclass, netdev,
 * mdadm, netstat, os, powersupplyclass, pressure, sockstat, softnet, stat, systemd (off by default), textfile, time, timex,
 * udp_queues, uname, vmstat; node_exporter_build_info is written as
 * node-exporter registers it, outside the collectors. Where node-exporter
 * versions differ, the release pinned in tests/peers/versions is followed
 * (tests/integration/test_node_exporter_latest.sh compares with it). */
#ifndef K8SMON_COLLECT_NODE_H
#define K8SMON_COLLECT_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/rx.h"
#include "collect/stats.h"

struct node_opts {
	const char *procfs;  /* borrowed; NULL or "" means "/proc" */
	const char *sysfs;   /* borrowed; NULL or "" means "/sys" */
	const char *rootfs;  /* borrowed; NULL or "" means "/" */
	/* Borrowed filters; NULL selects node-exporter's upstream default. */
	const struct rx *mount_points_exclude;
	const struct rx *fs_types_exclude;
	const struct rx *netdev_exclude;      /* default: none (lo is exported) */
	const struct rx *netdev_include;      /* default: none (every device) */
	const struct rx *diskstats_exclude;
	/* Given: diskstats keeps only the matching devices and the default
	 * exclude does not apply (as node_exporter's device-include). */
	const struct rx *diskstats_include;
	const struct rx *netclass_exclude;    /* default: none */
	const struct rx *vmstat_fields;       /* default ^(oom_kill|pgpg|pswp|pg.*fault).* */
	const struct rx *netstat_fields;      /* default: node-exporter's field list */
	/* Borrowed; node-exporter's --collector.textfile.directory (a
	 * directory or a glob); NULL or "": none (textfile reports only
	 * node_textfile_scrape_error 0, as node-exporter). */
	const char *textfile_dir;
	/* Borrowed; sub-collector names to run (e.g. "cpu|meminfo"); NULL runs all. */
	const struct rx *collectors;
	/* node_exporter's --collector.filesystem.mount-timeout: how long a
	 * statfs() may take before the mount is reported as stuck
	 * (device_error "mountpoint timeout") and skipped until the call
	 * returns. 0: 5 s. */
	int64_t mount_timeout_ms;
	/* Sub-collectors switched off, bit i for node_sub_name(i)
	 * (-no-collector.<name>, -collector.disable-defaults). */
	uint64_t disabled;
	/* Off-by-default sub-collectors switched on (-collector.systemd), bit i
	 * for node_sub_name(i); disabled still wins. */
	uint64_t enabled;
	/* hwmon: node_exporter's --collector.hwmon.chip-include/-exclude (on
	 * the chip label) and sensor-include/-exclude (on "<chip>;<sensor>");
	 * search semantics; NULL: none. */
	const struct rx *hwmon_chip_include;
	const struct rx *hwmon_chip_exclude;
	const struct rx *hwmon_sensor_include;
	const struct rx *hwmon_sensor_exclude;
	/* powersupplyclass: --collector.powersupply.ignored-supplies (search
	 * semantics); NULL: upstream's ^$, which ignores nothing. */
	const struct rx *powersupply_ignored;
	/* systemd (off by default): --collector.systemd.unit-include/-exclude,
	 * fully anchored; NULL include: ".+", NULL exclude: upstream's default. */
	const struct rx *systemd_unit_include;
	const struct rx *systemd_unit_exclude;
	bool systemd_private;             /* only systemd's private socket */
	bool systemd_task_metrics;        /* --collector.systemd.enable-task-metrics */
	bool systemd_restarts_metrics;    /* ...enable-restarts-metrics */
	bool systemd_start_time_metrics;  /* ...enable-start-time-metrics */
};

/* The sub-collectors, in the order node_collect() runs them: how many,
 * the name of the i-th (static string), and the index of a name (-1 when
 * there is no such sub-collector). At most 64. */
size_t node_sub_count(void);
const char *node_sub_name(size_t i);
int node_sub_index(const char *name);
/* Bit i set: node_sub_name(i) runs only when node_opts.enabled has it
 * (systemd, as node_exporter's defaultDisabled collectors). */
uint64_t node_sub_default_off(void);

struct node_collector;

/* Returns a new collector or NULL on allocation failure. */
struct node_collector *node_collector_new(void);
/* Frees nc and everything it owns; NULL is a no-op. */
void node_collector_free(struct node_collector *nc);

/* Appends every node_* family to out, plus node_scrape_collector_{duration_seconds,success}.
 * A sub-collector whose files are missing or malformed (or whose output did
 * not fit) is skipped with its partial output rolled back, reported with
 * success 0 and recorded in stats as "node.<name>" (stats may be NULL).
 * Returns 0, or KM_ETOOBIG/KM_ENOMEM when out cannot hold even the
 * node_scrape_collector_* families (out is then rolled back to its length on entry). */
int node_collect(struct node_collector *nc, const struct node_opts *opts, struct buf *out,
		 struct collect_stats *stats);

#endif
