#!/bin/sh
# src/kube TLS against a fake API server that requires client certificates:
# client-certificate(-data)/client-key(-data) kubeconfigs sync; no or an
# untrusted client certificate and a host-name mismatch fail with one clear
# log line and retries; insecure-skip-tls-verify connects; no key or token in
# the logs. K8SMON_ASAN=1 runs kubewatch under ASan/UBSan.
set -eu
cd "$(dirname "$0")/../.."
if ! command -v openssl >/dev/null 2>&1; then
	. tests/lib/skip.sh
	skip_test kube_tls "openssl not installed"
fi
out=build/kube
[ "${K8SMON_ASAN:-0}" = 1 ] && out=build-asan/kube
kw=$(./tests/kube/build.sh "$out" | tail -1)
cd tests/kube
exec timeout 300 python3 kube_tls_check.py "../../$kw"
