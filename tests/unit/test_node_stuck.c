/* The filesystem collector's mount timeout (node_exporter's
 * --collector.filesystem.mount-timeout), with an injected statfs() that
 * hangs on one NFS mount until the test releases it:
 *  - the first scrape returns, reporting that mount with device_error
 *    "mountpoint timeout" 1 and readonly 0, the other mounts (a local ext4
 *    called directly, a FUSE mount through the timed path) and the other
 *    collectors unaffected;
 *  - later scrapes skip the stuck mount without calling statfs() again;
 *  - once the call returns, the mount is monitored again;
 *  - a collector freed while a call hangs leaves the thread nothing freed
 *    to touch (ASan run). No timing is asserted: waits poll with generous
 *    bounds. */
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
#include "collect/node/node_int.h"

static pthread_mutex_t hang_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hang_cv = PTHREAD_COND_INITIALIZER;
static bool released;
static int nfs_calls, nfs_returned;
static pthread_t scraper;
static int root_off_thread;    /* "/" (ext4) statfs()ed on another thread */

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int fake_statfs(const char *path, struct statfs *st)
{
	memset(st, 0, sizeof(*st));
	/* rootfs + "/": the ext4 root mount. */
	if (ends_with(path, "/")) {
		pthread_mutex_lock(&hang_mu);
		root_off_thread += !pthread_equal(pthread_self(), scraper);
		pthread_mutex_unlock(&hang_mu);
	}
	if (ends_with(path, "/mnt/nfs")) {
		pthread_mutex_lock(&hang_mu);
		nfs_calls++;
		while (!released)
			pthread_cond_wait(&hang_cv, &hang_mu);
		pthread_mutex_unlock(&hang_mu);
	}
	st->f_bsize = 4096;
	st->f_blocks = 1000;
	st->f_bfree = 500;
	st->f_bavail = 400;
	st->f_files = 100;
	st->f_ffree = 50;
	if (ends_with(path, "/mnt/nfs")) {
		pthread_mutex_lock(&hang_mu);
		nfs_returned++;
		pthread_mutex_unlock(&hang_mu);
	}
	return 0;
}

static void hang_reset(void)
{
	pthread_mutex_lock(&hang_mu);
	released = false;
	nfs_calls = nfs_returned = 0;
	root_off_thread = 0;
	scraper = pthread_self();
	pthread_mutex_unlock(&hang_mu);
}

static void hang_release(void)
{
	pthread_mutex_lock(&hang_mu);
	released = true;
	pthread_cond_broadcast(&hang_cv);
	pthread_mutex_unlock(&hang_mu);
}

static int counter(int *c)
{
	int v;

	pthread_mutex_lock(&hang_mu);
	v = *c;
	pthread_mutex_unlock(&hang_mu);
	return v;
}

struct tree {
	char root[64], proc[96];
};

static void make_tree(struct tree *t)
{
	char p[160];

	snprintf(t->root, sizeof(t->root), "/tmp/k8smon-stuck-XXXXXX");
	assert_non_null(mkdtemp(t->root));
	snprintf(t->proc, sizeof(t->proc), "%s/proc", t->root);
	assert_int_equal(mkdir(t->proc, 0755), 0);
	snprintf(p, sizeof(p), "%s/1", t->proc);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/1/mountinfo", t->proc);
	node_write_file(p, "20 1 8:1 / / rw,relatime - ext4 /dev/vda1 rw\n"
			   "30 20 0:50 / /mnt/nfs rw,relatime - nfs4 srv:/export rw\n"
			   "31 20 0:51 / /mnt/ok rw - fuse.sshfs u@h:/ rw\n");
	snprintf(p, sizeof(p), "%s/loadavg", t->proc);
	node_write_file(p, "0.1 0.2 0.3 1/100 42\n");
}

static void drop_tree(struct tree *t)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->root);
	assert_int_equal(system(cmd), 0);
}

static char *scrape(struct node_collector *nc, const struct tree *t)
{
	struct node_opts o = { 0 };

	o.procfs = t->proc;
	o.sysfs = t->root;
	o.rootfs = t->root;
	/* Long enough for the mounts that answer (their statfs runs on a thread that
	 * a loaded machine under ASan can start late: 50 ms failed there), short
	 * enough for the hung one to cost little. */
	o.mount_timeout_ms = 1000;
	return node_run(nc, &o, "^(filesystem|loadavg)$");
}

