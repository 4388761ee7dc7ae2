/* mdadm (node_md_*) and hwmon (node_hwmon_*) collectors, on trees written into a temp directory:
 *  - good: an mdstat with the shapes node_exporter v1.12.1's fixture has
 *    (raid1 recovering, raid6 with a bitmap line, resync=DELAYED, raid0,
 *    linear, inactive, "(auto-read-only)") and a sysfs md with a reshape
 *    "N (M)" raid_disks: the exact lines node_exporter prints for them
 *    (checked side by side on its fixture tree by
 *    tests/integration/test_node_exporter_latest.sh);
 *  - bad: truncated and garbage mdstat, an unreadable sysfs attribute:
 *    mdadm fails alone (success 0, counted, nothing partial), loadavg in
 *    the same scrape still reports; no mdstat at all is "no data" (success
 *    0, not counted as an error);
 *  - hwmon: names, units, HELP, labels, chip de-duplication, unparsable
 *    values skipped; no class/hwmon is no data;
 *  - powersupplyclass: units, base-0 integers, info labels; a value that
 *    does not parse fails it alone. */
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
#include "collect/stats.h"

static int setup(void **state)
{
	struct node_tree *t = node_tree_new("md");

	if (!t)
		return -1;
	*state = t;
	return 0;
}

static void want_line(const char *out, const char *line)
{
	char key[512];

	snprintf(key, sizeof(key), "\n%s\n", line);
	if (!strstr(out, key))
		fail_msg("missing line: %s\n--- output:\n%s", line, out);
}

static const char good_mdstat[] =
	"Personalities : [linear] [multipath] [raid0] [raid1] [raid6] [raid5] [raid4] [raid10]\n"
	"\n"
	"md6 : active raid1 sdb2[2](F) sdc[1](S) sda2[0]\n"
	"      195310144 blocks [2/1] [U_]\n"
	"      [=>...................]  recovery =  8.5% (16775552/195310144) finish=17.0min speed=259783K/sec\n"
	"\n"
	"md7 : active raid6 sdb1[0] sde1[3] sdd1[2] sdc1[1](F)\n"
	"      7813735424 blocks super 1.2 level 6, 512k chunk, algorithm 2 [4/3] [U_UU]\n"
	"      bitmap: 0/30 pages [0KB], 65536KB chunk\n"
	"\n"
	"md5 : active raid5 sda[0] sdb[1] sdc[2]\n"
	"      200 blocks super 1.2 level 5, 64k chunk, algorithm 2 [3/3] [UUU]\n"
	"      bitmap: 1/1 pages [4KB], 65536KB chunk\n"
	"      [==>..]  resync = 10.0% (20/200) finish=1.0min speed=100K/sec\n"
	"\n"
	"md9 : active raid1 sdc2[2] sdd2[3] sdb2[1] sda2[0] sde[4](F) sdf[5](F) sdg[6](S)\n"
	"      523968 blocks super 1.2 [4/4] [UUUU]\n"
	"      resync=DELAYED\n"
	"\n"
	"md201 : active raid1 sda3[0] sdb3[1]\n"
	"      1993728 blocks super 1.2 [2/2] [UU]\n"
	"      [=>...................]  check =  5.7% (114176/1993728) finish=0.2min speed=114176K/sec\n"
	"\n"
	"md11 : active (auto-read-only) raid1 sdb2[0] sdc2[1] sdc3[2](F) hda[4](S) ssdc2[3](S)\n"
	"      4190208 blocks super 1.2 [2/2] [UU]\n"
	"      resync=PENDING\n"
	"\n"
	"md101 : active (read-only) raid0 sdb[2] sdd[1] sdc[0]\n"
	"      322560 blocks super 1.2 512k chunks\n"
	"\n"
	"md120 : active linear sda1[1] sdb1[0]\n"
	"        2095104 blocks super 1.2 0k rounding\n"
	"\n"
	"md219 : inactive sdb[2](S) sdc[1](S) sda[0](S)\n"
	"        7932 blocks super external:imsm\n"
	"\n"
	"unused devices: <none>\n";

