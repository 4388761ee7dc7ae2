/* Streaming parser for the Prometheus text format 0.0.4 and OpenMetrics text
 * 1.0, the input side of application scraping.
 *
 * Feed it arbitrary chunks (a chunk may end anywhere: inside a token, an
 * escape or a UTF-8 sequence); it assembles lines in a capped buffer and
 * reports each sample through a callback, in input order. Garbage never fails
 * the parse: a bad line is skipped, counted under its reason in the stats and
 * reported to the optional error callback. Memory is bounded by the options
 * (line length, labels per sample, families remembered).
 *
 * Rules (prometheus/common expfmt text_parse.go and Prometheus' textparse,
 * where they differ the stricter of the two unless noted):
 *  - sample: [blanks] name [ "{" [label *("," label) [","]] "}" ] blanks value
 *    [blanks timestamp] [blanks]; blanks are spaces and tabs; a line ends at
 *    "\n" (a "\r" before it is kept as content, so it is an error, as in Go).
 *  - metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*;
 *    "__name__" as a label is rejected (EXPO_E_LABEL_NAME), as are duplicates.
 *  - label values: escapes \\ \" \n only; raw newlines cannot occur (they end
 *    the line); values must be valid UTF-8 and contain no NUL.
 *  - value: Go strconv.ParseFloat syntax without hex or "_" (as Prometheus'
 *    textparse): decimals, exponents, NaN, Inf/+Inf/-Inf/Infinity in any case;
 *    out-of-range values are errors.
 *  - timestamp: 0.0.4 int64 milliseconds; OpenMetrics float seconds (truncated
 *    to ms as Prometheus does, int64(ts*1000)); NaN/Inf rejected.
 *  - "# HELP name text": escapes \\ and \n (OpenMetrics also \"). "# TYPE
 *    name type": counter, gauge, histogram, summary, untyped (OpenMetrics:
 *    unknown, gaugehistogram, info, stateset). "# UNIT name unit" (OpenMetrics).
 *    Other comments and blank lines are ignored (also in OpenMetrics, which
 *    forbids them: we are lenient there).
 *  - Decision: a second TYPE for a family, or a TYPE line after samples of
 *    that family, is an error (EXPO_E_TYPE_LATE / EXPO_E_DUP_META) as in
 *    expfmt; the line is ignored and the family keeps what it had. A second
 *    HELP is likewise ignored and counted.
 *  - A sample belongs to the family declared with its exact name, else to the
 *    family its name minus a suffix was declared with, if that type has the
 *    suffix: _total/_created (counter), _bucket/_count/_sum/_created
 *    (histogram), _count/_sum/_created (summary), _bucket/_gcount/_gsum
 *    (gaugehistogram), _info (info). Otherwise it is untyped, family = name.
 *  - OpenMetrics: "# EOF" ends the exposition; anything after it is counted
 *    as EXPO_E_AFTER_EOF; its absence at expo_parser_finish() is counted as
 *    EXPO_E_NO_EOF. Exemplars (" # {...} v [ts]" after a sample) are skipped.
 *    "_created" samples are reported with is_created set (the scraper may drop
 *    them; Prometheus stores them as series by default).
 *
 * Ownership: the parser owns its buffers; everything in a struct
 * expo_sample_ev is borrowed and valid only during the callback. A parser is
 * used by one thread at a time. */
#ifndef K8SMON_EXPO_PARSER_H
#define K8SMON_EXPO_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scrape/labels.h"

enum expo_format {
	EXPO_FMT_TEXT = 0,    /* text/plain; version=0.0.4 */
	EXPO_FMT_OPENMETRICS, /* application/openmetrics-text; version=1.0.0 */
};

/* Family types as declared by TYPE (EXPO_FT_UNTYPED when undeclared;
 * OpenMetrics "unknown" maps to it too). */
enum expo_ftype {
	EXPO_FT_UNTYPED = 0,
	EXPO_FT_COUNTER,
	EXPO_FT_GAUGE,
	EXPO_FT_HISTOGRAM,
	EXPO_FT_SUMMARY,
	EXPO_FT_GAUGEHISTOGRAM,
	EXPO_FT_INFO,
	EXPO_FT_STATESET,
};

/* Why a line was rejected. */
enum expo_perr {
	EXPO_E_SYNTAX = 0,       /* structure: missing value, stray characters, ... */
	EXPO_E_METRIC_NAME,      /* invalid metric name */
	EXPO_E_LABEL_NAME,       /* invalid or reserved label name */
	EXPO_E_LABEL_SYNTAX,     /* missing '=', '"', ',' or '}' */
	EXPO_E_ESCAPE,           /* bad escape in a label value or HELP */
	EXPO_E_UTF8,             /* invalid UTF-8 (or NUL) in a label value or HELP */
	EXPO_E_DUP_LABEL,        /* label name repeated in one sample */
	EXPO_E_TOO_MANY_LABELS,  /* more than max_labels */
	EXPO_E_LABEL_TOO_LONG,   /* name > LABELS_NAME_MAX or value > LABELS_VALUE_MAX */
	EXPO_E_VALUE,            /* value is not a number */
	EXPO_E_TIMESTAMP,        /* timestamp is not an integer (0.0.4) / number (OM) */
	EXPO_E_LINE_TOO_LONG,    /* line longer than max_line */
	EXPO_E_BAD_TYPE,         /* malformed TYPE/HELP/UNIT line or unknown type */
	EXPO_E_DUP_META,         /* second TYPE, HELP or UNIT for a family */
	EXPO_E_TYPE_LATE,        /* TYPE after samples of that family */
	EXPO_E_AFTER_EOF,        /* OpenMetrics: content after # EOF */
	EXPO_E_NO_EOF,           /* OpenMetrics: input ended without # EOF */
	EXPO_E__COUNT
};

