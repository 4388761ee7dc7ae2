#!/bin/sh
# The systemd collector (off by default; -collector.systemd) side by side
# with node_exporter (the pinned release, tests/peers/versions) against one
# fake systemd manager (tests/systemd/fake_systemd.py, python3-dbus) on a
# private dbus-daemon, both told where the bus is by DBUS_SYSTEM_BUS_ADDRESS:
#  1. default unit filters plus the task/restarts/start-time metrics: the
#     node_systemd_* families equal (HELP, TYPE, label sets, values) over
#     units in every state, one not loaded, default-excluded ones
#     (.mount/.slice/.device), odd names (systemd's \x2d, '@', ':', a leading
#     digit), a property the manager refuses, an old socket without NRefused;
#  2. custom -collector.systemd.unit-include/-exclude: the same, which also
#     proves both are anchored as node_exporter anchors them; the same
#     manager peer to peer on <path.rootfs>/run/systemd/private (the
#     -collector.systemd.private flag, and the root fallback without a bus);
#  3. without -collector.systemd no node_systemd_* and no systemd collector;
#  4. a bus that answers garbage (malformed messages), a manager answering a
#     property with the wrong type, a socket that never answers (the 4 s
#     D-Bus deadline) and no bus at all: systemd's
#     node_scrape_collector_success is 0, k8smon_collector_errors_total
#     counts it, the other collectors still report, the agent stays up.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/common.sh
VER=$(awk '$1 == "node_exporter" { print $2 }' tests/peers/versions)
PEERS=${K8SMON_PEERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/k8smon-peers}
NE=$PEERS/node_exporter-$VER/bin/node_exporter
PY=/usr/bin/python3   # Debian's: python3-dbus and python3-gi (.ci/deps.sh)
BIN=${K8SMON_BIN:-bin/k8smon}
[ -x "$NE" ] || tests/peers/build.sh node_exporter >/dev/null || true
for need in "$NE" "$BIN" "$(command -v dbus-daemon)"; do
	[ -x "$need" ] || { echo "FAIL: need $need (tests/peers/build.sh node_exporter, make, .ci/deps.sh)"; exit 1; }
done
$PY -c 'import dbus, dbus.mainloop.glib, gi.repository.GLib' ||
	{ echo "FAIL: $PY lacks python3-dbus/python3-gi (.ci/deps.sh)"; exit 1; }
TMP=$(mktemp -d)
PIDS=""
cleanup() {
	stop_pids $PIDS
	[ "${KEEP:-}" ] && cp -r "$TMP" /tmp/test_node_systemd.keep
	rm -rf "$TMP"
	free_port_cleanup
}
trap cleanup EXIT
cat >"$TMP/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:path=$TMP/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
dbus-daemon --config-file="$TMP/bus.conf" --nofork >"$TMP/dbus.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 30 test -S "$TMP/bus" || { echo "FAIL: dbus-daemon did not start"; cat "$TMP/dbus.log"; exit 1; }
ADDR="unix:path=$TMP/bus"
# start_fake LOG [ENV...]: the fake manager on the bus, waits for "ready"
start_fake() {
	log=$1; shift
	env "$@" $PY tests/systemd/fake_systemd.py "$ADDR" >"$log" 2>&1 &
	FAKE=$!
	PIDS="$PIDS $FAKE"
	wait_for 30 grep -q ready "$log" || { echo "FAIL: fake systemd did not start"; cat "$log"; exit 1; }
}
start_fake "$TMP/fake.log"

