/* The CRI-O filesystem tracker (src/collect/container/crio.h) against a
 * fake CRI-O on a unix socket (tests/container/fake_crio.h): the writable
 * layer and log measured as cAdvisor's GetDirUsage does (compared with the
 * test's own lstat() sums of the files it made), under a rootfs prefix,
 * re-measured every period, forgotten when no scrape names the container;
 * and every bad answer (garbage, 500, 404, no root, an array, 2 MiB, a
 * hang, no socket) counted, with no figures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "collect/container/crio.h"
#include "container/fake_crio.h"
#include "container/fixture.h"
#include "dl/curl.h"

#define CID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define CID2 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define LAYER "host/var/lib/containers/storage/overlay/l1"
#define LOG "host/var/log/pods/ns_p_u/c/0.log"

struct fx {
	char root[512];
	char host[600];
	char sock[600];
	struct fake_crio fc;
	struct crio_fs *c;
	uint64_t want_bytes;     /* layer + log, from lstat() */
	uint64_t want_inodes;    /* layer entries */
	struct stat layer;
};

/* Adds path (under root) to the expected figures, as a new inode. */
static void want(struct fx *f, const char *rel, bool inode)
{
	char p[1200];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", f->root, rel);
	assert_int_equal(lstat(p, &st), 0);
	f->want_bytes += (uint64_t)st.st_blocks * 512;
	if (inode)
		f->want_inodes++;
}

static void write_size(struct fx *f, const char *rel, size_t n)
{
	char p[1200];
	int fd;
	char b[4096];

	memset(b, 'x', sizeof(b));
	snprintf(p, sizeof(p), "%s/%s", f->root, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_APPEND, 0644);
	assert_true(fd >= 0);
	while (n > 0) {
		size_t k = n < sizeof(b) ? n : sizeof(b);

		assert_int_equal(write(fd, b, k), (ssize_t)k);
		n -= k;
	}
	close(fd);
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char p[1200];
	char q[1200];
	char why[256];

	assert_non_null(f);
	assert_int_equal(dl_curl_load(why, sizeof(why)), 0);
	assert_int_equal(fx_tmpdir(f->root, sizeof(f->root)), 0);
	snprintf(f->host, sizeof(f->host), "%s/host", f->root);
	snprintf(f->sock, sizeof(f->sock), "%s/crio.sock", f->root);
	/* a layer with nesting, a hard link (counted once), a symlink (its own
	 * inode, not followed), an empty file, a sparse-free big file */
	assert_int_equal(fx_mkdir(f->root, LAYER "/merged"), 0);
	assert_int_equal(fx_mkdir(f->root, LAYER "/diff/etc/a/b/c"), 0);
	assert_int_equal(fx_write(f->root, LAYER "/diff/etc/a/small", "hello\n"), 0);
	assert_int_equal(fx_write(f->root, LAYER "/diff/etc/a/b/empty", ""), 0);
	assert_int_equal(fx_write(f->root, LAYER "/diff/etc/a/b/c/big", ""), 0);
	write_size(f, LAYER "/diff/etc/a/b/c/big", 300000);
	snprintf(p, sizeof(p), "%s/" LAYER "/diff/etc/a/b/c/big", f->root);
	snprintf(q, sizeof(q), "%s/" LAYER "/diff/etc/big.link", f->root);
	assert_int_equal(link(p, q), 0);
	snprintf(q, sizeof(q), "%s/" LAYER "/diff/etc/passwd", f->root);
	assert_int_equal(symlink("/etc/passwd", q), 0);
	assert_int_equal(fx_write(f->root, LOG, ""), 0);
	write_size(f, LOG, 20000);
	want(f, LAYER "/diff", true);
	want(f, LAYER "/diff/etc", true);
	want(f, LAYER "/diff/etc/a", true);
	want(f, LAYER "/diff/etc/a/b", true);
	want(f, LAYER "/diff/etc/a/b/c", true);
	want(f, LAYER "/diff/etc/a/small", true);
	want(f, LAYER "/diff/etc/a/b/empty", true);
	want(f, LAYER "/diff/etc/a/b/c/big", true);
	want(f, LAYER "/diff/etc/passwd", true);
	want(f, LOG, false);
	snprintf(p, sizeof(p), "%s/" LAYER "/diff", f->root);
	assert_int_equal(stat(p, &f->layer), 0);
	/* CRI-O names host paths; the tracker reads them under rootfs */
	snprintf(f->fc.root, sizeof(f->fc.root), "/var/lib/containers/storage/overlay/l1/merged");
	snprintf(f->fc.log, sizeof(f->fc.log), "/var/log/pods/ns_p_u/c/0.log");
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	crio_fs_free(f->c);
	if (f->fc.th)
		fc_stop(&f->fc);
	fx_rmtree(f->root);
	free(f);
	return 0;
}

