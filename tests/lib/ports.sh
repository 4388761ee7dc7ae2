# free_port (POSIX sh): sourced by tests/lib/common.sh and by the scripts that do
# not use the rest of it (tests/peers/apiserver.sh, cluster.sh, the node_exporter
# comparisons). The ports handed out are recorded in $K8SMON_PORTS_FILE; the
# sourcing script removes it when it ends (free_port_cleanup).
K8SMON_PORTS_FILE="${TMPDIR:-/tmp}/k8smon-ports.$$"
free_port_cleanup() { rm -f "$K8SMON_PORTS_FILE"; }
# A free TCP port on loopback: free now, and never one this script was already handed: the kernel may
# give the same ephemeral port to two bind(0) calls once the first is closed,
# and two servers of one test on one port is a test bug (seen in test_scrape).
free_port() {
	python3 - "$K8SMON_PORTS_FILE" <<'PY'
import socket, sys
path = sys.argv[1]
try:
    used = set(open(path).read().split())
except OSError:
    used = set()
for _ in range(1000):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = str(s.getsockname()[1])
    s.close()
    if port not in used:
        break
with open(path, "a") as f:
    f.write(port + "\n")
print(port)
PY
}
