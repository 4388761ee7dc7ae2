#!/bin/sh
# src/kube against tests/fakeapi: reflector convergence under >= 1000 random
# pod changes with injected faults (store == server, RVs never go backwards),
# then token rotation, two-process leader election, wrong CA / unreachable /
# 403 logging+metrics+retries, and conditional update. Exit non-zero on
# failure. K8SMON_ASAN=1 runs kubewatch under ASan/UBSan.
set -eu
cd "$(dirname "$0")/../.."
out=build/kube
[ "${K8SMON_ASAN:-0}" = 1 ] && out=build-asan/kube
kw=$(./tests/kube/build.sh "$out" | tail -1)
cd tests/kube
python3 reflector_check.py "../../$kw" --seed "${K8SMON_SEED:-1234}" --changes "${K8SMON_CHANGES:-1200}"
python3 kube_misc_check.py "../../$kw"
