#!/usr/bin/env python3
"""A stand-in for CRI-O's HTTP info API (what cAdvisor's container/crio client
reads) on a unix socket, for the containers a test made itself.

  fake_crio.py SOCKET CONTAINERS.json

GET /info -> CRI-O's CrioInfo (pkg/types: storage_driver, storage_image,
storage_root, cgroup_driver, default_id_mappings);
GET /containers/<id> -> the object CONTAINERS.json has under <id> (CRI-O's
ContainerInfo fields: name, pid, image, image_ref, created_time, labels,
annotations, crio_annotations, log_path, root, sandbox, ip_addresses,
host_network), 404 with CRI-O's text body for any other id. cAdvisor's client dials a fixed path (/var/run/crio/crio.sock);
the test points SOCKET there. Removes SOCKET on SIGTERM.
"""
import json
import os
import signal
import socketserver
import sys
from http.server import BaseHTTPRequestHandler

SOCK, DATA = sys.argv[1], sys.argv[2]
with open(DATA) as f:
    CONTAINERS = json.load(f)
FULL = [{"container_id": 0, "host_id": 0, "size": 4294967295}]
INFO = {"storage_driver": "overlay", "storage_image": "", "storage_root": "/var/lib/containers/storage",
        "cgroup_driver": os.environ.get("CRIO_CGROUP_DRIVER", "cgroupfs"),
        "default_id_mappings": {"uids": FULL, "gids": FULL}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def address_string(self):
        return SOCK

    def log_message(self, fmt, *args):
        sys.stderr.write("fake_crio: " + (fmt % args) + "\n")

    def reply(self, code, body, ctype="application/json"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/info":
            self.reply(200, json.dumps(INFO))
        elif self.path.startswith("/containers/") and self.path[12:] in CONTAINERS:
            self.reply(200, json.dumps(CONTAINERS[self.path[12:]]))
        else:
            # Go's http.Error: text/plain, the message and a newline
            self.reply(404, "can't find the container with id %s\n" % self.path.rsplit("/", 1)[-1],
                       "text/plain; charset=utf-8")


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def stop(*_):
    try:
        os.unlink(SOCK)
    finally:
        os._exit(0)


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
if os.path.exists(SOCK):
    os.unlink(SOCK)
srv = Server(SOCK, Handler)
srv.serve_forever()
