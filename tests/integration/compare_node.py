#!/usr/bin/env python3
"""Compare k8smon /metrics/node with node-exporter's /metrics (stdlib only).

usage: compare_node.py OURS.txt THEIRS.txt [OURS_AFTER.txt]

THEIRS is the pinned upstream node_exporter (tests/peers/versions, built by
tests/peers/build.sh) with its default collectors, on the same machine.

- Every family node-exporter exports must be in ours, unless NOT_OURS names
  it with the reason: losing a family fails.
- For every family both expose: identical HELP and TYPE, identical label-name
  sets, the same SET of series (node_network_* included: losing one interface
  fails), and values that agree (memory within 1 % or 4 MiB, counters within
  2 %, both fetched back to back). With OURS_AFTER (ours fetched again right
  after THEIRS) a node_memory_* value of node-exporter's between our two is
  equal: machine-wide memory moves by tens of MB while other processes build,
  and the bracket follows it; a unit error (kB vs bytes) is still far outside.
Exit status 1 on any mismatch.
"""
import re
import sys

# Families whose value is a moment in time or moves too fast to compare.
VOLATILE = {
    "node_time_seconds",               # wall clock at fetch time
    "node_scrape_collector_duration_seconds",
    "node_procs_running",              # instantaneous, includes the scrapers
    "node_procs_blocked",
    "node_load1", "node_load5", "node_load15",  # rounded kernel averages move
    "node_filefd_allocated",           # the two processes open sockets/files
    "node_nf_conntrack_entries",
    "node_netstat_Tcp_CurrEstab",      # our own HTTP connections
    "node_disk_io_now",
    "node_memory_MemFree_bytes", "node_memory_MemAvailable_bytes",  # checked at 1 % below
    "node_timex_offset_seconds", "node_timex_frequency_adjustment_ratio",
    "node_timex_maxerror_seconds", "node_timex_estimated_error_seconds",
}
# Families whose series sets differ on purpose.
# Socket counts change with every connection the two fetches themselves make.
VOLATILE_PREFIXES = ("node_sockstat_", "node_udp_queues")
SERIES_DIFF = {
    # One series per collector that ran: we run only our collectors.
    "node_scrape_collector_",
    # Each process's own build (version, revision, goversion differ by design).
    "node_exporter_build_info",
    # Present only when node_exporter's textfile directory is set (it is not here).
    "node_textfile_",
}
# Series one side has on purpose, as (family prefix, label, regex on value).
IGNORE_SERIES = []
# Families node-exporter has and we do not export, by prefix, with the reason.
# Anything else node-exporter has and we lack is a lost family: failure.
NOT_OURS = {
    "go_": "node-exporter's own Go runtime",
    "process_": "node-exporter's own process (ours are on /metrics)",
    "promhttp_": "node-exporter's own HTTP handler",
    "node_selinux_": "selinux collector: not implemented",
    "node_kernel_hung_tasks_total": "added in node_exporter v1.10 (stat collector): not implemented",
    "node_filesystem_purgeable_bytes": "added in node_exporter v1.11: not implemented",
}
# Gauges that follow the two processes' own thread counts (5 % instead of 1 %).
LOOSE = {"node_memory_KernelStack_bytes", "node_memory_PageTables_bytes",
         "node_memory_Committed_AS_bytes", "node_memory_Active_anon_bytes",
         "node_memory_AnonPages_bytes", "node_memory_Percpu_bytes"}
