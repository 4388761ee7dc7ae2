/* Prometheus remote write 1.0 WriteRequest, protobuf wire format.
 *
 * Hand-written encoder, not libprotobuf-c: remote write 1.0 sends four
 * messages with six fields (WriteRequest.timeseries, TimeSeries.labels /
 * .samples, Label.name/.value, Sample.value/.timestamp), all written here
 * straight from borrowed strings into one capped buffer, with no per-series
 * allocation, no generated code, no .proto build step and no runtime
 * library in the image. protobuf-c would build a message tree per series
 * (allocations per label) only to serialise it once. Decoding is needed
 * only to read a scrape's label fields back for staleness markers
 * (stale.h); the unit test checks the bytes against an independent decoder
 * (protoc --decode_raw).
 *
 * Schema (prometheus/prompb types.proto, remote.proto):
 *   WriteRequest { repeated TimeSeries timeseries = 1; }
 *   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
 *   Label        { string name = 1; string value = 2; }
 *   Sample       { double value = 1; int64 timestamp = 2; }   (ms)
 * The receiver wants each series' labels sorted by name, "__name__"
 * included; the caller passes them so. */
#ifndef K8SMON_REMOTEWRITE_PB_H
#define K8SMON_REMOTEWRITE_PB_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

struct rw_label {
	const char *name;   /* borrowed */
	size_t name_len;
	const char *value;  /* borrowed */
	size_t value_len;
};

/* Appends one WriteRequest.timeseries field (a series with one sample) to
 * out, which is a WriteRequest being built (a concatenation of such fields is
 * a valid WriteRequest). 0, or KM_ETOOBIG/KM_ENOMEM with out unchanged. */
int rw_pb_series(struct buf *out, const struct rw_label *labels, size_t n,
		 double value, int64_t ts_ms);

/* A label already encoded as its TimeSeries.labels field (rw_pb_label):
 * labels the same for every series of a scrape are encoded once and
 * copied. */
struct rw_label_enc {
	const char *p;      /* borrowed; NULL: encode the rw_label */
	size_t len;
};

/* rw_pb_series with enc[i], when enc and enc[i].p are set, written for
 * labels[i] as is (it must be rw_pb_label of labels[i]). */
int rw_pb_series_enc(struct buf *out, const struct rw_label *labels, const struct rw_label_enc *enc, size_t n,
		     double value, int64_t ts_ms);

/* Appends l as a TimeSeries.labels field (what rw_pb_series writes for
 * it). 0, or KM_ETOOBIG/KM_ENOMEM with out unchanged. */
int rw_pb_label(struct buf *out, const struct rw_label *l);

#endif
