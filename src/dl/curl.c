#include "dl/curl.h"

#include <string.h>

#include "dl/dl.h"

struct dl_curl dl_curl;

/* Symbol name -> slot in the table (dl/dl.h). */
#define SYM(name, field) { name, offsetof(struct dl_curl, field) }
static const struct dl_sym syms[] = {
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
	SYM("curl_multi_socket_action", multi_socket_action),
	SYM("curl_multi_assign", multi_assign),
	SYM("curl_share_init", share_init),
	SYM("curl_share_setopt", share_setopt),
	SYM("curl_share_cleanup", share_cleanup),
	SYM("curl_slist_append", slist_append),
	SYM("curl_slist_free_all", slist_free_all),
};

int dl_curl_load(char *err, size_t errlen)
{
	struct dl_curl t;
	int rc;

	if (dl_curl.handle)
		return 0;
	memset(&t, 0, sizeof(t));
	rc = dl_load(DL_CURL_SONAME,
		     "Kubernetes mode needs libcurl 7.68 or newer, Debian package libcurl4", syms,
		     sizeof(syms) / sizeof(syms[0]), &t, &t.handle, err, errlen);
	if (!rc)
		dl_curl = t;
	return rc;
}

bool dl_curl_loaded(void)
{
	return dl_curl.handle != NULL;
}
