/* Helpers for the node collector unit tests (header-only, static inline so
 * each test binary takes only what it uses). Tests run from the repository
 * root (tests/run_unit.sh), so fixture paths are relative to it. */
#ifndef K8SMON_TESTS_NODE_TEST_H
#define K8SMON_TESTS_NODE_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/rx.h"
#include "collect/node/node.h"

#define FIX "tests/fixtures/node"
#define NODE_TEST_CAP (4u << 20)

/* Runs only the collectors matching names (a regex) with the fixture tree
 * unless opts overrides it; returns the whole output (caller frees). */
static inline char *node_run(struct node_collector *nc, const struct node_opts *base,
			     const char *names)
{
	struct node_opts o;
	struct buf b;
	char err[128];
	struct rx *r = rx_new(names, err, sizeof(err));
	char *s;

	if (!r)
		fail_msg("bad regex %s: %s", names, err);
	if (base)
		o = *base;
	else
		memset(&o, 0, sizeof(o));
	if (!o.procfs)
		o.procfs = FIX "/proc";
	if (!o.sysfs)
		o.sysfs = FIX "/sys";
	if (!o.rootfs)
		o.rootfs = FIX "/root";
	o.collectors = r;
	buf_init(&b, NODE_TEST_CAP);
	assert_int_equal(node_collect(nc, &o, &b, NULL), 0);
	rx_free(r);
	s = buf_steal(&b);
	return s ? s : strdup("");
}

/* The output with the node_scrape_collector_* families cut off. */
static inline char *node_body(char *all)
{
	char *m = strstr(all, "# HELP node_scrape_collector_duration_seconds");

	if (m)
		*m = '\0';
	return all;
}

static inline char *node_read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *s;
	long n;

	if (!f)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	s = calloc(1, (size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return s;
}

/* Asserts the body of collector name equals tests/fixtures/node/expected/<name>.prom. */
static inline void node_assert_golden(struct node_collector *nc, const struct node_opts *o,
				      const char *name)
{
	char path[256];
	char *got = node_body(node_run(nc, o, name));
	char *want;

	snprintf(path, sizeof(path), FIX "/expected/%s.prom", name);
	want = node_read_file(path);
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "--- want %s\n%s--- got\n%s", path, want, got);
		fail_msg("golden mismatch for %s", name);
	}
	free(got);
	free(want);
}

/* Value of node_scrape_collector_success for name in out, or -1. */
static inline int node_success(const char *out, const char *name)
{
	char key[128];
	const char *p;

	snprintf(key, sizeof(key), "node_scrape_collector_success{collector=\"%s\"} ", name);
	p = strstr(out, key);
	if (!p)
		return -1;
	return p[strlen(key)] - '0';
}

static inline void node_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");

	if (!f)
		fail_msg("cannot write %s", path);
	fputs(text, f);
	fclose(f);
}

/* A throw-away root under /tmp with proc/ and sys/ (cmocka state of the
 * sysfs/procfs fixture tests): node_tree_new, files by node_put,
 * node_tree_free removes it all. */
struct node_tree {
	char root[64];
	char proc[128], sys[128];
};

static inline int node_mkdirs(const char *path)
{
	char p[512];

	snprintf(p, sizeof(p), "%s", path);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	return mkdir(p, 0755) == 0 || access(p, F_OK) == 0 ? 0 : -1;
}

/* Writes text to root/rel, creating the directories. */
static inline void node_put(const struct node_tree *t, const char *rel, const char *text)
{
	char path[512], dir[512];
	char *slash;

	snprintf(path, sizeof(path), "%s/%s", t->root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	*slash = '\0';
	assert_int_equal(node_mkdirs(dir), 0);
	node_write_file(path, text);
}

/* NULL on failure; tag names the directory (/tmp/k8smon-TAG-XXXXXX). */
static inline struct node_tree *node_tree_new(const char *tag)
{
	struct node_tree *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	snprintf(t->root, sizeof(t->root), "/tmp/k8smon-%s-XXXXXX", tag);
	if (!mkdtemp(t->root)) {
		free(t);
		return NULL;
	}
	snprintf(t->proc, sizeof(t->proc), "%s/proc", t->root);
	snprintf(t->sys, sizeof(t->sys), "%s/sys", t->root);
	mkdir(t->proc, 0755);
	mkdir(t->sys, 0755);
	return t;
}

static inline int node_tree_free(struct node_tree *t)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->root);
	if (system(cmd) != 0)
		return -1;
	free(t);
	return 0;
}

static inline int node_tree_teardown(void **state)
{
	return node_tree_free(*state);
}

#endif
