/* Fuzz harness entry points. Each tests/fuzz/fuzz_<target>.c defines
 * fuzz_<target>() and nothing else with external linkage, so the same file
 * builds into a libFuzzer binary (libfuzzer_main.c, tests/fuzz/build.sh)
 * and into the cmocka corpus replay (tests/unit/test_fuzz_replay.c) that
 * `make unit` runs without clang. A harness returns 0 and calls abort() when
 * an invariant breaks, so both runners see the failure. */
#ifndef K8SMON_TESTS_FUZZ_H
#define K8SMON_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int fuzz_expo_parser(const uint8_t *data, size_t size);
int fuzz_relabel(const uint8_t *data, size_t size);
int fuzz_labels(const uint8_t *data, size_t size);
int fuzz_kube_watch(const uint8_t *data, size_t size);
int fuzz_config_build(const uint8_t *data, size_t size);
int fuzz_selector(const uint8_t *data, size_t size);
int fuzz_quantity(const uint8_t *data, size_t size);
int fuzz_base_parse(const uint8_t *data, size_t size);
int fuzz_kubeconfig(const uint8_t *data, size_t size);
int fuzz_node_stat(const uint8_t *data, size_t size);
int fuzz_node_kv(const uint8_t *data, size_t size);
int fuzz_node_tables(const uint8_t *data, size_t size);
int fuzz_node_mountinfo(const uint8_t *data, size_t size);
int fuzz_node_dbus(const uint8_t *data, size_t size);
int fuzz_cgroup_v2(const uint8_t *data, size_t size);
int fuzz_cgroup_v1(const uint8_t *data, size_t size);
int fuzz_cgroup_proc(const uint8_t *data, size_t size);
int fuzz_cgroup_names(const uint8_t *data, size_t size);

/* abort() with a message when cond is false (harness invariants). */
#define FUZZ_CHECK(cond)                                                           \
	do {                                                                       \
		if (!(cond)) {                                                     \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, \
				__LINE__, #cond);                                  \
			abort();                                                   \
		}                                                                  \
	} while (0)

#endif