static void put_sys_md(const struct node_tree *t, const char *md, const char *level,
		       const char *raid_disks, const char *degraded)
{
	static const char *const files[][2] = {
		{ "array_state", "clean\n" }, { "metadata_version", "1.2\n" },
		{ "uuid", "0fbf7b4a-7b37-4a2b-9a3a-1b2c3d4e5f60\n" }, { "chunk_size", "524288\n" },
		{ "sync_action", "idle\n" }, { "sync_completed", "none\n" },
		{ "dev-sda1/state", "in_sync\n" },
	};
	char rel[256];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(rel, sizeof(rel), "sys/block/%s/md/%s", md, files[i][0]);
		node_put(t, rel, files[i][1]);
	}
	snprintf(rel, sizeof(rel), "sys/block/%s/md/level", md);
	node_put(t, rel, level);
	snprintf(rel, sizeof(rel), "sys/block/%s/md/raid_disks", md);
	node_put(t, rel, raid_disks);
	snprintf(rel, sizeof(rel), "sys/block/%s/md/degraded", md);
	node_put(t, rel, degraded);
}

static char *run(const struct node_tree *t, struct collect_stats *st)
{
	struct node_collector *nc = node_collector_new();
	struct node_opts o = { 0 };
	struct buf b;
	char err[128];
	char *s;

	assert_non_null(nc);
	o.procfs = t->proc;
	o.sysfs = t->sys;
	o.rootfs = t->root;
	o.collectors = rx_new("^(mdadm|loadavg)$", err, sizeof(err));
	assert_non_null(o.collectors);
	buf_init(&b, NODE_TEST_CAP);
	assert_int_equal(node_collect(nc, &o, &b, st), 0);
	rx_free((struct rx *)o.collectors);
	node_collector_free(nc);
	s = buf_steal(&b);
	return s ? s : strdup("");
}

static void test_good(void **state)
{
	static const char *const lines[] = {
		"node_md_blocks{device=\"md6\"} 195310144",
		"node_md_blocks_synced{device=\"md6\"} 16775552",
		"node_md_disks{device=\"md6\",state=\"active\"} 1",
		"node_md_disks{device=\"md6\",state=\"failed\"} 1",
		"node_md_disks{device=\"md6\",state=\"spare\"} 1",
		"node_md_disks_required{device=\"md6\"} 2",
		"node_md_state{device=\"md6\",state=\"recovering\"} 1",
		"node_md_state{device=\"md6\",state=\"active\"} 0",
		"node_md_blocks_synced{device=\"md7\"} 7813735424",
		"node_md_disks{device=\"md7\",state=\"active\"} 3",
		"node_md_disks_required{device=\"md7\"} 4",
		"node_md_state{device=\"md7\",state=\"active\"} 1",
		"node_md_blocks_synced{device=\"md5\"} 20",
		"node_md_state{device=\"md5\",state=\"resync\"} 1",
		"node_md_blocks_synced{device=\"md9\"} 0",
		"node_md_disks{device=\"md9\",state=\"failed\"} 2",
		"node_md_state{device=\"md9\",state=\"resync\"} 1",
		"node_md_blocks_synced{device=\"md201\"} 114176",
		"node_md_state{device=\"md201\",state=\"check\"} 1",
		"node_md_blocks_synced{device=\"md11\"} 0",
		"node_md_disks{device=\"md11\",state=\"spare\"} 2",
		"node_md_state{device=\"md11\",state=\"resync\"} 1",
		"node_md_disks{device=\"md101\",state=\"active\"} 3",
		"node_md_disks_required{device=\"md101\"} 3",
		"node_md_disks{device=\"md120\",state=\"active\"} 2",
		"node_md_disks_required{device=\"md219\"} 0",
		"node_md_state{device=\"md219\",state=\"inactive\"} 1",
		"node_md_blocks{device=\"md219\"} 7932",
		"node_md_raid_disks{device=\"md0\"} 2",
		"node_md_raid_disks{device=\"md1\"} 5",
		"node_md_degraded{device=\"md0\"} 1",
		"node_md_degraded{device=\"md1\"} 0",
		"node_md_degraded{device=\"md2\"} 0",
		"node_scrape_collector_success{collector=\"mdadm\"} 1",
	};
	struct node_tree *t = *state;
	char *out;

	node_put(t, "proc/mdstat", good_mdstat);
	node_put(t, "proc/loadavg", "0.1 0.2 0.3 1/100 42\n");
	put_sys_md(t, "md0", "raid1\n", "2\n", "1\n");
	/* Reshaping: "current (previous)". Degraded of a raid0 is not read. */
	put_sys_md(t, "md1", "raid5\n", "5 (4)\n", "0\n");
	put_sys_md(t, "md2", "raid0\n", "garbage\n", "9\n");
	/* Not an array: no md/ directory. */
	node_put(t, "sys/block/mdx/size", "0\n");
	out = run(t, NULL);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		want_line(out, lines[i]);
	/* raid_disks that does not parse: no series (node_exporter: nil). */
	assert_null(strstr(out, "node_md_raid_disks{device=\"md2\"}"));
	assert_null(strstr(out, "device=\"mdx\""));
	assert_null(strstr(out, "device=\"unused\""));
	free(out);
}

