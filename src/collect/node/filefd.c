/* filefd: node_filefd_allocated / node_filefd_maximum from
 * <procfs>/sys/fs/file-nr ("allocated\tunused\tmaximum"). */
#include "collect/node/node_int.h"

#include "base/err.h"

int node_filefd(struct node_ctx *ctx)
{
	double v[3];
	int rc = node_read_numbers(ctx, "sys/fs/file-nr", v, 3);

	if (rc)
		return rc;
	rc = node_write1(ctx->out, "node_filefd_allocated",
			 "File descriptor statistics: allocated.", EXPO_GAUGE, v[0]);
	if (!rc)
		rc = node_write1(ctx->out, "node_filefd_maximum",
				 "File descriptor statistics: maximum.", EXPO_GAUGE, v[2]);
	return rc;
}
