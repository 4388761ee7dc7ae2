#include "dl/snappy.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"

struct dl_snappy dl_snappy;

#define SYM(name, field) { name, offsetof(struct dl_snappy, field) }
static const struct {
	const char *name;
	size_t off;
} syms[] = {
	SYM("snappy_compress", compress),
	SYM("snappy_uncompress", uncompress),
	SYM("snappy_max_compressed_length", max_compressed_length),
	SYM("snappy_uncompressed_length", uncompressed_length),
};

int dl_snappy_load(char *err, size_t errlen)
{
	struct dl_snappy t;
	const char *why;
	int rc = 0;

	if (dl_snappy.handle)
		return 0;
	memset(&t, 0, sizeof(t));
	t.handle = dlopen(DL_SNAPPY_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!t.handle) {
		why = dlerror();
		snprintf(err, errlen, "cannot load %s (remote write needs libsnappy, Debian package libsnappy1v5): %s",
			 DL_SNAPPY_SONAME, why ? why : "unknown error");
		rc = KM_ENOENT;
		goto out;
	}
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *p;

		dlerror();
		p = dlsym(t.handle, syms[i].name);
		if (!p) {
			why = dlerror();
			snprintf(err, errlen, "%s has no %s: %s", DL_SNAPPY_SONAME, syms[i].name,
				 why ? why : "symbol is NULL");
			rc = KM_EINVAL;
			goto out;
		}
		memcpy((char *)&t + syms[i].off, &p, sizeof(p));
	}
	dl_snappy = t;
out:
	if (rc && t.handle)
		dlclose(t.handle);
	return rc;
}

bool dl_snappy_loaded(void)
{
	return dl_snappy.handle != NULL;
}
