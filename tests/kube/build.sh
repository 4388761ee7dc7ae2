#!/bin/sh
# Builds tests/kube/kubewatch from src/base, src/expo and src/kube with the
# project's flags (the same as the Makefile's), into $1 (default build/kube).
# Self-contained so the kube tests do not depend on unrelated modules.
# K8SMON_ASAN=1 builds with ASan+UBSan.
set -eu
cd "$(dirname "$0")/../.."
OUT=${1:-build/kube}
PKGS="jansson yaml-0.1"
# libcurl: headers only, it is loaded with dlopen() (src/dl/curl.h).
CFONLY="libcurl"
CF="-O2 -g"
LF=""
if [ "${K8SMON_ASAN:-0}" = 1 ]; then
	CF="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
	LF="-fsanitize=address,undefined"
fi
# K8SMON_VERSION as the Makefile defines it (the kube client's User-Agent).
VERSION=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
CF="$CF -std=c17 -D_GNU_SOURCE -DK8SMON_VERSION=\"$VERSION\" -pthread -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wvla -Wformat=2 -Isrc $(pkg-config --cflags $PKGS $CFONLY)"
mkdir -p "$OUT/o"
objs=""
# The expo parser uses the label sets of src/scrape/labels.c.
for f in src/base/*.c src/dl/*.c src/expo/*.c src/kube/*.c src/scrape/labels.c; do
	o="$OUT/o/$(echo "$f" | tr / _).o"
	cc $CF -c -o "$o" "$f"
	objs="$objs $o"
done
# shellcheck disable=SC2086
cc $CF -o "$OUT/kubewatch" tests/kube/kubewatch.c $objs $LF $(pkg-config --libs $PKGS) -lpcre2-8 -lm -ldl
echo "$OUT/kubewatch"
