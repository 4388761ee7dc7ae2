/* Flag parsing: both dash styles, defaults, bad values with one clear line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config/config.h"
#include "config/flags.h"
#include "base/buf.h"
#include "collect/node/node.h"
#include <jansson.h>
#include "http/gzip.h"
#include "http/server.h"

static enum flags_result parse(struct flags *f, char *err, size_t errlen, int argc, char **argv)
{
	FILE *devnull = fopen("/dev/null", "w");
	enum flags_result r;

	memset(f, 0, sizeof(*f));
	r = flags_parse(f, argc, argv, devnull, err, errlen);
	fclose(devnull);
	return r;
}

static void test_defaults(void **state)
{
	struct flags f;
	char err[256];
	char *argv[] = { "k8smon" };

	(void)state;
	setenv("NODE_NAME", "node-a", 1);
	assert_int_equal(parse(&f, err, sizeof(err), 1, argv), FLAGS_RUN);
	assert_false(f.kubernetes);
	assert_int_equal(f.collectors, COLLECTOR_NODE | COLLECTOR_CONTAINER | COLLECTOR_KUBE_STATE | COLLECTOR_APP);
	assert_int_equal(f.interval_ms, 15000);
	assert_string_equal(f.listen_addr, ":9420");
	assert_string_equal(f.node_name, "node-a");
	assert_true(f.leader_election);
	assert_string_equal(f.lease_name, "k8smon");
	assert_string_equal(f.procfs, "/proc");
	assert_int_equal(f.lease_duration_ms, 15000);
	assert_int_equal(f.renew_deadline_ms, 10000);
	assert_int_equal(f.retry_period_ms, 2000);
	flags_fini(&f);
}

static void test_both_styles(void **state)
{
	struct flags f;
	char err[256];
	char *argv[] = { "k8smon", "-promscrape.kubernetes", "--promscrape.kubernetes.interval=30s",
			 "-promscrape.kubernetes.collectors", "node,kube-state",
			 "--promscrape.kubernetes.exclude-namespaces=kube-system,,monitoring",
			 "-nodeName=n1", "--leaderElection=false", "-httpListenAddr=127.0.0.1:0" };

	(void)state;
	assert_int_equal(parse(&f, err, sizeof(err), 9, argv), FLAGS_RUN);
	assert_true(f.kubernetes);
	assert_int_equal(f.interval_ms, 30000);
	assert_int_equal(f.collectors, COLLECTOR_NODE | COLLECTOR_KUBE_STATE);
	assert_int_equal(f.exclude_namespaces.n, 2);
	assert_string_equal(f.exclude_namespaces.v[1], "monitoring");
	assert_string_equal(f.node_name, "n1");
	assert_false(f.leader_election);
	flags_fini(&f);
}

static void expect_usage(const char *arg, const char *needle)
{
	struct flags f;
	char err[512] = "";
	char *argv[] = { "k8smon", (char *)arg };

	assert_int_equal(parse(&f, err, sizeof(err), 2, argv), FLAGS_EXIT_USAGE);
	if (!strstr(err, needle))
		fail_msg("error \"%s\" lacks \"%s\"", err, needle);
	assert_null(strchr(err, '\n'));
	flags_fini(&f);
}

static void test_bad_values(void **state)
{
	(void)state;
	expect_usage("-promscrape.kubernetes.interval=abc", "-promscrape.kubernetes.interval");
	expect_usage("-promscrape.kubernetes.interval=15", "not a positive duration");
	expect_usage("-promscrape.kubernetes.collectors=node,foo", "unknown collector \"foo\"");
	expect_usage("-nosuchflag=1", "unknown flag -nosuchflag");
	expect_usage("-leaderElection=maybe", "not a boolean");
	expect_usage("-loggerLevel=LOUD", "unknown level");
	expect_usage("-httpListenAddr", "needs a value");
	expect_usage("-tls", "-tlsCertFile");
	expect_usage("stray", "unexpected argument");
	expect_usage("-http.maxConnections=0", "-http.maxConnections");
	expect_usage("-maxconnections=3", "did you mean -http.maxConnections?");
	expect_usage("-http.timeout", "-http.timeout=VALUE (default 30s)");
	{
		/* A boolean flag's value as a separate argument: say how. */
		struct flags f;
		char err[512] = "";
		char *argv[] = { "k8smon", "-leaderElection", "false" };
		char *argv2[] = { "k8smon", "-httpListenAddr", ":1", "false" };

		assert_int_equal(parse(&f, err, sizeof(err), 3, argv), FLAGS_EXIT_USAGE);
		assert_non_null(strstr(err, "write -leaderElection=false"));
		flags_fini(&f);
		/* A non-boolean flag before it: no such advice. */
		assert_int_equal(parse(&f, err, sizeof(err), 4, argv2), FLAGS_EXIT_USAGE);
		assert_null(strstr(err, "write -"));
		assert_non_null(strstr(err, "unexpected argument \"false\""));
		flags_fini(&f);
	}
	expect_usage("-leaderElection.renewDeadline=20s", "shorter than -leaderElection.leaseDuration");
	expect_usage("-leaderElection.retryPeriod=9s", "longer than 1.2 x -leaderElection.retryPeriod");
}

