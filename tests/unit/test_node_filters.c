/* node_exporter's hwmon and powersupplyclass filter flags, on sysfs trees
 * written into a temp directory:
 *  - --collector.hwmon.chip-include/-exclude match the final chip label
 *    (after de-duplication: "coretemp_hwmon1", not "coretemp"), with search
 *    semantics; both of a pair at once: excluded, or not included, is out;
 *    node_hwmon_chip_names goes with its chip;
 *  - --collector.hwmon.sensor-include/-exclude match "<chip>;<sensor>": a
 *    filtered sensor loses every family (value, label), the chip and its
 *    other sensors stay;
 *  - --collector.powersupply.ignored-supplies drops the matching supplies
 *    before their files are read (an ignored supply with an unparsable
 *    value no longer fails the collector). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "node_test.h"

static int setup(void **state)
{
	struct node_tree *t = node_tree_new("filt");

	if (!t)
		return -1;
	node_put(t, "proc/loadavg", "0.1 0.2 0.3 1/100 42\n");
	/* two chips named coretemp (labels coretemp_hwmon0/1) and acpitz */
	node_put(t, "sys/class/hwmon/hwmon0/name", "coretemp\n");
	node_put(t, "sys/class/hwmon/hwmon0/temp1_input", "45000\n");
	node_put(t, "sys/class/hwmon/hwmon0/temp1_label", "Core 0\n");
	node_put(t, "sys/class/hwmon/hwmon0/temp2_input", "46000\n");
	node_put(t, "sys/class/hwmon/hwmon0/fan1_input", "1200\n");
	node_put(t, "sys/class/hwmon/hwmon1/name", "coretemp\n");
	node_put(t, "sys/class/hwmon/hwmon1/temp1_input", "50000\n");
	node_put(t, "sys/class/hwmon/hwmon2/name", "acpitz\n");
	node_put(t, "sys/class/hwmon/hwmon2/temp1_input", "30000\n");
	node_put(t, "sys/class/power_supply/AC/online", "1\n");
	node_put(t, "sys/class/power_supply/AC/type", "Mains\n");
	node_put(t, "sys/class/power_supply/BAT0/capacity", "81\n");
	node_put(t, "sys/class/power_supply/BAT0/type", "Battery\n");
	node_put(t, "sys/class/power_supply/BAT1/capacity", "garbage\n");
	*state = t;
	return 0;
}

static struct rx *rx(const char *p)
{
	char err[128];
	struct rx *r = p ? rx_new_search(p, err, sizeof(err)) : NULL;

	if (p && !r)
		fail_msg("regex %s: %s", p, err);
	return r;
}

/* hwmon (and loadavg) with the four filters (NULL: unset). */
static char *run_hwmon(const struct node_tree *t, const char *ci, const char *ce, const char *si,
		       const char *se)
{
	struct node_collector *nc = node_collector_new();
	struct node_opts o = { 0 };
	char *s;

	assert_non_null(nc);
	o.procfs = t->proc;
	o.sysfs = t->sys;
	o.rootfs = t->root;
	o.hwmon_chip_include = rx(ci);
	o.hwmon_chip_exclude = rx(ce);
	o.hwmon_sensor_include = rx(si);
	o.hwmon_sensor_exclude = rx(se);
	s = node_run(nc, &o, "^(hwmon|loadavg)$");
	rx_free((struct rx *)o.hwmon_chip_include);
	rx_free((struct rx *)o.hwmon_chip_exclude);
	rx_free((struct rx *)o.hwmon_sensor_include);
	rx_free((struct rx *)o.hwmon_sensor_exclude);
	node_collector_free(nc);
	assert_int_equal(node_success(s, "hwmon"), 1);
	return s;
}

#define T0 "node_hwmon_temp_celsius{chip=\"coretemp_hwmon0\",sensor=\"temp1\"} 45\n"
#define T0B "node_hwmon_temp_celsius{chip=\"coretemp_hwmon0\",sensor=\"temp2\"} 46\n"
#define T1 "node_hwmon_temp_celsius{chip=\"coretemp_hwmon1\",sensor=\"temp1\"} 50\n"
#define TA "node_hwmon_temp_celsius{chip=\"acpitz\",sensor=\"temp1\"} 30\n"
#define N1 "node_hwmon_chip_names{chip=\"coretemp_hwmon1\",chip_name=\"coretemp\"} 1\n"
#define L0 "node_hwmon_sensor_label{chip=\"coretemp_hwmon0\",label=\"Core 0\",sensor=\"temp1\"} 1\n"
#define F0 "node_hwmon_fan_rpm{chip=\"coretemp_hwmon0\",sensor=\"fan1\"} 1200\n"

