#include "remotewrite/pb.h"

#include <string.h>

#include "base/err.h"

/* Field keys: (field number << 3) | wire type (0 varint, 1 fixed64, 2 bytes). */
#define KEY_TS_LABELS   0x0a  /* WriteRequest.timeseries, TimeSeries.labels, Label.name: 1, bytes */
#define KEY_SAMPLES     0x12  /* TimeSeries.samples, Label.value: 2, bytes */
#define KEY_VALUE       0x09  /* Sample.value: 1, fixed64 */
#define KEY_TIMESTAMP   0x10  /* Sample.timestamp: 2, varint */

static size_t varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static char *put_varint(char *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (char)(v | 0x80);
		v >>= 7;
	}
	*p++ = (char)v;
	return p;
}

/* A length-delimited field: key, length, payload. */
static size_t field_len(size_t payload)
{
	return 1 + varint_len(payload) + payload;
}

static size_t label_len(const struct rw_label *l)
{
	/* proto3 omits empty strings; receivers accept both, we always write. */
	return field_len(l->name_len) + field_len(l->value_len);
}

static size_t sample_len(int64_t ts_ms)
{
	/* int64 is encoded as its two's-complement uint64 (10 bytes if negative). */
	return 1 + 8 + 1 + varint_len((uint64_t)ts_ms);
}

static char *put_bytes(char *p, int key, const char *s, size_t n)
{
	*p++ = (char)key;
	p = put_varint(p, n);
	memcpy(p, s, n);
	return p + n;
}

int rw_pb_label(struct buf *out, const struct rw_label *l)
{
	size_t len = field_len(label_len(l));
	char *p;
	int rc = buf_reserve(out, len);

	if (rc)
		return rc;
	if (out->len + len > out->cap)
		return KM_ETOOBIG;
	p = out->data + out->len;
	*p++ = KEY_TS_LABELS;
	p = put_varint(p, label_len(l));
	p = put_bytes(p, KEY_TS_LABELS, l->name, l->name_len);
	p = put_bytes(p, KEY_SAMPLES, l->value, l->value_len);
	out->len = (size_t)(p - out->data);
	out->data[out->len] = '\0';
	return 0;
}

int rw_pb_series(struct buf *out, const struct rw_label *labels, size_t n,
		 double value, int64_t ts_ms)
{
	return rw_pb_series_enc(out, labels, NULL, n, value, ts_ms);
}

int rw_pb_series_enc(struct buf *out, const struct rw_label *labels, const struct rw_label_enc *enc, size_t n,
		     double value, int64_t ts_ms)
{
	size_t ts_len = field_len(sample_len(ts_ms));
	size_t total;
	uint64_t bits;
	char *p;
	int rc;

	for (size_t i = 0; i < n; i++)
		ts_len += enc && enc[i].p ? enc[i].len : field_len(label_len(&labels[i]));
	total = field_len(ts_len);
	rc = buf_reserve(out, total);
	if (rc)
		return rc;
	if (out->len + total > out->cap)
		return KM_ETOOBIG;
	p = out->data + out->len;
	*p++ = KEY_TS_LABELS;
	p = put_varint(p, ts_len);
	for (size_t i = 0; i < n; i++) {
		if (enc && enc[i].p) {
			const char *from = enc[i].p;
			size_t len = enc[i].len;

			/* Labels encoded side by side (a scrape's target labels
			 * between two sample labels) go in one copy: a libc call
			 * per label was most of this function's time. */
			while (i + 1 < n && enc[i + 1].p && enc[i + 1].p == from + len)
				len += enc[++i].len;
			memcpy(p, from, len);
			p += len;
			continue;
		}
		*p++ = KEY_TS_LABELS;
		p = put_varint(p, label_len(&labels[i]));
		p = put_bytes(p, KEY_TS_LABELS, labels[i].name, labels[i].name_len);
		p = put_bytes(p, KEY_SAMPLES, labels[i].value, labels[i].value_len);
	}
	*p++ = KEY_SAMPLES;
	p = put_varint(p, sample_len(ts_ms));
	*p++ = KEY_VALUE;
	memcpy(&bits, &value, 8);
	for (int i = 0; i < 8; i++)  /* little-endian on every host */
		*p++ = (char)(bits >> (8 * i));
	*p++ = KEY_TIMESTAMP;
	p = put_varint(p, (uint64_t)ts_ms);
	out->len = (size_t)(p - out->data);
	out->data[out->len] = '\0';
	return 0;
}
