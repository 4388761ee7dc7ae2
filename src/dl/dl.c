#include "dl/dl.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"

/* The slots are function pointers of different types; dlsym() returns
 * void *, whose bytes are copied into the slot (POSIX requires void * and
 * function pointers to convert losslessly; this checks the sizes match). */
_Static_assert(sizeof(void *) == sizeof(void (*)(void)), "dlsym results are stored as function pointers");

int dl_load(const char *soname, const char *need, const struct dl_sym *syms, size_t nsyms,
	    void *table, void **handle, char *err, size_t errlen)
{
	const char *why;
	void *h;
	int rc = 0;

	*handle = NULL;
	h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		why = dlerror();
		snprintf(err, errlen, "cannot load %s (%s): %s", soname, need,
			 why ? why : "unknown error");
		return KM_ENOENT;
	}
	for (size_t i = 0; i < nsyms; i++) {
		void *p;

		dlerror();
		p = dlsym(h, syms[i].name);
		if (!p) {
			why = dlerror();
			snprintf(err, errlen, "%s has no %s (%s): %s", soname, syms[i].name, need,
				 why ? why : "symbol is NULL");
			rc = KM_EINVAL;
			goto out;
		}
		memcpy((char *)table + syms[i].off, &p, sizeof(p));
	}
	*handle = h;
out:
	if (rc)
		dlclose(h);
	return rc;
}