static void test_hwmon_chips(void **state)
{
	struct node_tree *t = *state;
	char *out;

	out = run_hwmon(t, NULL, NULL, NULL, NULL);
	assert_non_null(strstr(out, T0));
	assert_non_null(strstr(out, T1));
	assert_non_null(strstr(out, TA));
	free(out);

	/* the de-duplicated label, searched: "hwmon1" is inside coretemp_hwmon1 */
	out = run_hwmon(t, NULL, "hwmon1", NULL, NULL);
	assert_non_null(strstr(out, T0));
	assert_null(strstr(out, T1));
	assert_null(strstr(out, N1));
	assert_non_null(strstr(out, TA));
	free(out);

	out = run_hwmon(t, "^coretemp", NULL, NULL, NULL);
	assert_non_null(strstr(out, T0));
	assert_non_null(strstr(out, T1));
	assert_null(strstr(out, "chip=\"acpitz\""));
	free(out);

	/* both: included and not excluded */
	out = run_hwmon(t, "coretemp", "_hwmon0$", NULL, NULL);
	assert_null(strstr(out, T0));
	assert_non_null(strstr(out, T1));
	assert_null(strstr(out, TA));
	free(out);
}

static void test_hwmon_sensors(void **state)
{
	struct node_tree *t = *state;
	char *out;

	out = run_hwmon(t, NULL, NULL, NULL, "^coretemp_hwmon0;temp1$");
	assert_null(strstr(out, T0));
	assert_null(strstr(out, L0));
	assert_non_null(strstr(out, T0B));
	assert_non_null(strstr(out, F0));
	assert_non_null(strstr(out, T1));
	assert_non_null(strstr(out, "node_hwmon_chip_names{chip=\"coretemp_hwmon0\",chip_name=\"coretemp\"} 1\n"));
	free(out);

	/* include on the sensor part only: every chip keeps its temp1 */
	out = run_hwmon(t, NULL, NULL, ";temp1$", NULL);
	assert_non_null(strstr(out, T0));
	assert_non_null(strstr(out, T1));
	assert_non_null(strstr(out, TA));
	assert_null(strstr(out, T0B));
	assert_null(strstr(out, F0));
	free(out);
}

static char *run_ps(const struct node_tree *t, const char *ignored, int want_success)
{
	struct node_collector *nc = node_collector_new();
	struct node_opts o = { 0 };
	char *s;

	assert_non_null(nc);
	o.procfs = t->proc;
	o.sysfs = t->sys;
	o.rootfs = t->root;
	o.powersupply_ignored = rx(ignored);
	s = node_run(nc, &o, "^(powersupplyclass|loadavg)$");
	rx_free((struct rx *)o.powersupply_ignored);
	node_collector_free(nc);
	assert_int_equal(node_success(s, "powersupplyclass"), want_success);
	assert_int_equal(node_success(s, "loadavg"), 1);
	return s;
}

static void test_powersupply_ignored(void **state)
{
	struct node_tree *t = *state;
	char *out;

	/* upstream's default ^$ ignores nothing: BAT1's garbage fails it */
	out = run_ps(t, "^$", 0);
	assert_null(strstr(out, "node_power_supply_"));
	free(out);

	out = run_ps(t, "BAT1", 1);
	assert_non_null(strstr(out, "node_power_supply_capacity{power_supply=\"BAT0\"} 81\n"));
	assert_non_null(strstr(out, "node_power_supply_online{power_supply=\"AC\"} 1\n"));
	assert_null(strstr(out, "BAT1"));
	free(out);

	/* search semantics: "BAT" ignores both batteries, AC stays */
	out = run_ps(t, "BAT", 1);
	assert_null(strstr(out, "power_supply=\"BAT"));
	assert_non_null(strstr(out, "node_power_supply_online{power_supply=\"AC\"} 1\n"));
	free(out);
}

/* netstat's filter decisions are remembered per header line position and
 * reused only while the line is byte for byte the same and the filter is
 * the same: a header whose fields moved, a new filter, and a header line
 * added in front are each decided afresh (never the previous line's or
 * filter's decisions), across scrapes of one collector. */
