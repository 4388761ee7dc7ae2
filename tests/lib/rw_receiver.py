#!/usr/bin/python3
"""A misbehaving Prometheus remote-write receiver for tests (stdlib + Debian python3-snappy).

  rw_receiver.py PORTFILE [CERT KEY [CLIENT_CA]]
Listens on a free loopback port, or $RW_RECEIVER_PORT (written to PORTFILE); HTTPS with CERT/KEY, and
with CLIENT_CA a client certificate signed by it is required. Every POST is checked
for the remote-write 1.0 headers and a body that snappy-decodes (python-snappy,
an implementation independent of the agent's libsnappy), or zstd-decodes
(python3-zstandard) with Content-Encoding: zstd, into a protobuf whose
first field is WriteRequest.timeseries; then, by path:
  /ok      204
  /400     400 "bad series" (the agent must drop the block, not retry)
  /413     413 "too large" (dropped, like any 4xx but 429)
  /garbage not HTTP: "garbage" and the connection closed (a transport error:
           the agent retries)
  /auth    401 unless "Authorization: Bearer secret-token", then 204
  /hang    the first request is held for 30 s without an answer (the agent's
           -remoteWrite.sendTimeout must fire); later ones 204
  /basic   401 unless basic auth alice:s3cret and X-Scope-OrgID: team-a and
           X-Extra: a:b (custom headers), then 204
  /429, /503  the first 3 requests answer 429 "slow down" / 503 "unavailable" (the
           agent must retry them, not drop), later ones 204
  /vm...   GET ?get_vm_proto_version=1 answers "1" (VictoriaMetrics' handshake);
           elsewhere the handshake gets 400
  /vm415   like /vm but a zstd body gets 415 (a receiver that claims zstd and
           does not take it); snappy 204
GET /stats: JSON {path: {"requests": n, "bad": n, "bytes": n, "zstd": n, "host": last Host,
"common": [...]}}; "bad" counts requests whose headers or body were wrong, "zstd" the zstd-encoded
ones, "common" the "name=value" labels every series of the last valid body carried (decoded here
with a protobuf reader of its own).
"""
import base64
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import snappy

LOCK = threading.Lock()
STATS = {}
HUNG = set()


def varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return v, i


def fields(b):
    """(field number, bytes) of the length-delimited fields of message b; others skipped."""
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        wt = key & 7
        if wt == 2:
            n, i = varint(b, i)
            yield key >> 3, b[i:i + n]
            i += n
        elif wt == 0:
            _, i = varint(b, i)
        elif wt == 1:
            i += 8
        elif wt == 5:
            i += 4
        else:
            raise ValueError("wire type %d" % wt)


def common_labels(raw):
    common = None
    for f, ts in fields(raw):
        if f != 1:
            continue
        labels = set()
        for g, lab in fields(ts):
            if g == 1:
                kv = dict(fields(lab))
                labels.add(kv.get(1, b"").decode() + "=" + kv.get(2, b"").decode())
        common = labels if common is None else common & labels
    return sorted(common or ())


def decode(headers, body):
    try:
        if headers.get("Content-Encoding") == "zstd":
            import zstandard
            return zstandard.ZstdDecompressor().decompress(body)
        return snappy.uncompress(body)
    except Exception:  # noqa: BLE001
        return b""


def valid(headers, body):
    enc = headers.get("Content-Encoding")
    if enc not in ("snappy", "zstd"):
        return False
    if headers.get("Content-Type") != "application/x-protobuf":
        return False
    if headers.get("X-Prometheus-Remote-Write-Version") != "0.1.0":
        return False
    try:
        if enc == "zstd":
            import zstandard
            raw = zstandard.ZstdDecompressor().decompress(body)
        else:
            raw = snappy.uncompress(body)
    except Exception:  # noqa: BLE001 - any decode failure is a bad body
        return False
    return len(raw) > 2 and raw[0] == 0x0A


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if "get_vm_proto_version=" in self.path:
            vm = self.path.startswith("/vm")
            body = b"1" if vm else b"unsupported"
            self.send_response(200 if vm else 400)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        with LOCK:
            body = json.dumps(STATS).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        ok = valid(self.headers, body)
        with LOCK:
            s = STATS.setdefault(self.path, {"requests": 0, "bad": 0, "bytes": 0, "zstd": 0})
            s["requests"] += 1
            s["host"] = self.headers.get("Host", "")
            if self.headers.get("Content-Encoding") == "zstd":
                s["zstd"] += 1
            s["bytes"] += n
            if not ok:
                s["bad"] += 1
            else:
                try:
                    s["common"] = common_labels(decode(self.headers, body))
                except (ValueError, IndexError, UnicodeDecodeError):
                    s["bad"] += 1
            busy = self.path in ("/429", "/503") and s["requests"] <= 3
            hang = self.path == "/hang" and self.path not in HUNG
            if hang:
                HUNG.add(self.path)
        if hang:
            time.sleep(30)
            self.close_connection = True
            return
        if busy:
            msg = b"slow down\n" if self.path == "/429" else b"unavailable\n"
            self.send_response(int(self.path[1:]))
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)
            return
        if self.path == "/garbage":
            self.wfile.write(b"garbage\r\n\r\n")
            self.close_connection = True
            return
        if self.path == "/auth" and self.headers.get("Authorization") != "Bearer secret-token":
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        want_basic = "Basic " + base64.b64encode(b"alice:s3cret").decode()
        if self.path == "/basic" and (self.headers.get("Authorization") != want_basic or
                                      self.headers.get("X-Scope-OrgID") != "team-a" or
                                      self.headers.get("X-Extra") != "a:b"):
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/vm415" and self.headers.get("Content-Encoding") == "zstd":
            self.send_response(415)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path in ("/400", "/413"):
            code = int(self.path[1:])
            msg = b"bad series\n" if code == 400 else b"too large\n"
            self.send_response(code)
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)
            return
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()


def main():
    import os
    srv = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("RW_RECEIVER_PORT", "0"))), Handler)
    srv.daemon_threads = True
    if len(sys.argv) >= 4:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[2], sys.argv[3])
        if len(sys.argv) == 5:
            ctx.load_verify_locations(sys.argv[4])
            ctx.verify_mode = ssl.CERT_REQUIRED
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