static void test_help_version(void **state)
{
	struct flags f;
	char err[256];
	char *argv1[] = { "k8smon", "--help" };
	char *argv2[] = { "k8smon", "-version" };

	(void)state;
	assert_int_equal(parse(&f, err, sizeof(err), 2, argv1), FLAGS_EXIT_OK);
	flags_fini(&f);
	assert_int_equal(parse(&f, err, sizeof(err), 2, argv2), FLAGS_EXIT_OK);
	flags_fini(&f);
}

static void test_config_from_flags(void **state)
{
	struct flags f;
	struct config *c;
	char err[256];
	char *argv[] = { "k8smon", "-promscrape.kubernetes.namespaces=a,b",
			 "-promscrape.kubernetes.exclude-namespaces=b" };

	(void)state;
	assert_int_equal(parse(&f, err, sizeof(err), 3, argv), FLAGS_RUN);
	c = config_from_flags(&f, err, sizeof(err));
	assert_non_null(c);
	/* Host mode: only the collectors that need no API server. */
	assert_int_equal(c->collectors, COLLECTOR_NODE | COLLECTOR_CONTAINER);
	assert_true(config_namespace_allowed(c, "a"));
	assert_false(config_namespace_allowed(c, "b"));
	assert_false(config_namespace_allowed(c, "c"));
	config_ref(c);
	config_unref(c);
	config_unref(c);
	flags_fini(&f);
}

static char *node_out(const struct config *c)
{
	struct node_collector *nc = node_collector_new();
	struct node_opts o = {
		.procfs = "tests/fixtures/node/proc", .sysfs = "tests/fixtures/node/sys",
		.rootfs = "tests/fixtures/node/root",
		.mount_points_exclude = c->mount_points_exclude,
		.fs_types_exclude = c->fs_types_exclude, .netdev_exclude = c->netdev_exclude,
		.netdev_include = c->netdev_include, .diskstats_exclude = c->diskstats_exclude,
		.diskstats_include = c->diskstats_include, .disabled = c->node_disabled,
	};
	struct buf b;
	char *s;

	assert_non_null(nc);
	buf_init(&b, 8u << 20);
	assert_int_equal(node_collect(nc, &o, &b, NULL), 0);
	node_collector_free(nc);
	s = buf_steal(&b);
	assert_non_null(s);
	return s;
}

/* node_exporter's collector switches and filter flags: parsed, validated
 * with one clear line, turned into the node collector's options, and a
 * K8sMonitor's spec.node field replacing the flag's filter. */