static void test_netstat_header_decisions(void **state)
{
	struct node_tree *t = *state;
	struct node_collector *nc = node_collector_new();
	struct node_opts o = { .procfs = t->proc, .sysfs = t->sys, .rootfs = t->root };
	struct rx *only_foo = rx("^TcpExt_Foo$");
	const char *lo = "node_netstat_TcpExt_ListenOverflows";
	char *out;

	assert_non_null(nc);
	node_put(t, "proc/net/snmp", "Udp: InDatagrams IgnoredMulti\nUdp: 5 6\n");
	node_put(t, "proc/net/netstat", "TcpExt: ListenOverflows Foo\nTcpExt: 1 2\n");
	for (int i = 0; i < 2; i++) {
		out = node_body(node_run(nc, &o, "netstat"));
		assert_non_null(strstr(out, "\nnode_netstat_TcpExt_ListenOverflows 1\n"));
		assert_non_null(strstr(out, "\nnode_netstat_Udp_InDatagrams 5\n"));
		assert_null(strstr(out, "Foo"));
		assert_null(strstr(out, "IgnoredMulti"));
		free(out);
	}
	/* The same header with new values: fields taken from the recorded
	 * positions, values from this read. */
	node_put(t, "proc/net/netstat", "TcpExt: ListenOverflows Foo\nTcpExt: 31 42\n");
	out = node_run(nc, &o, "netstat");
	assert_non_null(strstr(out, "\nnode_netstat_TcpExt_ListenOverflows 31\n"));
	assert_non_null(strstr(out, "# HELP node_netstat_TcpExt_ListenOverflows Statistic TcpExtListenOverflows.\n"));
	assert_null(strstr(out, "Foo"));
	assert_non_null(strstr(out, "node_scrape_collector_success{collector=\"netstat\"} 1\n"));
	free(out);
	/* A value too few or too many under a recorded header fails. */
	node_put(t, "proc/net/netstat", "TcpExt: ListenOverflows Foo\nTcpExt: 31\n");
	out = node_run(nc, &o, "netstat");
	assert_non_null(strstr(out, "node_scrape_collector_success{collector=\"netstat\"} 0\n"));
	free(out);
	node_put(t, "proc/net/netstat", "TcpExt: ListenOverflows Foo\nTcpExt: 1 2\n");
	free(node_run(nc, &o, "netstat"));
	free(node_run(nc, &o, "netstat"));
	node_put(t, "proc/net/netstat", "TcpExt: ListenOverflows Foo\nTcpExt: 31 42 53\n");
	out = node_run(nc, &o, "netstat");
	assert_non_null(strstr(out, "node_scrape_collector_success{collector=\"netstat\"} 0\n"));
	free(out);
	/* Recorded again (a failed line is forgotten). */
	node_put(t, "proc/net/netstat", "TcpExt: ListenOverflows Foo\nTcpExt: 1 2\n");
	free(node_run(nc, &o, "netstat"));
	/* The same fields in another order. */
	node_put(t, "proc/net/netstat", "TcpExt: Foo ListenOverflows\nTcpExt: 2 1\n");
	out = node_body(node_run(nc, &o, "netstat"));
	assert_non_null(strstr(out, "\nnode_netstat_TcpExt_ListenOverflows 1\n"));
	assert_null(strstr(out, "Foo"));
	free(out);
	/* Another filter over the same lines. */
	o.netstat_fields = only_foo;
	out = node_body(node_run(nc, &o, "netstat"));
	assert_non_null(strstr(out, "\nnode_netstat_TcpExt_Foo 2\n"));
	assert_null(strstr(out, lo));
	assert_null(strstr(out, "Udp"));
	free(out);
	/* Back to the default filter; a line added in front shifts positions. */
	o.netstat_fields = NULL;
	node_put(t, "proc/net/netstat",
		 "IpExt: InOctets Bar\nIpExt: 7 8\nTcpExt: Foo ListenOverflows\nTcpExt: 2 1\n");
	out = node_body(node_run(nc, &o, "netstat"));
	assert_non_null(strstr(out, "\nnode_netstat_IpExt_InOctets 7\n"));
	assert_non_null(strstr(out, "\nnode_netstat_TcpExt_ListenOverflows 1\n"));
	assert_non_null(strstr(out, "\nnode_netstat_Udp_InDatagrams 5\n"));
	assert_null(strstr(out, "Foo"));
	assert_null(strstr(out, "Bar"));
	free(out);
	node_collector_free(nc);
	rx_free(only_foo);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hwmon_chips, setup, node_tree_teardown),
		cmocka_unit_test_setup_teardown(test_hwmon_sensors, setup, node_tree_teardown),
		cmocka_unit_test_setup_teardown(test_powersupply_ignored, setup, node_tree_teardown),
		cmocka_unit_test_setup_teardown(test_netstat_header_decisions, setup, node_tree_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
