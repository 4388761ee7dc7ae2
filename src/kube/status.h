/* Status of k8smon's custom resources, in the shape both kstatus (Flux) and an
 * Argo CD Lua health check read (reference crd_api.md §2.12):
 *
 *   accepted   observedGeneration = generation; Ready=True  Accepted;
 *              Reconciling=False; Stalled=False
 *   no targets as accepted, Ready=True reason NoTargets, TargetsSelected=False
 *   invalid    Ready=False InvalidSpec (message = the field error);
 *              Stalled=True InvalidSpec
 *   conflict   Ready=False Conflict (message names the winner);
 *              Stalled=True Conflict
 *
 * Pure functions: the caller decides the verdict, this builds the object and
 * says whether it differs from what the resource already shows, so status is
 * written only when it changes. */
#ifndef K8SMON_KUBE_STATUS_H
#define K8SMON_KUBE_STATUS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

enum status_verdict { STATUS_ACCEPTED, STATUS_NO_TARGETS, STATUS_INVALID, STATUS_CONFLICT };

struct status_input {
	enum status_verdict verdict;
	const char *message;     /* borrowed; human-readable */
	int64_t generation;      /* metadata.generation observed */
	const char *count_field; /* "collectors" or "targets"; NULL = none */
	int64_t count;
	const char *extra_field; /* e.g. "nodes"; NULL = none */
	int64_t extra;
};

/* Returns a new status object. cur (borrowed, may be NULL) is the current
 * status: a condition whose status did not change keeps its
 * lastTransitionTime; now is the RFC 3339 time for the others. NULL on OOM. */
json_t *status_build(const json_t *cur, const struct status_input *in, const char *now);
/* Whether two status objects say the same thing (same conditions by type,
 * status, reason, message, observedGeneration, and same other fields). */
bool status_same(const json_t *a, const json_t *b);
/* RFC 3339 UTC time of wall-clock seconds t into out (>= 24 bytes). */
void status_time(double t, char *out, size_t n);

#endif
