/* libsnappy (Debian libsnappy1v5, C API of snappy-c.h), loaded with dlopen()
 * when remote write is configured instead of linked: libsnappy is C++, and
 * linking it would map libstdc++ and libgcc_s into every agent, host mode
 * without remote write included (the same reasoning as dl/curl.h).
 *
 * State: one process-global table, filled once by dl_snappy_load() on the
 * main thread before other threads start, read-only afterwards. */
#ifndef K8SMON_DL_SNAPPY_H
#define K8SMON_DL_SNAPPY_H

#include <snappy-c.h>
#include <stdbool.h>
#include <stddef.h>

#define DL_SNAPPY_SONAME "libsnappy.so.1"

struct dl_snappy {
	void *handle;
	snappy_status (*compress)(const char *input, size_t input_length, char *compressed,
				  size_t *compressed_length);
	snappy_status (*uncompress)(const char *compressed, size_t compressed_length,
				    char *uncompressed, size_t *uncompressed_length);
	size_t (*max_compressed_length)(size_t source_length);
	snappy_status (*uncompressed_length)(const char *compressed, size_t compressed_length,
					     size_t *result);
};

extern struct dl_snappy dl_snappy;

/* 0 when loaded (also when it already was); KM_ENOENT or KM_EINVAL with one
 * line in err naming the library and the reason. Main thread, before other
 * threads start. */
int dl_snappy_load(char *err, size_t errlen);
bool dl_snappy_loaded(void);

#endif