static void expect_failure(struct node_tree *t, const char *what, const char *mdstat, bool nodata)
{
	struct collect_stats *st = collect_stats_new();
	struct buf sb;
	char *out;
	bool counted;

	assert_non_null(st);
	if (mdstat)
		node_put(t, "proc/mdstat", mdstat);
	node_put(t, "proc/loadavg", "0.1 0.2 0.3 1/100 42\n");
	out = run(t, st);
	buf_init(&sb, 1 << 20);
	assert_int_equal(collect_stats_write(st, &sb), 0);
	if (node_success(out, "mdadm") != 0)
		fail_msg("%s: mdadm success is not 0:\n%s", what, out);
	if (strstr(out, "node_md_"))
		fail_msg("%s: partial node_md_ output kept:\n%s", what, out);
	counted = strstr(buf_cstr(&sb),
			 "k8smon_collector_errors_total{collector=\"node.mdadm\"} 1\n") != NULL;
	if (counted == nodata)
		fail_msg("%s: error %scounted", what, counted ? "" : "not ");
	if (node_success(out, "loadavg") != 1 || !strstr(out, "\nnode_load1 0.1\n"))
		fail_msg("%s: loadavg affected:\n%s", what, out);
	free(out);
	buf_fini(&sb);
	collect_stats_free(st);
}

static void test_bad(void **state)
{
	static const struct {
		const char *what, *mdstat;
	} cases[] = {
		{ "truncated after the device line",
		  "Personalities : [raid1]\nmd0 : active raid1 sda[0] sdb[1]\n" },
		{ "two fields", "md0 : \n      100 blocks [2/2] [UU]\n\n\n" },
		{ "garbage block count", "md0 : active raid1 sda[0]\n      x1 blocks [2/2] [UU]\n\n\n" },
		{ "no [n/m] [U] group", "md0 : active raid1 sda[0]\n      100 blocks [2/2]\n\n\n" },
		{ "count overflows int64",
		  "md0 : active raid1 sda[0]\n      100 blocks [99999999999999999999/2] [UU]\n\n\n" },
		{ "recovery line without (done/total)",
		  "md0 : active raid1 sda[0]\n      100 blocks [2/2] [UU]\n"
		  "      recovery = 5% finish=1.0min speed=10K/sec\n\n" },
		{ "recovery line with a garbage speed",
		  "md0 : active raid1 sda[0]\n      100 blocks [2/2] [UU]\n"
		  "      recovery = 5% (1/100) finish=1.0min speed=xK/sec\n\n" },
		{ "component index past int32",
		  "md0 : active raid1 sda[3000000000]\n      100 blocks [2/2] [UU]\n\n\n" },
		{ "one-letter personality", "Personalities : [raid1] x\n" },
	};
	struct node_tree *t = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_failure(t, cases[i].what, cases[i].mdstat, false);
	/* A good mdstat, but an array whose uuid cannot be read. */
	put_sys_md(t, "md0", "raid1\n", "2\n", "0\n");
	{
		char p[256];

		snprintf(p, sizeof(p), "%s/block/md0/md/sync_completed", t->sys);
		node_write_file(p, "12 of 100\n");
	}
	expect_failure(t, "sync_completed garbage",
		       "md0 : active raid1 sda[0]\n      100 blocks [2/2] [UU]\n\n\n", false);
}

static char *run_hwmon(const struct node_tree *t)
{
	struct node_collector *nc = node_collector_new();
	struct node_opts o = { 0 };
	char *s;

	assert_non_null(nc);
	o.procfs = t->proc;
	o.sysfs = t->sys;
	o.rootfs = t->root;
	s = node_run(nc, &o, "^(hwmon|loadavg)$");
	node_collector_free(nc);
	return s;
}

/* hwmon: family names, units, HELP and labels per node_exporter's rules;
 * two chips with the same name told apart by their directory; values that
 * do not parse skipped without failing the collector. */
