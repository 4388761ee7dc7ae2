#!/usr/bin/env python3
"""make mutate: break the code a test guards and check that the test fails.

Each mutation replaces one exact snippet of a source file, rebuilds into
build-mutate/ and runs the guarding test; a mutation the test does not catch
is a test that cannot fail. The tree is restored after each mutation (also
on Ctrl-C). Mutations live in tests/mutations.txt:

    # comment
    file: src/config/monitor.c
    from: if (r.winner[n] < 0) {
    to:   if (r.winner[n] < 0 || 1) {
    test: unit test_config_cycle          (or: sh tests/integration/x.sh)
    ---

`unit NAME` runs build-mutate/tests/NAME (`unit NAME TEST`: with
TEST_FILTER=TEST, for a binary that reads it); any other test line runs in sh with
K8SMON_BIN=build-mutate/k8smon and K8SMON_LIB=build-mutate/libk8smon.a. `make mutate ONLY=substring` runs the
mutations whose file or test contains the substring.
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = "build-mutate"


KEYS = ("file", "from", "to", "test")


def load(path):
    """Entries are separated by "---"; a "file:" line also starts a new entry, so that
    two entries a union merge joined without a separator stay two. An entry with a
    repeated, unknown or missing key is an error (it would silently test nothing)."""
    muts, cur = [], {}
    for n, line in enumerate(open(path), 1):
        line = line.rstrip("\n")
        if line.startswith("#") or not line.strip():
            continue
        if line.strip() == "---":
            if cur:
                muts.append(cur)
            cur = {}
            continue
        key, _, val = line.partition(":")
        key = key.strip()
        if key == "file" and cur:
            muts.append(cur)
            cur = {}
        if key not in KEYS or key in cur:
            raise ValueError(f"{path}:{n}: {'repeated' if key in cur else 'unknown'} key {key!r}")
        val = val[1:] if val.startswith(" ") else val
        # from/to may span lines: "\n" in the value is a newline.
        cur[key] = val.replace("\\n", "\n").replace("\\t", "\t")
        cur["line"] = n
    if cur:
        muts.append(cur)
    seen = set()
    for m in muts:
        missing = [k for k in KEYS if k not in m]
        if missing:
            raise ValueError(f"{path}:{m['line']}: entry without {', '.join(missing)}")
        if (m["file"], m["from"], m["to"], m["test"]) in seen:
            raise ValueError(f"{path}:{m['line']}: the same mutation twice (a merge?)")
        seen.add((m["file"], m["from"], m["to"], m["test"]))
    return muts


def run(cmd, env=None):
    return subprocess.run(cmd, shell=True, cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT).returncode


def main():
    only = os.environ.get("ONLY", "")
    muts = [m for m in load(os.path.join(ROOT, "tests/mutations.txt"))
            if not only or only in m["file"] or only in m["test"]]
    survived = 0
    for i, m in enumerate(muts, 1):
        path = os.path.join(ROOT, m["file"])
        orig = open(path).read()
        if orig.count(m["from"]) != 1:
            print(f"STALE  {i}: {m['file']}: snippet not found exactly once: {m['from']!r}")
            survived += 1
            continue
        try:
            open(path, "w").write(orig.replace(m["from"], m["to"]))
            test = m["test"]
            if test.startswith("unit "):
                parts = test.split()
                name = parts[1]
                if run(f"make -s BUILD={BUILD} {BUILD}/tests/{name}"):
                    print(f"BUILD  {i}: {m['file']}: mutation does not compile (fix the entry)")
                    survived += 1
                    continue
                # `unit NAME TEST`: only that test of the binary (its TEST_FILTER)
                env = dict(os.environ, TEST_FILTER=parts[2]) if len(parts) > 2 else None
                rc = run(f"./{BUILD}/tests/{name}", env)
            else:
                if run(f"make -s BUILD={BUILD} {BUILD}/k8smon {BUILD}/libk8smon.a"):
                    print(f"BUILD  {i}: {m['file']}: mutation does not compile (fix the entry)")
                    survived += 1
                    continue
                env = dict(os.environ, K8SMON_BIN=f"{BUILD}/k8smon", K8SMON_LIB=f"{BUILD}/libk8smon.a")
                rc = run(test, env)
        finally:
            open(path, "w").write(orig)
        if rc == 0:
            survived += 1
            print(f"SURVIVED {i}: {m['file']}: {m['from'].strip()[:60]!r} -> {m['to'].strip()[:60]!r} ({test})")
        else:
            print(f"killed {i}: {m['file']} ({test})")
    print(f"{len(muts) - survived} of {len(muts)} mutations killed")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
