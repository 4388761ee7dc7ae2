/* Lease leader election (coordination.k8s.io/v1), following client-go's
 * algorithm: every retry period GET the Lease; create it if absent; take it
 * over when it is free or when its record has not changed (judged by the
 * local clock, so clock skew does not matter) for leaseDurationSeconds;
 * the leader renews every retry period and gives up leadership when it could
 * not renew for the renew deadline. On a clean stop a leader releases the
 * Lease (holderIdentity "", leaseDurationSeconds 1) as ReleaseOnCancel does,
 * so the next instance takes over at once.
 *
 * Threads: new/start/stop/free/is_leader from any thread. on_started and
 * on_stopped run on the loop thread (or on the caller of kube_leader_stop
 * when the loop is not running) and must not block. They alternate, starting
 * with on_started; if leadership was held, on_stopped is called by the time
 * kube_leader_stop() returns. */
#ifndef K8SMON_KUBE_LEADER_H
#define K8SMON_KUBE_LEADER_H

#include <stdbool.h>
#include <stdint.h>

#include "kube/client.h"

struct kube_leader_opts {
	const char *namespace;      /* Lease namespace (copied) */
	const char *name;           /* Lease name (copied), e.g. "k8smon" */
	const char *identity;       /* holderIdentity: the pod name (copied) */
	int64_t lease_ms;           /* 0 = 15000 */
	int64_t renew_deadline_ms;  /* 0 = 10000 */
	int64_t retry_ms;           /* 0 = 2000 */
	bool always;                /* -leaderElection=false: leader, no API calls */
	void (*on_started)(void *arg);
	void (*on_stopped)(void *arg);
	void *arg;
};

struct kube_leader;

/* NULL on bad options (needs lease > renew deadline > 1.2 x retry) or
 * allocation failure. The client is borrowed and must outlive it. */
struct kube_leader *kube_leader_new(struct kube_client *c, const struct kube_leader_opts *o);
int kube_leader_start(struct kube_leader *l);
/* Stops electing; a leader releases the Lease (waits up to the renew
 * deadline for the API call) and calls on_stopped. Idempotent. */
void kube_leader_stop(struct kube_leader *l);
void kube_leader_free(struct kube_leader *l);
/* Any thread. */
bool kube_leader_is_leader(struct kube_leader *l);

/* Formats a wall-clock time as a Kubernetes MicroTime
 * ("2006-01-02T15:04:05.000000Z"); out needs 32 bytes. */
void kube_micro_time(double wall, char *out, size_t n);

#endif
