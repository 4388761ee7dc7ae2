/* uname: node_uname_info from uname(2) (the caller's UTS namespace). */
#include "collect/node/node_int.h"

#include <sys/utsname.h>

#include "base/err.h"

int node_uname(struct node_ctx *ctx)
{
	struct utsname u;
	struct label_pair l[6];
	int rc;

	if (uname(&u) != 0)
		return KM_EIO;
	/* Label names sorted, as client_golang prints them. */
	l[0] = (struct label_pair){ "domainname", u.domainname };
	l[1] = (struct label_pair){ "machine", u.machine };
	l[2] = (struct label_pair){ "nodename", u.nodename };
	l[3] = (struct label_pair){ "release", u.release };
	l[4] = (struct label_pair){ "sysname", u.sysname };
	l[5] = (struct label_pair){ "version", u.version };
	rc = expo_family(ctx->out, "node_uname_info",
			 "Labeled system information as provided by the uname system call.",
			 EXPO_GAUGE);
	if (!rc)
		rc = expo_sample(ctx->out, "node_uname_info", l, 6, 1);
	return rc;
}
