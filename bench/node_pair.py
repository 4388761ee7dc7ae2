#!/usr/bin/env python3
"""Paired CPU comparison of k8smon binaries on /metrics/node (the method of
BENCHMARKS.md "issue 18 CPU, second pass"): all binaries run at once in host
mode, each is scraped in alternating batches over one keep-alive connection,
and the on-CPU time of all its threads is read from /proc/PID/task/*/schedstat
(ns, not clock ticks) around each batch. Prints µs per scrape per binary
(median of the batches) and the median of the per-batch ratios to the first
binary, which cancels most of the load other processes put on the machine.

  bench/node_pair.py [-b BATCHES] [-n SCRAPES] BASE_BIN OTHER_BIN...
"""
import argparse, http.client, os, socket, statistics, subprocess, sys, time


def oncpu(pid):
    t = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            t += int(open(f"/proc/{pid}/task/{tid}/schedstat").read().split()[0])
        except OSError:
            pass  # a thread that exited
    return t


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-b", type=int, default=30, help="batches per binary")
    ap.add_argument("-n", type=int, default=200, help="scrapes per batch")
    ap.add_argument("bins", nargs="+")
    a = ap.parse_args()
    srv = []
    try:
        for b in a.bins:
            port = free_port()
            p = subprocess.Popen([b, f"-httpListenAddr=127.0.0.1:{port}"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            srv.append({"bin": b, "proc": p, "port": port, "us": []})
        for s in srv:
            for _ in range(100):
                try:
                    s["conn"] = http.client.HTTPConnection("127.0.0.1", s["port"], timeout=30)
                    s["conn"].request("GET", "/metrics/node")
                    s["conn"].getresponse().read()
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                sys.exit(f"{s['bin']} does not answer")
            for _ in range(50):  # warm-up
                s["conn"].request("GET", "/metrics/node")
                s["conn"].getresponse().read()
        ratios = [[] for _ in srv]
        for _ in range(a.b):
            for s in srv:
                t0 = oncpu(s["proc"].pid)
                for _ in range(a.n):
                    s["conn"].request("GET", "/metrics/node")
                    s["conn"].getresponse().read()
                s["us"].append((oncpu(s["proc"].pid) - t0) / a.n / 1000)
            for i, s in enumerate(srv):
                ratios[i].append(s["us"][-1] / srv[0]["us"][-1])
        print(f"load average {os.getloadavg()[0]:.1f}; {a.b} batches of {a.n} scrapes")
        for i, s in enumerate(srv):
            hwm = [l.split()[1] for l in open(f"/proc/{s['proc'].pid}/status") if l.startswith("VmHWM")][0]
            print(f"{s['bin']}: {statistics.median(s['us']):.0f} µs/scrape, "
                  f"ratio to {srv[0]['bin']} {statistics.median(ratios[i]):.3f}, VmHWM {hwm} KiB")
    finally:
        for s in srv:
            s["proc"].terminate()
            s["proc"].wait()


if __name__ == "__main__":
    main()
