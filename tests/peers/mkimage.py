#!/usr/bin/env python3
"""Writes a single-layer image as a docker-archive tar (what `docker save`
writes and `ctr images import` reads), for the local cluster of
tests/peers/cluster.sh, which has no registry.

  mkimage.py OUT.tar NAME:TAG --entrypoint /path [--libs] SRC=DST...

Each SRC file lands at DST in the image (mode kept); --libs adds the shared
libraries (and the dynamic loader) that `ldd` lists for every file given, at
their host paths. The layer is deterministic: fixed mtimes, root owner, sorted.
"""
import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile


def ldd_paths(path):
    out = subprocess.run(["ldd", path], capture_output=True, text=True)
    if out.returncode != 0:  # static: nothing to add
        return []
    paths = []
    for line in out.stdout.splitlines():
        parts = line.split()
        if "=>" in parts:
            i = parts.index("=>")
            if i + 1 < len(parts) and parts[i + 1].startswith("/"):
                paths.append(parts[i + 1])
        elif parts and parts[0].startswith("/"):
            paths.append(parts[0])
    return paths


def add_dirs(tar, seen, dst):
    parts = dst.strip("/").split("/")[:-1]
    for n in range(1, len(parts) + 1):
        d = "/".join(parts[:n])
        if d in seen:
            continue
        seen.add(d)
        ti = tarfile.TarInfo(d)
        ti.type = tarfile.DIRTYPE
        ti.mode = 0o755
        tar.addfile(ti)


def layer_bytes(files):
    buf = io.BytesIO()
    seen = set()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dst in sorted(files):
            src = files[dst]
            add_dirs(tar, seen, dst)
            with open(src, "rb") as f:
                data = f.read()
            ti = tarfile.TarInfo(dst.strip("/"))
            ti.size = len(data)
            ti.mode = os.stat(src).st_mode & 0o7777
            tar.addfile(ti, io.BytesIO(data))
        # /tmp, /proc, /sys, /dev, /etc as a runtime expects to mount over them
        for d in ("dev", "etc", "proc", "sys", "tmp"):
            if d not in seen:
                ti = tarfile.TarInfo(d)
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o1777 if d == "tmp" else 0o755
                tar.addfile(ti)
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("ref")
    ap.add_argument("--entrypoint", required=True)
    ap.add_argument("--libs", action="store_true")
    ap.add_argument("files", nargs="+", metavar="SRC=DST")
    a = ap.parse_args()
    files = {}
    for spec in a.files:
        src, sep, dst = spec.partition("=")
        if not sep or not dst.startswith("/"):
            sys.exit(f"mkimage: '{spec}': want SRC=/absolute/DST")
        if not os.path.isfile(src):
            sys.exit(f"mkimage: {src}: not a file")
        files[dst] = src
        if a.libs:
            for lib in ldd_paths(src):
                files.setdefault(lib, os.path.realpath(lib))
    layer = layer_bytes(files)
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": [a.entrypoint],
                   "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }, sort_keys=True).encode()
    cfg_name = hashlib.sha256(config).hexdigest() + ".json"
    layer_name = diff_id[7:] + "/layer.tar"
    manifest = json.dumps([{"Config": cfg_name, "RepoTags": [a.ref],
                            "Layers": [layer_name]}]).encode()
    tmp = a.out + ".tmp"
    with tarfile.open(tmp, "w") as out:
        for name, data in ((cfg_name, config), (layer_name, layer),
                           ("manifest.json", manifest)):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o644
            out.addfile(ti, io.BytesIO(data))
    os.replace(tmp, a.out)


if __name__ == "__main__":
    main()
