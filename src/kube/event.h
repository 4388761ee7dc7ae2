/* Decoding of one watch event line: {"type": ..., "object": {...}}. */
#ifndef K8SMON_KUBE_EVENT_H
#define K8SMON_KUBE_EVENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum kube_event_type {
	KUBE_EV_ADDED = 0,
	KUBE_EV_MODIFIED,
	KUBE_EV_DELETED,
	KUBE_EV_BOOKMARK,
	KUBE_EV_ERROR,
	KUBE_EV__COUNT
};

struct kube_event {
	enum kube_event_type type;
	json_t *object;  /* owned reference (kube_event_fini drops it) */
	const char *rv;  /* metadata.resourceVersion, borrowed from object; NULL for ERROR */
	int code;        /* ERROR only: Status.code (0 if absent) */
	const char *reason;  /* ERROR only: Status.reason, borrowed; "" if absent */
	const char *message; /* ERROR only: Status.message, borrowed; "" if absent */
};

/* Parses n bytes. KM_EPARSE for invalid JSON, an unknown type, a missing
 * object, or a non-ERROR event without metadata.resourceVersion (an event we
 * cannot place in the stream). On success ev owns one object reference. */
int kube_event_decode(const char *line, size_t n, struct kube_event *ev);
void kube_event_fini(struct kube_event *ev);
/* ERROR with code 410 or reason Expired/Gone: the RV is too old, relist. */
bool kube_event_expired(const struct kube_event *ev);
/* "ADDED", "MODIFIED", ... */
const char *kube_event_type_name(enum kube_event_type t);

/* metadata.resourceVersion / namespace / name of an object; borrowed, NULL if
 * absent or not a string. kube_obj_rv also accepts the compact form a
 * reflector trim may store (a JSON string that is the resourceVersion, see
 * reflector.h) and returns that string. */
const char *kube_obj_rv(const json_t *obj);
const char *kube_obj_namespace(const json_t *obj);
const char *kube_obj_name(const json_t *obj);

#endif
