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

/* Label values over LABELS_VALUE_MAX (4 KiB) are a cap of k8smon's own
 * scraper, not a format error (Prometheus has no such cap; a mount point
 * may be 4 KiB and grows when invalid bytes become U+FFFD), so they are
 * not held against the output; neither is the line length. */
static inline void fnode_check(struct fnode *f, int rc)
{
	struct expo_parser_opts o = { .format = EXPO_FMT_TEXT, .max_line = 1u << 24 };
	struct expo_parser_cb cb = { .sample = fnode_sample };
	struct expo_parse_stats st;

	if (rc == 0) {
		memset(&st, 0, sizeof(st));
		FUZZ_CHECK(expo_parse_buffer(&o, &cb, f->out.data ? f->out.data : "", f->out.len,
					     &st) == 0);
		if (st.errors != st.err[EXPO_E_LABEL_TOO_LONG])
			fprintf(stderr, "invalid exposition:\n%.*s\n", (int)f->out.len, f->out.data);
		FUZZ_CHECK(st.errors == st.err[EXPO_E_LABEL_TOO_LONG]);
	}
	buf_reset(&f->out);
}

static inline void fnode_fini(struct fnode *f)
{
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
