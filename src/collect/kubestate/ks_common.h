/* Small helpers for the per-kind family tables. */
#ifndef K8SMON_COLLECT_KUBESTATE_COMMON_H
#define K8SMON_COLLECT_KUBESTATE_COMMON_H

#include "collect/kubestate/ks_internal.h"

/* A family whose one series is the integer at path, 0 when absent (Go
 * int32 fields of a status struct are never nil). */
#define KS_INT_FAMILY(fn, path) \
	static void fn(struct ks_render *r, const json_t *o) { ks_emit_int_or(r, o, path, 0); }
/* A family printed only when the (pointer) field at path is set. */
#define KS_OPT_INT_FAMILY(fn, path) \
	static void fn(struct ks_render *r, const json_t *o) { ks_emit_int_at(r, o, path); }

#define G EXPO_GAUGE
#define KS_NFAM(tab) (sizeof(tab) / sizeof((tab)[0]))

#endif
