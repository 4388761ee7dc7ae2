#!/usr/bin/env python3
"""Evaluates one live object (JSON, e.g. `kubectl get kmon x -o json`) with the Argo CD
Lua health check of its kind and with the Python kstatus implementation; prints
"<argo health> <kstatus status>" (e.g. "Healthy Current"). The integration tests use it
to check that what the agent really writes is read the same way by both.

usage: eval_obj.py LUA_BINARY OBJECT.json
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import kstatus  # noqa: E402
from run_cases import SCRIPTS, lua  # noqa: E402


def main():
    luabin, path = sys.argv[1], sys.argv[2]
    obj = json.load(open(path))
    with tempfile.TemporaryDirectory() as tmp:
        chunk = os.path.join(tmp, "obj.lua")
        with open(chunk, "w") as f:
            f.write("return " + lua(obj) + "\n")
        p = subprocess.run([luabin, os.path.join(HERE, "harness.lua"), SCRIPTS[obj["kind"]], chunk],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=True)
    argo = p.stdout.split("\t", 1)[0]
    ks, _ = kstatus.compute(obj)
    print(argo, ks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