static void test_hwmon(void **state)
{
	static const char *const lines[] = {
		"# HELP node_hwmon_temp_celsius Hardware monitor for temperature (input)",
		"node_hwmon_temp_celsius{chip=\"coretemp_hwmon0\",sensor=\"temp1\"} 45",
		"node_hwmon_temp_celsius{chip=\"coretemp_hwmon1\",sensor=\"temp1\"} 50",
		"# HELP node_hwmon_temp_max_celsius Hardware monitor for temperature (max)",
		"node_hwmon_temp_max_celsius{chip=\"coretemp_hwmon0\",sensor=\"temp1\"} 80",
		"node_hwmon_temp_crit_alarm_celsius{chip=\"coretemp_hwmon0\",sensor=\"temp1\"} 0",
		"node_hwmon_sensor_label{chip=\"coretemp_hwmon0\",label=\"Core 0\",sensor=\"temp1\"} 1",
		"node_hwmon_chip_names{chip=\"coretemp_hwmon0\",chip_name=\"coretemp\"} 1",
		"node_hwmon_fan_rpm{chip=\"coretemp_hwmon0\",sensor=\"fan1\"} 1200",
		"node_hwmon_in_volts{chip=\"coretemp_hwmon0\",sensor=\"in0\"} 1.5",
		"# TYPE node_hwmon_energy_joule_total counter",
		"node_hwmon_energy_joule_total{chip=\"coretemp_hwmon0\",sensor=\"energy1\"} 2",
		"node_hwmon_beep_enabled{chip=\"coretemp_hwmon0\",sensor=\"beep_enable0\"} 1",
		"node_hwmon_update_interval_seconds{chip=\"coretemp_hwmon0\",sensor=\"update_interval0\"} 1",
		"node_hwmon_pwm{chip=\"coretemp_hwmon0\",sensor=\"pwm1\"} 128",
		"node_hwmon_chip_names{chip=\"acpitz\",chip_name=\"acpitz\"} 1",
	};
	struct node_tree *t = *state;
	char *out;

	node_put(t, "proc/loadavg", "0.1 0.2 0.3 1/100 42\n");
	node_put(t, "sys/class/hwmon/hwmon0/name", "coretemp\n");
	node_put(t, "sys/class/hwmon/hwmon0/temp1_input", "45000\n");
	node_put(t, "sys/class/hwmon/hwmon0/temp1_label", "Core 0\n");
	node_put(t, "sys/class/hwmon/hwmon0/temp01_max", "80000\n");
	node_put(t, "sys/class/hwmon/hwmon0/temp1_crit_alarm", "0\n");
	node_put(t, "sys/class/hwmon/hwmon0/temp2_input", "garbage\n");
	node_put(t, "sys/class/hwmon/hwmon0/fan1_input", "1200\n");
	node_put(t, "sys/class/hwmon/hwmon0/in0_input", "1500\n");
	node_put(t, "sys/class/hwmon/hwmon0/energy1_input", "2000000\n");
	node_put(t, "sys/class/hwmon/hwmon0/beep_enable", "1\n");
	node_put(t, "sys/class/hwmon/hwmon0/update_interval", "1000\n");
	node_put(t, "sys/class/hwmon/hwmon0/pwm1", "128\n");
	node_put(t, "sys/class/hwmon/hwmon0/uevent", "X=1\n");
	node_put(t, "sys/class/hwmon/hwmon1/name", "coretemp\n");
	node_put(t, "sys/class/hwmon/hwmon1/temp1_input", "50000\n");
	node_put(t, "sys/class/hwmon/hwmon2/name", "acpitz\n");
	out = run_hwmon(t);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		want_line(out, lines[i]);
	want_line(out, "node_scrape_collector_success{collector=\"hwmon\"} 1");
	want_line(out, "node_scrape_collector_success{collector=\"loadavg\"} 1");
	/* temp2_input "garbage" is skipped, not a failure. */
	assert_null(strstr(out, "sensor=\"temp2\""));
	assert_null(strstr(out, "uevent"));
	free(out);
}

static void test_hwmon_none(void **state)
{
	char *out;

	node_put(*state, "proc/loadavg", "0.1 0.2 0.3 1/100 42\n");
	out = run_hwmon(*state);

	/* No class/hwmon (containers, most VMs): no data, loadavg unaffected. */
	assert_int_equal(node_success(out, "hwmon"), 0);
	assert_int_equal(node_success(out, "loadavg"), 1);
	assert_null(strstr(out, "node_hwmon_"));
	free(out);
}

