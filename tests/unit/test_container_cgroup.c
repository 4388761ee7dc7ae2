/* Cgroup detection, name classification and the bounded walk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "collect/container/cgroup.h"
#include "container/fixture.h"

static void test_pod_names(void **state)
{
	char uid[CG_UID_MAX];

	(void)state;
	assert_true(cg_name_pod_uid("pod11111111-2222-3333-4444-555555555555", uid));
	assert_string_equal(uid, "11111111-2222-3333-4444-555555555555");
	assert_true(cg_name_pod_uid("kubepods-burstable-pod11111111_2222_3333_4444_555555555555.slice", uid));
	assert_string_equal(uid, "11111111-2222-3333-4444-555555555555");
	assert_true(cg_name_pod_uid("kubepods-pod0123abcd.slice", uid));
	assert_string_equal(uid, "0123abcd");
	assert_true(cg_name_pod_uid("podc1a5d0e2f3b4a5968778695a4b3c2d1e", uid)); /* static pod hash */
	assert_false(cg_name_pod_uid("pod", uid));
	assert_false(cg_name_pod_uid("kubepods-burstable.slice", uid));
	assert_false(cg_name_pod_uid("podxyz", uid));
	assert_false(cg_name_pod_uid("kubepods-pod1111-2222.slice", uid));
}

static void test_container_names(void **state)
{
	char cid[CG_CID_MAX];
	enum cg_runtime rt;
	char id64[65];

	(void)state;
	memset(id64, 'a', 64);
	id64[64] = '\0';
	assert_true(cg_name_container("cri-containerd-abc123.scope", cid, &rt));
	assert_string_equal(cid, "abc123");
	assert_int_equal(rt, CG_RT_CONTAINERD);
	assert_true(cg_name_container("crio-abc.scope", cid, &rt));
	assert_int_equal(rt, CG_RT_CRIO);
	assert_true(cg_name_container("crio-abc", cid, &rt));
	assert_int_equal(rt, CG_RT_CRIO);
	assert_false(cg_name_container("crio-conmon-abc.scope", cid, &rt));
	assert_true(cg_name_container("docker-abc.scope", cid, &rt));
	assert_int_equal(rt, CG_RT_DOCKER);
	assert_true(cg_name_container(id64, cid, &rt));
	assert_int_equal(rt, CG_RT_UNKNOWN);
	assert_string_equal(cid, id64);
	assert_false(cg_name_container("abc", cid, &rt));            /* plain, not 64 */
	assert_false(cg_name_container("var-lib.mount", cid, &rt));
	assert_false(cg_name_container("docker-a/b.scope", cid, &rt));
	assert_false(cg_name_container("cri-containerd-.scope", cid, &rt));
}

static void test_detect(void **state)
{
	char root[512];
	char sys[PATH_MAX];
	struct cg_layout l;

	(void)state;
	assert_int_equal(fx_tmpdir(root, sizeof(root)), 0);
	snprintf(sys, sizeof(sys), "%s/sys", root);
	assert_int_equal(cg_layout_open(&l, sys), KM_ENOENT);
	assert_int_equal(fx_mkdir(root, "sys/fs/cgroup"), 0);
	assert_int_equal(cg_layout_open(&l, sys), KM_ENOENT);

	/* v1 with separate cpu and cpuacct mounts (this machine's layout) */
	assert_int_equal(fx_mkdir(root, "sys/fs/cgroup/cpu"), 0);
	assert_int_equal(fx_mkdir(root, "sys/fs/cgroup/cpuacct"), 0);
	assert_int_equal(fx_mkdir(root, "sys/fs/cgroup/memory"), 0);
	assert_int_equal(cg_layout_open(&l, sys), 0);
	assert_int_equal(l.mode, CG_V1);
	assert_int_equal(l.walk_ctrl, CG_C_MEMORY);
	assert_true(l.root[CG_C_CPU] >= 0 && l.root[CG_C_CPUACCT] >= 0);
	assert_int_equal(l.root[CG_C_BLKIO], -1);
	cg_layout_close(&l);

	/* hybrid: v1 plus a unified mount */
	assert_int_equal(fx_write(root, "sys/fs/cgroup/unified/cgroup.controllers", ""), 0);
	assert_int_equal(cg_layout_open(&l, sys), 0);
	assert_int_equal(l.mode, CG_HYBRID);
	assert_string_equal(cg_mode_name(l.mode), "hybrid");
	cg_layout_close(&l);

	/* v2 */
	assert_int_equal(fx_write(root, "sys/fs/cgroup/cgroup.controllers", "cpu memory io pids\n"), 0);
	assert_int_equal(cg_layout_open(&l, sys), 0);
	assert_int_equal(l.mode, CG_V2);
	cg_layout_close(&l);
	fx_rmtree(root);
}

