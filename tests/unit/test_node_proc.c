/* Node collector: golden output of each /proc, /sys and rootfs sub-collector
 * over tests/fixtures/node, the exclude/field filters, and the live
 * uname/time/timex collectors. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <cmocka.h>

#include "node_test.h"

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

#define GOLDEN(name)                                          \
	static void test_golden_##name(void **state)          \
	{                                                     \
		node_assert_golden(*state, NULL, #name);      \
	}

GOLDEN(cpu)
GOLDEN(meminfo)
GOLDEN(loadavg)
GOLDEN(stat)
GOLDEN(vmstat)
GOLDEN(pressure)
GOLDEN(filefd)
GOLDEN(conntrack)
GOLDEN(netstat)
GOLDEN(netdev)
GOLDEN(diskstats)
GOLDEN(os)
GOLDEN(netclass)

static void test_success_lines(void **state)
{
	char *out = node_run(*state, NULL, "loadavg|meminfo");

	assert_int_equal(node_success(out, "loadavg"), 1);
	assert_int_equal(node_success(out, "meminfo"), 1);
	/* Collectors not selected are not reported at all. */
	assert_int_equal(node_success(out, "cpu"), -1);
	assert_non_null(strstr(out, "# HELP node_scrape_collector_duration_seconds "
				    "node_exporter: Duration of a collector scrape.\n"
				    "# TYPE node_scrape_collector_duration_seconds gauge\n"
				    "node_scrape_collector_duration_seconds{collector=\"loadavg\"} "));
	assert_non_null(strstr(out, "# HELP node_scrape_collector_success "
				    "node_exporter: Whether a collector succeeded.\n"
				    "# TYPE node_scrape_collector_success gauge\n"));
	free(out);
}

static void test_netdev_exclude(void **state)
{
	char err[128];
	struct node_opts o = { 0 };
	struct rx *r = rx_new("^(veth.*|[a-f0-9]{15})$", err, sizeof(err));
	char *out;

	assert_non_null(r);
	o.netdev_exclude = r;
	out = node_body(node_run(*state, &o, "netdev"));
	assert_null(strstr(out, "veth1a2b"));
	assert_non_null(strstr(out, "node_network_transmit_carrier_total{device=\"eth0\"} 11\n"));
	assert_non_null(strstr(out, "node_network_receive_bytes_total{device=\"lo\"} 63287\n"));
	free(out);
	rx_free(r);
}

static void test_diskstats_exclude(void **state)
{
	char err[128];
	struct node_opts o = { 0 };
	/* Only "dm-" excluded: the partition and loop device come back. */
	struct rx *r = rx_new("dm-.*", err, sizeof(err));
	char *out;

	assert_non_null(r);
	o.diskstats_exclude = r;
	out = node_body(node_run(*state, &o, "diskstats"));
	assert_null(strstr(out, "dm-0"));
	assert_non_null(strstr(out, "node_disk_read_bytes_total{device=\"vda1\"} 9216000\n"));
	assert_non_null(strstr(out, "node_disk_reads_completed_total{device=\"loop0\"} 1\n"));
	free(out);
	rx_free(r);
}

static void test_vmstat_fields(void **state)
{
	char err[128];
	struct node_opts o = { 0 };
	struct rx *r = rx_new("nr_.*", err, sizeof(err));
	char *out;

	assert_non_null(r);
	o.vmstat_fields = r;
	out = node_body(node_run(*state, &o, "vmstat"));
	assert_string_equal(out, "# HELP node_vmstat_nr_free_pages /proc/vmstat information field nr_free_pages.\n"
				 "# TYPE node_vmstat_nr_free_pages untyped\n"
				 "node_vmstat_nr_free_pages 1234\n");
	free(out);
	rx_free(r);
}

static void test_uname(void **state)
{
	struct utsname u;
	char want[1024];
	char *out = node_body(node_run(*state, NULL, "uname"));

	assert_int_equal(uname(&u), 0);
	snprintf(want, sizeof(want),
		 "node_uname_info{domainname=\"%s\",machine=\"%s\",nodename=\"%s\",release=\"%s\","
		 "sysname=\"%s\",version=\"%s\"} 1\n",
		 u.domainname, u.machine, u.nodename, u.release, u.sysname, u.version);
	assert_non_null(strstr(out, want));
	free(out);
}

static void test_time(void **state)
{
	char *out = node_body(node_run(*state, NULL, "time"));
	const char *p = strstr(out, "\nnode_time_seconds ");
	double t;

	assert_non_null(strstr(out, "node_time_clocksource_available_info{clocksource=\"tsc\",device=\"0\"} 1\n"
				    "node_time_clocksource_available_info{clocksource=\"hpet\",device=\"0\"} 1\n"
				    "node_time_clocksource_available_info{clocksource=\"acpi_pm\",device=\"0\"} 1\n"));
	assert_non_null(strstr(out, "node_time_clocksource_current_info{clocksource=\"tsc\",device=\"0\"} 1\n"));
	assert_non_null(p);
	t = strtod(p + strlen("\nnode_time_seconds "), NULL);
	assert_true(fabs(t - (double)time(NULL)) < 5);
	assert_non_null(strstr(out, "node_time_zone_offset_seconds{time_zone=\""));
	free(out);
}

static void test_timex(void **state)
{
	char *out = node_run(*state, NULL, "timex");

	/* adjtimex(2) read-only works unprivileged. */
	assert_int_equal(node_success(out, "timex"), 1);
	assert_non_null(strstr(out, "# TYPE node_timex_offset_seconds gauge\n"));
	assert_non_null(strstr(out, "# TYPE node_timex_sync_status gauge\n"));
	assert_non_null(strstr(out, "# TYPE node_timex_maxerror_seconds gauge\n"));
	assert_non_null(strstr(out, "# TYPE node_timex_pps_error_total counter\n"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_golden_cpu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_golden_meminfo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_golden_loadavg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_golden_stat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_golden_vmstat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_golden_pressure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_golden_filefd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_golden_conntrack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_golden_netstat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_golden_netdev, setup, teardown),
		cmocka_unit_test_setup_teardown(test_golden_diskstats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_golden_os, setup, teardown),
		cmocka_unit_test_setup_teardown(test_golden_netclass, setup, teardown),
		cmocka_unit_test_setup_teardown(test_success_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_netdev_exclude, setup, teardown),
		cmocka_unit_test_setup_teardown(test_diskstats_exclude, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vmstat_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uname, setup, teardown),
		cmocka_unit_test_setup_teardown(test_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timex, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
