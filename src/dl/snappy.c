#include "dl/snappy.h"

#include <string.h>

#include "dl/dl.h"

struct dl_snappy dl_snappy;

#define SYM(name, field) { name, offsetof(struct dl_snappy, field) }
static const struct dl_sym syms[] = {
	SYM("snappy_compress", compress),
	SYM("snappy_uncompress", uncompress),
	SYM("snappy_max_compressed_length", max_compressed_length),
	SYM("snappy_uncompressed_length", uncompressed_length),
};

int dl_snappy_load(char *err, size_t errlen)
{
	struct dl_snappy t;
	int rc;

	if (dl_snappy.handle)
		return 0;
	memset(&t, 0, sizeof(t));
	rc = dl_load(DL_SNAPPY_SONAME, "remote write needs libsnappy, Debian package libsnappy1v5",
		     syms, sizeof(syms) / sizeof(syms[0]), &t, &t.handle, err, errlen);
	if (!rc)
		dl_snappy = t;
	return rc;
}

bool dl_snappy_loaded(void)
{
	return dl_snappy.handle != NULL;
}
