#!/bin/sh
# The fake API server validates, prunes and defaults custom resources with the CRD's
# OpenAPI v3 schema and CEL rules like kube-apiserver v1.36, and serves /openapi/v3 so
# `kubectl explain` works against it (make demo): tests/fakeapi/crtest.py, which also
# runs tests/peers/cr_cases.yaml (the real-server tier's table) against the fake.
# Everything with the installed kubectl; `kubectl explain` also with the v1.36 kubectl
# of tests/peers (built by tests/run_integration.sh before the tests). Run from the
# repository root.
cd "$(dirname "$0")/../.." || exit 1
command -v kubectl >/dev/null 2>&1 || { echo "FAIL: kubectl not installed (.ci/deps.sh)"; exit 1; }
python3 -c 'import yaml' 2>/dev/null || { echo "FAIL: python3-yaml not installed (.ci/deps.sh)"; exit 1; }
env=$(tests/peers/build.sh --env kubernetes 2>/dev/null) && eval "$env" && [ -x "$KUBERNETES_BIN/kubectl" ] ||
	{ echo "FAIL: the v1.36 kubectl of tests/peers is not built (tests/peers/build.sh kubernetes)"; exit 1; }
exec timeout 300 python3 tests/fakeapi/crtest.py kubectl "$KUBERNETES_BIN/kubectl"
