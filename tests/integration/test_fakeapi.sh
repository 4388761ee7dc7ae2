#!/bin/sh
# Semantics of the fake API server that the agent relies on (watch resume, bookmarks,
# 410, pagination, selectors, conflicts, faults, reviews). Run from the repository root.
cd "$(dirname "$0")/../.." || exit 1
if ! command -v openssl >/dev/null 2>&1; then
	. tests/lib/skip.sh
	skip_test fakeapi "openssl not installed"
fi
exec timeout 300 python3 tests/fakeapi/selftest.py