/* One sample; all pointers borrowed for the duration of the callback. */
struct expo_sample_ev {
	const char *name;          /* metric name as written, NUL-terminated */
	size_t name_len;
	const struct labels *labels; /* parsed labels (no __name__), sorted;
				      * NULL after expo_parser_label_set(p, false) */
	/* The same labels as slices of the line (or of the parser's copy of
	 * an unescaped value): sorted by name, values unescaped, no empty
	 * value; NOT NUL-terminated. Always set. */
	const struct label_ref *refs;
	size_t nrefs;
	/* The text between the braces as written (not NUL-terminated;
	 * "" without braces) when it is exactly how a writer renders labels
	 * (name="escaped value" sorted by name, joined by ',': no blanks, no
	 * empty value, no trailing comma), so it may be copied instead of
	 * re-escaped; else NULL. */
	const char *pairs;
	size_t pairs_len;
	/* The series as written: the line from the metric name through the
	 * closing brace (the name alone without braces), not NUL-terminated.
	 * The same bytes always parse to the same name, refs and pairs; the
	 * family fields below may still differ (TYPE/HELP lines in between). */
	const char *series;
	size_t series_len;
	double value;
	bool has_ts;
	int64_t ts_ms;             /* valid when has_ts */
	bool is_created;           /* OpenMetrics _created sample of a typed family */
	const char *family;        /* family name (== name when undeclared) */
	enum expo_ftype type;
	const char *help;          /* unescaped HELP text, or NULL */
	const char *unit;          /* OpenMetrics UNIT, or NULL */
	uint64_t line_no;          /* 1-based */
};

struct expo_parser_cb {
	/* Called per sample. A non-zero return stops the parse: feed/finish
	 * return that value (use a negative KM_* code). Required. */
	int (*sample)(void *ctx, const struct expo_sample_ev *s);
	/* Called per rejected line (line is borrowed, at most 256 bytes of it,
	 * not NUL-terminated). Optional. */
	void (*error)(void *ctx, uint64_t line_no, enum expo_perr reason,
		      const char *line, size_t len);
	void *ctx;
};

struct expo_parser_opts {
	enum expo_format format;
	size_t max_line;       /* bytes per line, "\n" excluded; 0: EXPO_MAX_LINE_DEFAULT */
	size_t max_labels;     /* labels per sample; 0: LABELS_MAX_DEFAULT */
	size_t max_families;   /* families remembered for TYPE/HELP; 0: EXPO_MAX_FAMILIES_DEFAULT */
};

#define EXPO_MAX_LINE_DEFAULT (64 * 1024)
#define EXPO_MAX_FAMILIES_DEFAULT 20000

struct expo_parse_stats {
	uint64_t lines;    /* lines seen (including comments and rejected ones) */
	uint64_t samples;  /* samples reported to the callback */
	uint64_t errors;   /* rejected lines, sum of err[] */
	uint64_t err[EXPO_E__COUNT];
	bool eof_seen;     /* OpenMetrics "# EOF" */
};

struct expo_parser;

/* New parser; opts may be NULL (0.0.4, defaults), cb is copied. NULL on
 * allocation failure or when cb->sample is NULL. */
struct expo_parser *expo_parser_new(const struct expo_parser_opts *opts,
				    const struct expo_parser_cb *cb);
void expo_parser_free(struct expo_parser *p);
/* Forget all state (families, stats, partial line) to parse a new document,
 * keeping the allocated memory. */
void expo_parser_reset(struct expo_parser *p);

/* Parse n more bytes. Returns 0, KM_ENOMEM, or the callback's non-zero
 * return (after which the parser must be reset before reuse). */
int expo_parser_feed(struct expo_parser *p, const char *data, size_t n);
/* End of input: parses a last line without "\n" and checks # EOF. Same
 * returns as feed. */
int expo_parser_finish(struct expo_parser *p);

/* Whether samples come with a struct labels (true, the default) or only
 * with the slices (ev->refs), which costs no copy: a consumer that needs no
 * label set (no relabeling) turns it off. Kept across expo_parser_reset. */
void expo_parser_label_set(struct expo_parser *p, bool build);

/* Counters of the current document (since new/reset); borrowed. */
const struct expo_parse_stats *expo_parser_stats(const struct expo_parser *p);

/* Static names, never NULL: "invalid_metric_name", "counter", ... */
const char *expo_perr_name(enum expo_perr e);
const char *expo_ftype_name(enum expo_ftype t);

/* One-shot convenience: new + feed(all) + finish + free. Stats are copied
 * to *stats when non-NULL. */
int expo_parse_buffer(const struct expo_parser_opts *opts, const struct expo_parser_cb *cb,
		      const char *data, size_t n, struct expo_parse_stats *stats);

#endif
