/* Loading a shared library into a table of function pointers (the libraries
 * only some modes need: libcurl for Kubernetes mode, libsnappy for remote
 * write), so an agent that does not use them never maps them. */
#ifndef K8SMON_DL_DL_H
#define K8SMON_DL_DL_H

#include <stddef.h>

/* A symbol and the offset of its slot in the caller's table. */
struct dl_sym {
	const char *name;
	size_t off;
};

/* dlopen()s soname (RTLD_NOW | RTLD_LOCAL: a missing symbol of its own
 * dependencies fails here, at start-up, not at first use; nothing else
 * resolves against it) and stores each symbol's address into table + off.
 * *handle gets the dlopen() handle. need says what needs the library and
 * which package has it, for the error. On failure nothing is kept loaded,
 * *handle stays NULL and err says why. Returns 0, KM_ENOENT (the library
 * cannot be loaded) or KM_EINVAL (a symbol is missing). */
int dl_load(const char *soname, const char *need, const struct dl_sym *syms, size_t nsyms,
	    void *table, void **handle, char *err, size_t errlen);

#endif
