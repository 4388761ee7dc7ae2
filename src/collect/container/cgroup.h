/* Cgroup hierarchy detection, safe path opening and the kubelet-shaped walk.
 *
 * Detection looks at <sysfs>/fs/cgroup: a cgroup.controllers file at the top
 * means the unified (v2) hierarchy; per-controller directories (memory, cpu,
 * cpuacct, "cpu,cpuacct", blkio, pids) mean v1; v1 plus a "unified" v2 mount
 * with cgroup.controllers is the hybrid layout. Hybrid is read like v1 (that is
 * what cAdvisor and runc do: the resource controllers live on v1 there).
 *
 * The walk visits only the hierarchies a kubelet or a container runtime
 * creates (kubepods, kubepods.slice, and in host mode docker, system.slice
 * runtime scopes, machine.slice libpod scopes and containerd's cgroupfs
 * namespaces). It never follows a symlink (directories are opened with
 * RESOLVE_NO_SYMLINKS / O_NOFOLLOW and entries must be real directories), is
 * bounded in depth (CG_MAX_DEPTH) and in the number of cgroups (CG_MAX_NODES),
 * and classifies every directory it keeps: root, kubepods root, QoS class,
 * pod (with its UID) or container (with runtime and ID). */
#ifndef K8SMON_COLLECT_CONTAINER_CGROUP_H
#define K8SMON_COLLECT_CONTAINER_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define CG_MAX_DEPTH 6          /* kubepods/qos/pod/container is 4 */
#define CG_MAX_NODES 20000      /* cgroups kept per walk */
#define CG_UID_MAX 64           /* pod UID (36 for API pods, 32 for static pods) */
#define CG_CID_MAX 128          /* container ID (64 hex in practice) */
#define CG_DENTS_BUF 8192       /* bytes per getdents64() call */

enum cg_mode { CG_NONE = 0, CG_V1, CG_V2, CG_HYBRID };

/* v1 controllers we read; CG_C_UNIFIED is the v2 root in CG_V2 mode. */
enum cg_ctrl { CG_C_CPU = 0, CG_C_CPUACCT, CG_C_MEMORY, CG_C_BLKIO, CG_C_PIDS, CG_C_COUNT };
#define CG_C_UNIFIED CG_C_CPU

struct cg_layout {
	enum cg_mode mode;
	/* Open directory fds of each controller root (v1/hybrid) or of the
	 * unified root (v2, in slot CG_C_UNIFIED, the others -1). Owned; closed
	 * by cg_layout_close(). */
	int root[CG_C_COUNT];
	/* Which root the walk lists (memory, else cpu, else cpuacct in v1). */
	int walk_ctrl;
};

enum cg_kind {
	CG_K_ROOT = 0,   /* "/" */
	CG_K_KUBEPODS,   /* /kubepods or /kubepods.slice */
	CG_K_QOS,        /* burstable / besteffort class */
	CG_K_POD,        /* a pod cgroup, uid set */
	CG_K_CONTAINER,  /* a container under a pod, uid + cid + runtime set */
	CG_K_HOSTCTR,    /* a runtime container outside kubepods (host mode), cid set */
	CG_K_RAW,        /* another cgroup under a pod (CRI-O's crio-conmon-<id>): a row
			  * with only its id, as cAdvisor's raw handler reports it */
};

enum cg_runtime { CG_RT_UNKNOWN = 0, CG_RT_CONTAINERD, CG_RT_CRIO, CG_RT_DOCKER, CG_RT_PODMAN };

struct cg_node {
	uint32_t path;        /* offset in cg_walk.paths: "/kubepods.slice/..." ("/" for root) */
	enum cg_kind kind;
	enum cg_runtime rt;   /* from the name prefix; UNKNOWN for cgroupfs plain IDs */
	char uid[CG_UID_MAX]; /* pod UID with dashes, "" when not a pod/container */
	char cid[CG_CID_MAX]; /* container ID, "" when not a container */
};

/* Reusable result of a walk: nodes plus a string arena for their paths. */
struct cg_walk {
	struct cg_node *nodes; /* owned array */
	size_t n;
	size_t cap;
	struct buf paths;      /* NUL-separated paths, offsets in cg_node.path */
	bool truncated;        /* CG_MAX_NODES or CG_MAX_DEPTH was hit */
	/* getdents64() buffers, one per depth (a listing is open at each level
	 * while the walk recurses); owned, CG_DENTS_BUF bytes, allocated on
	 * first use and reused: opendir() would malloc 32 KiB per directory. */
	char *dents[CG_MAX_DEPTH];
};

/* Fills l for <sysfs>/fs/cgroup. KM_ENOENT when no cgroup hierarchy is found;
 * on any error l holds no open fds. */
int cg_layout_open(struct cg_layout *l, const char *sysfs);
void cg_layout_close(struct cg_layout *l);
const char *cg_mode_name(enum cg_mode mode);

/* Opens rel ("/" or "/a/b", relative to dirfd) as a directory without
 * following any symlink on the way. Returns the fd or a negative KM_* code
 * (KM_ENOENT when it does not exist). */
int cg_open_dir(int dirfd, const char *rel);

void cg_walk_init(struct cg_walk *w);
void cg_walk_fini(struct cg_walk *w);
/* Walks the kubelet hierarchy (and, when host is true, the runtime
 * hierarchies of a plain host) of l's walk root into w (reset first). The
 * root "/" is always the first node. Returns 0, KM_ENOMEM, or KM_EIO when the
 * walk root cannot be read. A directory vanishing mid-walk is skipped. */
int cg_walk_run(struct cg_walk *w, const struct cg_layout *l, bool host);
const char *cg_node_path(const struct cg_walk *w, const struct cg_node *n);
/* Sorts nodes[1..n) by path in place (the root stays first); no allocation,
 * unlike glibc's qsort_r (a merge sort with a malloc'ed copy). */
void cg_walk_sort(struct cg_walk *w);

/* Name classification, exposed for tests. Each writes its result only when it
 * returns true. */
/* "pod<uid>" (cgroupfs) or "kubepods[-<qos>]-pod<uid_>.slice" (systemd);
 * uid gets dashes back. */
bool cg_name_pod_uid(const char *name, char uid[CG_UID_MAX]);
/* "cri-containerd-<id>.scope", "crio-<id>.scope", "crio-<id>",
 * "docker-<id>.scope", "libpod-<id>.scope", or a plain 64-char [0-9a-z] id. */
bool cg_name_container(const char *name, char cid[CG_CID_MAX], enum cg_runtime *rt);

#endif
