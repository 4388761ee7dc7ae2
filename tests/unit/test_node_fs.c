/* Node collector: filesystem over a generated mountinfo whose mountpoints sit
 * under a rootfs (tests/fixtures/node/root): rootfs prefix stripping, the
 * default mountpoint/fstype excludes, \040 unescaping, read-only detection,
 * statfs errors (device_error), de-duplication and the self/mountinfo
 * fallback. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <cmocka.h>

#include "node_test.h"
#include "collect/node/node_int.h"

struct fs_fix {
	struct node_collector *nc;
	char dir[64];          /* temporary procfs */
	char root[PATH_MAX];   /* absolute rootfs */
	char mi[128];
};

static int setup(void **state)
{
	struct fs_fix *f = calloc(1, sizeof(*f));
	char sub[128];

	if (!f || !realpath(FIX "/root", f->root))
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/k8smon-fs-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(sub, sizeof(sub), "%s/1", f->dir);
	mkdir(sub, 0700);
	snprintf(sub, sizeof(sub), "%s/self", f->dir);
	mkdir(sub, 0700);
	snprintf(f->mi, sizeof(f->mi), "%s/1/mountinfo", f->dir);
	f->nc = node_collector_new();
	*state = f;
	return f->nc ? 0 : -1;
}

static int teardown(void **state)
{
	struct fs_fix *f = *state;
	char p[160];

	unlink(f->mi);
	snprintf(p, sizeof(p), "%s/self/mountinfo", f->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/1", f->dir);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/self", f->dir);
	rmdir(p);
	rmdir(f->dir);
	node_collector_free(f->nc);
	free(f);
	return 0;
}

static char *scrape(struct fs_fix *f, const char *rootfs)
{
	struct node_opts o = { 0 };

	o.procfs = f->dir;
	o.rootfs = rootfs;
	return node_run(f->nc, &o, "filesystem");
}

static void write_mountinfo(struct fs_fix *f, const char *path)
{
	char text[34000];
	const char *r = f->root;

	snprintf(text, sizeof(text),
		 "22 1 254:0 / %s rw,relatime shared:1 - ext4 /dev/vda rw\n"
		 "23 22 254:1 / %s/data rw,relatime shared:2 - ext4 /dev/vdb1 rw\n"
		 "24 22 254:1 / %s/data rw,relatime - ext4 /dev/vdb1 rw\n"
		 "25 22 0:40 / %s/with\\040space ro,relatime - tmpfs tmpfs rw,size=100k\n"
		 "26 22 0:41 / %s/missing rw - nfs4 srv:/export rw\n"
		 "27 22 0:5 / %s/proc rw - proc proc rw\n"
		 "28 22 0:26 / %s/sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
		 "29 22 0:42 / %s/srv rw - xfs /dev/vdc ro,emergency\n"
		 "30 22 0:43 / /outside rw - ext4 /dev/vdd rw\n",
		 r, r, r, r, r, r, r, r);
	node_write_file(path, text);
}

static void expect(const char *out, const char *line)
{
	if (!strstr(out, line))
		fail_msg("missing\n%s\nin:\n%s", line, out);
}

