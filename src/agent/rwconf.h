/* K8sMonitor spec.remoteWrite applied live: reads the Secrets it names
 * through the API (GET in the agent's own namespace: RBAC "get" on those
 * names is all it needs), turns each entry into a remotewrite/dest.h
 * destination and hands the set to the agent, which replaces the running
 * destinations (rw_set_dests: queues of URLs that stay are kept). The
 * Secrets are read again every RWCONF_REREAD_MS, so a rotated token or
 * certificate is used without touching the K8sMonitor.
 *
 * A destination whose Secret cannot be read (absent, forbidden, key
 * missing, not base64) is not applied: if it was running, it keeps its
 * last working settings; if new, it is left out until the next read. The
 * reason is logged (once per change) and in rwconf_error().
 *
 * No spec.remoteWrite (NULL): the -remoteWrite.* flags' destinations.
 *
 * Loop thread only, except rwconf_new/rwconf_free (before the loop starts /
 * after it stopped; rwconf_stop on the loop first). */
#ifndef K8SMON_AGENT_RWCONF_H
#define K8SMON_AGENT_RWCONF_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "remotewrite/dest.h"

#define RWCONF_REREAD_MS 60000

struct kube_client;
struct kube_loop;

/* Replaces the agent's destinations with d[0..n) (borrowed), or with the
 * flags' when from_flags. 0 or a negative code with the reason in err. */
typedef int (*rwconf_apply_fn)(const struct rw_dest *d, size_t n, bool from_flags, void *arg, char *err,
			       size_t errlen);

struct rwconf;

/* ns: namespace of the Secrets (copied). NULL on allocation failure. */
struct rwconf *rwconf_new(struct kube_client *c, struct kube_loop *loop, const char *ns, rwconf_apply_fn apply,
			  void *arg);
/* spec: the effective configuration's spec.remoteWrite (borrowed, checked by
 * config_check_remote_write) or NULL. Same as the last: nothing happens. */
void rwconf_set(struct rwconf *r, const json_t *spec);
/* Cancels reads and the timer; nothing is applied afterwards. */
void rwconf_stop(struct rwconf *r);
void rwconf_free(struct rwconf *r);

#endif
