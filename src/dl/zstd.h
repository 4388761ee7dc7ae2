/* libzstd (Debian libzstd1), loaded with dlopen() when remote write is
 * configured, like dl/snappy.h: only an agent that pushes to a receiver
 * speaking VictoriaMetrics' remote-write variant (zstd instead of snappy)
 * uses it, so no other agent maps it.
 *
 * State: one process-global table, filled once by dl_zstd_load() on the
 * main thread before other threads start, read-only afterwards. */
#ifndef K8SMON_DL_ZSTD_H
#define K8SMON_DL_ZSTD_H

#include <stdbool.h>
#include <stddef.h>
#include <zstd.h>

#define DL_ZSTD_SONAME "libzstd.so.1"

struct dl_zstd {
	void *handle;
	size_t (*compress)(void *dst, size_t dst_cap, const void *src, size_t src_size, int level);
	size_t (*compress_bound)(size_t src_size);
	size_t (*decompress)(void *dst, size_t dst_cap, const void *src, size_t src_size);
	unsigned long long (*frame_content_size)(const void *src, size_t src_size);
	unsigned (*is_error)(size_t code);
	const char *(*error_name)(size_t code);
};

extern struct dl_zstd dl_zstd;

/* 0 when loaded (also when it already was); KM_ENOENT or KM_EINVAL with one
 * line in err. Main thread, before other threads start. */
int dl_zstd_load(char *err, size_t errlen);
bool dl_zstd_loaded(void);

#endif
