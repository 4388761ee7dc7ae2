/* Node collector caches: the procfs/sysfs descriptor cache behind
 * procfile_read() (fresh content through kept descriptors, regular files
 * never kept, tags, caps, sweeps) and the per-filter regex decision cache. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/err.h"
#include "base/rx.h"
#include "collect/node/node_int.h"
#include "node_test.h"

static void test_fd_kept_and_fresh(void **state)
{
	struct fdcache fc;
	struct procfile pf;
	const char *data;
	size_t len;
	char *first;

	(void)state;
	fdcache_init(&fc, 8);
	procfile_init(&pf, &fc);
	assert_int_equal(procfile_read(&pf, "/proc", "self/stat", &data, &len), 0);
	assert_int_equal(fc.nopen, 1);
	first = strndup(data, len);
	assert_non_null(first);
	/* Burn CPU so utime/stime or the start of the line differ; either
	 * way a second read through the kept descriptor must parse. */
	assert_int_equal(procfile_read(&pf, "/proc", "self/stat", &data, &len), 0);
	assert_int_equal(fc.nopen, 1);
	assert_true(len > 0 && strncmp(data, first, (size_t)(strchr(first, ')') - first)) == 0);
	free(first);
	/* /proc/self/status content is regenerated: VmRSS present each time. */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(procfile_read(&pf, "/proc/", "/self/status", &data, &len), 0);
		assert_non_null(strstr(data, "VmRSS:"));
	}
	assert_int_equal(fc.nopen, 2);
	procfile_fini(&pf);
	fdcache_fini(&fc);
	assert_int_equal(fc.nopen, 0);
}

/* Lines of path read to EOF with read() (the reference procfile must equal). */
static size_t lines_full(const char *path)
{
	size_t lines = 0;
	FILE *f = fopen(path, "r");
	int c;

	assert_non_null(f);
	while ((c = getc(f)) != EOF)
		lines += c == '\n';
	fclose(f);
	return lines;
}

static size_t lines_of(const char *data, size_t len)
{
	size_t lines = 0;

	for (size_t i = 0; i < len; i++)
		lines += data[i] == '\n';
	return lines;
}

/* Files read with a single read() when it came back short (single_open
 * files, /proc/sys, short-record seq_files) are still whole, and a procfs
 * file outside that list is read to EOF: /proc/self/smaps (a record per
 * mapping, several pages) comes back short from its first read of each
 * page and must not stop there. Read twice: the second read goes through
 * the kept descriptor and the grown buffer. */
static void test_one_read_whole(void **state)
{
	static const char *const rels[] = { "meminfo", "stat", "net/dev", "net/snmp", "vmstat",
					    "sys/kernel/random/poolsize", "self/smaps" };
	struct fdcache fc;
	struct procfile pf;
	const char *data;
	size_t len;

	(void)state;
	fdcache_init(&fc, 16);
	procfile_init(&pf, &fc);
	for (size_t r = 0; r < 2; r++) {
		for (size_t i = 0; i < sizeof(rels) / sizeof(rels[0]); i++) {
			char path[64];
			size_t want;

			snprintf(path, sizeof(path), "/proc/%s", rels[i]);
			assert_int_equal(procfile_read(&pf, "/proc", rels[i], &data, &len), 0);
			want = lines_full(path);
			/* smaps changes with our own allocations between the two
			 * reads (a mapping more or less, 25 lines); stopping at
			 * the first short read would give a page, ~80 lines. */
			if (strcmp(rels[i], "self/smaps") == 0 ? lines_of(data, len) < want / 2
							     : lines_of(data, len) != want)
				fail_msg("%s: %zu lines, read() to EOF gives %zu", path, lines_of(data, len),
					 want);
			assert_true(len > 0 && data[len - 1] == '\n');
		}
	}
	assert_true(lines_full("/proc/self/smaps") > 200); /* several pages: the check bites */
	procfile_fini(&pf);
	fdcache_fini(&fc);
}

/* mountinfo through a kept descriptor is answered from a copy while the
 * kernel reports no mount table change, and read again after one: a tmpfs
 * mounted (in a private mount namespace of this test, as root) shows up at
 * the next read, and its unmount too. Every NODE_MOUNTS_MAX_AGE reads it is
 * read anyway (content equal). */
