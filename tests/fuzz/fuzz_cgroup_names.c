/* cgroup directory names (the walk classifies every directory it meets):
 * cg_name_pod_uid and cg_name_container on the input as one name.
 * Invariants: a recognised pod UID is non-empty, shorter than CG_UID_MAX,
 * hex and dashes only; a container ID non-empty, shorter than CG_CID_MAX,
 * alphanumeric, with a known runtime unless it is a plain 64-char ID. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect/container/cgroup.h"
#include "fuzz/fuzz.h"

int fuzz_cgroup_names(const uint8_t *data, size_t size)
{
	char uid[CG_UID_MAX], cid[CG_CID_MAX];
	enum cg_runtime rt = CG_RT_UNKNOWN;
	char *name;
	size_t n;

	/* Directory names are at most NAME_MAX bytes. */
	if (size > 255)
		return 0;
	name = malloc(size + 1);
	FUZZ_CHECK(name != NULL);
	memcpy(name, data, size);
	name[size] = '\0';
	if (cg_name_pod_uid(name, uid)) {
		n = strlen(uid);
		FUZZ_CHECK(n > 0 && n < CG_UID_MAX);
		FUZZ_CHECK(strspn(uid, "0123456789abcdefABCDEF-") == n);
	}
	if (cg_name_container(name, cid, &rt)) {
		n = strlen(cid);
		FUZZ_CHECK(n > 0 && n < CG_CID_MAX);
		FUZZ_CHECK(strspn(cid, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") == n);
		FUZZ_CHECK(rt != CG_RT_UNKNOWN || n == 64);
	}
	free(name);
	return 0;
}
