/* Prometheus text exposition format 0.0.4 writer.
 *
 * This module owns every format rule: HELP/TYPE once per family (the caller
 * writes all samples of a family right after expo_family()), label-value
 * escaping (\\, \", \n), HELP escaping (\\, \n), the spellings NaN/+Inf/-Inf,
 * integers printed as integers and other doubles in the shortest form that
 * round-trips, in the layout Go's strconv 'g' uses (as client_golang prints).
 * All output goes to a capped struct buf; functions return 0 or KM_ETOOBIG /
 * KM_ENOMEM, in which case the caller may buf_truncate() to roll back. */
#ifndef K8SMON_EXPO_WRITER_H
#define K8SMON_EXPO_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/label.h"

#define EXPO_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* Longest text expo_fmt_double() writes, with the NUL. */
#define EXPO_DOUBLE_MAX 32

enum expo_type { EXPO_COUNTER, EXPO_GAUGE, EXPO_UNTYPED, EXPO_HISTOGRAM, EXPO_SUMMARY };

/* Writes "# HELP name help\n# TYPE name type\n"; help NULL: the TYPE line
 * only (a scraped family that declared no HELP). */
int expo_family(struct buf *b, const char *name, const char *help, enum expo_type type);
/* Writes "name{l1="v1",...} value\n" (no braces when nlabels is 0). */
/* expo_family(b, name, help, type) then expo_sample(b, name, NULL, 0, v):
 * the same bytes, return code and rollback, written in one piece when they
 * fit in b's allocation (a family of one unlabelled sample, most node
 * families). */
int expo_family_sample(struct buf *b, const char *name, const char *help, enum expo_type type,
		       double v);
int expo_sample(struct buf *b, const char *name, const struct label_pair *labels,
		size_t nlabels, double value);
/* The same with a millisecond timestamp. */
int expo_sample_ts(struct buf *b, const char *name, const struct label_pair *labels,
		   size_t nlabels, double value, int64_t ts_ms);
/* Writes just "name{labels}" (a series prefix that can be rendered once). */
int expo_series(struct buf *b, const char *name, const struct label_pair *labels,
		size_t nlabels);
/* A label set, or a part of one, rendered once by expo_label_pairs() and
 * reused for many samples with expo_sample_spans(). */
struct expo_span {
	const char *p;   /* borrowed */
	size_t n;        /* 0: the span is skipped */
};
/* Appends `l1="v1",l2="v2"` (values escaped; no braces, no outer commas). */
int expo_label_pairs(struct buf *b, const struct label_pair *labels, size_t nlabels);
/* Writes "name{s1,s2,...} value\n" (" value ts\n" when ts_ms >= 0) from spans
 * of expo_label_pairs() text, joined with commas; empty spans are skipped.
 * Same bytes as expo_sample_ts() with the labels of the spans. */
int expo_sample_spans(struct buf *b, const char *name, const struct expo_span *spans,
		      size_t nspans, double value, int64_t ts_ms);
/* Writes " value\n" (or " value ts\n" when ts_ms >= 0) after a series prefix. */
int expo_value(struct buf *b, double value, int64_t ts_ms);
/* Appends v escaped as a label value (without the quotes). */
int expo_escape_label(struct buf *b, const char *v, size_t n);
/* Formats v into dst (EXPO_DOUBLE_MAX bytes); returns the length. */
size_t expo_fmt_double(char *dst, double v);

const char *expo_type_name(enum expo_type type);

#endif