static const char *node_path_of(const struct cg_walk *w, size_t i)
{
	return cg_node_path(w, &w->nodes[i]);
}

static void test_walk_bounded_no_symlinks(void **state)
{
	char root[512];
	char sys[PATH_MAX];
	char p1[PATH_MAX];
	char p2[PATH_MAX];
	struct cg_layout l;
	struct cg_walk w;
	const char *pod = "sys/fs/cgroup/kubepods/burstable/pod11111111-2222-3333-4444-555555555555";
	char id64[65];
	char rel[PATH_MAX];
	bool saw_ctr = false;

	(void)state;
	memset(id64, 'b', 64);
	id64[64] = '\0';
	assert_int_equal(fx_tmpdir(root, sizeof(root)), 0);
	snprintf(sys, sizeof(sys), "%s/sys", root);
	assert_int_equal(fx_write(root, "sys/fs/cgroup/cgroup.controllers", ""), 0);
	snprintf(rel, sizeof(rel), "%s/%s", pod, id64);
	assert_int_equal(fx_mkdir(root, rel), 0);
	snprintf(rel, sizeof(rel), "%s/%s/nested", pod, id64);  /* below a container: ignored */
	assert_int_equal(fx_mkdir(root, rel), 0);
	assert_int_equal(fx_mkdir(root, "sys/fs/cgroup/kubepods/besteffort/notapod"), 0);
	assert_int_equal(fx_mkdir(root, "sys/fs/cgroup/system.slice/docker-abc.scope"), 0);
	assert_int_equal(fx_mkdir(root, "outside/pod22222222-2222-3333-4444-555555555555"), 0);
	/* a symlinked "pod" pointing outside the hierarchy must not be followed */
	snprintf(p1, sizeof(p1), "%s/outside/pod22222222-2222-3333-4444-555555555555", root);
	snprintf(p2, sizeof(p2), "%s/sys/fs/cgroup/kubepods/pod22222222-2222-3333-4444-555555555555", root);
	assert_int_equal(symlink(p1, p2), 0);

	assert_int_equal(cg_layout_open(&l, sys), 0);
	cg_walk_init(&w);
	assert_int_equal(cg_walk_run(&w, &l, false), 0);
	for (size_t i = 0; i < w.n; i++) {
		assert_null(strstr(node_path_of(&w, i), "pod2222"));
		assert_null(strstr(node_path_of(&w, i), "nested"));
		assert_null(strstr(node_path_of(&w, i), "notapod"));
		assert_null(strstr(node_path_of(&w, i), "docker-abc"));  /* not in k8s mode */
		if (w.nodes[i].kind == CG_K_CONTAINER) {
			saw_ctr = true;
			assert_string_equal(w.nodes[i].uid, "11111111-2222-3333-4444-555555555555");
			assert_string_equal(w.nodes[i].cid, id64);
		}
	}
	assert_int_equal(w.n, 6); /* /, /kubepods, besteffort, burstable, pod, container */
	assert_string_equal(node_path_of(&w, 0), "/");
	assert_true(saw_ctr);
	assert_false(w.truncated);

	/* host mode also lists the runtime scope */
	assert_int_equal(cg_walk_run(&w, &l, true), 0);
	assert_int_equal(w.n, 7);
	cg_walk_fini(&w);
	cg_layout_close(&l);
	fx_rmtree(root);
}

static void test_open_dir_rejects_symlink(void **state)
{
	char root[512];
	char p1[PATH_MAX];
	char p2[PATH_MAX];
	int top;
	int fd;

	(void)state;
	assert_int_equal(fx_tmpdir(root, sizeof(root)), 0);
	assert_int_equal(fx_mkdir(root, "a/b"), 0);
	assert_int_equal(fx_mkdir(root, "elsewhere"), 0);
	snprintf(p1, sizeof(p1), "%s/elsewhere", root);
	snprintf(p2, sizeof(p2), "%s/a/link", root);
	assert_int_equal(symlink(p1, p2), 0);
	top = open(root, O_RDONLY | O_DIRECTORY);
	assert_true(top >= 0);
	fd = cg_open_dir(top, "/a/b");
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(cg_open_dir(top, "/a/link"), KM_ENOENT);
	assert_int_equal(cg_open_dir(top, "/a/missing"), KM_ENOENT);
	fd = cg_open_dir(top, "/");
	assert_true(fd >= 0);
	close(fd);
	close(top);
	fx_rmtree(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pod_names),
		cmocka_unit_test(test_container_names),
		cmocka_unit_test(test_detect),
		cmocka_unit_test(test_walk_bounded_no_symlinks),
		cmocka_unit_test(test_open_dir_rejects_symlink),
	};
	return cmocka_run_group_tests_name("container_cgroup", tests, NULL, NULL);
}
