#!/usr/bin/env python3
"""Connection flood against an HTTP server, with scrapes timed meanwhile.

usage: flood.py PORT PID PATH [IDLE SLOW SCRAPES]

Opens IDLE connections that never send a byte and SLOW connections that
send a request head one byte every 2 s (slowloris), all from 127.0.0.1, and
reopens any the server closes, so the pressure lasts. Meanwhile it runs
SCRAPES GETs of PATH one after another, each on a new connection. Prints one
JSON object: per-scrape status and seconds, the peak VmRSS of PID (KiB), the
connections the flood held at the end, and a baseline: the slowest of 10
scrapes before the flood (the same machine, unloaded by the flood).
Used by tests/integration/test_http_flood.sh and bench/flood.sh."""
import json
import socket
import sys
import threading
import time

port, pid, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
n_idle = int(sys.argv[4]) if len(sys.argv) > 4 else 500
n_slow = int(sys.argv[5]) if len(sys.argv) > 5 else 50
n_scrapes = int(sys.argv[6]) if len(sys.argv) > 6 else 50
HEAD = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow\r\n\r\n" % path).encode()


def rss_kib():
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def scrape():
    t0 = time.monotonic()
    status = 0
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" % path).encode())
        data = b""
        while True:
            d = s.recv(1 << 16)
            if not d:
                break
            data += d
        s.close()
        if data.startswith(b"HTTP/1."):
            status = int(data.split(b" ", 2)[1])
    except OSError:
        status = 0
    return status, time.monotonic() - t0


def connect():
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.setblocking(False)
        return s
    except OSError:
        return None


def closed(s):
    try:
        d = s.recv(4096)
        return d == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


stop = threading.Event()
held = {"idle": 0, "slow": 0, "reopened": 0}
peak = [0]


def flood():
    idle = [connect() for _ in range(n_idle)]
    slow = [[connect(), 0] for _ in range(n_slow)]
    last = 0.0
    while not stop.is_set():
        for i, s in enumerate(idle):
            if s is None or closed(s):
                if s is not None:
                    s.close()
                idle[i] = connect()
                held["reopened"] += 1
        now = time.monotonic()
        if now - last >= 2:
            last = now
            for e in slow:
                s, pos = e
                if s is None or closed(s):
                    if s is not None:
                        s.close()
                    e[0], e[1] = connect(), 0
                    held["reopened"] += 1
                    continue
                try:
                    # Never the final byte: the head stays incomplete.
                    if pos < len(HEAD) - 1:
                        s.send(HEAD[pos:pos + 1])
                        e[1] = pos + 1
                except OSError:
                    pass
        peak[0] = max(peak[0], rss_kib())
        time.sleep(0.1)
    held["idle"] = sum(1 for s in idle if s is not None and not closed(s))
    held["slow"] = sum(1 for e in slow if e[0] is not None and not closed(e[0]))
    for s in idle:
        if s is not None:
            s.close()
    for e in slow:
        if e[0] is not None:
            e[0].close()


baseline = max(scrape()[1] for _ in range(10))
rss_before = rss_kib()
th = threading.Thread(target=flood)
th.start()
time.sleep(3)  # every flood connection open (or refused) before the first scrape
results = []
for _ in range(n_scrapes):
    results.append(scrape())
    peak[0] = max(peak[0], rss_kib())
stop.set()
th.join()
print(json.dumps({
    "status": [r[0] for r in results],
    "seconds": [round(r[1], 4) for r in results],
    "baseline_max_s": round(baseline, 4),
    "rss_before_kib": rss_before,
    "rss_peak_kib": peak[0],
    "held_at_end": held,
}))
