/* Pod map: what the container collector needs to know about this node's pods,
 * keyed by pod UID.
 *
 * Filled by the API reflector's callbacks (I/O thread) from Pod JSON; read by
 * scrapes (HTTP threads). Thread-safe: a rwlock, writers replace a pod's
 * entry whole. podmap_upsert() copies what it needs out of the json_t and
 * keeps no reference to it.
 *
 * Per pod: namespace, name, and every container ID it has reported
 * (status.containerStatuses, initContainerStatuses, ephemeralContainerStatuses,
 * including lastState.terminated.containerID so that the cgroup of a container
 * that just restarted is still named) -> container name, image, restartCount,
 * and the runtime from the ID's scheme (containerd://, cri-o://, docker://).
 * The image is status.image, falling back to the spec's image. */
#ifndef K8SMON_COLLECT_CONTAINER_PODMAP_H
#define K8SMON_COLLECT_CONTAINER_PODMAP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "collect/container/cgroup.h"

#define PODMAP_MAX_PODS 65536
#define PODMAP_MAX_CTRS 256   /* containers (incl. previous IDs) kept per pod */

struct podmap_ctr {
	char *id;            /* owned; runtime container ID without scheme */
	char *name;          /* owned; container name in the pod spec */
	char *image;         /* owned; "" when unknown */
	uint32_t restarts;   /* restartCount (docker/CRI-O names end with it) */
	enum cg_runtime rt;  /* from the ID scheme */
};

struct podmap_pod {
	char *uid;           /* owned */
	char *ns;            /* owned */
	char *name;          /* owned */
	enum cg_runtime rt;  /* runtime of its containers, CG_RT_UNKNOWN before any */
	struct podmap_ctr *ctrs;  /* owned array */
	size_t nctrs;
	size_t capctrs;
	struct podmap_pod *next;  /* hash chain */
};

struct podmap;

struct podmap *podmap_new(void);
void podmap_free(struct podmap *pm);

/* Inserts or replaces the pod (by metadata.uid). KM_EINVAL when uid,
 * namespace or name is missing; KM_ETOOBIG past PODMAP_MAX_PODS; KM_ENOMEM. */
int podmap_upsert(struct podmap *pm, const json_t *pod);
/* Removes every pod with this namespace/name. KM_ENOENT when none. */
int podmap_delete(struct podmap *pm, const char *ns, const char *name);
/* Removes the pod with this UID. KM_ENOENT when absent. */
int podmap_delete_uid(struct podmap *pm, const char *uid);
/* Removes everything (before a relist). */
void podmap_clear(struct podmap *pm);
size_t podmap_count(struct podmap *pm);

/* Readers: take the read lock once, look up as many pods as needed, unlock.
 * Pointers returned are valid only while the lock is held. */
void podmap_rdlock(struct podmap *pm);
void podmap_unlock(struct podmap *pm);
const struct podmap_pod *podmap_find_locked(const struct podmap *pm, const char *uid);
/* The container of pod with this runtime ID, or NULL. */
const struct podmap_ctr *podmap_pod_ctr(const struct podmap_pod *pod, const char *cid);

#endif