/* One scrape naming ids (NULL-terminated); returns whether the first had
 * figures. */
/* Failed rounds of the tracker so far. */
static uint64_t errors(struct crio_fs *c)
{
	struct crio_fs_health h;

	crio_fs_health(c, &h);
	return h.errors;
}

static bool scrape(struct crio_fs *c, const char *const *ids, struct crio_fs_usage *u)
{
	bool have = false;

	crio_fs_begin(c);
	for (size_t i = 0; ids[i]; i++) {
		struct crio_fs_usage x;
		bool h = crio_fs_get(c, ids[i], &x);

		if (i == 0) {
			have = h;
			if (h)
				*u = x;
		}
	}
	crio_fs_end(c);
	return have;
}

static void test_measures_layer_and_log(void **state)
{
	struct fx *f = *state;
	const char *ids[] = { CID, NULL };
	struct crio_fs_usage u;

	assert_int_equal(fc_start(&f->fc, f->sock), 0);
	f->c = crio_fs_new(f->sock, f->host, 3600000);
	assert_non_null(f->c);
	/* the first scrape queues the container and does not wait */
	assert_false(scrape(f->c, ids, &u));
	assert_int_equal(crio_fs_settle(f->c, 60000), KM_OK);
	assert_true(scrape(f->c, ids, &u));
	assert_int_equal(u.bytes, f->want_bytes);
	assert_int_equal(u.inodes, f->want_inodes);
	assert_int_equal(u.major, major(f->layer.st_dev));
	assert_int_equal(u.minor, minor(f->layer.st_dev));
	assert_int_equal(errors(f->c), 0);
	/* /info once, the container once: the next scrape asks nothing */
	assert_int_equal(atomic_load(&f->fc.requests), 2);
	assert_true(scrape(f->c, ids, &u));
	assert_int_equal(atomic_load(&f->fc.requests), 2);
}

/* Every period the layer is walked again; CRI-O is not asked again. */
static void test_remeasured_every_period(void **state)
{
	struct fx *f = *state;
	const char *ids[] = { CID, NULL };
	struct crio_fs_usage u = { 0 };
	int64_t end;

	assert_int_equal(fc_start(&f->fc, f->sock), 0);
	f->c = crio_fs_new(f->sock, f->host, 50);
	assert_non_null(f->c);
	(void)scrape(f->c, ids, &u);
	assert_int_equal(crio_fs_settle(f->c, 60000), KM_OK);
	assert_true(scrape(f->c, ids, &u));
	assert_int_equal(u.bytes, f->want_bytes);
	write_size(f, LAYER "/diff/etc/a/small", 1 << 20);
	end = clock_mono_ms() + 60000;
	while (u.bytes < f->want_bytes + (1 << 20) && clock_mono_ms() < end) {
		usleep(20000);
		(void)scrape(f->c, ids, &u);
	}
	assert_true(u.bytes >= f->want_bytes + (1 << 20));
	assert_int_equal(u.inodes, f->want_inodes);
	assert_int_equal(atomic_load(&f->fc.requests), 2);
}

/* A container that two scrapes did not name is forgotten: asked again. */
static void test_forgotten(void **state)
{
	struct fx *f = *state;
	const char *one[] = { CID, NULL };
	const char *other[] = { CID2, NULL };
	struct crio_fs_usage u;

	assert_int_equal(fc_start(&f->fc, f->sock), 0);
	f->c = crio_fs_new(f->sock, f->host, 3600000);
	(void)scrape(f->c, one, &u);
	assert_int_equal(crio_fs_settle(f->c, 60000), KM_OK);
	assert_true(scrape(f->c, one, &u));
	(void)scrape(f->c, other, &u);
	assert_true(scrape(f->c, one, &u));   /* one scrape without it: kept */
	(void)scrape(f->c, other, &u);
	(void)scrape(f->c, other, &u);
	assert_false(scrape(f->c, one, &u));  /* two: forgotten, queued anew */
	assert_int_equal(crio_fs_settle(f->c, 60000), KM_OK);
	assert_true(scrape(f->c, one, &u));
}

