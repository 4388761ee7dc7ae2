/* Replays every committed fuzz corpus file (tests/fuzz/corpus/<target>/)
 * through the same harness code libFuzzer runs, so crashes the fuzzers once
 * found stay fixed without needing clang. Harnesses abort() on a broken
 * invariant; ASan/UBSan (make asan) catch memory errors and leaks. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fuzz/fuzz_base_parse.c"
#include "fuzz/fuzz_cgroup_names.c"
#include "fuzz/fuzz_cgroup_proc.c"
#include "fuzz/fuzz_cgroup_v1.c"
#include "fuzz/fuzz_cgroup_v2.c"
#include "fuzz/fuzz_config_build.c"
#include "fuzz/fuzz_expo_parser.c"
#include "fuzz/fuzz_kube_watch.c"
#include "fuzz/fuzz_kubeconfig.c"
#include "fuzz/fuzz_labels.c"
#include "fuzz/fuzz_node_dbus.c"
#include "fuzz/fuzz_node_kv.c"
#include "fuzz/fuzz_node_mountinfo.c"
#include "fuzz/fuzz_node_stat.c"
#include "fuzz/fuzz_node_tables.c"
#include "fuzz/fuzz_quantity.c"
#include "fuzz/fuzz_relabel.c"
#include "fuzz/fuzz_selector.c"

/* Corpus files are small (the committed corpus is < 2 MB in total). */
#define REPLAY_MAX_FILE (1u << 20)

struct target {
	const char *name;
	int (*fn)(const uint8_t *, size_t);
};

static const struct target targets[] = {
	{ "expo_parser", fuzz_expo_parser },
	{ "relabel", fuzz_relabel },
	{ "labels", fuzz_labels },
	{ "kube_watch", fuzz_kube_watch },
	{ "config_build", fuzz_config_build },
	{ "selector", fuzz_selector },
	{ "quantity", fuzz_quantity },
	{ "base_parse", fuzz_base_parse },
	{ "kubeconfig", fuzz_kubeconfig },
	{ "node_stat", fuzz_node_stat },
	{ "node_kv", fuzz_node_kv },
	{ "node_tables", fuzz_node_tables },
	{ "node_mountinfo", fuzz_node_mountinfo },
	{ "node_dbus", fuzz_node_dbus },
	{ "cgroup_v2", fuzz_cgroup_v2 },
	{ "cgroup_v1", fuzz_cgroup_v1 },
	{ "cgroup_proc", fuzz_cgroup_proc },
	{ "cgroup_names", fuzz_cgroup_names },
};

static size_t replay_dir(const struct target *t)
{
	char dir[512], path[1024];
	struct dirent *de;
	size_t count = 0;
	uint8_t *data = malloc(REPLAY_MAX_FILE);
	DIR *d;

	assert_non_null(data);
	snprintf(dir, sizeof(dir), "tests/fuzz/corpus/%s", t->name);
	d = opendir(dir);
	if (!d)
		fail_msg("no corpus directory %s", dir);
	while ((de = readdir(d)) != NULL) {
		FILE *f;
		size_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "rb");
		if (!f)
			continue;
		n = fread(data, 1, REPLAY_MAX_FILE, f);
		fclose(f);
		t->fn(data, n);
		count++;
	}
	closedir(d);
	free(data);
	return count;
}

static void test_replay(void **state)
{
	const struct target *t = *state;

	/* The empty input first: every harness must accept it. */
	t->fn((const uint8_t *)"", 0);
	if (replay_dir(t) == 0)
		fail_msg("corpus of %s is empty", t->name);
}

static int setup_target(void **state)
{
	(void)state;
	return 0;
}

int main(void)
{
	struct CMUnitTest tests[sizeof(targets) / sizeof(targets[0])];
	size_t i;

	for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		tests[i] = (struct CMUnitTest){
			.name = targets[i].name,
			.test_func = test_replay,
			.setup_func = setup_target,
			.initial_state = (void *)&targets[i],
		};
	}
	return _cmocka_run_group_tests("fuzz_replay", tests, i, NULL, NULL);
}