# Absolute slack for node_memory_* gauges, on top of the relative tolerance.
MEM_FLOOR = 4 * 1024 * 1024
# Label names node-exporter has and we do not, per family prefix (a gap each).
LABELS_ALLOW = {}

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(path):
    help_, type_, series = {}, {}, {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("# HELP "):
                name, _, text = line[7:].partition(" ")
                help_[name] = text
            elif line.startswith("# TYPE "):
                name, _, t = line[7:].partition(" ")
                type_[name] = t
            elif line and not line.startswith("#"):
                m = LINE.match(line)
                if not m:
                    raise SystemExit(f"{path}: bad line {line!r}")
                labels = tuple(sorted(LABEL.findall(m.group(3) or "")))
                series.setdefault(m.group(1), {})[labels] = float(m.group(4))
    return help_, type_, series


def allowed_labels(fam):
    for prefix, names in LABELS_ALLOW.items():
        if fam.startswith(prefix):
            return names
    return set()


def strip(labels, drop):
    return tuple(l for l in labels if l[0] not in drop)


def ignored(fam, labels):
    d = dict(labels)
    for prefix, label, rx in IGNORE_SERIES:
        if fam.startswith(prefix) and label in d and rx.search(d[label]):
            return True
    return False


def main():
    ours_h, ours_t, ours_s = parse(sys.argv[1])
    ne_h, ne_t, ne_s = parse(sys.argv[2])
    after_s = parse(sys.argv[3])[2] if len(sys.argv) > 3 else {}
    errors = []
    common = sorted(set(ours_h) & set(ne_h))
    for fam in sorted(set(ne_h) - set(ours_h)):
        if not any(fam.startswith(p) for p in NOT_OURS):
            errors.append(f"{fam}: node-exporter has this family and we do not")
    for fam in common:
        if ours_h[fam] != ne_h[fam]:
            errors.append(f"{fam}: HELP {ours_h[fam]!r} != {ne_h[fam]!r}")
        if ours_t.get(fam) != ne_t.get(fam):
            errors.append(f"{fam}: TYPE {ours_t.get(fam)} != {ne_t.get(fam)}")
        drop = allowed_labels(fam)
        os_ = {strip(k, drop): v for k, v in ours_s.get(fam, {}).items() if not ignored(fam, k)}
        ns_ = {strip(k, drop): v for k, v in ne_s.get(fam, {}).items() if not ignored(fam, k)}
        onames = {tuple(n for n, _ in k) for k in os_}
        nnames = {tuple(n for n, _ in k) for k in ns_}
        if onames and nnames and onames != nnames:
            errors.append(f"{fam}: label names {sorted(onames)} != {sorted(nnames)}")
            continue
        if not any(fam.startswith(p) for p in SERIES_DIFF):
            if set(os_) != set(ns_):
                errors.append(f"{fam}: series only ours {sorted(set(os_) - set(ns_))[:3]}, "
                              f"only node-exporter {sorted(set(ns_) - set(os_))[:3]}")
        if fam in VOLATILE or fam.startswith(VOLATILE_PREFIXES):
            continue
        tol = 0.01 if fam.startswith("node_memory_") else 0.02
        if fam in LOOSE:
            tol = 0.05
        for k in set(os_) & set(ns_):
            a, b = os_[k], ns_[k]
            if a == b:
                continue
            # Machine-wide memory gauges move by absolute amounts (other
            # processes allocate between the fetches): a small field such as
            # Inactive_anon (~11 MB) moved 2 % on a busy CI machine. A unit
            # error (kB vs bytes) is still far outside 4 MiB.
            floor = MEM_FLOOR if fam.startswith("node_memory_") else 0
            a2 = after_s.get(fam, {}).get(k)
            if floor and a2 is not None and min(a, a2) - floor <= b <= max(a, a2) + floor:
                continue
            if abs(a - b) > max(tol * max(abs(a), abs(b)), floor) + 1e-9:
                # Counters that move by a few units between the fetches.
                if ne_t.get(fam) in ("counter", "untyped") and abs(a - b) <= 50:
                    continue
                errors.append(f"{fam}{dict(k)}: {a} vs {b}")
    # Memory gauges that move: 1 %.
    for fam in ("node_memory_MemFree_bytes", "node_memory_MemAvailable_bytes"):
        a = ours_s.get(fam, {}).get((), None)
        b = ne_s.get(fam, {}).get((), None)
        a2 = after_s.get(fam, {}).get((), None)
        if a is None or b is None:
            errors.append(f"{fam}: missing")
        elif a2 is not None and min(a, a2) <= b <= max(a, a2):
            pass
        elif abs(a - b) > 0.01 * max(a, b):
            errors.append(f"{fam}: {a} vs {b} (> 1 %)")
    print(f"compared {len(common)} common families; "
          f"only ours: {len(set(ours_h) - set(ne_h))}, only node-exporter: {len(set(ne_h) - set(ours_h))}")
    for e in errors:
        print("MISMATCH", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
