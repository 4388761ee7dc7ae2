# k8smon build. Sources are found by wildcard: a new module needs no Makefile edit.
#   make          bin/k8smon
#   make test     every test (unit, unit under ASan+UBSan with a short live
#                 reconfiguration run, integration), after installing missing deps
#   make asan     unit tests (with the 5000-step configuration state
#                 machine), 1000 live reconfigurations, the reflector
#                 convergence run, the kube TLS checks and the combined
#                 K8sMonitor changes of test_config_cycle.sh and the remote
#                 write run of test_remote_write.sh, all under ASan+UBSan
#   make test-cluster  only the real single-node cluster tier (test_real_kubelet.sh)
#   make demo     simulated cluster with k8smon running against it
#   make run      host mode on :9420
#   make image    container image as an OCI archive, build/k8smon-image.tar,
#                 without a container engine (image/build.sh; Dockerfile: same image with Docker)

CC      ?= gcc
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# PKGS are linked; libcurl and GnuTLS only give their headers: they are
# loaded with dlopen() when needed (src/dl/curl.h: Kubernetes mode;
# src/dl/gnutls.h: HTTPS, bearer-token keys, hashmod), so host mode never maps
# them. libmicrohttpd is linked from its Debian archive (LGPL-2.1: allowed
# with the source and this Makefile to relink, docs/DESIGN.md): its shared
# library needs libgnutls.so.30, which maps nine libraries, ~2.3 MiB resident
# (BENCHMARKS.md "Node collector: issue 18, fourth pass").
# PKGS_STATIC (permissive licences: zlib, MIT) are linked from their Debian
# .a archives: a shared library costs ~50-80 KiB of RSS just by being mapped
# (headers, relocated data, the text around its constructor), and libyaml and
# jansson are never called in host mode. GnuTLS and glibc stay shared
# (GnuTLS loaded on demand, above), and PCRE2: PCRE2's archive brings its
# JIT compiler and Unicode tables into our text and measured worse
# (BENCHMARKS.md "## Node collector").
PKGS    := libpcre2-8
PKGS_STATIC_MHD := libmicrohttpd
PKGS_STATIC_HOT  := zlib
PKGS_STATIC_COLD := jansson yaml-0.1
PKGS_CFLAGS_ONLY := libcurl gnutls
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wvla -Wformat=2
OPT     ?= -O2 -g
# SAN: sanitizer flags (make asan sets them); added to compile and link.
SAN     ?=
# Sections per function and object, so --gc-sections drops what nothing
# references (also from the static archives).
# No .eh_frame for our C code outside sanitizer builds: nothing unwinds
# through it (no exceptions, no pthread_cancel/pthread_exit); gdb and perf use
# .debug_frame, which -g emits instead. Its pages lay next to the hot
# read-only data and were mapped with it (5 pages).
UNWIND  := $(if $(SAN),,-fno-asynchronous-unwind-tables)
CFLAGS  := $(OPT) $(SAN) -std=c17 -D_GNU_SOURCE -pthread $(WARN) -Isrc -DK8SMON_VERSION='"$(VERSION)"' \
	   -ffunction-sections -fdata-sections $(UNWIND)
# --as-needed: a library none of our objects calls is not mapped (libm, when
# nothing uses it, saves ~0.3 MiB of RSS; BENCHMARKS.md "## Node collector").
# pack-relative-relocs (DT_RELR, glibc >= 2.36): the ~1700 relative
# relocations of the PIE take 0.3 KiB instead of 41 KiB that the loader
# reads at every start (keeps PIE, unlike -no-pie, which saved the same).
LDFLAGS_RSS := -Wl,--gc-sections -Wl,-z,pack-relative-relocs
LDLIBS_HOT  :=
LDLIBS_COLD :=
LDLIBS  := $(SAN) -pthread -Wl,--as-needed -lm -ldl

DEPS_OK := $(shell pkg-config --exists $(PKGS) $(PKGS_STATIC_MHD) $(PKGS_STATIC_HOT) $(PKGS_STATIC_COLD) $(PKGS_CFLAGS_ONLY) cmocka 2>/dev/null && echo yes)
ifeq ($(DEPS_OK),yes)
CFLAGS  += $(shell pkg-config --cflags $(PKGS) $(PKGS_STATIC_MHD) $(PKGS_STATIC_HOT) $(PKGS_STATIC_COLD) $(PKGS_CFLAGS_ONLY))
# jansson is given twice: config_from_flags() builds the /config JSON at
# every start, so the members it pulls (pack, object, dump) go with the hot
# code; the second mention, after the cold objects, resolves the rest.
# libmicrohttpd by name: pkg-config --libs would add -lgnutls, which
# src/dl/gnutls.c stands in for.
LDLIBS_HOT  := -Wl,-Bstatic -lmicrohttpd $(shell pkg-config --libs $(PKGS_STATIC_HOT) jansson) -Wl,-Bdynamic
LDLIBS_COLD := -Wl,-Bstatic $(shell pkg-config --libs $(PKGS_STATIC_COLD)) -Wl,-Bdynamic
LDLIBS  += $(shell pkg-config --libs $(PKGS))
endif

