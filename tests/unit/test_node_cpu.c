/* Node collector: CPU counter hygiene across scrapes (a backwards field
 * keeps its old value, an idle drop of >= 3 s resets the CPU, vanished CPUs
 * are dropped) over a temporary /proc/stat. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "node_test.h"

struct cpu_fix {
	struct node_collector *nc;
	char dir[64];
	char stat[96];
};

static int setup(void **state)
{
	struct cpu_fix *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/k8smon-cpu-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->stat, sizeof(f->stat), "%s/stat", f->dir);
	f->nc = node_collector_new();
	*state = f;
	return f->nc ? 0 : -1;
}

static int teardown(void **state)
{
	struct cpu_fix *f = *state;

	unlink(f->stat);
	rmdir(f->dir);
	node_collector_free(f->nc);
	free(f);
	return 0;
}

/* Scrapes with the given /proc/stat text; returns the cpu body. */
static char *scrape(struct cpu_fix *f, const char *stat)
{
	struct node_opts o = { 0 };

	node_write_file(f->stat, stat);
	o.procfs = f->dir;
	return node_body(node_run(f->nc, &o, "cpu"));
}

static void expect(const char *out, const char *cpu, const char *mode, const char *v)
{
	char line[160];

	snprintf(line, sizeof(line), "node_cpu_seconds_total{cpu=\"%s\",mode=\"%s\"} %s\n", cpu,
		 mode, v);
	if (!strstr(out, line))
		fail_msg("missing %s in:\n%s", line, out);
}

static void test_backwards_keeps_old(void **state)
{
	struct cpu_fix *f = *state;
	char *out;

	out = scrape(f, "cpu  0 0 0 0\ncpu0 1000 0 300 50000 10 0 0 0 0 0\n");
	expect(out, "0", "user", "10");
	expect(out, "0", "idle", "500");
	free(out);
	/* user and iowait go backwards: old values kept; others advance. */
	out = scrape(f, "cpu  0 0 0 0\ncpu0 900 0 400 50100 5 0 0 0 0 0\n");
	expect(out, "0", "user", "10");
	expect(out, "0", "iowait", "0.1");
	expect(out, "0", "system", "4");
	expect(out, "0", "idle", "501");
	free(out);
	/* Idle drops by 2 s (< 3 s): kept, no reset. */
	out = scrape(f, "cpu  0 0 0 0\ncpu0 1100 0 400 49900 5 0 0 0 0 0\n");
	expect(out, "0", "idle", "501");
	expect(out, "0", "user", "11");
	free(out);
}

static void test_idle_drop_resets(void **state)
{
	struct cpu_fix *f = *state;
	char *out;

	out = scrape(f, "cpu0 1000 0 300 50000 10 0 0 0 0 0\n");
	expect(out, "0", "user", "10");
	free(out);
	/* Idle drops by 10 s: hotplug, every field of cpu0 starts over. */
	out = scrape(f, "cpu0 100 0 30 49000 1 0 0 0 0 0\n");
	expect(out, "0", "user", "1");
	expect(out, "0", "system", "0.3");
	expect(out, "0", "idle", "490");
	expect(out, "0", "iowait", "0.01");
	free(out);
}

static void test_vanished_cpu_dropped(void **state)
{
	struct cpu_fix *f = *state;
	char *out;

	out = scrape(f, "cpu0 1 0 0 100\ncpu1 2 0 0 200\ncpu3 3 0 0 300\n");
	expect(out, "1", "user", "0.02");
	expect(out, "3", "idle", "3");
	free(out);
	out = scrape(f, "cpu0 1 0 0 100\ncpu3 4 0 0 300\n");
	assert_null(strstr(out, "cpu=\"1\""));
	expect(out, "3", "user", "0.04");
	/* Short kernels' lines: missing columns are 0. */
	expect(out, "3", "steal", "0");
	free(out);
	/* cpu1 comes back: fresh values, not the stale cache. */
	out = scrape(f, "cpu0 1 0 0 100\ncpu1 1 0 0 50\ncpu3 4 0 0 300\n");
	expect(out, "1", "user", "0.01");
	expect(out, "1", "idle", "0.5");
	free(out);
}

static void test_malformed_keeps_cache(void **state)
{
	struct cpu_fix *f = *state;
	char *out;

	out = scrape(f, "cpu0 1000 0 0 50000\n");
	free(out);
	/* Bad line: the collector fails and emits nothing... */
	out = scrape(f, "cpu0 1000 x 0 50000\n");
	assert_string_equal(out, "");
	free(out);
	/* ...and the cache is untouched: backwards user still held. */
	out = scrape(f, "cpu0 500 0 0 50000\n");
	expect(out, "0", "user", "10");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_backwards_keeps_old, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_drop_resets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vanished_cpu_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_keeps_cache, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
