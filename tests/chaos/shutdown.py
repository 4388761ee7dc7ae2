#!/usr/bin/env python3
"""shutdown.py BINARY KUBECONFIG OUT.json -- graceful shutdown check (issue 9 item 6).

Starts the agent (Kubernetes mode, Lease election in namespace default) against an
already running fake API server, waits until it leads, then runs a scrape loop: 4 clients
requesting /metrics, /metrics/kube-state, /metrics/node back to back, plus 2 slow readers
(small receive buffer, reading /metrics/node at ~200 KB/s so that their responses are in flight
for a while) and one large-body reader (/metrics/kube-state, several MB when the caller
loaded a few thousand pods, read through an 8 KiB receive buffer so that most of the body
is still in the agent when the signal comes).  SIGTERM is sent while the large-body reader
is mid-body.  Measured:

  * exit status and time from SIGTERM to exit (must be 0 within 2 s);
  * every request whose response had started (status line received) completed with the
    full body (Content-Length bytes or the final chunk) -- "in-flight responses finish";
    requests sent after the listener closed may be refused, which is counted apart.

The Lease check (holderIdentity cleared) is done by the calling shell script with kubectl.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from freeport import free_port  # noqa: E402


MID_BODY = threading.Event()
LAST_CUT = []
T_TERM = [0.0]


def read_response(sock, slow=False, big=False):
    """Reads one HTTP/1.1 response; returns (status, complete, started)."""
    buf = b""
    started = False
    while b"\r\n\r\n" not in buf:
        d = sock.recv(4096)
        if not d:
            return 0, False, started
        buf += d
        started = True
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    hdr = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        hdr[k.strip().lower()] = v.strip()
    if b"content-length" in hdr:
        need = int(hdr[b"content-length"])
        while len(body) < need:
            d = sock.recv(4096 if slow else 65536)
            if not d:
                LAST_CUT[:] = [len(body), need]
                return status, False, True
            body += d
            if slow:
                time.sleep(0.02)
            if big:
                if 65536 < len(body) < need // 3:
                    MID_BODY.set()
        return status, True, True
    if b"chunked" in hdr.get(b"transfer-encoding", b""):
        # Large bodies (kube-state) are streamed: the end is the zero chunk.
        while not body.endswith(b"\r\n0\r\n\r\n"):
            d = sock.recv(4096 if slow else 65536)
            if not d:
                LAST_CUT[:] = [len(body), -1]
                return status, False, True
            body += d
            if slow:
                time.sleep(0.02)
            if big and len(body) > 65536:
                MID_BODY.set()
        return status, True, True
    return status, False, True


def client(port, paths, slow, stop, res, lock, big=False):
    i = 0
    while not stop.is_set():
        path = paths[i % len(paths)]
        i += 1
        s = socket.socket()
        if slow or big:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192 if big else 4096)
        s.settimeout(10)
        try:
            s.connect(("127.0.0.1", port))
        except OSError:
            with lock:
                res["refused"] += 1
            s.close()
            time.sleep(0.05)
            continue
        try:
            s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
            st, complete, started = read_response(s, slow, big)
        except OSError:
            st, complete, started = 0, False, False
        s.close()
        with lock:
            if complete and st == 200:
                res["complete"] += 1
                if slow:
                    res["slow_complete"] += 1
                if big:
                    res["big_complete"] += 1
            elif started:
                res["cut"] += 1
                res["cut_detail"].append({"path": path, "status": st, "slow": slow, "big": big,
                                          "t_after_sigterm": round(time.time() - T_TERM[0], 3) if T_TERM[0] else None,
                                          "got_need": list(LAST_CUT)})
            else:
                res["refused"] += 1


def big_reader(port):
    """Own process: /metrics/kube-state back to back through an 8 KiB receive buffer,
    reading as fast as it can; prints MID when a body is under way, then OK or CUT."""
    while True:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        s.settimeout(10)
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(b"GET /metrics/kube-state HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        except OSError:
            print("REFUSED", flush=True)
            return 0
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = s.recv(8192)
            if not d:
                break
            buf += d
        head, _, body = buf.partition(b"\r\n\r\n")
        need = -1
        for ln in head.split(b"\r\n")[1:]:
            k, _, v = ln.partition(b":")
            if k.strip().lower() == b"content-length":
                need = int(v)
        got = len(body)
        mid = False
        chunked = need < 0
        tail = body[-16:]
        done = got == need
        try:
            while not done:
                d = s.recv(8192)
                if not d:
                    break
                got += len(d)
                tail = (tail + d)[-16:]
                # A streamed (chunked) body ends with the zero chunk.
                done = tail.endswith(b"\r\n0\r\n\r\n") if chunked else got >= need
                if not mid and got > 65536 and (chunked or got < need // 3):
                    print("MID", flush=True)
                    mid = True
        except OSError:
            pass
        s.close()
        print("%s %d %d" % ("OK" if done else "CUT", got, need), flush=True)


def main():
    if sys.argv[1] == "--big-reader":
        return big_reader(int(sys.argv[2]))
    binary, kubeconfig, out = sys.argv[1:4]
    port = free_port()
    logf = open(out + ".log", "w")
    p = subprocess.Popen([binary, "-promscrape.kubernetes", "-kubeconfig=" + kubeconfig,
                          "-nodeName=demo-node-1", "-httpListenAddr=127.0.0.1:%d" % port,
                          "-leaderElection.namespace=default"], stdout=logf, stderr=subprocess.STDOUT)
    import urllib.request
    deadline = time.time() + 20
    leader = False
    while time.time() < deadline and not leader:
        try:
            body = urllib.request.urlopen("http://127.0.0.1:%d/metrics/self" % port, timeout=2).read()
            leader = b'k8smon_leader{lease="default/k8smon"} 1' in body
        except OSError:
            pass
        time.sleep(0.2)
    res = {"complete": 0, "slow_complete": 0, "big_complete": 0, "cut": 0, "refused": 0, "cut_detail": []}
    lock = threading.Lock()
    stop = threading.Event()
    ths = [threading.Thread(target=client, args=(port, ["/metrics", "/metrics/kube-state", "/metrics/node"],
                                                 False, stop, res, lock)) for _ in range(4)]
    ths += [threading.Thread(target=client, args=(port, ["/metrics/node"], True, stop, res, lock)) for _ in range(2)]
    big = subprocess.Popen([sys.executable, __file__, "--big-reader", str(port)], stdout=subprocess.PIPE,
                           universal_newlines=True)

    def big_watch():
        for ln in big.stdout:
            w = ln.split()
            with lock:
                if w[0] == "MID":
                    if res["big_complete"] >= 1:
                        MID_BODY.set()
                elif w[0] == "OK":
                    res["big_complete"] += 1
                    res["complete"] += 1
                elif w[0] == "CUT":
                    res["cut"] += 1
                    res["cut_detail"].append({"path": "/metrics/kube-state", "big": True, "got_need": w[1:],
                                              "t_after_sigterm": round(time.time() - T_TERM[0], 3)
                                              if T_TERM[0] else None})
    ths.append(threading.Thread(target=big_watch))
    for t in ths:
        t.daemon = True
        t.start()
    time.sleep(2.0)
    MID_BODY.clear()
    mid = MID_BODY.wait(10)
    before = dict(res, cut_detail=None)
    t_term = time.time()
    T_TERM[0] = t_term
    p.send_signal(signal.SIGTERM)
    rc = None
    while time.time() - t_term < 10:
        rc = p.poll()
        if rc is not None:
            break
        time.sleep(0.01)
    exit_s = time.time() - t_term
    if rc is None:
        p.kill()
        rc = "still running after 10 s"
    time.sleep(1.0)       # let the slow readers finish what they got
    stop.set()
    for t in ths:
        t.join(timeout=15)
    if big.poll() is None:
        big.kill()
    r = {"leader_before": leader, "sigterm_mid_body": mid, "exit_status": rc, "exit_seconds": round(exit_s, 3),
         "before_sigterm": before, "total": dict(res, cut_detail=res["cut_detail"][:10])}
    json.dump(r, open(out, "w"), indent=1)
    print(json.dumps(r))
    ok = leader and rc == 0 and exit_s <= 2.0 and res["cut"] == 0 and before["complete"] > 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
