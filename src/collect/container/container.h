/* Container collector: kubelet /metrics/cadvisor compatible container_*
 * families read straight from the cgroup filesystem (v1, v2 or hybrid) and
 * /proc, named with the pod map. See docs/container.md for the rows, the
 * labels and every deviation from cAdvisor.
 *
 * Rows (one label set each): "/" (with the host network from pid 1), the
 * kubepods root, the QoS classes, each pod cgroup (container="", pod and
 * namespace set when the pod is known) and each container cgroup under it.
 * A container whose ID the pod map does not list is the pod's sandbox: its
 * row has container="" (containerd) or "POD" (CRI-O, docker), image
 * opts->sandbox_image (the kubelet asks the runtime; the API does not say) and
 * the pod's network counters, which appear on no other container row.
 *
 * Unknown pods: a pod cgroup whose UID is not (yet) in the pod map is still
 * exported, with `id` only (containers under it: `id` and `name` = the
 * container ID), as cAdvisor does for cgroups it cannot name. The
 * kubernetes-mixin rules select image!="" so such rows never reach them, and
 * the next scrape after the reflector delivers the pod names them fully.
 *
 * Host mode (opts->podmap == NULL): the same walk plus the runtime
 * hierarchies of a plain host (/docker/<id>, /system.slice/docker-<id>.scope,
 * cri-containerd-/crio- scopes, /machine.slice/libpod-<id>.scope, containerd's
 * /default and /k8s.io); containers get `id` and `name` (= container ID) only,
 * and no network rows except "/".
 *
 * CRI-O containers (cri-o:// IDs, crio- cgroups) also get the container_fs_*
 * rows of their writable layer and log file, as cAdvisor's CRI-O handler
 * reports them, from figures a background thread keeps (crio.h).
 *
 * Before the container_* families: cadvisor_version_info; after them the
 * machine_* families (machine.h), as the kubelet serves them on the same
 * endpoint.
 *
 * Thread-safe: scrapes are serialised by a mutex inside the collector; the
 * pod map has its own lock and may be updated concurrently. */
#ifndef K8SMON_COLLECT_CONTAINER_H
#define K8SMON_COLLECT_CONTAINER_H

#include <stdint.h>

#include "base/buf.h"
#include "collect/container/podmap.h"
#include "collect/stats.h"

struct container_opts {
	const char *procfs;     /* borrowed; "/proc" */
	const char *sysfs;      /* borrowed; "/sys" (cgroups at <sysfs>/fs/cgroup) */
	const char *rootfs;     /* borrowed; the host's "/" (machine-id, os-release); NULL = "/" */
	struct podmap *podmap;  /* borrowed; NULL selects host mode */
	const char *sandbox_image; /* borrowed; image label of sandbox rows; NULL or "" = "" */
	/* borrowed; CRI-O's socket as seen here, for the container_fs_* rows
	 * of CRI-O containers (crio.h); NULL or "" = none. Read at the first
	 * scrape only (with rootfs), as the tracker keeps it. */
	const char *crio_socket;
	int64_t now_ms;         /* sample timestamp; 0 = wall clock (tests pin it) */
};

struct container_collector;

/* Returns a new collector or NULL on allocation failure. */
struct container_collector *container_collector_new(void);
void container_collector_free(struct container_collector *cc);

/* Appends the container_* families to out and records the run as
 * "container" in stats (may be NULL). No cgroup hierarchy, a truncated walk
 * or malformed files give container_scrape_error 1 and a failed run in stats,
 * but still return 0 with whatever could be read. Cgroups that vanish
 * mid-scrape are skipped silently. Returns 0, or KM_ETOOBIG/KM_ENOMEM (out is
 * then rolled back to its length on entry). */
int container_collect(struct container_collector *cc, const struct container_opts *opts,
		      struct buf *out, struct collect_stats *stats);

/* Waits (at most timeout_ms) until every CRI-O container the last scrape
 * named had its first filesystem round (crio.h): test drivers scrape once
 * and print, where the agent's next scrape would have the rows. KM_OK or
 * KM_ETIMEDOUT. */
int container_collect_settle(struct container_collector *cc, int64_t timeout_ms);

#endif