static void want(const char *out, const char *line)
{
	char key[512];

	snprintf(key, sizeof(key), "\n%s\n", line);
	if (!strstr(out, key))
		fail_msg("missing line: %s\n--- output:\n%s", line, out);
}

/* Polls cond() every 10 ms for up to 30 s. */
static bool poll_until(bool (*cond)(void *), void *arg)
{
	for (int i = 0; i < 3000; i++) {
		if (cond(arg))
			return true;
		usleep(10000);
	}
	return false;
}

static bool unstuck(void *arg)
{
	return stuck_set_count(((struct node_collector *)arg)->stuck) == 0;
}

static bool nfs_done(void *arg)
{
	return counter(&nfs_returned) == *(int *)arg;
}

static const char stuck_line[] =
	"node_filesystem_device_error{device=\"srv:/export\",device_error=\"mountpoint timeout\","
	"fstype=\"nfs4\",mountpoint=\"/mnt/nfs\"} 1";

static void check_stuck_output(const char *out)
{
	want(out, stuck_line);
	want(out, "node_filesystem_readonly{device=\"srv:/export\",device_error=\"mountpoint timeout\","
		  "fstype=\"nfs4\",mountpoint=\"/mnt/nfs\"} 0");
	assert_null(strstr(out, "node_filesystem_size_bytes{device=\"srv:/export\""));
	want(out, "node_filesystem_size_bytes{device=\"/dev/vda1\",device_error=\"\",fstype=\"ext4\","
		  "mountpoint=\"/\"} 4096000");
	want(out, "node_filesystem_size_bytes{device=\"u@h:/\",device_error=\"\",fstype=\"fuse.sshfs\","
		  "mountpoint=\"/mnt/ok\"} 4096000");
	assert_int_equal(node_success(out, "filesystem"), 1);
	assert_int_equal(node_success(out, "loadavg"), 1);
}

static void test_stuck_mount(void **state)
{
	struct node_collector *nc = node_collector_new();
	struct tree t;
	char *out;
	int one = 1;

	(void)state;
	assert_non_null(nc);
	make_tree(&t);
	hang_reset();
	nc->statfs_fn = fake_statfs;
	out = scrape(nc, &t);
	check_stuck_output(out);
	assert_int_equal(counter(&nfs_calls), 1);
	assert_true(stuck_set_has(nc->stuck, "/mnt/nfs"));
	/* ext4 answers from memory: called directly, no thread per mount. */
	assert_int_equal(counter(&root_off_thread), 0);
	free(out);
	/* Skipped while stuck: no second call into the hung mount. */
	out = scrape(nc, &t);
	check_stuck_output(out);
	assert_int_equal(counter(&nfs_calls), 1);
	free(out);
	/* The call returns: the mount is monitored again. */
	hang_release();
	assert_true(poll_until(nfs_done, &one));
	assert_true(poll_until(unstuck, nc));
	out = scrape(nc, &t);
	want(out, "node_filesystem_size_bytes{device=\"srv:/export\",device_error=\"\",fstype=\"nfs4\","
		  "mountpoint=\"/mnt/nfs\"} 4096000");
	assert_null(strstr(out, "mountpoint timeout"));
	assert_int_equal(counter(&nfs_calls), 2);
	free(out);
	node_collector_free(nc);
	drop_tree(&t);
}

static void test_free_while_hung(void **state)
{
	struct node_collector *nc = node_collector_new();
	struct tree t;
	char *out;
	int one = 1;

	(void)state;
	assert_non_null(nc);
	make_tree(&t);
	hang_reset();
	nc->statfs_fn = fake_statfs;
	out = scrape(nc, &t);
	want(out, stuck_line);
	free(out);
	node_collector_free(nc);
	/* The blocked thread finishes after its collector is gone. */
	hang_release();
	assert_true(poll_until(nfs_done, &one));
	/* Not a timing assertion: lets the thread's last unref run before
	 * LeakSanitizer looks at exit. */
	usleep(200000);
	drop_tree(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stuck_mount),
		cmocka_unit_test(test_free_while_hung),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
