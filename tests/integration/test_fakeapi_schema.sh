#!/bin/sh
# The fake API server validates, prunes and defaults custom resources with the CRD's
# OpenAPI v3 schema and CEL rules like kube-apiserver v1.36, and serves /openapi/v3 so
# `kubectl explain` works against it (make demo): tests/fakeapi/crtest.py, which also
# runs tests/peers/cr_cases.yaml (the real-server tier's table) against the fake.
# Uses the installed kubectl. Run from the repository root.
cd "$(dirname "$0")/../.." || exit 1
command -v kubectl >/dev/null 2>&1 || { echo "FAIL: kubectl not installed (.ci/deps.sh)"; exit 1; }
python3 -c 'import yaml' 2>/dev/null || { echo "FAIL: python3-yaml not installed (.ci/deps.sh)"; exit 1; }
exec timeout 300 python3 tests/fakeapi/crtest.py kubectl
