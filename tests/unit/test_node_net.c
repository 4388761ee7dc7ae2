/* Node collectors added for node_exporter v1.12 parity: sockstat(+6),
 * softnet, arp, udp_queues, entropy, conntrack stat, textfile.
 *  - over tests/fixtures/node/proc: the exact lines node_exporter v1.12.1
 *    prints for the same files (checked side by side with the real binary);
 *  - over tests/fixtures/node/bad/proc (truncated and garbage files): each
 *    fails alone (success 0, counted in collect_stats, nothing partial kept)
 *    while the others still report;
 *  - textfile: good files exported, a malformed or timestamped file skipped
 *    and reported in node_textfile_scrape_error, first duplicate wins,
 *    missing labels filled, default HELP naming the files. */
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

static void want_line(const char *out, const char *line)
{
	char key[512];

	size_t n = strlen(line);

	snprintf(key, sizeof(key), "\n%s\n", line);
	if (strncmp(out, line, n) == 0 && out[n] == '\n')
		return;
	if (!strstr(out, key))
		fail_msg("missing line: %s\n--- output:\n%s", line, out);
}

static void test_good(void **state)
{
	static const char *const lines[] = {
		"# HELP node_sockstat_sockets_used Number of IPv4 sockets in use.",
		"node_sockstat_sockets_used 229",
		"# HELP node_sockstat_TCP_alloc Number of TCP sockets in state alloc.",
		"node_sockstat_TCP_alloc 17",
		"node_sockstat_TCP_tw 4",
		"node_sockstat_TCP_orphan 0",
		"node_sockstat_FRAG_memory 0",
		"node_sockstat_TCP6_inuse 17",
		"node_sockstat_RAW6_inuse 1",
		"# TYPE node_softnet_processed_total counter",
		"node_softnet_processed_total{cpu=\"0\"} 299641",
		/* 13 columns: the CPU number comes from the last one. */
		"node_softnet_processed_total{cpu=\"5\"} 916354",
		"node_softnet_times_squeezed_total{cpu=\"5\"} 10",
		"node_softnet_received_rps_total{cpu=\"5\"} 4",
		"node_softnet_flow_limit_count_total{cpu=\"5\"} 5",
		"# TYPE node_softnet_backlog_len gauge",
		"node_softnet_backlog_len{cpu=\"5\"} 7",
		"# HELP node_arp_entries ARP entries by device",
		"node_arp_entries{device=\"eth0\"} 2",
		"node_arp_entries{device=\"veth1a2b\"} 1",
		"node_udp_queues{ip=\"v4\",queue=\"tx\"} 277",
		"node_udp_queues{ip=\"v4\",queue=\"rx\"} 17",
		"node_udp_queues{ip=\"v6\",queue=\"rx\"} 0",
		"node_entropy_available_bits 3150",
		"node_entropy_pool_size_bits 4096",
		"node_nf_conntrack_stat_found 7",
		"node_nf_conntrack_stat_search_restart 16",
		"# TYPE node_schedstat_running_seconds_total counter",
		"node_schedstat_running_seconds_total{cpu=\"0\"} 2.045936778163039e+06",
		"node_schedstat_waiting_seconds_total{cpu=\"1\"} 364107.263788241",
		"node_schedstat_timeslices_total{cpu=\"1\"} 5145567945",
	};
	char *out = node_run(*state, NULL,
			     "^(sockstat|softnet|arp|udp_queues|entropy|conntrack|schedstat)$");

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		want_line(out, lines[i]);
	/* mem_bytes: mem pages times the page size. */
	{
		char l[128];

		snprintf(l, sizeof(l), "node_sockstat_TCP_mem_bytes %ld", sysconf(_SC_PAGESIZE));
		want_line(out, l);
	}
	/* sockets_used is IPv4 only; "memory" only where the file has it. */
	assert_null(strstr(out, "node_sockstat_TCP_memory"));
	/* A "cpuN" line with too few numbers is skipped, as procfs does. */
	assert_null(strstr(out, "cpu=\"2\""));
	for (const char *c = "sockstat\0softnet\0arp\0udp_queues\0entropy\0conntrack\0schedstat\0"; *c;
	     c += strlen(c) + 1)
		assert_int_equal(node_success(out, c), 1);
	free(out);
}