# Everything a program linked against libk8smon.a needs (unit tests, test
# drivers: tests/integration/test_container_cgroups.sh prints it).
LIBK8SMON_LIBS = $(LDLIBS_HOT) $(LDLIBS_COLD) $(LDLIBS)

BUILD   ?= build
SRCS    := $(shell find src -name '*.c' | sort)
OBJS    := $(SRCS:%.c=$(BUILD)/%.o)
# Code that only Kubernetes mode (or remote write) runs. bin/k8smon is linked with host-mode
# code first and this (then the libraries only it calls) last, so in host
# mode its pages stay cold: the kernel maps file pages in 64 KiB windows
# around each one touched (fault-around), so code interleaved with the hot
# code is resident even when never run (~0.1 MiB; BENCHMARKS.md "## Node
# collector"). A file in the wrong list costs memory, never correctness.
# (scrape/labels.c is not: the node collector checks names with it; nor
# scrape/policy.c and collect/components/jobs.c, whose defaults and list
# parser config_from_flags() calls at every start, host mode too; nor
# collect/kubestate/shard.c, whose -kubeState.podSharding and agentSelector
# parsers flags_parse() and config_from_flags() call at every start: cold, it
# kept a 64 KiB window of Kubernetes-only code resident, BENCHMARKS.md
# "Node collector: issue 18 RSS regression"; nor dl/gnutls.c, whose
# gnutls_global_init() libmicrohttpd's constructor calls at every start.)
COLD_SRCS := $(filter-out src/scrape/labels.c src/scrape/policy.c src/collect/components/jobs.c \
	         src/collect/kubestate/shard.c src/dl/gnutls.c,\
	       $(filter src/kube/% src/scrape/% src/collect/kubestate/% src/collect/components/% src/dl/% src/remotewrite/%,$(SRCS))) \
	     src/agent/kube.c src/agent/rwconf.c src/collect/container/podmap.c \
	     src/collect/container/crio.c
HOT_OBJS  := $(filter-out $(COLD_SRCS:%.c=$(BUILD)/%.o),$(OBJS))
COLD_OBJS := $(filter $(COLD_SRCS:%.c=$(BUILD)/%.o),$(OBJS))
TESTS   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))

.PHONY: all deps test unit asan asan-unit demo run clean bench fuzz curl-typecheck mutate image test-cluster
all: deps bin/k8smon

deps:
	@./.ci/deps.sh

# Replaced by rename, so a running agent (soak, demo) does not block the build.
bin/k8smon: $(BUILD)/k8smon
	@mkdir -p bin
	cp $< $@.tmp && mv -f $@.tmp $@

$(BUILD)/k8smon: $(BUILD)/cmd/k8smon/main.o $(OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS_RSS) -o $@ $(BUILD)/cmd/k8smon/main.o $(HOT_OBJS) $(LDLIBS_HOT) \
	  $(COLD_OBJS) $(LDLIBS_COLD) $(LDLIBS)

