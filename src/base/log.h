/* Leveled logger writing one line per call to stderr, in logfmt or JSON.
 *
 * The level is checked before arguments are evaluated (the macros), lines are
 * written with a single write() so threads do not interleave, and repeated
 * failures go through a struct log_limit so a dead API server produces one
 * line per interval plus a count of what was suppressed. Secrets must never be
 * passed in: callers log resource names and causes, not tokens or keys. */
#ifndef K8SMON_BASE_LOG_H
#define K8SMON_BASE_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_FATAL };
enum log_format { LOG_FMT_LOGFMT = 0, LOG_FMT_JSON };

/* Max bytes of one log line; longer messages are cut and end in "...". */
#define LOG_LINE_MAX 2048

void log_setup(enum log_level level, enum log_format fmt);
/* Parse "DEBUG", "INFO", "WARN", "ERROR", "FATAL" (case-insensitive). */
int log_parse_level(const char *s, enum log_level *out);
int log_parse_format(const char *s, enum log_format *out);
bool log_enabled(enum log_level level);
/* Redirect output to fd (tests); -1 restores stderr. */
void log_set_fd(int fd);

void log_write(enum log_level level, const char *subsys, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Rate limit state, embedded in the object that owns the repeated failure. */
struct log_limit {
	int64_t last_ms;      /* monotonic time of the last line written */
	uint64_t suppressed;  /* lines dropped since then */
};

/* Write at most one line per interval_ms for this limit; the next line that
 * gets through says how many were suppressed. Returns true if written. */
bool log_limited(struct log_limit *lim, int64_t interval_ms, enum log_level level,
		 const char *subsys, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

#define log_debug(sub, ...) do { if (log_enabled(LOG_DEBUG)) log_write(LOG_DEBUG, sub, __VA_ARGS__); } while (0)
#define log_info(sub, ...)  do { if (log_enabled(LOG_INFO))  log_write(LOG_INFO,  sub, __VA_ARGS__); } while (0)
#define log_warn(sub, ...)  do { if (log_enabled(LOG_WARN))  log_write(LOG_WARN,  sub, __VA_ARGS__); } while (0)
#define log_error(sub, ...) do { if (log_enabled(LOG_ERROR)) log_write(LOG_ERROR, sub, __VA_ARGS__); } while (0)

#endif
