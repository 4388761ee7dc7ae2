#!/bin/sh
# The RBAC the chart and examples/deploy grant equals the verbs the code uses
# (both directions), read from the C sources.
set -u
. tests/lib/common.sh
if python3 tests/helm/rbaccheck.py >"${TMPDIR:-/tmp}/rbac.$$" 2>&1; then
	ok "RBAC equals what the code uses: $(tail -1 "${TMPDIR:-/tmp}/rbac.$$")"
else
	fail "RBAC differs from what the code uses:"
	sed 's/^/    /' "${TMPDIR:-/tmp}/rbac.$$"
fi
rm -f "${TMPDIR:-/tmp}/rbac.$$"
finish