$(BUILD)/libk8smon.a: $(OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libk8smon.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(BUILD)/libk8smon.a $(LIBK8SMON_LIBS) -lcmocka

# libcurl's compile-time type checks of curl_easy_setopt() and friends are
# off in the real build (src/dl/curl.h maps the names to a dlsym table);
# this compiles every source once more with them on, without output.
curl-typecheck:
	@for f in $(SRCS) cmd/k8smon/main.c; do \
	  $(CC) $(filter-out $(SAN),$(CFLAGS)) -DDL_CURL_TYPECHECK -fsyntax-only $$f || exit 1; done

# The replay and node-parser tests #include the harnesses.
$(BUILD)/tests/test_fuzz_replay $(BUILD)/tests/test_node_parse: $(wildcard tests/fuzz/*.c tests/fuzz/*.h)

unit: $(TESTS) curl-typecheck
	@./tests/run_unit.sh $(TESTS)

# make test also runs the sanitizer pass (asan-unit): the unit tests,
# including test_config_cycle's 5000-step reconfiguration state machine,
# and ASAN_RECONFIG_N live reconfigurations of the agent, under ASan+UBSan
# (cost: docs/testing.md "Sanitizers in make test").
ASAN_RECONFIG_N ?= 200
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
test: deps
	@$(MAKE) --no-print-directory bin/k8smon unit
	@$(MAKE) --no-print-directory asan-unit
	@./tests/run_integration.sh

# The real-kubelet tier alone (it is also part of `make test`): a single-node
# cluster (tests/peers/cluster.sh) with k8smon as its DaemonSet;
# docs/testing.md "Real kubelet cluster".
test-cluster: deps bin/k8smon
	@tests/peers/build.sh kubernetes kubernetes-node helm >/dev/null
	@sh tests/integration/test_real_kubelet.sh

asan-unit: deps
	@s=$$(date +%s); ASAN_OPTIONS=detect_leaks=1 $(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g" \
	  SAN="$(SANFLAGS)" unit build-asan/k8smon && \
	  K8SMON_BIN=build-asan/k8smon N=$(ASAN_RECONFIG_N) sh tests/integration/asan_reconfig.sh && \
	  echo "asan-unit: unit tests and $(ASAN_RECONFIG_N) live reconfigurations under ASan+UBSan: $$(($$(date +%s) - s)) s"

asan: deps
	@ASAN_OPTIONS=detect_leaks=1 $(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g" \
	  SAN="$(SANFLAGS)" unit build-asan/k8smon
	@K8SMON_BIN=build-asan/k8smon N=$${N:-1000} sh tests/integration/asan_reconfig.sh
	@K8SMON_ASAN=1 sh tests/integration/test_kube_reflector.sh
	@K8SMON_ASAN=1 sh tests/integration/test_kube_tls.sh
	@K8SMON_BIN=build-asan/k8smon sh tests/integration/test_config_cycle.sh
	@K8SMON_BIN=build-asan/k8smon sh tests/integration/test_remote_write.sh
	@K8SMON_BIN=build-asan/k8smon sh tests/integration/test_remote_write_auth.sh
	@K8SMON_BIN=build-asan/k8smon sh tests/integration/test_remote_write_monitor.sh
	@K8SMON_BIN=build-asan/k8smon sh tests/integration/test_remote_write_components.sh
	@K8SMON_BIN=build-asan/k8smon sh tests/integration/test_remote_write_stale.sh
	@K8SMON_BIN=build-asan/k8smon sh tests/integration/test_components.sh
	@K8SMON_BIN=build-asan/k8smon sh tests/integration/test_node_systemd.sh

demo: deps bin/k8smon
	@./tests/demo/demo.sh

run: deps bin/k8smon
	./bin/k8smon -httpListenAddr=:9420

# The image: image/rootfs.sh assembles the root filesystem (the binary, the
# loader, exactly the shared libraries it loads, dlopen()ed libcurl included,
# CA certificates, passwd/group with 65534) and image/oci.py packs it into a
# reproducible OCI archive (why a script and not umoci/buildah: its header).
# Push: skopeo copy oci-archive:$(BUILD)/k8smon-image.tar docker://REGISTRY/k8smon:TAG
image: deps $(BUILD)/k8smon
	@sh image/build.sh $(BUILD)/k8smon $(BUILD)/k8smon-image.tar

bench: deps bin/k8smon
	@for b in bench/*.sh; do echo "== $$b"; ./$$b || exit 1; done

# libFuzzer harnesses in tests/fuzz/ (needs clang and libclang-rt-14-dev);
# new inputs go to build-fuzz/corpus/<target>, seeds come from tests/fuzz/corpus.
FUZZ_SECONDS ?= 60
fuzz:
	@./tests/fuzz/build.sh
	@for f in build-fuzz/fuzz_*; do t=$${f#build-fuzz/fuzz_}; mkdir -p build-fuzz/corpus/$$t; \
	  echo "== $$t"; $$f -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -rss_limit_mb=2048 \
	  -artifact_prefix=build-fuzz/$$t- build-fuzz/corpus/$$t tests/fuzz/corpus/$$t || exit 1; done

clean:
	rm -rf build build-asan build-mutate bin

# main.o too: it embeds struct flags, so a changed header must rebuild it.
-include $(OBJS:.o=.d) $(BUILD)/cmd/k8smon/main.d

# Breaks the code each test guards (tests/mutations.txt) and checks that the
# test fails; ONLY=substring selects mutations by file or test.
mutate: deps
	@python3 tests/mutate.py
