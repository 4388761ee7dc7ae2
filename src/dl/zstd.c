#include "dl/zstd.h"

#include <string.h>

#include "dl/dl.h"

struct dl_zstd dl_zstd;

#define SYM(name, field) { name, offsetof(struct dl_zstd, field) }
static const struct dl_sym syms[] = {
	SYM("ZSTD_compress", compress),
	SYM("ZSTD_compressBound", compress_bound),
	SYM("ZSTD_decompress", decompress),
	SYM("ZSTD_getFrameContentSize", frame_content_size),
	SYM("ZSTD_isError", is_error),
	SYM("ZSTD_getErrorName", error_name),
};

int dl_zstd_load(char *err, size_t errlen)
{
	struct dl_zstd t;
	int rc;

	if (dl_zstd.handle)
		return 0;
	memset(&t, 0, sizeof(t));
	rc = dl_load(DL_ZSTD_SONAME, "remote write to VictoriaMetrics needs libzstd, Debian package libzstd1",
		     syms, sizeof(syms) / sizeof(syms[0]), &t, &t.handle, err, errlen);
	if (!rc)
		dl_zstd = t;
	return rc;
}

bool dl_zstd_loaded(void)
{
	return dl_zstd.handle != NULL;
}
