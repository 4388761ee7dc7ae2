/* Offsets of a tz database zone (/usr/share/zoneinfo, TZif v2+), for the
 * CronJob spec.timeZone of kube_cronjob_next_schedule_time. Past the last
 * transition of the file the last offset holds (the files Debian ships list
 * transitions to 2037; the POSIX rule in the footer is not evaluated). */
#ifndef K8SMON_COLLECT_KUBESTATE_TZ_H
#define K8SMON_COLLECT_KUBESTATE_TZ_H

#include <stddef.h>
#include <stdint.h>

struct ks_tz {
	int64_t *when;   /* owned: transition instants, unix seconds, ascending */
	int32_t *off;    /* owned: UTC offset in seconds from when[i] on */
	size_t n;
	int32_t off0;    /* before the first transition */
};

/* Reads the zone named name (n bytes, e.g. "Europe/Berlin") under dir
 * (NULL = /usr/share/zoneinfo). Returns 0, KM_ENOENT (no such zone),
 * KM_EPARSE (not a TZif v2+ file) or KM_ENOMEM. On success free with
 * ks_tz_free. */
int ks_tz_load(const char *dir, const char *name, size_t n, struct ks_tz *tz);
void ks_tz_free(struct ks_tz *tz);
/* UTC offset (seconds east) in effect at instant utc. */
int32_t ks_tz_offset(const struct ks_tz *tz, int64_t utc);

#endif