static void test_bad(void **state)
{
	static const char *const failing[] = {
		"sockstat",   /* "TCP: inuse 4 orphan": odd key/value count */
		"softnet",    /* three columns */
		"arp",        /* four columns */
		"udp_queues", /* tx_queue "0000zz15" */
		"entropy",    /* entropy_avail "garbage" */
		"conntrack",  /* net/stat/nf_conntrack with five columns */
		"bonding",    /* sys: bond0 listed, its bonding/slaves missing */
	};
	struct collect_stats *st = collect_stats_new();
	struct node_opts o = { 0 };
	struct buf b, sb;
	char key[128];

	assert_non_null(st);
	o.procfs = FIX "/bad/proc";
	o.sysfs = FIX "/sys";
	o.rootfs = FIX "/root";
	buf_init(&b, NODE_TEST_CAP);
	assert_int_equal(node_collect(*state, &o, &b, st), 0);
	buf_init(&sb, 1 << 20);
	assert_int_equal(collect_stats_write(st, &sb), 0);
	for (size_t i = 0; i < sizeof(failing) / sizeof(failing[0]); i++) {
		if (node_success(buf_cstr(&b), failing[i]) != 0)
			fail_msg("collector %s: expected success 0", failing[i]);
		snprintf(key, sizeof(key), "k8smon_collector_errors_total{collector=\"node.%s\"} 1\n",
			 failing[i]);
		if (!strstr(buf_cstr(&sb), key))
			fail_msg("collector %s: failure not counted", failing[i]);
	}
	/* A missing /proc/schedstat is node_exporter's ErrNoData: success 0,
	 * but no error to count (nor a k8smon self-alert). */
	assert_int_equal(node_success(buf_cstr(&b), "schedstat"), 0);
	assert_null(strstr(buf_cstr(&sb), "k8smon_collector_errors_total{collector=\"node.schedstat\"} 1"));
	/* Nothing partial: the lines before the bad ones are gone. */
	assert_null(strstr(buf_cstr(&b), "node_sockstat_"));
	assert_null(strstr(buf_cstr(&b), "node_softnet_"));
	assert_null(strstr(buf_cstr(&b), "node_arp_"));
	assert_null(strstr(buf_cstr(&b), "node_udp_queues"));
	assert_null(strstr(buf_cstr(&b), "node_entropy_"));
	assert_null(strstr(buf_cstr(&b), "node_nf_conntrack_entries"));
	assert_null(strstr(buf_cstr(&b), "node_bonding_"));
	/* The others still report, the build info is there. */
	assert_int_equal(node_success(buf_cstr(&b), "uname"), 1);
	assert_int_equal(node_success(buf_cstr(&b), "netclass"), 1);
	assert_int_equal(node_success(buf_cstr(&b), "textfile"), 1);
	assert_non_null(strstr(buf_cstr(&b), "\nnode_uname_info{"));
	assert_non_null(strstr(buf_cstr(&b), "\nnode_exporter_build_info{branch=\"\",goarch=\""));
	buf_fini(&b);
	buf_fini(&sb);
	collect_stats_free(st);
}

static void test_udp_none(void **state)
{
	struct node_opts o = { 0 };
	char *out;

	/* Neither net/udp nor net/udp6: node_exporter's ErrNoData, a failure. */
	o.procfs = FIX "/sys";
	out = node_run(*state, &o, "^udp_queues$");
	assert_int_equal(node_success(out, "udp_queues"), 0);
	free(out);
}

