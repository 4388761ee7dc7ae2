/* time and timex: wall clock, time zone and clocksources (collector "time"),
 * and the kernel NTP state from adjtimex(2) (collector "timex"). */
#include "collect/node/node_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/timex.h>
#include <time.h>

#include "base/err.h"
#include "base/parse.h"

static int clocksource(struct node_ctx *ctx, const char *file, const char *name,
		       const char *help)
{
	char rel[96];
	const char *data, *p, *end, *f;
	size_t len, flen;
	int rc;

	/* node-exporter reads clocksource0 only (device="0"). */
	node_cat(rel, sizeof(rel),
		 (const struct node_span[]){ NS("devices/system/clocksource/clocksource0/"), NSS(file) }, 2);
	rc = procfile_read(&ctx->nc->pf, ctx->sysfs, rel, &data, &len);
	if (rc == KM_ENOENT)
		return 0;
	if (rc)
		return rc;
	rc = expo_family(ctx->out, name, help, EXPO_GAUGE);
	p = data;
	end = data + len;
	while (!rc && parse_field(&p, end, &f, &flen)) {
		char cs[64];
		struct label_pair l[2] = { { "clocksource", cs }, { "device", "0" } };

		node_cat(cs, sizeof(cs), (const struct node_span[]){ { f, flen } }, 1);
		rc = expo_sample(ctx->out, name, l, 2, 1);
	}
	return rc;
}

int node_time(struct node_ctx *ctx)
{
	struct timespec ts;
	struct tm tm;
	struct label_pair l;
	int rc;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || !localtime_r(&ts.tv_sec, &tm))
		return KM_EIO;
	rc = clocksource(ctx, "available_clocksource", "node_time_clocksource_available_info",
			 "Available clocksources read from '/sys/devices/system/clocksource'.");
	if (!rc)
		rc = clocksource(ctx, "current_clocksource", "node_time_clocksource_current_info",
				 "Current clocksource read from '/sys/devices/system/clocksource'.");
	if (!rc)
		rc = node_write1(ctx->out, "node_time_seconds",
				 "System time in seconds since epoch (1970).", EXPO_GAUGE,
				 (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
	if (!rc)
		rc = expo_family(ctx->out, "node_time_zone_offset_seconds",
				 "System time zone offset in seconds.", EXPO_GAUGE);
	if (!rc) {
		l.name = "time_zone";
		l.value = tm.tm_zone ? tm.tm_zone : "";
		rc = expo_sample(ctx->out, "node_time_zone_offset_seconds", &l, 1,
				 (double)tm.tm_gmtoff);
	}
	return rc;
}

#define STA_NANO_BIT 0x2000
#define PPM16FRAC (1000000.0 * 65536.0)

int node_timex(struct node_ctx *ctx)
{
	struct timex tx;
	double div;
	int status, rc;

	memset(&tx, 0, sizeof(tx));
	status = adjtimex(&tx);
	if (status < 0)
		return errno == EPERM ? KM_EACCES : KM_EIO;
	div = (tx.status & STA_NANO_BIT) ? 1e9 : 1e6;

	struct {
		const char *name, *help;
		enum expo_type type;
		double v;
	} m[] = {
		{ "node_timex_estimated_error_seconds", "Estimated error in seconds.", EXPO_GAUGE,
		  (double)tx.esterror / 1e6 },
		{ "node_timex_frequency_adjustment_ratio", "Local clock frequency adjustment.",
		  EXPO_GAUGE, 1 + (double)tx.freq / PPM16FRAC },
		{ "node_timex_loop_time_constant", "Phase-locked loop time constant.", EXPO_GAUGE,
		  (double)tx.constant },
		{ "node_timex_maxerror_seconds", "Maximum error in seconds.", EXPO_GAUGE,
		  (double)tx.maxerror / 1e6 },
		{ "node_timex_offset_seconds",
		  "Time offset in between local system and reference clock.", EXPO_GAUGE,
		  (double)tx.offset / div },
		{ "node_timex_pps_calibration_total",
		  "Pulse per second count of calibration intervals.", EXPO_COUNTER,
		  (double)tx.calcnt },
		{ "node_timex_pps_error_total", "Pulse per second count of calibration errors.",
		  EXPO_COUNTER, (double)tx.errcnt },
		{ "node_timex_pps_frequency_hertz", "Pulse per second frequency.", EXPO_GAUGE,
		  (double)tx.ppsfreq / PPM16FRAC },
		{ "node_timex_pps_jitter_seconds", "Pulse per second jitter.", EXPO_GAUGE,
		  (double)tx.jitter / div },
		{ "node_timex_pps_jitter_total",
		  "Pulse per second count of jitter limit exceeded events.", EXPO_COUNTER,
		  (double)tx.jitcnt },
		{ "node_timex_pps_shift_seconds", "Pulse per second interval duration.", EXPO_GAUGE,
		  (double)tx.shift },
		{ "node_timex_pps_stability_exceeded_total",
		  "Pulse per second count of stability limit exceeded events.", EXPO_COUNTER,
		  (double)tx.stbcnt },
		{ "node_timex_pps_stability_hertz",
		  "Pulse per second stability, average of recent frequency changes.", EXPO_GAUGE,
		  (double)tx.stabil / PPM16FRAC },
		{ "node_timex_status", "Value of the status array bits.", EXPO_GAUGE,
		  (double)tx.status },
		{ "node_timex_sync_status",
		  "Is clock synchronized to a reliable server (1 = yes, 0 = no).", EXPO_GAUGE,
		  status == TIME_ERROR ? 0 : 1 },
		{ "node_timex_tai_offset_seconds", "International Atomic Time (TAI) offset.",
		  EXPO_GAUGE, (double)tx.tai },
		{ "node_timex_tick_seconds", "Seconds between clock ticks.", EXPO_GAUGE,
		  (double)tx.tick / 1e6 },
	};

	rc = 0;
	for (size_t i = 0; !rc && i < sizeof(m) / sizeof(m[0]); i++)
		rc = node_write1(ctx->out, m[i].name, m[i].help, m[i].type, m[i].v);
	return rc;
}