static void test_rootfs_strip_and_filters(void **state)
{
	struct fs_fix *f = *state;
	struct statfs st;
	char line[512], path[PATH_MAX + 8];
	char *out;

	write_mountinfo(f, f->mi);
	out = scrape(f, f->root);
	assert_int_equal(node_success(out, "filesystem"), 1);
	/* rootfs itself becomes "/", children lose the prefix. */
	expect(out, "node_filesystem_readonly{device=\"/dev/vda\",device_error=\"\",fstype=\"ext4\",mountpoint=\"/\"} 0\n");
	assert_int_equal(statfs(f->root, &st), 0);
	snprintf(line, sizeof(line),
		 "node_filesystem_size_bytes{device=\"/dev/vda\",device_error=\"\",fstype=\"ext4\",mountpoint=\"/\"} %.0f\n",
		 (double)st.f_blocks * (double)st.f_bsize);
	expect(out, line);
	snprintf(line, sizeof(line),
		 "node_filesystem_files{device=\"/dev/vdb1\",device_error=\"\",fstype=\"ext4\",mountpoint=\"/data\"} %.0f\n",
		 (double)st.f_files);
	snprintf(path, sizeof(path), "%s/data", f->root);
	assert_int_equal(statfs(path, &st), 0);
	expect(out, line);
	/* Duplicate mount of /data exported once. */
	{
		const char *a = strstr(out, "node_filesystem_device_error{device=\"/dev/vdb1\"");

		assert_non_null(a);
		assert_null(strstr(a + 1, "node_filesystem_device_error{device=\"/dev/vdb1\""));
	}
	/* \040 unescaped; "ro" mount option -> readonly 1. */
	expect(out, "node_filesystem_readonly{device=\"tmpfs\",device_error=\"\",fstype=\"tmpfs\",mountpoint=\"/with space\"} 1\n");
	/* "ro" in the super options counts too (>= v1.10). */
	expect(out, "node_filesystem_readonly{device=\"/dev/vdc\",device_error=\"no such file or directory\",fstype=\"xfs\",mountpoint=\"/srv\"} 1\n");
	/* statfs fails: device_error 1 with the error text, readonly, nothing else. */
	expect(out, "node_filesystem_device_error{device=\"srv:/export\",device_error=\"no such file or directory\",fstype=\"nfs4\",mountpoint=\"/missing\"} 1\n");
	expect(out, "node_filesystem_readonly{device=\"srv:/export\",device_error=\"no such file or directory\",fstype=\"nfs4\",mountpoint=\"/missing\"} 0\n");
	assert_null(strstr(out, "node_filesystem_size_bytes{device=\"srv:/export\""));
	assert_null(strstr(out, "node_filesystem_avail_bytes{device=\"srv:/export\""));
	/* Default excludes run on the stripped mountpoint / fstype. */
	assert_null(strstr(out, "mountpoint=\"/proc\""));
	assert_null(strstr(out, "cgroup2"));
	/* Not under rootfs: label unchanged, statfs(rootfs + /outside) fails. */
	expect(out, "node_filesystem_device_error{device=\"/dev/vdd\",device_error=\"no such file or directory\",fstype=\"ext4\",mountpoint=\"/outside\"} 1\n");
	expect(out, "node_filesystem_mount_info{device=\"/dev/vdb1\",major=\"254\",minor=\"1\",mountpoint=\"/data\"} 1\n");
	expect(out, "# HELP node_filesystem_avail_bytes Filesystem space available to non-root users in bytes.\n# TYPE node_filesystem_avail_bytes gauge\n");
	free(out);
}

static void test_custom_excludes(void **state)
{
	struct fs_fix *f = *state;
	struct node_opts o = { 0 };
	char err[128];
	struct rx *mp = rx_new("^/(data|missing|outside)($|/)", err, sizeof(err));
	struct rx *ft = rx_new("^(tmpfs)$", err, sizeof(err));
	char *out;

	assert_non_null(mp);
	assert_non_null(ft);
	write_mountinfo(f, f->mi);
	o.procfs = f->dir;
	o.rootfs = f->root;
	o.mount_points_exclude = mp;
	o.fs_types_exclude = ft;
	out = node_run(f->nc, &o, "filesystem");
	assert_null(strstr(out, "/data"));
	assert_null(strstr(out, "/with space"));
	/* Custom excludes replace the defaults: /proc is back. */
	expect(out, "mountpoint=\"/proc\"");
	expect(out, "mountpoint=\"/\"}");
	free(out);
	rx_free(mp);
	rx_free(ft);
}

static void test_self_fallback(void **state)
{
	struct fs_fix *f = *state;
	char p[160];
	char *out;

	snprintf(p, sizeof(p), "%s/self/mountinfo", f->dir);
	write_mountinfo(f, p);
	/* No 1/mountinfo (no host pid 1 visible): self/mountinfo is used. */
	out = scrape(f, f->root);
	assert_int_equal(node_success(out, "filesystem"), 1);
	expect(out, "mountpoint=\"/data\"}");
	free(out);
}

static void test_no_strip_at_slash(void **state)
{
	struct fs_fix *f = *state;
	char *out;

	write_mountinfo(f, f->mi);
	/* rootfs "/" (default): mountpoints are left alone. */
	out = scrape(f, NULL);
	assert_non_null(strstr(out, f->root));
	free(out);
	assert_string_equal(node_strip_rootfs("/", "/host/x"), "/host/x");
	assert_string_equal(node_strip_rootfs("/host", "/host/x"), "/x");
	assert_string_equal(node_strip_rootfs("/host", "/host"), "/");
	/* Plain prefix trim, no path-boundary check (node-exporter does the same). */
	assert_string_equal(node_strip_rootfs("/host", "/hostile"), "ile");
	assert_string_equal(node_strip_rootfs("/host", "/other"), "/other");
}

static void test_malformed_mountinfo(void **state)
{
	struct fs_fix *f = *state;
	char *out;

	node_write_file(f->mi, "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
			       "36 35 98:0 /mnt1 /mnt2 rw,noatime\n");
	out = scrape(f, NULL);
	assert_int_equal(node_success(out, "filesystem"), 0);
	assert_null(strstr(out, "node_filesystem_size_bytes"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rootfs_strip_and_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_custom_excludes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_self_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_strip_at_slash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_mountinfo, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