static void test_textfile(void **state)
{
	char dir[] = "/tmp/k8smon-tf-XXXXXX", path[256], line[512];
	struct node_opts o = { 0 };
	char *out;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a.prom", dir);
	node_write_file(path, "# HELP t_fill Filled.\n# TYPE t_fill gauge\n"
			      "t_fill{a=\"1\"} 1\nt_fill{b=\"2\"} 2\nt_dup 1\nt_dup 2\n"
			      "t_cross{x=\"1\"} 1\n");
	snprintf(path, sizeof(path), "%s/b.prom", dir);
	node_write_file(path, "t_cross{x=\"1\"} 9\nt_cross{x=\"2\"} 9\n");
	snprintf(path, sizeof(path), "%s/c.prom", dir);
	node_write_file(path, "t_good 1\nt_bad{ 2\n");
	snprintf(path, sizeof(path), "%s/d.prom", dir);
	node_write_file(path, "t_ts 1 1700000000000\n");
	snprintf(path, sizeof(path), "%s/e.txt", dir);
	node_write_file(path, "t_other 1\n");

	o.textfile_dir = dir;
	out = node_run(*state, &o, "^textfile$");
	want_line(out, "t_fill{a=\"\",b=\"2\"} 2");
	want_line(out, "t_fill{a=\"1\",b=\"\"} 1");
	want_line(out, "t_dup 1");
	want_line(out, "t_cross{x=\"1\"} 1");
	want_line(out, "t_cross{x=\"2\"} 9");
	snprintf(line, sizeof(line), "# HELP t_cross Metric read from %s/a.prom, %s/b.prom", dir, dir);
	want_line(out, line);
	want_line(out, "node_textfile_scrape_error 1");
	snprintf(line, sizeof(line), "node_textfile_mtime_seconds{file=\"%s/a.prom\"} ", dir);
	assert_non_null(strstr(out, line));
	/* The bad, timestamped and non-.prom files contribute nothing. */
	assert_null(strstr(out, "t_dup 2"));
	assert_null(strstr(out, "t_good"));
	assert_null(strstr(out, "t_ts"));
	assert_null(strstr(out, "t_other"));
	snprintf(line, sizeof(line), "file=\"%s/c.prom\"", dir);
	assert_null(strstr(out, line));
	assert_int_equal(node_success(out, "textfile"), 1);
	free(out);

	/* A family another collector writes: skipped, the exposition keeps
	 * one HELP for it, the error is set. */
	snprintf(path, sizeof(path), "%s/f.prom", dir);
	node_write_file(path, "node_load1 42\n");
	out = node_run(*state, &o, "^(textfile|loadavg)$");
	assert_null(strstr(out, "node_load1 42"));
	assert_non_null(strstr(out, "# HELP node_load1 "));
	assert_null(strstr(strstr(out, "# HELP node_load1 ") + 1, "# HELP node_load1 "));
	want_line(out, "node_textfile_scrape_error 1");
	free(out);
	unlink(path);

	/* Only good files: no error. */
	snprintf(path, sizeof(path), "%s/c.prom", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/d.prom", dir);
	unlink(path);
	out = node_run(*state, &o, "^textfile$");
	want_line(out, "node_textfile_scrape_error 0");
	free(out);

	/* A directory that is not there: error 1, the collector still succeeds. */
	snprintf(path, sizeof(path), "%s/missing", dir);
	o.textfile_dir = path;
	out = node_run(*state, &o, "^textfile$");
	want_line(out, "node_textfile_scrape_error 1");
	assert_int_equal(node_success(out, "textfile"), 1);
	free(out);

	/* None configured: only the error gauge, 0. */
	o.textfile_dir = NULL;
	out = node_run(*state, &o, "^textfile$");
	want_line(out, "node_textfile_scrape_error 0");
	assert_null(strstr(out, "node_textfile_mtime_seconds"));
	free(out);

	for (const char *f = "a.prom\0b.prom\0e.txt\0"; *f; f += strlen(f) + 1) {
		snprintf(path, sizeof(path), "%s/%s", dir, f);
		unlink(path);
	}
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp_none, setup, teardown),
		cmocka_unit_test_setup_teardown(test_textfile, setup, teardown),
	};

	log_setup(LOG_FATAL, LOG_FMT_LOGFMT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
