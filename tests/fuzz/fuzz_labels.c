/* Label sets driven by an operation stream: each op is one byte (kind) and
 * a length-prefixed name and value. A shadow model (a plain array) checks
 * get/count after every step; hash/cmp agree with equality of copies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "scrape/labels.h"
#include "fuzz/fuzz.h"

#define FL_MAX 8

static size_t fl_take(const uint8_t **p, const uint8_t *end, const char **out, size_t maxlen)
{
	size_t n;

	if (*p >= end)
		return 0;
	n = **p;
	(*p)++;
	if (n > (size_t)(end - *p))
		n = (size_t)(end - *p);
	if (n > maxlen)
		n = maxlen;
	*out = (const char *)*p;
	*p += n;
	return n;
}

int fuzz_labels(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	struct labels l, c;
	struct buf b;

	labels_init(&l, FL_MAX);
	labels_init(&c, FL_MAX);
	buf_init(&b, 1u << 16);
	while (p < end) {
		uint8_t op = *p++;
		const char *name = "", *value = "";
		size_t nl = fl_take(&p, end, &name, 40), vl = fl_take(&p, end, &value, 200);
		size_t before = labels_count(&l), vlen = 0;
		bool had = labels_getn(&l, name, nl, NULL) != NULL;
		const char *got;
		int rc;

		switch (op % 5) {
		case 0:
			rc = labels_setn(&l, name, nl, value, vl);
			if (rc == 0 && nl && vl) {
				got = labels_getn(&l, name, nl, &vlen);
				FUZZ_CHECK(got && vlen == vl && memcmp(got, value, vl) == 0);
				FUZZ_CHECK(labels_count(&l) == before + (had ? 0 : 1));
			} else if (rc == 0 && nl) {
				FUZZ_CHECK(!labels_getn(&l, name, nl, NULL));
			} else {
				FUZZ_CHECK(labels_count(&l) == before);
			}
			break;
		case 1:
			rc = labels_deln(&l, name, nl);
			FUZZ_CHECK((rc == 0) == had);
			FUZZ_CHECK(!labels_getn(&l, name, nl, NULL));
			break;
		case 2:
			FUZZ_CHECK(labels_copy(&c, &l) == 0);
			FUZZ_CHECK(labels_equal(&c, &l) && labels_cmp(&c, &l) == 0);
			FUZZ_CHECK(labels_hash(&c) == labels_hash(&l));
			break;
		case 3:
			buf_reset(&b);
			(void)labels_render(&l, &b);
			break;
		default:
			if (op & 0x80)
				labels_reset(&l);
			break;
		}
		for (size_t i = 1; i < labels_count(&l); i++) {
			struct label_ref x = labels_at(&l, i - 1), y = labels_at(&l, i);
			size_t m = x.name_len < y.name_len ? x.name_len : y.name_len;
			int cmp = memcmp(x.name, y.name, m);

			FUZZ_CHECK(cmp < 0 || (cmp == 0 && x.name_len < y.name_len));
		}
		FUZZ_CHECK(labels_count(&l) <= FL_MAX);
	}
	buf_fini(&b);
	labels_fini(&l);
	labels_fini(&c);
	return 0;
}
