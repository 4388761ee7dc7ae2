#include "base/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"

/* Process-wide logger settings: set once at startup, read by every thread. */
static _Atomic int g_level = LOG_INFO;
static _Atomic int g_format = LOG_FMT_LOGFMT;
static _Atomic int g_fd = 2;

static const char *const level_names[] = { "debug", "info", "warn", "error", "fatal" };

void log_setup(enum log_level level, enum log_format fmt)
{
	g_level = level;
	g_format = fmt;
}

void log_set_fd(int fd)
{
	g_fd = fd < 0 ? 2 : fd;
}

int log_parse_level(const char *s, enum log_level *out)
{
	for (int i = 0; i <= LOG_FATAL; i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = LOG_WARN;
		return 0;
	}
	return KM_EINVAL;
}

int log_parse_format(const char *s, enum log_format *out)
{
	if (strcmp(s, "logfmt") == 0)
		*out = LOG_FMT_LOGFMT;
	else if (strcmp(s, "json") == 0)
		*out = LOG_FMT_JSON;
	else
		return KM_EINVAL;
	return 0;
}

bool log_enabled(enum log_level level)
{
	return (int)level >= g_level;
}

/* Appends s quoted for logfmt/JSON (both accept this escaping). */
static size_t put_quoted(char *dst, size_t pos, size_t cap, const char *s)
{
	if (pos < cap)
		dst[pos++] = '"';
	for (; *s && pos + 3 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			dst[pos++] = '\\';
			dst[pos++] = (char)c;
		} else if (c == '\n') {
			dst[pos++] = '\\';
			dst[pos++] = 'n';
		} else if (c < 0x20) {
			dst[pos++] = ' ';
		} else {
			dst[pos++] = (char)c;
		}
	}
	if (*s && pos + 4 < cap) {
		memcpy(dst + pos, "...", 3);
		pos += 3;
	}
	if (pos < cap)
		dst[pos++] = '"';
	return pos;
}

static void log_vwrite(enum log_level level, const char *subsys, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	char line[LOG_LINE_MAX + 128];
	char ts[96];
	struct timespec now;
	struct tm tm;
	size_t pos;
	ssize_t w;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 now.tv_nsec / 1000000);
	if (g_format == LOG_FMT_JSON) {
		pos = (size_t)snprintf(line, sizeof(line),
				       "{\"ts\":\"%s\",\"level\":\"%s\",\"subsystem\":\"%s\",\"msg\":",
				       ts, level_names[level], subsys ? subsys : "main");
		pos = put_quoted(line, pos, sizeof(line) - 2, msg);
		line[pos++] = '}';
	} else {
		pos = (size_t)snprintf(line, sizeof(line), "ts=%s level=%s subsystem=%s msg=", ts,
				       level_names[level], subsys ? subsys : "main");
		pos = put_quoted(line, pos, sizeof(line) - 1, msg);
	}
	line[pos++] = '\n';
	w = write(g_fd, line, pos);
	(void)w;
}

void log_write(enum log_level level, const char *subsys, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(level, subsys, fmt, ap);
	va_end(ap);
}

bool log_limited(struct log_limit *lim, int64_t interval_ms, enum log_level level,
		 const char *subsys, const char *fmt, ...)
{
	char msg[LOG_LINE_MAX];
	va_list ap;
	int64_t now = clock_mono_ms();

	if (!log_enabled(level))
		return false;
	if (lim->last_ms && now - lim->last_ms < interval_ms) {
		lim->suppressed++;
		return false;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (lim->suppressed)
		log_write(level, subsys, "%s (%llu similar lines suppressed)", msg,
			  (unsigned long long)lim->suppressed);
	else
		log_write(level, subsys, "%s", msg);
	lim->last_ms = now;
	lim->suppressed = 0;
	return true;
}
