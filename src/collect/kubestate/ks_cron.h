/* Cron schedule evaluation for kube_cronjob_next_schedule_time and
 * kube_cronjob_schedule_invalid (robfig/cron/v3 ParseStandard semantics;
 * see cron.c for what is and is not supported). */
#ifndef K8SMON_COLLECT_KUBESTATE_CRON_H
#define K8SMON_COLLECT_KUBESTATE_CRON_H

#include <stdbool.h>
#include <stdint.h>

struct ks_cron {
	uint64_t minute, hour, dom, month, dow; /* bit i = value i; bit 63 = "*" given */
	int64_t every;                          /* @every: seconds (>= 1); 0 = fields */
	bool non_utc;                           /* a real zone other than UTC */
	char zone[201];                         /* its tz database name */
};

/* Parses spec with the CronJob's spec.timeZone (NULL = none). Returns 0 or
 * KM_EPARSE (what KSM reports as kube_cronjob_schedule_invalid 1). */
int ks_cron_parse(const char *spec, const char *tz, struct ks_cron *c);
/* The first scheduled time strictly after `after` (unix seconds) into
 * *next, the fields read as wall-clock time of c's zone (tz.h). Returns 0,
 * KM_ENOENT (no match within five years; KSM then prints Go's zero time),
 * or KM_EINVAL (the zone file cannot be read: not evaluated). zonedir:
 * NULL = /usr/share/zoneinfo (tests pass their own). */
int ks_cron_next(const struct ks_cron *c, int64_t after, int64_t *next);
int ks_cron_next_in(const struct ks_cron *c, const char *zonedir, int64_t after, int64_t *next);

#endif
