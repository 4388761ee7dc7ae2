/* Internals shared by the node sub-collectors (not part of the public API).
 *
 * Each sub-collector is one function in its own file, listed in the static
 * table in node.c. It appends its families to ctx->out and returns 0 or a
 * negative KM_* code; on failure node.c rolls its output back, so a
 * sub-collector may return from the middle of a family without cleaning up
 * what it already wrote. All sub-collectors run with the collector mutex
 * held, so they may use the reusable state in struct node_collector. */
#ifndef K8SMON_COLLECT_NODE_INT_H
#define K8SMON_COLLECT_NODE_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/rx.h"
#include "collect/node/node.h"
#include "expo/writer.h"

/* Largest file one read may return. /proc/net/dev with thousands of veth
 * devices or mountinfo with thousands of pod volumes stay well below this. */
#define PROCFILE_CAP (8u << 20)

/* A reusable read buffer: one file at a time, memory kept between scrapes so
 * the steady state allocates nothing. */
struct procfile {
	struct buf b;          /* owned; file contents of the last read */
	char path[PATH_MAX];   /* path of the last read, for log lines */
};

void procfile_init(struct procfile *pf);
void procfile_fini(struct procfile *pf);
/* Reads the whole file base/rel into pf (read() until EOF). On success
 * *data and *len describe the bytes (NUL-terminated, borrowed, valid until the
 * next read into pf). Errors: KM_ENOENT, KM_EACCES, KM_EIO, KM_ETOOBIG (file
 * larger than PROCFILE_CAP), KM_EINVAL (path too long). */
int procfile_read(struct procfile *pf, const char *base, const char *rel,
		  const char **data, size_t *len);
/* Joins base and rel into dst (dstlen bytes) with exactly one '/' between. */
int node_path_join(char *dst, size_t dstlen, const char *base, const char *rel);

/* Per-CPU counters in seconds, in /proc/stat column order. */
enum { CPU_USER, CPU_NICE, CPU_SYSTEM, CPU_IDLE, CPU_IOWAIT, CPU_IRQ, CPU_SOFTIRQ,
       CPU_STEAL, CPU_GUEST, CPU_GUEST_NICE, CPU_NFIELDS };

struct cpu_times {
	bool present;             /* seen in the last successful scrape */
	double v[CPU_NFIELDS];
};

/* Highest CPU number accepted from /proc/stat (bounds the cache). */
#define NODE_CPU_MAX 8192

/* State owned by one collector; everything is guarded by mu. */
struct node_collector {
	pthread_mutex_t mu;
	/* Default filters, compiled once (used when opts leave them NULL). */
	struct rx *def_mount_exclude;
	struct rx *def_fstype_exclude;
	struct rx *def_disk_exclude;
	struct rx *def_vmstat_fields;
	struct rx *def_netstat_fields;
	struct procfile pf;      /* main read buffer */
	struct procfile pf2;     /* second buffer for reads nested in a parse */
	/* CPU counter hygiene cache, indexed by CPU number. */
	struct cpu_times *cpu;   /* owned; ncpu entries */
	size_t ncpu;
	struct cpu_times *cpu_new; /* owned scratch: this scrape's values */
	size_t ncpu_new;
	/* Scratch for collectors that parse rows before writing families. */
	void *rows;              /* owned */
	size_t rows_alloc;       /* bytes allocated */
	struct log_limit *limits; /* owned; one per sub-collector */
};

/* Options with every default filled in, plus the output. */
struct node_ctx {
	struct node_collector *nc;
	struct buf *out;
	const char *procfs, *sysfs, *rootfs;
	const struct rx *mount_points_exclude;
	const struct rx *fs_types_exclude;
	const struct rx *netdev_exclude;     /* may be NULL: nothing excluded */
	const struct rx *netclass_exclude;   /* may be NULL: nothing excluded */
	const struct rx *diskstats_exclude;
	const struct rx *vmstat_fields;
	const struct rx *netstat_fields;
};

/* Makes nc->rows hold at least bytes bytes (contents kept). */
int node_rows_reserve(struct node_collector *nc, size_t bytes);

/* Mountpoint as node-exporter labels it: the rootfs prefix removed by a
 * plain string-prefix trim, "" becoming "/"; unchanged when rootfs is "/".
 * Returns a pointer into mp or to a static "/" literal. */
const char *node_strip_rootfs(const char *rootfs, const char *mp);

/* Next line of [*p, end) without its '\n'; false at the end. */
bool node_next_line(const char **p, const char *end, const char **line, size_t *len);

/* Field helpers bound to one line. */
int node_parse_double_field(const char **p, const char *end, double *out);

/* Writes a family with one unlabelled sample. */
int node_write1(struct buf *out, const char *name, const char *help, enum expo_type type,
		double v);

/* Sub-collectors (one per file). */
int node_cpu(struct node_ctx *ctx);
int node_meminfo(struct node_ctx *ctx);
int node_loadavg(struct node_ctx *ctx);
int node_filesystem(struct node_ctx *ctx);
int node_netdev(struct node_ctx *ctx);
int node_netclass(struct node_ctx *ctx);
int node_diskstats(struct node_ctx *ctx);
int node_stat(struct node_ctx *ctx);
int node_vmstat(struct node_ctx *ctx);
int node_pressure(struct node_ctx *ctx);
int node_filefd(struct node_ctx *ctx);
int node_uname(struct node_ctx *ctx);
int node_time(struct node_ctx *ctx);
int node_timex(struct node_ctx *ctx);
int node_os(struct node_ctx *ctx);
int node_netstat(struct node_ctx *ctx);
int node_conntrack(struct node_ctx *ctx);

/* Default filters (node-exporter upstream HEAD, fully anchored by rx). */
#define NODE_DEF_MOUNT_EXCLUDE \
	"^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)"
#define NODE_DEF_FSTYPE_EXCLUDE \
	"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|tracefs)$"
#define NODE_DEF_DISK_EXCLUDE \
	"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\\d+n\\d+p)\\d+$"
#define NODE_DEF_VMSTAT_FIELDS "^(oom_kill|pgpg|pswp|pg.*fault).*"
#define NODE_DEF_NETSTAT_FIELDS \
	"^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$"

#endif
