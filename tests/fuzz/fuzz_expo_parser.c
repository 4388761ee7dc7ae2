/* Exposition parser. Byte 0 picks the format and small caps, byte 1 the
 * chunk size, so splits land everywhere. Invariants: counters add up, every
 * reported sample has a valid name and sorted valid labels, and the samples
 * written back with the writer parse again without a single error (round
 * trip). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/utf8.h"
#include "expo/parser.h"
#include "expo/writer.h"
#include "fuzz/fuzz.h"

struct fep_ctx {
	struct buf out; /* samples re-rendered by the writer */
	uint64_t n;
};

static int fep_sample(void *arg, const struct expo_sample_ev *s)
{
	struct fep_ctx *c = arg;
	struct label_pair l[64];
	size_t n, i;

	FUZZ_CHECK(metric_name_valid(s->name, s->name_len));
	FUZZ_CHECK(strlen(s->name) == s->name_len);
	FUZZ_CHECK(s->family != NULL);
	for (i = 0; i < labels_count(s->labels); i++) {
		struct label_ref r = labels_at(s->labels, i);

		FUZZ_CHECK(label_name_valid(r.name, r.name_len));
		FUZZ_CHECK(utf8_valid(r.value, r.value_len));
		FUZZ_CHECK(r.value_len > 0 && strlen(r.value) == r.value_len);
		if (i)
			FUZZ_CHECK(strcmp(labels_at(s->labels, i - 1).name, r.name) < 0);
	}
	n = labels_to_expo(s->labels, l, 64);
	c->n++;
	if (expo_sample_ts(&c->out, s->name, l, n, s->value, s->has_ts ? s->ts_ms : -1))
		c->n--; /* output cap: fine, just not compared */
	return 0;
}

static int fep_count(void *arg, const struct expo_sample_ev *s)
{
	(void)s;
	(*(uint64_t *)arg)++;
	return 0;
}

int fuzz_expo_parser(const uint8_t *data, size_t size)
{
	struct expo_parser_opts o = { 0 };
	struct fep_ctx c;
	struct expo_parser_cb cb = { .sample = fep_sample, .ctx = &c };
	struct expo_parser *p;
	const struct expo_parse_stats *st;
	struct expo_parse_stats st2;
	uint64_t sum = 0, again = 0;
	size_t chunk, off = 0;
	int i;

	if (size < 2)
		return 0;
	o.format = data[0] & 1 ? EXPO_FMT_OPENMETRICS : EXPO_FMT_TEXT;
	o.max_line = data[0] & 2 ? 200 : 0;
	o.max_labels = data[0] & 4 ? 4 : 0;
	o.max_families = data[0] & 8 ? 3 : 0;
	chunk = (size_t)data[1] + 1;
	data += 2;
	size -= 2;
	memset(&c, 0, sizeof(c));
	buf_init(&c.out, 1u << 22);
	p = expo_parser_new(&o, &cb);
	FUZZ_CHECK(p != NULL);
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk;

		FUZZ_CHECK(expo_parser_feed(p, (const char *)data + off, n) == 0);
		off += n;
	}
	FUZZ_CHECK(expo_parser_finish(p) == 0);
	st = expo_parser_stats(p);
	for (i = 0; i < EXPO_E__COUNT; i++)
		sum += st->err[i];
	FUZZ_CHECK(sum == st->errors);
	FUZZ_CHECK(st->samples == c.n || c.out.len + 1 >= c.out.cap);
	expo_parser_free(p);

	/* Round trip through the writer (0.0.4, default caps). */
	{
		struct expo_parser_cb cb2 = { .sample = fep_count, .ctx = &again };

		FUZZ_CHECK(expo_parse_buffer(NULL, &cb2, c.out.data ? c.out.data : "", c.out.len,
					     &st2) == 0);
		FUZZ_CHECK(st2.errors == 0);
		FUZZ_CHECK(again == c.n);
	}
	buf_fini(&c.out);
	return 0;
}