static void test_mountinfo_change_seen(void **state)
{
	char dir[] = "/tmp/k8smon-mnt-XXXXXX";
	struct fdcache fc;
	struct procfile pf;
	const char *data;
	size_t len;
	char *before;

	(void)state;
	/* CI runs as root; elsewhere this fails loudly rather than skip. */
	if (unshare(CLONE_NEWNS) != 0)
		fail_msg("unshare(CLONE_NEWNS): %s (run the unit tests as root)", strerror(errno));
	assert_int_equal(mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	assert_non_null(mkdtemp(dir));
	fdcache_init(&fc, 8);
	procfile_init(&pf, &fc);
	assert_int_equal(procfile_read(&pf, "/proc", "self/mountinfo", &data, &len), 0);
	assert_null(strstr(data, dir));
	before = strdup(data);
	assert_non_null(before);
	for (int i = 0; i < 2 * NODE_MOUNTS_MAX_AGE + 3; i++) {
		assert_int_equal(procfile_read(&pf, "/proc", "self/mountinfo", &data, &len), 0);
		assert_string_equal(data, before);
	}
	assert_int_equal(fc.nopen, 1);
	/* 1 + 35 reads: read, 16 copies, read, 16 copies, read, 1 copy. */
	for (size_t i = 0; i < fc.nslots; i++)
		if (fc.ent[i].path && strstr(fc.ent[i].path, "mountinfo"))
			assert_int_equal(fc.ent[i].keep_age, 1);
	assert_int_equal(mount("k8smon-test", dir, "tmpfs", 0, "size=64k"), 0);
	assert_int_equal(procfile_read(&pf, "/proc", "self/mountinfo", &data, &len), 0);
	assert_non_null(strstr(data, dir));
	assert_int_equal(procfile_read(&pf, "/proc", "self/mountinfo", &data, &len), 0);
	assert_non_null(strstr(data, dir));
	assert_int_equal(umount(dir), 0);
	assert_int_equal(procfile_read(&pf, "/proc", "self/mountinfo", &data, &len), 0);
	assert_null(strstr(data, dir));
	assert_string_equal(data, before);
	free(before);
	rmdir(dir);
	procfile_fini(&pf);
	fdcache_fini(&fc);
}

static void test_regular_file_not_kept(void **state)
{
	char dir[] = "/tmp/k8smon-fdc-XXXXXX";
	char path[64];
	struct fdcache fc;
	struct procfile pf;
	const char *data;
	size_t len;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/x", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("one\n", f);
	fclose(f);
	fdcache_init(&fc, 8);
	procfile_init(&pf, &fc);
	assert_int_equal(procfile_read(&pf, dir, "x", &data, &len), 0);
	assert_string_equal(data, "one\n");
	assert_int_equal(fc.nopen, 0);
	/* Replaced by rename, as package managers replace os-release. */
	snprintf(path, sizeof(path), "%s/y", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("two\n", f);
	fclose(f);
	{
		char to[64];

		snprintf(to, sizeof(to), "%s/x", dir);
		assert_int_equal(rename(path, to), 0);
		assert_int_equal(procfile_read(&pf, dir, "x", &data, &len), 0);
		assert_string_equal(data, "two\n");
		unlink(to);
	}
	assert_int_equal(procfile_read(&pf, dir, "x", &data, &len), KM_ENOENT);
	rmdir(dir);
	procfile_fini(&pf);
	fdcache_fini(&fc);
}

static void test_cap_tag_sweep(void **state)
{
	struct fdcache fc;
	struct procfile pf;
	const char *data;
	size_t len;

	(void)state;
	fdcache_init(&fc, 1);
	procfile_init(&pf, &fc);
	assert_int_equal(procfile_read(&pf, "/proc", "version", &data, &len), 0);
	assert_int_equal(procfile_read(&pf, "/proc", "loadavg", &data, &len), 0);
	assert_int_equal(fc.nopen, 1); /* capped: loadavg opened and closed */
	assert_true(len > 0);
	/* Another tag: the kept descriptor is replaced, content still read. */
	assert_int_equal(procfile_read_tag(&pf, "/proc", "version", 42, &data, &len), 0);
	assert_non_null(strstr(data, "Linux"));
	assert_int_equal(fc.nopen, 1);
	fdcache_sweep(&fc);
	assert_int_equal(fc.nopen, 1); /* used in the generation just ended */
	fdcache_sweep(&fc);
	assert_int_equal(fc.nopen, 0); /* not used since: closed */
	assert_int_equal(fc.nused, 0);
	procfile_fini(&pf);
	fdcache_fini(&fc);
}

static void test_disabled_cache(void **state)
{
	struct fdcache fc;
	struct procfile pf;
	const char *data;
	size_t len;

	(void)state;
	fdcache_init(&fc, 0);
	procfile_init(&pf, &fc);
	assert_int_equal(procfile_read(&pf, "/proc", "version", &data, &len), 0);
	assert_int_equal(fc.nopen, 0);
	procfile_fini(&pf);
	procfile_init(&pf, NULL);
	assert_int_equal(procfile_read(&pf, "/proc", "version", &data, &len), 0);
	procfile_fini(&pf);
	fdcache_fini(&fc);
}

/* A per-scrape file (/proc/stat, read by the cpu and stat collectors) is
 * read once per fdcache generation: later reads in the same scrape get the
 * first one's bytes, the first read after a sweep (the next scrape) sees the
 * file as it is now, through a kept procfs descriptor and for a regular file
 * (a -path.procfs tree) alike; plain procfile_read() is never answered from
 * the copy. */
static void test_read_scrape_once_per_generation(void **state)
{
	char dir[] = "/tmp/k8smon-scrape-XXXXXX", path[64];
	struct fdcache fc;
	struct procfile pf;
	const char *data;
	size_t len;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/stat", dir);
	fdcache_init(&fc, 8);
	procfile_init(&pf, &fc);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("ctxt 1\n", f);
	fclose(f);
	assert_int_equal(procfile_read_scrape(&pf, dir, "stat", &data, &len), 0);
	assert_string_equal(data, "ctxt 1\n");
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("ctxt 22\n", f);
	fclose(f);
	/* Same scrape: the first read's snapshot. */
	assert_int_equal(procfile_read_scrape(&pf, dir, "stat", &data, &len), 0);
	assert_string_equal(data, "ctxt 1\n");
	assert_int_equal(len, 7);
	/* A plain read is never answered from the copy. */
	assert_int_equal(procfile_read(&pf, dir, "stat", &data, &len), 0);
	assert_string_equal(data, "ctxt 22\n");
	fdcache_sweep(&fc);
	assert_int_equal(procfile_read_scrape(&pf, dir, "stat", &data, &len), 0);
	assert_string_equal(data, "ctxt 22\n");
	/* The live file through a kept descriptor: the second read of a scrape
	 * equals the first byte for byte (a fresh /proc/self/stat would not:
	 * its utime moves), the next scrape reads again. */
	for (int scrape = 0; scrape < 3; scrape++) {
		char *first;

		assert_int_equal(procfile_read_scrape(&pf, "/proc", "self/stat", &data, &len), 0);
		first = strndup(data, len);
		assert_non_null(first);
		for (volatile long i = 0; i < 20000000; i++)
			;
		assert_int_equal(procfile_read_scrape(&pf, "/proc", "self/stat", &data, &len), 0);
		assert_string_equal(data, first);
		free(first);
		fdcache_sweep(&fc);
	}
	unlink(path);
	rmdir(dir);
	procfile_fini(&pf);
	fdcache_fini(&fc);
}

static void test_rx_cache_follows_filter(void **state)
{
	char err[128];
	struct rx *a = rx_new_search("^eth", err, sizeof(err));
	struct rx *b = rx_new_search("^lo$", err, sizeof(err));
	struct rxcache c;
	char name[16];

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	memset(&c, 0, sizeof(c));
	for (int round = 0; round < 2; round++) {
		assert_true(node_rx_match(&c, a, "eth0", 4));
		assert_false(node_rx_match(&c, a, "lo", 2));
		assert_true(node_rx_match(&c, a, "eth0x", 4)); /* length-bounded */
	}
	assert_int_equal(c.nused, 2);
	/* A new filter empties the cache. */
	assert_false(node_rx_match(&c, b, "eth0", 4));
	assert_true(node_rx_match(&c, b, "lo", 2));
	assert_int_equal(c.nused, 2);
	rxcache_sweep(&c);
	assert_true(node_rx_match(&c, b, "lo", 2));
	rxcache_sweep(&c);
	assert_int_equal(c.nused, 1); /* eth0 not asked last generation */
	/* Many names: the table grows and keeps answering correctly. */
	for (int i = 0; i < 500; i++) {
		int n = snprintf(name, sizeof(name), "%s%d", i % 2 ? "lo" : "eth", i);

		assert_false(node_rx_match(&c, b, name, (size_t)n));
	}
	assert_true(node_rx_match(&c, b, "lo", 2));
	rxcache_fini(&c);
	rx_free(a);
	rx_free(b);
}

/* The filter's pattern is compared with the cache's once per scrape (not
 * per name): a cache left with another filter's decisions at the same
 * address (freed and reused between scrapes) is emptied by the first match
 * after the sweep, so no stale decision is answered. */
static void test_rx_cache_pattern_checked_each_scrape(void **state)
{
	char err[128];
	struct rx *a = rx_new_search("^eth", err, sizeof(err));
	struct rxcache c;

	(void)state;
	assert_non_null(a);
	memset(&c, 0, sizeof(c));
	assert_true(node_rx_match(&c, a, "eth0", 4));
	assert_true(node_rx_match(&c, a, "eth1", 4));
	rxcache_sweep(&c);
	/* What the cache would hold had it been built for "^lo$" at a's address. */
	c.pattern[0] = 'X';
	for (size_t i = 0; i < c.nslots; i++)
		if (c.ent[i].s)
			c.ent[i].match = false;
	assert_true(node_rx_match(&c, a, "eth0", 4));
	assert_string_equal(c.pattern, rx_pattern(a));
	assert_int_equal(c.nused, 1);
	assert_true(node_rx_match(&c, a, "eth1", 4));
	rxcache_fini(&c);
	rx_free(a);
}

/* Lookups are first tried at the slot the same lookup found last scrape
 * (struct seqpred): a name asked in another order, or another name at a
 * remembered position, still gets its own decision, and a name asked twice
 * in a scrape while another is not asked at all is still swept. */
static void test_rx_cache_order_guess(void **state)
{
	char err[128];
	struct rx *a = rx_new_search("^eth", err, sizeof(err));
	struct rxcache c;

	(void)state;
	assert_non_null(a);
	memset(&c, 0, sizeof(c));
	for (int round = 0; round < 3; round++) {
		struct rxcache_ent *ent;

		assert_true(node_rx_match(&c, a, "eth0", 4));
		assert_false(node_rx_match(&c, a, "lo", 2));
		assert_true(node_rx_match(&c, a, "eth1", 4));
		ent = c.ent;
		rxcache_sweep(&c);
		assert_ptr_equal(c.ent, ent); /* all used: the table is kept */
	}
	/* Reversed, and a new name where eth0 was asked. */
	assert_true(node_rx_match(&c, a, "eth1", 4));
	assert_false(node_rx_match(&c, a, "lo", 2));
	assert_false(node_rx_match(&c, a, "wlan0", 5));
	assert_true(node_rx_match(&c, a, "eth0", 4));
	assert_false(node_rx_match(&c, a, "lo", 2));
	rxcache_sweep(&c);
	assert_int_equal(c.nused, 4);
	/* lo as often as there are names, nothing else: the other three go
	 * at the next sweep (each name counts once). */
	for (int i = 0; i < 4; i++)
		assert_false(node_rx_match(&c, a, "lo", 2));
	rxcache_sweep(&c);
	assert_int_equal(c.nused, 1);
	assert_true(node_rx_match(&c, a, "eth0", 4));
	rxcache_fini(&c);
	rx_free(a);
}

/* The descriptor cache's lookups likewise: files read in another order
 * each get their own content, and an entry used twice in a scrape does not
 * keep an unused one from being closed. */
static void test_fdcache_order_guess(void **state)
{
	struct fdcache fc;
	struct procfile pf;
	const char *data;
	size_t len;

	(void)state;
	fdcache_init(&fc, 8);
	procfile_init(&pf, &fc);
	for (int round = 0; round < 3; round++) {
		struct fdcache_ent *ent;

		assert_int_equal(procfile_read(&pf, "/proc", "version", &data, &len), 0);
		assert_non_null(strstr(data, "Linux"));
		assert_int_equal(procfile_read(&pf, "/proc", "loadavg", &data, &len), 0);
		assert_null(strstr(data, "Linux"));
		ent = fc.ent;
		fdcache_sweep(&fc);
		assert_ptr_equal(fc.ent, ent); /* all used: the table is kept */
	}
	assert_int_equal(procfile_read(&pf, "/proc", "loadavg", &data, &len), 0);
	assert_null(strstr(data, "Linux"));
	assert_non_null(strchr(data, '/')); /* "1.00 0.50 0.25 2/150 1234" */
	assert_int_equal(procfile_read(&pf, "/proc", "version", &data, &len), 0);
	assert_non_null(strstr(data, "Linux"));
	fdcache_sweep(&fc);
	assert_int_equal(fc.nused, 2);
	for (int i = 0; i < 2; i++)
		assert_int_equal(procfile_read(&pf, "/proc", "version", &data, &len), 0);
	fdcache_sweep(&fc);
	assert_int_equal(fc.nused, 1); /* loadavg closed */
	assert_int_equal(fc.nopen, 1);
	procfile_fini(&pf);
	fdcache_fini(&fc);
}

/* The names a sub-collector wrote: every distinct name is new once, then
 * seen, including names that differ in one byte anywhere (first, middle of
 * a word, the bytes after the last whole word) and in length only. */
static void test_seen_names(void **state)
{
	static struct node_seen seen;
	char names[400][48];
	size_t n = 0;

	(void)state;
	for (size_t len = 1; len <= 40 && n < 400; len += 3) {
		for (size_t pos = 0; pos < len && n < 400; pos += 2) {
			memset(names[n], 'a', len);
			names[n][len] = '\0';
			names[n][pos] = 'b';
			n++;
		}
	}
	node_seen_reset(&seen);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(node_seen_add(&seen, names[i]), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(node_seen_add(&seen, names[i]), 1);
	node_seen_reset(&seen);
	assert_int_equal(node_seen_add(&seen, "aaaaaaaaa"), 0);
	assert_int_equal(node_seen_add(&seen, "aaaaaaaa"), 0);
	assert_int_equal(node_seen_add(&seen, "aaaaaaaa"), 1);
}

/* Generations are kept in 8 bits: across 300 sweeps (past the wrap) a name
 * asked every scrape stays cached and one asked once is dropped; a name too
 * long to remember is still matched correctly. */
static void test_rx_cache_generation_wrap_long_name(void **state)
{
	char err[128];
	struct rx *a = rx_new_search("^eth", err, sizeof(err));
	struct rxcache c;
	size_t long_n = (size_t)NODE_RXCACHE_NAME_MAX + 10;
	char *long_name = malloc(long_n);

	(void)state;
	assert_non_null(a);
	assert_non_null(long_name);
	memset(&c, 0, sizeof(c));
	memset(long_name, 'x', long_n);
	memcpy(long_name, "eth", 3);
	for (int i = 0; i < 300; i++) {
		assert_true(node_rx_match(&c, a, "eth0", 4));
		if (i == 100)
			assert_false(node_rx_match(&c, a, "lo", 2));
		/* lo is dropped by the first sweep after a scrape without it */
		assert_int_equal(c.nused, i == 100 || i == 101 ? 2 : 1);
		rxcache_sweep(&c);
	}
	assert_true(node_rx_match(&c, a, long_name, long_n));
	long_name[0] = 'x';
	assert_false(node_rx_match(&c, a, long_name, long_n));
	assert_int_equal(c.nused, 1);
	rxcache_fini(&c);
	rx_free(a);
	free(long_name);
}

static size_t absent_entries(const struct fdcache *fc)
{
	size_t n = 0;

	for (size_t i = 0; i < fc->nslots; i++)
		n += fc->ent[i].path && fc->ent[i].fd == FDC_ABSENT;
	return n;
}

/* procfile_read_boot(): on procfs an absent file is remembered and answered
 * without looking again (shown with /proc/self/fd/N, a procfs file the test
 * can make appear: still "absent" afterwards), until a sweep drops the
 * unused entry; in a plain directory an absent file is looked for at every
 * read and seen once it appears; a present file reads as usual. */
static void test_boot_file_absent(void **state)
{
	char dir[] = "/tmp/k8smon-fdc-XXXXXX";
	char path[64];
	struct fdcache fc;
	struct procfile pf;
	const char *data;
	size_t len;
	FILE *f;
	int fd;

	(void)state;
	fdcache_init(&fc, 8);
	procfile_init(&pf, &fc);
	assert_int_equal(fcntl(500, F_GETFD), -1);
	assert_int_equal(procfile_read_boot(&pf, "/proc", "self/fd/500", &data, &len), KM_ENOENT);
	assert_int_equal(absent_entries(&fc), 1);
	fd = open("/proc/loadavg", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, 500), 500);
	assert_int_equal(procfile_read_boot(&pf, "/proc", "self/fd/500", &data, &len), KM_ENOENT);
	assert_int_equal(procfile_read_boot(&pf, "/proc", "loadavg", &data, &len), 0);
	assert_true(len > 0);
	fdcache_sweep(&fc);
	fdcache_sweep(&fc);
	assert_int_equal(absent_entries(&fc), 0);
	assert_int_equal(procfile_read_boot(&pf, "/proc", "self/fd/500", &data, &len), 0);
	close(500);
	close(fd);

	assert_non_null(mkdtemp(dir));
	assert_int_equal(procfile_read_boot(&pf, dir, "schedstat", &data, &len), KM_ENOENT);
	assert_int_equal(absent_entries(&fc), 0);
	snprintf(path, sizeof(path), "%s/schedstat", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("version 15\n", f);
	fclose(f);
	assert_int_equal(procfile_read_boot(&pf, dir, "schedstat", &data, &len), 0);
	assert_string_equal(data, "version 15\n");
	unlink(path);
	rmdir(dir);
	procfile_fini(&pf);
	fdcache_fini(&fc);
}

/* thermal_throttle absence is remembered only for a real sysfs: in a copy
 * (here a temp tree) a CPU without the files gets them later and the next
 * scrape has the counters; on this host's /sys absence is remembered
 * exactly when no CPU has the directory. */
static void test_throttle_absence(void **state)
{
	struct node_collector *nc = node_collector_new();
	struct node_tree *t = node_tree_new("thr");
	struct node_opts o = { 0 };
	char *out;
	glob_t g;
	bool none;

	(void)state;
	assert_non_null(nc);
	assert_non_null(t);
	node_put(t, "proc/stat", "cpu  1 0 1 100 0 0 0 0 0 0\ncpu0 1 0 1 100 0 0 0 0 0 0\n");
	node_put(t, "sys/devices/system/cpu/cpu0/topology/physical_package_id", "0\n");
	node_put(t, "sys/devices/system/cpu/cpu0/topology/core_id", "0\n");
	o.procfs = t->proc;
	o.sysfs = t->sys;
	for (int i = 0; i < 2; i++) {
		out = node_run(nc, &o, "cpu");
		assert_null(strstr(out, "node_cpu_core_throttles_total"));
		free(out);
	}
	assert_null(nc->thr_absent_sysfs);
	node_put(t, "sys/devices/system/cpu/cpu0/thermal_throttle/core_throttle_count", "5\n");
	node_put(t, "sys/devices/system/cpu/cpu0/thermal_throttle/package_throttle_count", "7\n");
	out = node_run(nc, &o, "cpu");
	assert_non_null(strstr(out, "node_cpu_core_throttles_total{core=\"0\",package=\"0\"} 5\n"));
	assert_non_null(strstr(out, "node_cpu_package_throttles_total{package=\"0\"} 7\n"));
	free(out);

	o.procfs = "/proc";
	o.sysfs = "/sys";
	none = glob("/sys/devices/system/cpu/cpu[0-9]*/thermal_throttle", 0, NULL, &g) != 0;
	if (!none)
		globfree(&g);
	for (int i = 0; i < 2; i++) {
		out = node_run(nc, &o, "cpu");
		assert_true(none == (strstr(out, "node_cpu_package_throttles_total") == NULL));
		free(out);
		assert_true(none == (nc->thr_absent_sysfs != NULL));
	}
	node_collector_free(nc);
	assert_int_equal(node_tree_free(t), 0);
}

static size_t kept_dirs(const struct node_collector *nc)
{
	size_t n = 0;

	for (size_t i = 0; i < NODE_KEPT_DIRS; i++)
		n += nc->dirs[i].path != NULL;
	return n;
}

/* Kept directory descriptors: /sys/class/net is kept and rewound (a device
 * created after the first scrape is listed: test_node_netclass_rename.sh),
 * and released by the first scrape that does not list it; a directory
 * that is not on sysfs is reopened every scrape, so one replaced by
 * another (renamed over) is listed anew. */
static void test_kept_dirs(void **state)
{
	struct node_collector *nc = node_collector_new();
	struct node_tree *t = node_tree_new("kdir");
	struct node_opts o = { 0 };
	char from[256], to[256];
	char *out;

	(void)state;
	assert_non_null(nc);
	assert_non_null(t);
	o.sysfs = "/sys";
	for (int i = 0; i < 2; i++) {
		out = node_run(nc, &o, "netclass");
		assert_non_null(strstr(out, "node_network_iface_id{device=\"lo\"} 1\n"));
		free(out);
		assert_int_equal(kept_dirs(nc), 1);
	}
	free(node_run(nc, &o, "loadavg"));
	assert_int_equal(kept_dirs(nc), 0);

	node_put(t, "sys/class/net/eth0/ifindex", "2\n");
	o.sysfs = t->sys;
	out = node_run(nc, &o, "netclass");
	assert_non_null(strstr(out, "node_network_iface_id{device=\"eth0\"} 2\n"));
	free(out);
	assert_int_equal(kept_dirs(nc), 0);
	node_put(t, "sys/class/net.new/eth9/ifindex", "9\n");
	snprintf(from, sizeof(from), "%s/class/net", t->sys);
	snprintf(to, sizeof(to), "%s/class/net.old", t->sys);
	assert_int_equal(rename(from, to), 0);
	snprintf(to, sizeof(to), "%s/class/net.new", t->sys);
	assert_int_equal(rename(to, from), 0);
	out = node_run(nc, &o, "netclass");
	assert_non_null(strstr(out, "node_network_iface_id{device=\"eth9\"} 9\n"));
	assert_null(strstr(out, "eth0"));
	free(out);
	node_collector_free(nc);
	assert_int_equal(node_tree_free(t), 0);
}

/* node_os keeps its families while stat() shows the same os-release: a
 * file rewritten in place with the same size (new content, mtime set
 * back), a file replaced by rename, and /etc/os-release removed (the
 * fallback /usr/lib/os-release) are each seen at the next scrape. */
static void test_os_release_cache(void **state)
{
	struct node_collector *nc = node_collector_new();
	struct node_tree *t = node_tree_new("osr");
	struct node_opts o = { 0 };
	char path[256], tmp[256];
	struct timespec ts[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	char *out;

	(void)state;
	assert_non_null(nc);
	assert_non_null(t);
	o.rootfs = t->root;
	snprintf(path, sizeof(path), "%s/etc/os-release", t->root);
	node_put(t, "etc/os-release", "ID=aaa\nVERSION_ID=1.0\n");
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	node_put(t, "usr/lib/os-release", "ID=lib\nVERSION_ID=3\n");
	for (int i = 0; i < 2; i++) {
		out = node_run(nc, &o, "os");
		assert_non_null(strstr(out, "node_os_version{id=\"aaa\",id_like=\"\",name=\"\"} 1\n"));
		free(out);
	}
	assert_non_null(nc->os.text);
	node_put(t, "etc/os-release", "ID=bbb\nVERSION_ID=2.0\n");
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	out = node_run(nc, &o, "os");
	assert_non_null(strstr(out, "node_os_version{id=\"bbb\",id_like=\"\",name=\"\"} 2\n"));
	free(out);
	snprintf(tmp, sizeof(tmp), "%s/etc/os-release.new", t->root);
	node_put(t, "etc/os-release.new", "ID=ccc\nVERSION_ID=2.0\n");
	assert_int_equal(rename(tmp, path), 0);
	out = node_run(nc, &o, "os");
	assert_non_null(strstr(out, "id=\"ccc\""));
	free(out);
	assert_int_equal(unlink(path), 0);
	out = node_run(nc, &o, "os");
	assert_non_null(strstr(out, "node_os_version{id=\"lib\",id_like=\"\",name=\"\"} 3\n"));
	free(out);
	node_collector_free(nc);
	assert_int_equal(node_tree_free(t), 0);
}

/* node_fmt_u64() writes what snprintf("%llu") writes, for the edges of
 * every digit count, UINT64_MAX and pseudo-random values, and cuts as
 * snprintf cuts (leading digits kept, length before the cut returned). */
/* Value of the sample line that starts with prefix (name and labels), or -1. */
static double sample_value(const char *out, const char *prefix)
{
	const char *p = strstr(out, prefix);

	return p ? strtod(p + strlen(prefix), NULL) : -1;
}

/* udp_queues in a fresh network namespace (no UDP socket: sockstat's
 * "UDP: inuse 0" lets it skip the table walk); in a child, whose exit
 * status says which step failed. */
static int udp_none_child(void)
{
	struct node_collector *nc = node_collector_new();
	struct node_opts o = { .procfs = "/proc", .sysfs = "/sys" };
	const char *names = "^(sockstat|udp_queues)$";
	const char *v4rx = "node_udp_queues{ip=\"v4\",queue=\"rx\"} ";
	const char *v6rx = "node_udp_queues{ip=\"v6\",queue=\"rx\"} ";
	bool v6 = access("/proc/net/udp6", R_OK) == 0;
	struct ifreq ifr = { 0 };
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	socklen_t al;
	char *out;
	int s4, s6 = -1, c;
	double r4, r6;

	if (!nc || unshare(CLONE_NEWNET))
		return 10;
	c = socket(AF_INET, SOCK_DGRAM, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (c < 0 || ioctl(c, SIOCGIFFLAGS, &ifr))
		return 11;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(c, SIOCSIFFLAGS, &ifr))
		return 12;
	close(c);
	for (int i = 0; i < 2; i++) { /* the second scrape takes the shortcut */
		out = node_run(nc, &o, names);
		r4 = sample_value(out, v4rx);
		r6 = sample_value(out, v6rx);
		free(out);
		if (r4 != 0 || (v6 && r6 != 0))
			return 20 + i;
	}
	/* A socket holding an unread datagram: its rx_queue must be counted. */
	s4 = socket(AF_INET, SOCK_DGRAM, 0);
	al = sizeof(a4);
	if (s4 < 0 || bind(s4, (struct sockaddr *)&a4, sizeof(a4)) ||
	    getsockname(s4, (struct sockaddr *)&a4, &al) ||
	    sendto(s4, "x", 1, 0, (struct sockaddr *)&a4, sizeof(a4)) != 1)
		return 30;
	if (v6) {
		s6 = socket(AF_INET6, SOCK_DGRAM, 0);
		al = sizeof(a6);
		if (s6 < 0 || bind(s6, (struct sockaddr *)&a6, sizeof(a6)) ||
		    getsockname(s6, (struct sockaddr *)&a6, &al) ||
		    sendto(s6, "x", 1, 0, (struct sockaddr *)&a6, sizeof(a6)) != 1)
			return 31;
	}
	out = node_run(nc, &o, names);
	r4 = sample_value(out, v4rx);
	r6 = sample_value(out, v6rx);
	free(out);
	if (r4 <= 0)
		return 40;
	if (v6 && r6 <= 0)
		return 41;
	close(s4);
	if (s6 >= 0)
		close(s6);
	for (int i = 0; i < 2; i++) {
		out = node_run(nc, &o, names);
		r4 = sample_value(out, v4rx);
		r6 = sample_value(out, v6rx);
		free(out);
		if (r4 != 0 || (v6 && r6 != 0))
			return 50 + i;
	}
	node_collector_free(nc);
	return 0;
}

static void test_udp_none_from_sockstat(void **state)
{
	struct node_collector *nc = node_collector_new();
	struct node_tree *t = node_tree_new("udpnone");
	struct node_opts o = { 0 };
	const char *line = "   0: 0100007F:0035 00000000:0000 07 00000115:00000011 00:00000000 "
			   "00000000   101        0 1 2 0000000000000000 0\n";
	char body[512];
	char *out;
	pid_t pid;
	int st;

	(void)state;
	assert_non_null(nc);
	assert_non_null(t);
	/* A copy of /proc whose sockstat says 0 while udp lists a socket
	 * (node-exporter's fixtures do): always read, every scrape. */
	snprintf(body, sizeof(body), "  sl  local_address rem_address   st tx_queue rx_queue\n%s", line);
	node_put(t, "proc/net/udp", body);
	node_put(t, "proc/net/sockstat", "sockets: used 1\nUDP: inuse 0 mem 0\n");
	o.procfs = t->proc;
	o.sysfs = t->sys;
	for (int i = 0; i < 3; i++) {
		out = node_run(nc, &o, "^(sockstat|udp_queues)$");
		assert_non_null(strstr(out, "node_udp_queues{ip=\"v4\",queue=\"rx\"} 17\n"));
		free(out);
	}
	node_collector_free(nc);
	assert_int_equal(node_tree_free(t), 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(udp_none_child());
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("udp_queues in a new network namespace: step %d failed (10-12: unshare or lo "
			 "up, needs root; 20/21 and 50/51: not 0 without sockets; 30/31: socket; 40/41: "
			 "an unread datagram not counted)",
			 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void test_fmt_u64_like_snprintf(void **state)
{
	char got[24], want[24];
	uint64_t x = 0x9e3779b97f4a7c15u;
	uint64_t p10 = 1;

	(void)state;
	for (int d = 0; d < 20; d++, p10 *= 10) {
		const uint64_t vals[3] = { p10 - 1, p10, p10 + 1 };

		for (int k = 0; k < 3; k++) {
			size_t n = node_fmt_u64(got, sizeof(got), vals[k]);

			snprintf(want, sizeof(want), "%llu", (unsigned long long)vals[k]);
			assert_string_equal(got, want);
			assert_int_equal(n, strlen(want));
		}
	}
	assert_int_equal(node_fmt_u64(got, sizeof(got), UINT64_MAX), 20);
	assert_string_equal(got, "18446744073709551615");
	for (int i = 0; i < 100000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		node_fmt_u64(got, sizeof(got), x >> (i % 64));
		snprintf(want, sizeof(want), "%llu", (unsigned long long)(x >> (i % 64)));
		assert_string_equal(got, want);
	}
	for (size_t cap = 1; cap <= 6; cap++) {
		int wn = snprintf(want, cap, "%llu", 12345ull);

		assert_int_equal(node_fmt_u64(got, cap, 12345), (size_t)wn);
		assert_string_equal(got, want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fd_kept_and_fresh),
		cmocka_unit_test(test_one_read_whole),
		cmocka_unit_test(test_mountinfo_change_seen),
		cmocka_unit_test(test_regular_file_not_kept),
		cmocka_unit_test(test_cap_tag_sweep),
		cmocka_unit_test(test_seen_names),
		cmocka_unit_test(test_rx_cache_order_guess),
		cmocka_unit_test(test_fdcache_order_guess),
		cmocka_unit_test(test_disabled_cache),
		cmocka_unit_test(test_rx_cache_follows_filter),
		cmocka_unit_test(test_rx_cache_generation_wrap_long_name),
		cmocka_unit_test(test_rx_cache_pattern_checked_each_scrape),
		cmocka_unit_test(test_read_scrape_once_per_generation),
		cmocka_unit_test(test_fmt_u64_like_snprintf),
		cmocka_unit_test(test_boot_file_absent),
		cmocka_unit_test(test_throttle_absence),
		cmocka_unit_test(test_kept_dirs),
		cmocka_unit_test(test_os_release_cache),
		cmocka_unit_test(test_udp_none_from_sockstat),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
