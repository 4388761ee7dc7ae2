#!/usr/bin/env python3
"""Packs a root filesystem into a single-layer OCI image archive.

    image/oci.py ROOTFS OUT.tar --version V [--user U] [--entrypoint PATH]

OUT.tar is an OCI image layout (oci-layout, index.json, blobs/sha256/...) in
one tar, as `skopeo copy oci-archive:OUT.tar docker://...` reads it.

Why a script and not umoci, buildah or skopeo: there is no container engine on
the build machines, and all the layout needs is one tar layer, its gzip, two
small JSON documents and their sha256 digests. Python 3 is already a build
dependency; buildah wants a container storage (root or user namespaces) and
umoci starts from an existing image and records the files' real times, so
neither gives a reproducible archive without extra steps. Here every entry is
root-owned, sorted by name and dated SOURCE_DATE_EPOCH (default 0), and gzip
gets no name or time: the same ROOTFS gives the same bytes, hence the same
digests (tests/integration/test_image.sh checks it). skopeo is only needed to
push (README "Build and push the image").

Modes are packed as image/rootfs.sh set them. Only directories and regular
files are accepted (image/rootfs.sh copies no symlinks).
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import platform
import stat
import sys
import tarfile
import time

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
# GOARCH names, as the image spec's platform.architecture uses them.
ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}


def tar_entry(name, mode, epoch, data=None):
    ti = tarfile.TarInfo(name)
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    ti.mtime = epoch
    ti.mode = mode
    if data is None:
        ti.type = tarfile.DIRTYPE
    else:
        ti.size = len(data)
    return ti


def layer_tar(rootfs, epoch):
    """The uncompressed layer: every directory and file under rootfs, sorted."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        entries = []
        for d, dirs, files in os.walk(rootfs):
            for n in dirs + files:
                entries.append(os.path.relpath(os.path.join(d, n), rootfs))
        for rel in sorted(entries):
            path = os.path.join(rootfs, rel)
            st = os.lstat(path)
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISDIR(st.st_mode):
                tf.addfile(tar_entry(rel + "/", mode, epoch))
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as fh:
                    data = fh.read()
                tf.addfile(tar_entry(rel, mode, epoch, data), io.BytesIO(data))
            else:
                raise SystemExit(f"oci: {path}: only directories and regular files are packed")
    return out.getvalue()


def gz(data):
    out = io.BytesIO()
    # No file name and time 0 in the header: the output depends on data only.
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=9, mtime=0) as g:
        g.write(data)
    return out.getvalue()


def blob(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def jbytes(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rootfs")
    ap.add_argument("out")
    ap.add_argument("--version", required=True, help="image version label and ref name")
    ap.add_argument("--user", default="65534:65534")
    ap.add_argument("--entrypoint", default="/usr/bin/k8smon")
    ap.add_argument("--port", default="9420")
    args = ap.parse_args()

    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    arch = ARCH.get(platform.machine(), platform.machine())
    if not os.access(os.path.join(args.rootfs, args.entrypoint.lstrip("/")), os.X_OK):
        sys.exit(f"oci: entrypoint {args.entrypoint} is not an executable in {args.rootfs}")

    layer = layer_tar(args.rootfs, epoch)
    layer_gz = gz(layer)
    labels = {"org.opencontainers.image.title": "k8smon",
              "org.opencontainers.image.version": args.version}
    config = jbytes({
        "created": created,
        "architecture": arch,
        "os": "linux",
        "config": {
            "User": args.user,
            "Entrypoint": [args.entrypoint],
            "ExposedPorts": {f"{args.port}/tcp": {}},
            "WorkingDir": "/",
            "Labels": labels,
        },
        "rootfs": {"type": "layers", "diff_ids": [blob(layer)]},
        "history": [{"created": created, "created_by": "image/rootfs.sh + image/oci.py"}],
    })
    manifest = jbytes({
        "schemaVersion": 2,
        "mediaType": MT_MANIFEST,
        "config": {"mediaType": MT_CONFIG, "digest": blob(config), "size": len(config)},
        "layers": [{"mediaType": MT_LAYER, "digest": blob(layer_gz), "size": len(layer_gz)}],
        "annotations": labels,
    })
    index = jbytes({
        "schemaVersion": 2,
        "mediaType": MT_INDEX,
        "manifests": [{
            "mediaType": MT_MANIFEST, "digest": blob(manifest), "size": len(manifest),
            "platform": {"architecture": arch, "os": "linux"},
            "annotations": {"org.opencontainers.image.ref.name": args.version},
        }],
    })

    files = {"oci-layout": jbytes({"imageLayoutVersion": "1.0.0"}), "index.json": index}
    for b in (layer_gz, config, manifest):
        files["blobs/sha256/" + blob(b)[len("sha256:"):]] = b
    tmp = args.out + ".tmp"
    with tarfile.open(tmp, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for d in ("blobs/", "blobs/sha256/"):
            tf.addfile(tar_entry(d, 0o755, epoch))
        for name in sorted(files):
            tf.addfile(tar_entry(name, 0o644, epoch, files[name]), io.BytesIO(files[name]))
    os.replace(tmp, args.out)
    print(f"{args.out}: layer {len(layer_gz)} bytes compressed ({len(layer)} uncompressed), "
          f"manifest {blob(manifest)}")


if __name__ == "__main__":
    main()