static void test_node_flags(void **state)
{
	struct flags f;
	struct config *c;
	char err[512];
	char *argv[] = { "k8smon", "-no-collector.cpu", "--collector.disable-defaults",
			 "-collector.netdev", "-collector.diskstats=true", "-collector.loadavg",
			 "-collector.loadavg=false", "-collector.netdev.device-include=^eth",
			 "-collector.diskstats.device-include=^vd" };
	json_t *mon;
	char *out;

	(void)state;
	assert_int_equal(parse(&f, err, sizeof(err), 9, argv), FLAGS_RUN);
	c = config_from_flags(&f, err, sizeof(err));
	assert_non_null(c);
	for (size_t i = 0; i < node_sub_count(); i++) {
		const char *n = node_sub_name(i);
		bool on = strcmp(n, "netdev") == 0 || strcmp(n, "diskstats") == 0;

		if (!!(c->node_disabled & (1ull << i)) == on)
			fail_msg("collector %s: disabled=%d", n, !on);
	}
	out = node_out(c);
	assert_null(strstr(out, "collector=\"cpu\""));
	assert_null(strstr(out, "collector=\"loadavg\""));
	assert_non_null(strstr(out, "node_network_receive_bytes_total{device=\"eth0\"}"));
	assert_null(strstr(out, "device=\"lo\""));
	assert_null(strstr(out, "device=\"veth1a2b\""));
	/* device-include: only vd*, the default exclude (which drops vda1)
	 * does not apply, as in node_exporter. */
	assert_non_null(strstr(out, "node_disk_reads_completed_total{device=\"vda\"}"));
	assert_non_null(strstr(out, "node_disk_reads_completed_total{device=\"vda1\"}"));
	assert_null(strstr(out, "device=\"dm-0\""));
	free(out);
	config_unref(c);
	flags_fini(&f);

	/* A monitor's diskstatsExclude replaces the flag's exclude. */
	{
		char *argv2[] = { "k8smon", "-collector.diskstats.device-exclude=^vda$" };

		assert_int_equal(parse(&f, err, sizeof(err), 2, argv2), FLAGS_RUN);
		c = config_from_flags(&f, err, sizeof(err));
		assert_non_null(c);
		out = node_out(c);
		assert_null(strstr(out, "node_disk_reads_completed_total{device=\"vda\"}"));
		assert_non_null(strstr(out, "node_disk_reads_completed_total{device=\"loop0\"}"));
		free(out);
		config_unref(c);
		mon = json_pack("{s:{s:s}, s:{s:{s:s}}}", "metadata", "name", "m", "spec", "node",
				"diskstatsExclude", "^(loop|dm-)");
		c = config_build(&f, mon, err, sizeof(err));
		assert_non_null(c);
		out = node_out(c);
		assert_non_null(strstr(out, "node_disk_reads_completed_total{device=\"vda\"}"));
		assert_null(strstr(out, "device=\"loop0\""));
		free(out);
		config_unref(c);
		json_decref(mon);
		mon = json_pack("{s:{s:s}, s:{s:{s:s}}}", "metadata", "name", "m", "spec", "node",
				"diskstatsExclude", "^(loop");
		assert_null(config_build(&f, mon, err, sizeof(err)));
		assert_non_null(strstr(err, "spec.node.diskstatsExclude"));
		json_decref(mon);
		flags_fini(&f);
	}
	expect_usage("-collector.netdev.device-include=(", "-collector.netdev.device-include");
	expect_usage("-collector.filesystem.mount-points-exclude=[", "mount-points-exclude");
	expect_usage("-collector.nosuch", "unknown flag -collector.nosuch");
	expect_usage("-no-collector.cpu=maybe", "not a boolean");
	expect_usage("-collector.filesystem.mount-timeout=5", "-collector.filesystem.mount-timeout");
	{
		char *argv3[] = { "k8smon", "-collector.diskstats.device-include=a",
				  "-collector.diskstats.device-exclude=b" };

		assert_int_equal(parse(&f, err, sizeof(err), 3, argv3), FLAGS_EXIT_USAGE);
		assert_non_null(strstr(err, "mutually exclusive"));
		flags_fini(&f);
	}
}

/* The systemd collector is off unless -collector.systemd; its unit filters
 * default to node_exporter's and are fully anchored (^(?:...)$); the
 * hwmon/powersupply filters compile and refuse bad regexes. */