/* storage drivers other than overlay: no figures, and not an error */
static void test_other_driver(void **state)
{
	struct fx *f = *state;
	const char *ids[] = { CID, NULL };
	struct crio_fs_usage u;

	f->fc.driver = "btrfs";
	assert_int_equal(fc_start(&f->fc, f->sock), 0);
	f->c = crio_fs_new(f->sock, f->host, 3600000);
	(void)scrape(f->c, ids, &u);
	assert_int_equal(crio_fs_settle(f->c, 60000), KM_OK);
	assert_false(scrape(f->c, ids, &u));
	assert_int_equal(errors(f->c), 0);
	assert_int_equal(atomic_load(&f->fc.requests), 1);
}

static void bad(struct fx *f, int info_mode, int ctr_mode)
{
	const char *ids[] = { CID, NULL };
	struct crio_fs_usage u;

	atomic_store(&f->fc.info_mode, info_mode);
	atomic_store(&f->fc.ctr_mode, ctr_mode);
	f->c = crio_fs_new(f->sock, f->host, 3600000);
	assert_non_null(f->c);
	assert_false(scrape(f->c, ids, &u));
	assert_int_equal(crio_fs_settle(f->c, 60000), KM_OK);
	assert_false(scrape(f->c, ids, &u));
	assert_int_equal(errors(f->c), 1);
	crio_fs_free(f->c);
	f->c = NULL;
}

static void test_bad_answers(void **state)
{
	struct fx *f = *state;
	static const int ctr_modes[] = { FC_GARBAGE, FC_500, FC_404, FC_NOROOT, FC_ARRAY, FC_HUGE, FC_HANG };
	static const int info_modes[] = { FC_GARBAGE, FC_500, FC_ARRAY, FC_HUGE };

	assert_int_equal(fc_start(&f->fc, f->sock), 0);
	for (size_t i = 0; i < sizeof(ctr_modes) / sizeof(ctr_modes[0]); i++)
		bad(f, FC_OK, ctr_modes[i]);
	for (size_t i = 0; i < sizeof(info_modes) / sizeof(info_modes[0]); i++)
		bad(f, info_modes[i], FC_OK);
	/* the same fake answering well: figures (so the failures were the answers') */
	{
		const char *ids[] = { CID, NULL };
		struct crio_fs_usage u;

		atomic_store(&f->fc.info_mode, FC_OK);
		atomic_store(&f->fc.ctr_mode, FC_OK);
		f->c = crio_fs_new(f->sock, f->host, 3600000);
		(void)scrape(f->c, ids, &u);
		assert_int_equal(crio_fs_settle(f->c, 60000), KM_OK);
		assert_true(scrape(f->c, ids, &u));
		assert_int_equal(u.bytes, f->want_bytes);
		assert_int_equal(errors(f->c), 0);
	}
}

static void test_no_socket_or_layer(void **state)
{
	struct fx *f = *state;
	char p[1200];

	/* no socket at all */
	bad(f, FC_OK, FC_OK);
	/* CRI-O answers, but the layer is not there (rootfs wrong) */
	assert_int_equal(fc_start(&f->fc, f->sock), 0);
	snprintf(f->host, sizeof(f->host), "%s/nowhere", f->root);
	bad(f, FC_OK, FC_OK);
	snprintf(f->host, sizeof(f->host), "%s/host", f->root);
	/* the log missing only: the layer's figures without it */
	snprintf(p, sizeof(p), "%s/" LOG, f->root);
	assert_int_equal(unlink(p), 0);
	{
		const char *ids[] = { CID, NULL };
		struct crio_fs_usage u;
		struct stat st;

		assert_int_equal(stat(p, &st), -1);
		f->c = crio_fs_new(f->sock, f->host, 3600000);
		(void)scrape(f->c, ids, &u);
		assert_int_equal(crio_fs_settle(f->c, 60000), KM_OK);
		assert_true(scrape(f->c, ids, &u));
		assert_int_equal(u.inodes, f->want_inodes);
		assert_true(u.bytes < f->want_bytes);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_measures_layer_and_log, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_remeasured_every_period, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_forgotten, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_other_driver, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_answers, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_no_socket_or_layer, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
