/* filefd: node_filefd_allocated / node_filefd_maximum from
 * <procfs>/sys/fs/file-nr ("allocated\tunused\tmaximum"). */
#include "collect/node/node_int.h"

#include "base/err.h"

int node_filefd(struct node_ctx *ctx)
{
	const char *data, *p, *end;
	double v[3];
	size_t len;
	int rc;

	rc = procfile_read(&ctx->nc->pf, ctx->procfs, "sys/fs/file-nr", &data, &len);
	if (rc)
		return rc;
	p = data;
	end = data + len;
	for (int i = 0; i < 3; i++) {
		rc = node_parse_double_field(&p, end, &v[i]);
		if (rc)
			return rc;
	}
	rc = node_write1(ctx->out, "node_filefd_allocated",
			 "File descriptor statistics: allocated.", EXPO_GAUGE, v[0]);
	if (!rc)
		rc = node_write1(ctx->out, "node_filefd_maximum",
				 "File descriptor statistics: maximum.", EXPO_GAUGE, v[2]);
	return rc;
}