ALL="--collector.systemd.enable-task-metrics --collector.systemd.enable-restarts-metrics --collector.systemd.enable-start-time-metrics"
# side NAME MIN_SERIES FLAGS...: both exporters with FLAGS on the fake's bus
side() {
	name=$1 min=$2; shift 2
	np=$(free_port) kp=$(free_port)
	DBUS_SYSTEM_BUS_ADDRESS=$ADDR "$NE" --web.listen-address=127.0.0.1:$np \
		--collector.disable-defaults --collector.systemd "$@" >"$TMP/$name.ne.log" 2>&1 &
	p1=$!
	DBUS_SYSTEM_BUS_ADDRESS=$ADDR "$BIN" -httpListenAddr=127.0.0.1:$kp \
		-collector.disable-defaults -collector.systemd "$@" >"$TMP/$name.k.log" 2>&1 &
	p2=$!
	PIDS="$PIDS $p1 $p2"
	if wait_http "http://127.0.0.1:$np/metrics" && wait_http "http://127.0.0.1:$kp/metrics/node" &&
		curl -sf "http://127.0.0.1:$np/metrics" >"$TMP/$name.ne" &&
		curl -sf "http://127.0.0.1:$kp/metrics/node" >"$TMP/$name.k" &&
		python3 tests/systemd/compare_systemd.py "$TMP/$name.k" "$TMP/$name.ne" "$min" >"$TMP/$name.cmp"; then
		ok "$name: node_systemd_* equal to node_exporter $VER ($(head -1 "$TMP/$name.cmp"))"
	else
		fail "$name: node_systemd_* differ from node_exporter $VER"
		sed 's/^/    /' "$TMP/$name.cmp" 2>/dev/null
	fi
	grep -qxF 'node_scrape_collector_success{collector="systemd"} 1' "$TMP/$name.k" ||
		fail "$name: k8smon's systemd collector did not succeed"
	stop_pids $p1 $p2
}
# 1. default filters, every optional family
side defaults 90 $ALL
K=$TMP/defaults.k
for want in 'node_systemd_unit_state{name="odd\\x2dname@inst:1.service",state="active",type="simple"} 1' \
	'node_systemd_unit_state{name="notype.service",state="active",type=""} 1' \
	'node_systemd_units{state="reloading"} 1' 'node_systemd_units{state="inactive"} 2' \
	'node_systemd_version{version="252.38-1~deb12u1"} 252.38' \
	'node_systemd_virtualization_info{virtualization_type="none"} 1' \
	'node_systemd_system_running 0'; do
	check "defaults: has $want" grep -qxF "$want" "$K"
done
for absent in 'name="home.mount"' 'name="user.slice"' 'name="dev-sda.device"' 'name="gone.service"' \
	'node_systemd_socket_refused_connections_total{name="old.socket"}' \
	'node_systemd_unit_tasks_max{name="cron.service"}'; do
	if grep -qF "$absent" "$K"; then fail "defaults: unexpected $absent"; else ok "defaults: no $absent"; fi
done
# 2. anchored include/exclude: "ssh" alone matches no unit name, ".*\.mount"
# takes home.mount back in; "old" excludes nothing, "dbus\..*" the socket.
side filters 20 --collector.systemd.unit-include='ssh|.*\.mount|.*\.socket' \
	--collector.systemd.unit-exclude='old|dbus\..*'
K=$TMP/filters.k
check "filters: home.mount in, with its Mount.Type" grep -qF 'name="home.mount",state="active",type="ext4"} 1' "$K"
check "filters: old.socket in (exclude anchored)" grep -qF 'node_systemd_socket_accepted_connections_total{name="old.socket"} 9' "$K"
if grep -qF 'name="ssh.service"' "$K" || grep -qF 'name="dbus.socket"' "$K"; then
	fail "filters: ssh.service or dbus.socket present (include/exclude not anchored as node_exporter)"
else
	ok "filters: ssh.service and dbus.socket filtered out"
fi

# 2b. systemd's private socket (peer to peer, no Hello) under -path.rootfs:
# with -collector.systemd.private, and as the fallback when the system bus
# is absent (root only, as node_exporter; CI runs as root). Compared with
# node_exporter's run over the bus in 1 (same fake data).
mkdir -p "$TMP/root/run/systemd"
$PY tests/systemd/fake_systemd.py --private "unix:path=$TMP/root/run/systemd/private" >"$TMP/private.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 30 grep -q ready "$TMP/private.log" || { fail "private fake did not start"; cat "$TMP/private.log"; }
[ "$(id -u)" = 0 ] || fail "not root: the private-socket fallback is root-only (run as root, as CI does)"
for how in "-collector.systemd.private" "-collector.systemd"; do
	kp=$(free_port)
	env -u DBUS_SYSTEM_BUS_ADDRESS "$BIN" -httpListenAddr=127.0.0.1:$kp -path.rootfs="$TMP/root" \
		-collector.disable-defaults -collector.systemd $how $ALL >"$TMP/private.k.log" 2>&1 &
	p=$!
	PIDS="$PIDS $p"
	if wait_http "http://127.0.0.1:$kp/metrics/node" && curl -sf "http://127.0.0.1:$kp/metrics/node" >"$TMP/private.k" &&
		python3 tests/systemd/compare_systemd.py "$TMP/private.k" "$TMP/defaults.ne" 90 >"$TMP/private.cmp"; then
		ok "private socket ($how): node_systemd_* equal to node_exporter's over the bus"
	else
		fail "private socket ($how): node_systemd_* differ"
		sed 's/^/    /' "$TMP/private.cmp" 2>/dev/null
	fi
	stop_pids $p
