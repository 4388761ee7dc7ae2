/* libcurl, loaded with dlopen() when the configuration needs it instead of
 * linked. Only Kubernetes mode and remote write talk HTTP as a client (API
 * server, scrape targets, TokenReview, -remoteWrite.url); host mode without
 * remote write never does, and merely linking libcurl
 * maps and relocates it and 19 more libraries (OpenSSL, krb5, LDAP, libssh2,
 * nghttp2, ...) at every start: about 3 MiB of resident memory for nothing
 * (BENCHMARKS.md "## Node collector").
 *
 * Include this header instead of <curl/curl.h>: the curl_* names the project
 * calls are macros for the function pointers of the table below, so call
 * sites read as plain libcurl. A curl_* function missing here fails the link
 * (libcurl is not on the link line), so a new call cannot slip through to an
 * unloaded library unnoticed: add it to the table and to dl/curl.c.
 *
 * curl.h's compile-time type checks of curl_easy_setopt/getinfo are
 * function-like macros that would clash with ours, so they are disabled in
 * the build; `make curl-typecheck` (run by `make unit`) compiles every source
 * once more with -DDL_CURL_TYPECHECK, where this header is plain curl.h with
 * its checks, without producing objects.
 *
 * State: one process-global table, filled by dl_curl_load() once at startup
 * on the main thread before any other thread exists and read-only afterwards
 * (the library is never unloaded). Calling a curl_* function before a
 * successful dl_curl_load() is a bug (NULL function pointer). */
#ifndef K8SMON_DL_CURL_H
#define K8SMON_DL_CURL_H

#ifndef DL_CURL_TYPECHECK
#define CURL_DISABLE_TYPECHECK 1
#endif
#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

/* The runtime name (SONAME) of the libcurl the headers belong to. */
#define DL_CURL_SONAME "libcurl.so.4"

struct dl_curl {
	void *handle;   /* dlopen() handle; NULL until loaded */
	CURLcode (*global_init)(long flags);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *curl);
	CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
	CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
	CURLcode (*easy_pause)(CURL *curl, int bitmask);
	CURLcode (*easy_perform)(CURL *curl);
	const char *(*easy_strerror)(CURLcode code);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_cleanup)(CURLM *multi);
	CURLMcode (*multi_add_handle)(CURLM *multi, CURL *curl);
	CURLMcode (*multi_remove_handle)(CURLM *multi, CURL *curl);
	CURLMcode (*multi_perform)(CURLM *multi, int *running);
	CURLMcode (*multi_poll)(CURLM *multi, struct curl_waitfd extra[], unsigned int n, int timeout_ms, int *ret);
	CURLMcode (*multi_wakeup)(CURLM *multi);
	CURLMcode (*multi_timeout)(CURLM *multi, long *ms);
	CURLMsg *(*multi_info_read)(CURLM *multi, int *left);
	CURLMcode (*multi_setopt)(CURLM *multi, CURLMoption option, ...);
	CURLMcode (*multi_socket_action)(CURLM *multi, curl_socket_t s, int ev_bitmask, int *running);
	CURLMcode (*multi_assign)(CURLM *multi, curl_socket_t s, void *sockp);
	CURLSH *(*share_init)(void);
	CURLSHcode (*share_setopt)(CURLSH *share, CURLSHoption option, ...);
	CURLSHcode (*share_cleanup)(CURLSH *share);
	struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
	void (*slist_free_all)(struct curl_slist *list);
};

/* The table (see State above). */
extern struct dl_curl dl_curl;

/* Loads DL_CURL_SONAME and resolves every function of the table. 0 when
 * loaded (also when it already was); otherwise KM_ENOENT (library absent or
 * unloadable) or KM_EINVAL (a function missing: libcurl older than 7.68),
 * with one line in err naming the library and dlerror()'s reason, and the
 * table left empty. Main thread, before other threads start. */
int dl_curl_load(char *err, size_t errlen);

/* True once dl_curl_load() succeeded; agent_start() checks it in Kubernetes
 * mode. */
bool dl_curl_loaded(void);

#ifndef DL_CURL_TYPECHECK
/* Without the type checks, curl.h still wraps these three in identity
 * macros (to enforce three arguments). */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt
#undef curl_share_setopt
#define curl_global_init         dl_curl.global_init
#define curl_global_cleanup      dl_curl.global_cleanup
#define curl_easy_init           dl_curl.easy_init
#define curl_easy_cleanup        dl_curl.easy_cleanup
#define curl_easy_setopt         dl_curl.easy_setopt
#define curl_easy_getinfo        dl_curl.easy_getinfo
#define curl_easy_pause          dl_curl.easy_pause
#define curl_easy_perform        dl_curl.easy_perform
#define curl_easy_strerror       dl_curl.easy_strerror
#define curl_multi_init          dl_curl.multi_init
#define curl_multi_cleanup       dl_curl.multi_cleanup
#define curl_multi_add_handle    dl_curl.multi_add_handle
#define curl_multi_remove_handle dl_curl.multi_remove_handle
#define curl_multi_perform       dl_curl.multi_perform
#define curl_multi_poll          dl_curl.multi_poll
#define curl_multi_wakeup        dl_curl.multi_wakeup
#define curl_multi_timeout       dl_curl.multi_timeout
#define curl_multi_info_read     dl_curl.multi_info_read
#define curl_multi_setopt        dl_curl.multi_setopt
#define curl_multi_socket_action dl_curl.multi_socket_action
#define curl_multi_assign        dl_curl.multi_assign
#define curl_share_init          dl_curl.share_init
#define curl_share_setopt        dl_curl.share_setopt
#define curl_share_cleanup       dl_curl.share_cleanup
#define curl_slist_append        dl_curl.slist_append
#define curl_slist_free_all      dl_curl.slist_free_all
#endif

#endif
