#define PCRE2_CODE_UNIT_WIDTH 8
#include "base/rx.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rx {
	pcre2_code *code;
	char *pattern;
};

/* Error offset within the user's pattern, not our anchoring wrapper. */
static size_t err_offset(bool anchored, size_t off, size_t n)
{
	if (anchored)
		off = off >= 4 ? off - 4 : 0;
	return off > n ? n : off;
}

static struct rx *rx_compile(const char *pattern, bool anchored, char *err, size_t errlen)
{
	struct rx *r = NULL;
	char *wrapped = NULL;
	size_t n = strlen(pattern);
	int ecode = 0;
	PCRE2_SIZE eoff = 0;

	/* Anchor both ends the way Prometheus does: ^(?:pattern)$ */
	wrapped = malloc(n + 8);
	r = calloc(1, sizeof(*r));
	if (!wrapped || !r) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (anchored) {
		memcpy(wrapped, "^(?:", 4);
		memcpy(wrapped + 4, pattern, n);
		memcpy(wrapped + 4 + n, ")$", 3);
	} else {
		memcpy(wrapped, pattern, n + 1);
	}
	r->code = pcre2_compile((PCRE2_SPTR)wrapped, PCRE2_ZERO_TERMINATED,
				PCRE2_DOLLAR_ENDONLY | PCRE2_UTF,
				&ecode, &eoff, NULL);
	if (!r->code) {
		PCRE2_UCHAR msg[160];
		pcre2_get_error_message(ecode, msg, sizeof(msg));
		snprintf(err, errlen, "invalid regex %s: %s at offset %zu", pattern,
			 (const char *)msg, err_offset(anchored, (size_t)eoff, n));
		goto fail;
	}
	r->pattern = strdup(pattern);
	if (!r->pattern) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	free(wrapped);
	return r;
fail:
	free(wrapped);
	rx_free(r);
	return NULL;
}

struct rx *rx_new(const char *pattern, char *err, size_t errlen)
{
	return rx_compile(pattern, true, err, errlen);
}

struct rx *rx_new_search(const char *pattern, char *err, size_t errlen)
{
	return rx_compile(pattern, false, err, errlen);
}

void rx_free(struct rx *r)
{
	if (!r)
		return;
	pcre2_code_free(r->code);
	free(r->pattern);
	free(r);
}

const char *rx_pattern(const struct rx *r)
{
	return r->pattern;
}

bool rx_match(const struct rx *r, const char *s, size_t n)
{
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(r->code, NULL);
	int rc;

	if (!md)
		return false;
	/* Invalid UTF-8 in the subject is a non-match, never a crash. */
	rc = pcre2_match(r->code, (PCRE2_SPTR)s, n, 0, 0, md, NULL);
	pcre2_match_data_free(md);
	return rc >= 0;
}

unsigned rx_groups(const struct rx *r)
{
	uint32_t n = 0;

	if (pcre2_pattern_info(r->code, PCRE2_INFO_CAPTURECOUNT, &n) != 0)
		return 0;
	return n;
}

int rx_group_number(const struct rx *r, const char *name, size_t n)
{
	char tmp[256];
	int rc;

	/* PCRE2 wants a C string; group names are short, longer ones cannot
	 * exist (PCRE2 caps names at 32 code units). */
	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, name, n);
	tmp[n] = '\0';
	rc = pcre2_substring_number_from_name(r->code, (PCRE2_SPTR)tmp);
	return rc > 0 ? rc : -1;
}

bool rx_match_groups(const struct rx *r, const char *s, size_t n, long *ovec, size_t nov)
{
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(r->code, NULL);
	PCRE2_SIZE *ov;
	uint32_t have;
	size_t i;
	int rc;

	for (i = 0; i < nov; i++)
		ovec[i] = -1;
	if (!md)
		return false;
	rc = pcre2_match(r->code, (PCRE2_SPTR)s, n, 0, 0, md, NULL);
	if (rc < 0) {
		pcre2_match_data_free(md);
		return false;
	}
	ov = pcre2_get_ovector_pointer(md);
	have = pcre2_get_ovector_count(md);
	for (i = 0; i < nov / 2 && i < have; i++) {
		if (ov[2 * i] == PCRE2_UNSET || (rc > 0 && (int)i >= rc))
			continue;
		ovec[2 * i] = (long)ov[2 * i];
		ovec[2 * i + 1] = (long)ov[2 * i + 1];
	}
	pcre2_match_data_free(md);
	return true;
}