done

# 3. off by default
kp=$(free_port)
DBUS_SYSTEM_BUS_ADDRESS=$ADDR "$BIN" -httpListenAddr=127.0.0.1:$kp >"$TMP/off.log" 2>&1 &
p=$!
PIDS="$PIDS $p"
wait_http "http://127.0.0.1:$kp/metrics/node" && curl -sf "http://127.0.0.1:$kp/metrics/node" >"$TMP/off.k"
if grep -qE 'node_systemd_|collector="systemd"' "$TMP/off.k"; then fail "off by default: systemd ran"
elif grep -qxF 'node_scrape_collector_success{collector="cpu"} 1' "$TMP/off.k"; then ok "off by default: no systemd, cpu ran"
else fail "off by default: no node output"; fi
stop_pids $p

# 4. failures: each a counted systemd failure, the rest unaffected
# bad ADDRESS NAME: three scrapes of an agent whose bus is ADDRESS
bad() {
	addr=$1 name=$2
	kp=$(free_port)
	DBUS_SYSTEM_BUS_ADDRESS=$addr "$BIN" -httpListenAddr=127.0.0.1:$kp -collector.systemd >"$TMP/$name.log" 2>&1 &
	p=$!
	PIDS="$PIDS $p"
	wait_http "http://127.0.0.1:$kp/metrics/node" || { fail "$name: agent did not start"; return; }
	good=0
	for i in 1 2 3; do
		curl -sf "http://127.0.0.1:$kp/metrics/node" >"$TMP/$name.k" || break
		grep -qxF 'node_scrape_collector_success{collector="systemd"} 0' "$TMP/$name.k" &&
			grep -qxF 'node_scrape_collector_success{collector="cpu"} 1' "$TMP/$name.k" &&
			grep -q '^node_load1 ' "$TMP/$name.k" &&
			! grep -q '^node_systemd_' "$TMP/$name.k" && good=$((good + 1))
	done
	curl -sf "http://127.0.0.1:$kp/metrics/self" >"$TMP/$name.self"
	if [ $good -eq 3 ] && kill -0 $p 2>/dev/null &&
		grep -Eq '^k8smon_collector_errors_total\{collector="node.systemd"\} [3-9]' "$TMP/$name.self"; then
		ok "$name: systemd success 0 and counted 3 times, cpu/loadavg fine, agent up"
	else
		fail "$name: good scrapes $good/3 (or agent down, or errors not counted)"
		grep -E 'systemd' "$TMP/$name.self" "$TMP/$name.log" | head -5 | sed 's/^/    /'
	fi
	stop_pids $p
}
$PY tests/systemd/fake_systemd.py --garbage "$TMP/garbage.sock" >"$TMP/garbage.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 30 grep -q ready "$TMP/garbage.log" || { fail "garbage server did not start"; finish; }
bad "unix:path=$TMP/garbage.sock" garbage
bad "unix:path=$TMP/no-such-bus" nobus
$PY tests/systemd/fake_systemd.py --hang "$TMP/hang.sock" >"$TMP/hang-srv.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 30 grep -q ready "$TMP/hang-srv.log" || { fail "hanging server did not start"; finish; }
bad "unix:path=$TMP/hang.sock" hang
stop_pids $FAKE
start_fake "$TMP/fake-badtype.log" FAKE_SYSTEMD_BADTYPE=1
bad "$ADDR" badtype
finish
