/* Test/bench driver for the container collector: fills a pod map from a JSON
 * file (one Pod object or {"items":[...]}), runs N scrapes and prints the last
 * exposition on stdout.
 *
 * usage: driver <procfs> <sysfs> <pods.json|-> [scrapes]
 * K8SMON_SANDBOX_IMAGE in the environment: the image label of sandbox rows
 * (-container.sandboxImage); K8SMON_CRIO_SOCKET: CRI-O's socket
 * (-container.crioSocket; libcurl is loaded for it), then the driver waits
 * up to 60 s for the CRI-O containers' first filesystem round before the
 * last scrape (it scrapes at least twice). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/parse.h"
#include "collect/container/container.h"
#include "collect/container/podmap.h"
#include "dl/curl.h"

static int load_pods(struct podmap *pm, const char *file)
{
	json_error_t e;
	json_t *root;
	json_t *items;
	size_t i;
	json_t *pod;
	int err = KM_OK;

	root = json_load_file(file, 0, &e);
	if (!root) {
		fprintf(stderr, "driver: %s: %s\n", file, e.text);
		return KM_EPARSE;
	}
	items = json_object_get(root, "items");
	if (!items)
		err = podmap_upsert(pm, root);
	json_array_foreach(items, i, pod) {
		if (!err)
			err = podmap_upsert(pm, pod);
	}
	json_decref(root);
	return err;
}

int main(int argc, char **argv)
{
	struct container_collector *cc;
	struct podmap *pm = NULL;
	struct buf out;
	uint64_t n = 1;
	int err = KM_OK;
	const char *crio = getenv("K8SMON_CRIO_SOCKET");

	if (argc < 4) {
		fprintf(stderr, "usage: driver <procfs> <sysfs> <pods.json|-> [scrapes]\n");
		return 2;
	}
	if (argc > 4 && parse_u64_str(argv[4], &n) != 0) {
		fprintf(stderr, "driver: bad scrape count\n");
		return 2;
	}
	if (crio && crio[0]) {
		char why[256];

		if (dl_curl_load(why, sizeof(why)) != 0) {
			fprintf(stderr, "driver: %s\n", why);
			return 1;
		}
		if (n < 2)
			n = 2;
	} else {
		crio = NULL;
	}
	cc = container_collector_new();
	buf_init(&out, 256u << 20);
	if (argv[3][0] != '-') {
		pm = podmap_new();
		if (!pm || (err = load_pods(pm, argv[3])) != 0)
			goto out_free;
	}
	for (uint64_t i = 0; i < n && !err; i++) {
		struct container_opts o = { .procfs = argv[1], .sysfs = argv[2], .podmap = pm,
					    .sandbox_image = getenv("K8SMON_SANDBOX_IMAGE"),
					    .crio_socket = crio };

		buf_reset(&out);
		err = container_collect(cc, &o, &out, NULL);
		/* the rows come from the tracker's first round */
		if (!err && crio && i == 0 && container_collect_settle(cc, 60000) != 0)
			fprintf(stderr, "driver: CRI-O rounds not done in 60 s\n");
	}
	if (!err)
		fwrite(out.data ? out.data : "", 1, out.len, stdout);
out_free:
	if (err)
		fprintf(stderr, "driver: %s\n", km_strerror(err));
	buf_fini(&out);
	podmap_free(pm);
	container_collector_free(cc);
	return err ? 1 : 0;
}
