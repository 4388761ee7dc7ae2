#include "dl/curl.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"

_Static_assert(sizeof(void *) == sizeof(void (*)(void)), "dlsym results are stored as function pointers");

struct dl_curl dl_curl;

/* Symbol name -> slot in the table. The slots are function pointers of
 * different types; dlsym() returns void *, whose bytes are copied into the
 * slot (POSIX requires void * and function pointers to convert losslessly;
 * the assertion above checks the sizes match). */
#define SYM(name, field) { name, offsetof(struct dl_curl, field) }
static const struct {
	const char *name;
	size_t off;
} syms[] = {
	SYM("curl_global_init", global_init),
	SYM("curl_global_cleanup", global_cleanup),
	SYM("curl_easy_init", easy_init),
	SYM("curl_easy_cleanup", easy_cleanup),
	SYM("curl_easy_setopt", easy_setopt),
	SYM("curl_easy_getinfo", easy_getinfo),
	SYM("curl_easy_pause", easy_pause),
	SYM("curl_easy_perform", easy_perform),
	SYM("curl_easy_strerror", easy_strerror),
	SYM("curl_multi_init", multi_init),
	SYM("curl_multi_cleanup", multi_cleanup),
	SYM("curl_multi_add_handle", multi_add_handle),
	SYM("curl_multi_remove_handle", multi_remove_handle),
	SYM("curl_multi_perform", multi_perform),
	SYM("curl_multi_poll", multi_poll),
	SYM("curl_multi_wakeup", multi_wakeup),
	SYM("curl_multi_timeout", multi_timeout),
	SYM("curl_multi_info_read", multi_info_read),
	SYM("curl_multi_setopt", multi_setopt),
	SYM("curl_slist_append", slist_append),
	SYM("curl_slist_free_all", slist_free_all),
};

int dl_curl_load(char *err, size_t errlen)
{
	struct dl_curl t;
	const char *why;
	int rc = 0;

	if (dl_curl.handle)
		return 0;
	memset(&t, 0, sizeof(t));
	/* RTLD_NOW: a missing symbol of libcurl's own dependencies fails here,
	 * at startup, not at the first request. RTLD_LOCAL: nothing else
	 * resolves against it. */
	t.handle = dlopen(DL_CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!t.handle) {
		why = dlerror();
		snprintf(err, errlen, "cannot load %s (Kubernetes mode needs libcurl, Debian package libcurl4): %s",
			 DL_CURL_SONAME, why ? why : "unknown error");
		rc = KM_ENOENT;
		goto out;
	}
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *p;

		dlerror();
		p = dlsym(t.handle, syms[i].name);
		if (!p) {
			why = dlerror();
			snprintf(err, errlen, "%s has no %s (libcurl 7.68 or newer needed): %s",
				 DL_CURL_SONAME, syms[i].name, why ? why : "symbol is NULL");
			rc = KM_EINVAL;
			goto out;
		}
		memcpy((char *)&t + syms[i].off, &p, sizeof(p));
	}
	dl_curl = t;
out:
	if (rc && t.handle)
		dlclose(t.handle);
	return rc;
}

bool dl_curl_loaded(void)
{
	return dl_curl.handle != NULL;
}
