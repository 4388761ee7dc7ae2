/* /proc/1/mountinfo: the filesystem sub-collector. statfs() runs on the
 * rootfs (a directory that does not exist) plus each mount point, so every
 * mount takes the device_error path. */
#include "fuzz/fuzz_node.h"

int fuzz_node_mountinfo(const uint8_t *data, size_t size)
{
	struct fnode f;
	/* The parser splits in place and writes the NUL at data[len], as it
	 * does in procfile's buffer. */
	char *s = malloc(size + 1);

	FUZZ_CHECK(s != NULL);
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	fnode_init(&f);
	fnode_check(&f, node_filesystem_parse(&f.ctx, s, size));
	fnode_fini(&f);
	free(s);
	return 0;
}
