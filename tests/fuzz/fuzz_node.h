/* Shared by the node harnesses (fuzz_node_*.c): a collector context whose
 * procfs, sysfs and rootfs point at a directory that does not exist, so the
 * nested reads some parsers make (udev data, queue/rotational, statfs of a
 * mount point) fail as on a host without them and never touch real files.
 * fnode_check() holds the invariant every node parser shares: when it
 * succeeds, what it wrote is exposition text that parses with zero errors
 * (a name or label value taken from the file must never break the scrape).
 * Header-only with static inline functions: test_fuzz_replay.c includes
 * every harness into one translation unit. */
#ifndef K8SMON_TESTS_FUZZ_NODE_H
#define K8SMON_TESTS_FUZZ_NODE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "collect/node/node_int.h"
#include "expo/parser.h"
#include "fuzz/fuzz.h"

#define FNODE_NOWHERE "/nonexistent/k8smon-fuzz"

struct fnode {
	struct node_collector *nc;
	struct node_ctx ctx;
	struct buf out;
	struct expo_parser *p;  /* made on the first check, reset for the next:
				 * its buffers are the costly part under ASan */
};

static inline void fnode_init(struct fnode *f)
{
	memset(f, 0, sizeof(*f));
	f->nc = node_collector_new();
	FUZZ_CHECK(f->nc != NULL);
	buf_init(&f->out, 1u << 24);
	f->ctx.nc = f->nc;
	f->ctx.out = &f->out;
	f->ctx.procfs = FNODE_NOWHERE;
	f->ctx.sysfs = FNODE_NOWHERE;
	f->ctx.rootfs = FNODE_NOWHERE;
	f->ctx.mount_points_exclude = f->nc->def_mount_exclude;
	f->ctx.fs_types_exclude = f->nc->def_fstype_exclude;
	f->ctx.diskstats_exclude = f->nc->def_disk_exclude;
	f->ctx.vmstat_fields = f->nc->def_vmstat_fields;
	f->ctx.netstat_fields = f->nc->def_netstat_fields;
}

static inline int fnode_sample(void *arg, const struct expo_sample_ev *s)
{
	(void)arg;
	(void)s;
	return 0;
}

/* Label values over LABELS_VALUE_MAX (4 KiB) and lines over
 * EXPO_MAX_LINE_DEFAULT (64 KiB) are caps of k8smon's own scrape parser,
 * not format errors (Prometheus has neither; a 4 KiB mount point grows to
 * 12 KiB when its bytes become U+FFFD), so they are not held against the
 * output. The default caps also keep the parser's per-parse buffers small,
 * which matters for the replay under ASan. */
static inline void fnode_check(struct fnode *f, int rc)
{
	struct expo_parser_cb cb = { .sample = fnode_sample };
	const struct expo_parse_stats *st;
	uint64_t caps;

	if (rc == 0 && f->out.len) {
		/* node_os_info has the most labels (12); 16 keeps the parser's
		 * label arena small enough for ASan's ordinary allocator. */
		struct expo_parser_opts o = { .format = EXPO_FMT_TEXT, .max_labels = 16 };

		if (!f->p)
			f->p = expo_parser_new(&o, &cb);
		else
			expo_parser_reset(f->p);
		FUZZ_CHECK(f->p != NULL);
		FUZZ_CHECK(expo_parser_feed(f->p, f->out.data, f->out.len) == 0);
		FUZZ_CHECK(expo_parser_finish(f->p) == 0);
		st = expo_parser_stats(f->p);
		caps = st->err[EXPO_E_LABEL_TOO_LONG] + st->err[EXPO_E_LINE_TOO_LONG];
		if (st->errors != caps)
			fprintf(stderr, "invalid exposition:\n%.*s\n", (int)f->out.len, f->out.data);
		FUZZ_CHECK(st->errors == caps);
	}
	buf_reset(&f->out);
}

static inline void fnode_fini(struct fnode *f)
{
	expo_parser_free(f->p);
	buf_fini(&f->out);
	node_collector_free(f->nc);
}

/* An exact-size copy, so ASan sees any read past the input. */
static inline char *fnode_dup(const uint8_t *data, size_t size)
{
	char *s = malloc(size ? size : 1);

	FUZZ_CHECK(s != NULL);
	if (size)
		memcpy(s, data, size);
	return s;
}

#endif