static char *run_ps(const struct node_tree *t, struct collect_stats *st)
{
	struct node_collector *nc = node_collector_new();
	struct node_opts o = { 0 };
	struct buf b;
	char err[128];
	char *s;

	assert_non_null(nc);
	o.procfs = t->proc;
	o.sysfs = t->sys;
	o.rootfs = t->root;
	o.collectors = rx_new("^(powersupplyclass|loadavg)$", err, sizeof(err));
	assert_non_null(o.collectors);
	buf_init(&b, NODE_TEST_CAP);
	assert_int_equal(node_collect(nc, &o, &b, st), 0);
	rx_free((struct rx *)o.collectors);
	node_collector_free(nc);
	s = buf_steal(&b);
	return s ? s : strdup("");
}

/* powersupplyclass: units per attribute, Go's base-0 integers, the info
 * labels; a value that does not parse fails the collector alone. */
static void test_powersupply(void **state)
{
	struct node_tree *t = *state;
	struct collect_stats *st = collect_stats_new();
	struct buf sb;
	char *out;

	assert_non_null(st);
	node_put(t, "proc/loadavg", "0.1 0.2 0.3 1/100 42\n");
	node_put(t, "sys/class/power_supply/BAT0/capacity", "81\n");
	node_put(t, "sys/class/power_supply/BAT0/energy_now", "36580000\n");
	node_put(t, "sys/class/power_supply/BAT0/temp", "305\n");
	node_put(t, "sys/class/power_supply/BAT0/voltage_now", "0x10\n");
	node_put(t, "sys/class/power_supply/BAT0/cycle_count", "010\n");
	node_put(t, "sys/class/power_supply/BAT0/status", "Discharging\n");
	node_put(t, "sys/class/power_supply/BAT0/type", "Battery\n");
	node_put(t, "sys/class/power_supply/BAT0/uevent", "POWER_SUPPLY_NAME=BAT0\n");
	node_put(t, "sys/class/power_supply/AC/online", "0\n");
	node_put(t, "sys/class/power_supply/AC/type", "Mains\n");
	out = run_ps(t, NULL);
	want_line(out, "# HELP node_power_supply_capacity capacity value of /sys/class/power_supply/<power_supply>.");
	want_line(out, "node_power_supply_capacity{power_supply=\"BAT0\"} 81");
	want_line(out, "node_power_supply_energy_watthour{power_supply=\"BAT0\"} 36.58");
	want_line(out, "node_power_supply_temp_celsius{power_supply=\"BAT0\"} 30.5");
	want_line(out, "node_power_supply_voltage_volt{power_supply=\"BAT0\"} 1.6e-05");
	want_line(out, "node_power_supply_cyclecount{power_supply=\"BAT0\"} 8");
	want_line(out, "node_power_supply_online{power_supply=\"AC\"} 0");
	want_line(out, "node_power_supply_info{power_supply=\"AC\",type=\"Mains\"} 1");
	want_line(out, "node_power_supply_info{power_supply=\"BAT0\",status=\"Discharging\",type=\"Battery\"} 1");
	assert_int_equal(node_success(out, "powersupplyclass"), 1);
	free(out);
	node_put(t, "sys/class/power_supply/AC/online", "1x\n");
	out = run_ps(t, st);
	buf_init(&sb, 1 << 20);
	assert_int_equal(collect_stats_write(st, &sb), 0);
	assert_int_equal(node_success(out, "powersupplyclass"), 0);
	assert_null(strstr(out, "node_power_supply_"));
	assert_non_null(strstr(buf_cstr(&sb), "k8smon_collector_errors_total{collector=\"node.powersupplyclass\"} 1\n"));
	assert_int_equal(node_success(out, "loadavg"), 1);
	free(out);
	buf_fini(&sb);
	collect_stats_free(st);
}

static void test_no_mdstat(void **state)
{
	/* No md driver: no data, not an error (node_exporter's ErrNoData). */
	expect_failure(*state, "no mdstat", NULL, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good, setup, node_tree_teardown),
		cmocka_unit_test_setup_teardown(test_bad, setup, node_tree_teardown),
		cmocka_unit_test_setup_teardown(test_no_mdstat, setup, node_tree_teardown),
		cmocka_unit_test_setup_teardown(test_hwmon, setup, node_tree_teardown),
		cmocka_unit_test_setup_teardown(test_hwmon_none, setup, node_tree_teardown),
		cmocka_unit_test_setup_teardown(test_powersupply, setup, node_tree_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
