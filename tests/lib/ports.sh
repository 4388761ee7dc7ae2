# free_port (POSIX sh): sourced by tests/lib/common.sh and by the scripts that do
# not use the rest of it (tests/peers/apiserver.sh, cluster.sh, the node_exporter
# comparisons). The ports handed out are recorded in $K8SMON_PORTS_FILE; the
# sourcing script removes it when it ends (free_port_cleanup).
K8SMON_PORTS_FILE="${TMPDIR:-/tmp}/k8smon-ports.$$"
free_port_cleanup() { rm -f "$K8SMON_PORTS_FILE"; }
# A free TCP port on loopback: free now, and never one this script was already handed: the kernel may
# give the same ephemeral port to two bind(0) calls once the first is closed,
# and two servers of one test on one port is a test bug (seen in test_scrape).
free_port() { _pick_port ephemeral; }
# The same, below the kernel's ephemeral range, for a server that starts long
# after the port is chosen (make demo builds and loads its cluster first): a
# port of free_port can meanwhile be given to any bind(0) or outgoing
# connection on the machine (CI saw the demo's agent refused with "Address
# already in use"); one below the range is only ever taken on purpose.
free_port_low() { _pick_port low; }
_pick_port() {
	python3 - "$K8SMON_PORTS_FILE" "$1" <<'PY'
import random, socket, sys
path, mode = sys.argv[1], sys.argv[2]
try:
    used = set(open(path).read().split())
except OSError:
    used = set()
low = 32768
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError, IndexError):
    pass
low = max(low, 22000)
for _ in range(1000):
    want = 0 if mode == "ephemeral" else random.randrange(20000, low)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", want))
        port = str(s.getsockname()[1])
    except OSError:
        continue
    finally:
        s.close()
    if port not in used:
        break
else:
    sys.exit("free_port: no free port (%s)" % mode)
with open(path, "a") as f:
    f.write(port + "\n")
print(port)
PY
}
