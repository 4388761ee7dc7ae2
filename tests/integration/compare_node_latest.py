#!/usr/bin/env python3
"""Compare k8smon /metrics/node with node_exporter (latest release) (stdlib only).

usage: compare_node_latest.py [--static] EXPLAINED OURS NE_BEFORE NE_AFTER

NE_BEFORE and NE_AFTER are node_exporter fetches taken just before and just
after OURS. For every family k8smon produces: node_exporter has it, with the
same HELP, TYPE and set of series (label sets); each value lies within one
scrape's drift of node_exporter's: inside [min, max] of its two fetches
widened by their difference (plus a small allowance for machine-wide gauges
that move by absolute amounts). --static (the fixture tree: nothing moves)
demands equal values. Families in VOLATILE are compared by series only.
node_scrape_collector_success must agree for every collector both run.

EXPLAINED lists accepted differences, one per line: "<family> <reason>"
(the family's mismatches are printed but do not fail). Families node_exporter
has and k8smon does not are printed as a list (not an error).
Exit status 1 on any unexplained mismatch.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_node import parse  # noqa: E402  (one exposition parser for both comparisons)

# Values that are a moment in time, or follow the scrapers themselves.
VOLATILE = {
    "node_time_seconds", "node_scrape_collector_duration_seconds",
    "node_procs_running", "node_procs_blocked",
    "node_load1", "node_load5", "node_load15",
    "node_filefd_allocated", "node_nf_conntrack_entries",
    "node_netstat_Tcp_CurrEstab", "node_disk_io_now",
    "node_timex_offset_seconds", "node_timex_frequency_adjustment_ratio",
    "node_timex_maxerror_seconds", "node_timex_estimated_error_seconds",
    "node_exporter_build_info",      # our version, not node_exporter's
    # Sockets the scrapers themselves open and close (HTTP connections).
    "node_sockstat_TCP_alloc", "node_sockstat_TCP_inuse", "node_sockstat_TCP_mem",
    "node_sockstat_TCP_mem_bytes", "node_sockstat_TCP_tw", "node_sockstat_TCP_orphan",
    "node_sockstat_sockets_used", "node_sockstat_TCP6_inuse",
    "node_entropy_available_bits",
    "node_udp_queues",
}
# Families whose label values are the exporter's own identity: label names
# are compared, not values.
NAMES_ONLY = {"node_exporter_build_info"}
# Gauges of the whole machine that move by absolute amounts between fetches
# (other processes allocate memory and write to disk): fraction, floor.
DRIFT = {
    "node_memory_": (0.01, 8 * 1024 * 1024),
    "node_vmstat_": (0.01, 0),
    "node_filesystem_avail_bytes": (0.001, 64 * 1024 * 1024),
    "node_filesystem_free_bytes": (0.001, 64 * 1024 * 1024),
    "node_filesystem_files_free": (0.001, 1000),
}

def family_of(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and types.get(name[: -len(suffix)]) in ("histogram", "summary"):
            return name[: -len(suffix)]
    return name


def explained(path):
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                fam, _, why = line.partition(" ")
                out[fam] = why
    return out


def main():
    args = sys.argv[1:]
    static = False
    if args and args[0] == "--static":
        static = True
        args = args[1:]
    if len(args) != 4:
        raise SystemExit(__doc__)
    expl = explained(args[0])
    oh, ot, os_ = parse(args[1])
    nh, nt, n1 = parse(args[2])
    _, _, n2 = parse(args[3])
    errors = {}

    def err(fam, msg):
        errors.setdefault(fam, []).append(msg)

    for fam in sorted(oh):
        if fam not in nh:
            err(fam, "node_exporter has no such family")
            continue
        if oh[fam] != nh[fam]:
            err(fam, f"HELP {oh[fam]!r} != {nh[fam]!r}")
        if ot.get(fam) != nt.get(fam):
            err(fam, f"TYPE {ot.get(fam)} != {nt.get(fam)}")
        ours = os_.get(fam, {})
        a, b = n1.get(fam, {}), n2.get(fam, {})
        if fam.startswith("node_scrape_collector_"):
            # We run fewer collectors: compare those both run.
            ours = {k: v for k, v in ours.items() if k in a}
            a = {k: v for k, v in a.items() if k in ours}
        if fam in NAMES_ONLY:
            on = {tuple(n for n, _ in k) for k in ours}
            nn = {tuple(n for n, _ in k) for k in a}
            if on != nn:
                err(fam, f"label names {sorted(on)} != {sorted(nn)}")
            continue
        if set(ours) != set(a):
            only_o = sorted(set(ours) - set(a))
            only_n = sorted(set(a) - set(ours))
            # A series that came or went between the two fetches is drift.
            only_o = [k for k in only_o if k not in b]
            only_n = [k for k in only_n if k in b]
            if only_o or only_n:
                err(fam, f"series only ours {only_o[:3]}, only node_exporter {only_n[:3]}"
                         f" ({len(only_o)}/{len(only_n)})")
        if fam in VOLATILE:
            continue
        for k, v in ours.items():
            if k not in a:
                continue
            x = a[k]
            y = b.get(k, x)
            lo, hi = min(x, y), max(x, y)
            if static and not any(fam.startswith(p) for p in DRIFT):
                # node_filesystem_* of a fixture tree statfs() the live disk.
                ok = v == x
            else:
                w = hi - lo
                slack = w
                for prefix, (frac, floor) in DRIFT.items():
                    if fam.startswith(prefix):
                        slack = max(w, frac * abs(hi), floor)
                ok = lo - slack - 1e-9 <= v <= hi + slack + 1e-9
            if not ok:
                err(fam, f"{dict(k)}: ours {v} node_exporter {x} .. {y}")
    missing = sorted(f for f in set(nh) - set(oh)
                     if not re.match(r"^(go|process|promhttp)_", f))
    print(f"k8smon families: {len(oh)}; node_exporter families: {len(nh)}; "
          f"node_exporter only: {len(missing)}")
    for f in missing:
        print("  NE-ONLY", f)
    fail = 0
    for fam, msgs in sorted(errors.items()):
        tag = "EXPLAINED" if fam in expl else "MISMATCH"
        if fam not in expl:
            fail = 1
        for m in msgs[:5]:
            print(f"{tag} {fam}: {m}")
    for fam in sorted(set(expl) - set(errors)):
        print(f"STALE explanation (no difference any more): {fam}")
    return fail


if __name__ == "__main__":
    sys.exit(main())
