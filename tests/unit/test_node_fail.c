/* Node collector: failure isolation. Over tests/fixtures/node/bad (truncated
 * and malformed files), each broken sub-collector reports success 0, its
 * partial output is rolled back, it is counted in collect_stats, and the
 * collectors that can still read their sources (uname, time, timex, and the
 * sysfs/rootfs ones) are present. Also: an output buffer too small. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "node_test.h"
#include "base/log.h"
#include "collect/stats.h"

static int setup(void **state)
{
	*state = node_collector_new();
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	node_collector_free(*state);
	return 0;
}

static void test_bad_tree(void **state)
{
	static const char *const failing[] = {
		"loadavg",   /* "0.52 abc ..." */
		"meminfo",   /* truncated after two good lines */
		"vmstat",    /* pgfault good, pgmajfault "x" */
		"cpu",       /* cpu0 with two columns */
		"stat",      /* ctxt abc */
		"filefd",    /* one column */
		"netstat",   /* header/value count mismatch */
		"diskstats", /* five columns */
		"filesystem",/* mountinfo line without " - " */
		"netdev",    /* too few columns */
		"pressure",  /* missing */
		"conntrack", /* missing */
	};
	struct collect_stats *st = collect_stats_new();
	struct node_opts o = { 0 };
	struct buf b, sb;

	assert_non_null(st);
	o.procfs = FIX "/bad/proc";
	o.sysfs = FIX "/sys";
	o.rootfs = FIX "/root";
	buf_init(&b, NODE_TEST_CAP);
	assert_int_equal(node_collect(*state, &o, &b, st), 0);
	for (size_t i = 0; i < sizeof(failing) / sizeof(failing[0]); i++) {
		if (node_success(buf_cstr(&b), failing[i]) != 0)
			fail_msg("collector %s: expected success 0", failing[i]);
	}
	/* Nothing partial: the lines written before the bad one are gone. */
	assert_null(strstr(buf_cstr(&b), "node_memory_"));
	assert_null(strstr(buf_cstr(&b), "node_vmstat_"));
	assert_null(strstr(buf_cstr(&b), "node_load1"));
	assert_null(strstr(buf_cstr(&b), "node_netstat_"));
	assert_null(strstr(buf_cstr(&b), "node_cpu_seconds_total"));
	/* The others still run. */
	assert_int_equal(node_success(buf_cstr(&b), "uname"), 1);
	assert_int_equal(node_success(buf_cstr(&b), "time"), 1);
	assert_int_equal(node_success(buf_cstr(&b), "netclass"), 1);
	assert_int_equal(node_success(buf_cstr(&b), "os"), 1);
	assert_non_null(strstr(buf_cstr(&b), "\nnode_uname_info{"));
	assert_non_null(strstr(buf_cstr(&b), "\nnode_network_up{device=\"eth0\"} 1\n"));
	/* Every meta sample is there, and the exposition stays well formed:
	 * each family's samples follow its own HELP/TYPE. */
	assert_non_null(strstr(buf_cstr(&b), "node_scrape_collector_duration_seconds{collector=\"meminfo\"} "));
	/* Failures are counted in the shared stats. */
	buf_init(&sb, 1 << 20);
	assert_int_equal(collect_stats_write(st, &sb), 0);
	assert_non_null(strstr(buf_cstr(&sb), "collector=\"node.meminfo\""));
	assert_non_null(strstr(buf_cstr(&sb), "k8smon_collector_errors_total{collector=\"node.meminfo\"} 1\n"));
	assert_non_null(strstr(buf_cstr(&sb), "k8smon_collector_errors_total{collector=\"node.uname\"} 0\n"));
	buf_fini(&sb);
	buf_fini(&b);
	collect_stats_free(st);
}

/* collect_stats_record() tries the slot after the last recorded name
 * first: names recorded in another order, or one name twice in a row,
 * still count for themselves. */
static void test_stats_order(void **state)
{
	static const char *const seq[] = { "a", "b", "c", "c", "a", "b", "a", "a", "b" };
	struct collect_stats *st = collect_stats_new();
	struct buf sb;

	(void)state;
	assert_non_null(st);
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
		assert_int_equal(collect_stats_record(st, seq[i], 0.5, seq[i][0] != 'c'), 0);
	buf_init(&sb, 1 << 20);
	assert_int_equal(collect_stats_write(st, &sb), 0);
	assert_non_null(strstr(buf_cstr(&sb), "k8smon_collector_runs_total{collector=\"a\"} 4\n"));
	assert_non_null(strstr(buf_cstr(&sb), "k8smon_collector_runs_total{collector=\"b\"} 3\n"));
	assert_non_null(strstr(buf_cstr(&sb), "k8smon_collector_runs_total{collector=\"c\"} 2\n"));
	assert_non_null(strstr(buf_cstr(&sb), "k8smon_collector_errors_total{collector=\"c\"} 2\n"));
	assert_non_null(strstr(buf_cstr(&sb), "k8smon_collector_errors_total{collector=\"a\"} 0\n"));
	buf_fini(&sb);
	collect_stats_free(st);
}

static void test_missing_procfs(void **state)
{
	struct node_opts o = { 0 };
	char *out;

	o.procfs = "/nonexistent/k8smon";
	o.sysfs = "/nonexistent/k8smon";
	o.rootfs = "/nonexistent/k8smon";
	out = node_run(*state, &o, ".*");
	assert_int_equal(node_success(out, "cpu"), 0);
	assert_int_equal(node_success(out, "netclass"), 0);
	assert_int_equal(node_success(out, "os"), 0);
	assert_int_equal(node_success(out, "uname"), 1);
	free(out);
}

static void test_output_too_small(void **state)
{
	struct node_opts o = { 0 };
	char err[64];
	struct rx *r = rx_new("meminfo|loadavg", err, sizeof(err));
	struct buf b;

	o.procfs = FIX "/proc";
	o.collectors = r;
	/* Room for loadavg but not for meminfo: meminfo rolled back and
	 * reported failed, the scrape itself still succeeds. */
	buf_init(&b, 1200);
	assert_int_equal(node_collect(*state, &o, &b, NULL), 0);
	assert_int_equal(node_success(buf_cstr(&b), "meminfo"), 0);
	assert_int_equal(node_success(buf_cstr(&b), "loadavg"), 1);
	assert_null(strstr(buf_cstr(&b), "node_memory_"));
	buf_fini(&b);
	/* Not even the meta families fit: error, out back to where it was. */
	buf_init(&b, 64);
	assert_int_equal(buf_adds(&b, "x"), 0);
	assert_int_equal(node_collect(*state, &o, &b, NULL), KM_ETOOBIG);
	assert_string_equal(buf_cstr(&b), "x");
	buf_fini(&b);
	rx_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_procfs, setup, teardown),
		cmocka_unit_test(test_stats_order),
		cmocka_unit_test_setup_teardown(test_output_too_small, setup, teardown),
	};

	log_setup(LOG_FATAL, LOG_FMT_LOGFMT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