static void test_systemd_flags(void **state)
{
	int sd = node_sub_index("systemd");
	struct flags f;
	struct config *c;
	char err[512];

	(void)state;
	assert_true(sd >= 0);
	assert_true(node_sub_default_off() & (1ull << sd));
	{
		char *argv[] = { "k8smon" };

		assert_int_equal(parse(&f, err, sizeof(err), 1, argv), FLAGS_RUN);
		c = config_from_flags(&f, err, sizeof(err));
		assert_non_null(c);
		assert_false(c->node_enabled & (1ull << sd));
		assert_string_equal(rx_pattern(c->systemd_unit_exclude),
				    ".+\\.(automount|device|mount|scope|slice)");
		assert_true(rx_match(c->systemd_unit_exclude, "home.mount", 10));
		/* anchored: a search would find "home.mount" inside */
		assert_false(rx_match(c->systemd_unit_exclude, "home.mount.service", 18));
		assert_true(rx_match(c->systemd_unit_include, "ssh.service", 11));
		assert_false(rx_match(c->systemd_unit_include, "", 0));
		assert_false(rx_match(c->powersupply_ignored, "BAT0", 4));
		assert_null(c->hwmon_chip_include);
		config_unref(c);
		flags_fini(&f);
	}
	{
		char *argv[] = { "k8smon", "-collector.systemd", "-collector.systemd.unit-include=ssh",
				 "-collector.hwmon.chip-exclude=^acpi" };

		assert_int_equal(parse(&f, err, sizeof(err), 4, argv), FLAGS_RUN);
		c = config_from_flags(&f, err, sizeof(err));
		assert_non_null(c);
		assert_true(c->node_enabled & (1ull << sd));
		assert_false(c->node_disabled & (1ull << sd));
		assert_false(rx_match(c->systemd_unit_include, "ssh.service", 11));
		assert_true(rx_match(c->hwmon_chip_exclude, "acpitz", 6));
		config_unref(c);
		flags_fini(&f);
	}
	{
		char *argv[] = { "k8smon", "-collector.systemd", "-no-collector.systemd" };

		assert_int_equal(parse(&f, err, sizeof(err), 3, argv), FLAGS_RUN);
		c = config_from_flags(&f, err, sizeof(err));
		assert_non_null(c);
		assert_false(c->node_enabled & (1ull << sd));
		config_unref(c);
		flags_fini(&f);
	}
	expect_usage("-collector.systemd.unit-include=(", "-collector.systemd.unit-include");
	expect_usage("-collector.systemd.unit-exclude=a(?=b)", "-collector.systemd.unit-exclude");
	expect_usage("-collector.hwmon.sensor-exclude=[", "-collector.hwmon.sensor-exclude");
	expect_usage("-collector.powersupply.ignored-supplies=(", "ignored-supplies");
	expect_usage("-collector.systemd.private=maybe", "collector.systemd.private");
}

static void test_listen_addr(void **state)
{
	char host[64];
	unsigned port;

	(void)state;
	assert_int_equal(http_parse_addr(":9420", host, sizeof(host), &port), 0);
	assert_string_equal(host, "");
	assert_int_equal(port, 9420);
	assert_int_equal(http_parse_addr("127.0.0.1:80", host, sizeof(host), &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(http_parse_addr("[::1]:8080", host, sizeof(host), &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 8080);
	assert_int_not_equal(http_parse_addr("9420", host, sizeof(host), &port), 0);
	assert_int_not_equal(http_parse_addr(":99999", host, sizeof(host), &port), 0);
	assert_int_not_equal(http_parse_addr("::1:80", host, sizeof(host), &port), 0);
}

static void test_gzip_accept(void **state)
{
	(void)state;
	assert_true(gzip_accepted("gzip"));
	assert_true(gzip_accepted("deflate, gzip;q=1.0, *;q=0.5"));
	assert_true(gzip_accepted("br, gzip;q=0.5"));
	assert_false(gzip_accepted("gzip;q=0"));
	assert_false(gzip_accepted("identity"));
	assert_false(gzip_accepted(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_both_styles),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_help_version),
		cmocka_unit_test(test_config_from_flags),
		cmocka_unit_test(test_node_flags),
		cmocka_unit_test(test_systemd_flags),
		cmocka_unit_test(test_listen_addr),
		cmocka_unit_test(test_gzip_accept),
	};
	return cmocka_run_group_tests_name("flags", tests, NULL, NULL);
}
