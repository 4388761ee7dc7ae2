/* src/base/parse.h: numbers, booleans, durations, field splitting. The
 * functions read exactly n bytes, so the input is used without a NUL; a
 * successful parse must round-trip where that is well defined. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/parse.h"
#include "fuzz/fuzz.h"

int fuzz_base_parse(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *p = s, *field;
	uint64_t u;
	int64_t i;
	double d;
	bool b;
	size_t len;

	if (parse_u64(s, size, &u) == 0) {
		char tmp[32];

		snprintf(tmp, sizeof(tmp), "%" PRIu64, u);
		FUZZ_CHECK(parse_u64_str(tmp, &u) == 0);
	}
	(void)parse_i64(s, size, &i);
	(void)parse_double(s, size, &d);
	(void)parse_bool(s, size, &b);
	if (parse_duration_ms(s, size, &i) == 0)
		FUZZ_CHECK(i >= 0 || (size && s[0] == '-'));
	while (parse_field(&p, s + size, &field, &len))
		FUZZ_CHECK(field >= s && field + len <= s + size && len > 0);
	return 0;
}
