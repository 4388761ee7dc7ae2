/* The node parsers on buffers (the entry points the fuzz harnesses use):
 * cases the fuzzers found. Whatever bytes a file holds, a parser that
 * succeeds writes exposition that parses with zero errors: invalid UTF-8 in
 * a label value becomes U+FFFD, a field that would give an invalid metric
 * name is skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fuzz/fuzz_node.h"

/* Runs parse on text (its own copy, writable for mountinfo), asserts it
 * succeeded and that the output parses cleanly (fnode_check aborts
 * otherwise); returns a copy of the output. */
static char *run(int (*parse)(struct node_ctx *, char *, size_t), const char *text)
{
	struct fnode f;
	size_t n = strlen(text);
	char *s = strdup(text), *out;

	assert_non_null(s);
	fnode_init(&f);
	assert_int_equal(parse(&f.ctx, s, n), 0);
	out = strndup(f.out.data ? f.out.data : "", f.out.len);
	assert_non_null(out);
	fnode_check(&f, 0);
	fnode_fini(&f);
	free(s);
	return out;
}

static int netdev(struct node_ctx *c, char *s, size_t n) { return node_netdev_parse(c, s, n); }
static int vmstat(struct node_ctx *c, char *s, size_t n) { return node_vmstat_parse(c, s, n); }
static int os(struct node_ctx *c, char *s, size_t n) { return node_os_parse(c, s, n); }
static int pairs(struct node_ctx *c, char *s, size_t n) { return node_netstat_pairs_parse(c, s, n); }
static int snmp6(struct node_ctx *c, char *s, size_t n) { return node_netstat_snmp6_parse(c, s, n); }
static int meminfo(struct node_ctx *c, char *s, size_t n) { return node_meminfo_parse(c, s, n); }

/* fuzz_node_tables: an interface name with bytes that are not UTF-8. */
static void test_netdev_name_not_utf8(void **state)
{
	char *out = run(netdev, "h1\nh2\n  \xff\xff\xff\x04lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n");

	(void)state;
	assert_non_null(strstr(out, "device=\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\x04lo\""));
	free(out);
}

/* fuzz_node_mountinfo: a mount point with a byte that is not UTF-8 (a
 * Latin-1 directory name). */
static void test_mountpoint_not_utf8(void **state)
{
	char *out = run(node_filesystem_parse,
			"27 26 0:24 / /data/caf\xe9 rw,relatime - ext4 /dev/vdb rw\n");

	(void)state;
	assert_non_null(strstr(out, "mountpoint=\"/data/caf\xef\xbf\xbd\""));
	free(out);
}

/* fuzz_node_kv: os-release values with bytes that are not UTF-8. */
static void test_os_release_not_utf8(void **state)
{
	char *out = run(os, "NAME=\"Debi\xb7\xb7n\"\nID=debian\nVERSION_ID=\"12\"\n");

	(void)state;
	assert_non_null(strstr(out, "name=\"Debi\xef\xbf\xbd\xef\xbf\xbdn\""));
	free(out);
}

/* Field names the filters pass but that make no metric name. */
static void test_invalid_field_names_skipped(void **state)
{
	char *out = run(vmstat, "pg{fault 1\npgfault 2\n");

	(void)state;
	assert_null(strstr(out, "pg{fault"));
	assert_non_null(strstr(out, "node_vmstat_pgfault 2\n"));
	free(out);
	out = run(pairs, "T{p: InErrors\nT{p: 5\nTcp: InErrs\nTcp: 6\n");
	assert_null(strstr(out, "T{p"));
	assert_non_null(strstr(out, "node_netstat_Tcp_InErrs 6\n"));
	free(out);
}

/* fuzz_node_kv / fuzz_node_tables: a field repeated in one file (or across
 * netstat, snmp and snmp6) would repeat its family: written once. */
static void test_repeated_fields_once(void **state)
{
	char *out = run(vmstat, "pgfault 1\npgmajfault 7\npgfault 2\n");

	(void)state;
	assert_non_null(strstr(out, "node_vmstat_pgfault 1\n"));
	assert_null(strstr(out, "node_vmstat_pgfault 2\n"));
	free(out);
	out = run(meminfo, "MemTotal: 1 kB\nMemTotal: 2 kB\n");
	assert_non_null(strstr(out, "node_memory_MemTotal_bytes 1024\n"));
	assert_null(strstr(out, "node_memory_MemTotal_bytes 2048\n"));
	free(out);
	out = run(snmp6, "Ip6InOctets 1516\nIcmp6InErrors 1\nIp6InOctets 9\n");
	assert_non_null(strstr(out, "node_netstat_Ip6_InOctets 1516\n"));
	assert_null(strstr(out, "node_netstat_Ip6_InOctets 9\n"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_netdev_name_not_utf8),
		cmocka_unit_test(test_mountpoint_not_utf8),
		cmocka_unit_test(test_os_release_not_utf8),
		cmocka_unit_test(test_invalid_field_names_skipped),
		cmocka_unit_test(test_repeated_fields_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
