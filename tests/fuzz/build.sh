#!/bin/sh
# Builds one libFuzzer binary per tests/fuzz/fuzz_<target>.c into
# build-fuzz/fuzz_<target> (clang, -fsanitize=fuzzer,address,undefined).
# Needs Debian's clang and libclang-rt-<ver>-dev (libFuzzer runtime):
#   apt-get install clang libclang-rt-14-dev
# Usage: tests/fuzz/build.sh [target...]   (default: all)
set -eu
cd "$(dirname "$0")/../.."
CC=${FUZZ_CC:-clang}
OUT=${FUZZ_BUILD:-build-fuzz}
PKGS="jansson yaml-0.1 libmicrohttpd libpcre2-8 zlib gnutls"
# libcurl: headers only, it is loaded with dlopen() (src/dl/curl.h).
CFONLY="libcurl"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CFLAGS="-O1 -g -std=c17 -D_GNU_SOURCE -pthread -Isrc -Itests -DK8SMON_VERSION=\"fuzz\" $(pkg-config --cflags $PKGS $CFONLY)"
LIBS="$(pkg-config --libs $PKGS) -pthread -lm -ldl"

if ! command -v "$CC" >/dev/null 2>&1; then
	echo "build.sh: $CC not found (apt-get install clang libclang-rt-14-dev)" >&2
	exit 1
fi
mkdir -p "$OUT/obj"
# Library sources once, instrumented for coverage (fuzzer-no-link).
objs=""
for src in $(find src -name '*.c' | sort); do
	obj="$OUT/obj/$(echo "$src" | tr / _ | sed 's/\.c$/.o/')"
	if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find src -name '*.h' -newer "$obj" | head -1)" ]; then
		$CC $CFLAGS $SAN -fsanitize=fuzzer-no-link -c -o "$obj" "$src"
	fi
	objs="$objs $obj"
done
targets=${*:-$(ls tests/fuzz/fuzz_*.c | sed 's|tests/fuzz/fuzz_||; s|\.c$||')}
for t in $targets; do
	echo "fuzz: building fuzz_$t"
	$CC $CFLAGS $SAN -fsanitize=fuzzer -DFUZZ_FN=fuzz_$t -o "$OUT/fuzz_$t" \
		tests/fuzz/fuzz_$t.c tests/fuzz/libfuzzer_main.c $objs $LIBS
done
