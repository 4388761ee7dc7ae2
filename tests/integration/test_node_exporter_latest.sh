#!/bin/sh
# Side by side with the latest node_exporter (the pinned release in
# tests/peers/versions, built by tests/peers/build.sh), twice:
#  1. this machine: node_exporter with its default collectors plus textfile
#     over a test directory (good files, a malformed one, one with
#     timestamps, duplicate series, a HELP conflict), against k8smon's
#     /metrics/node with the same directory;
#  2. node_exporter's own e2e fixture tree (collector/fixtures of the same
#     release, from the Go module cache: proc/ copied, sys.ttar and udev.ttar
#     unpacked into a temp dir, never committed), both binaries pointed at it
#     with --path.procfs/--path.sysfs/--path.rootfs (node_exporter also
#     --path.udev.data, which k8smon takes under rootfs; both read net/dev
#     and net/arp instead of netlink, which would read the live machine).
# compare_node_latest.py: for every family k8smon produces, node_exporter has
# it with the same HELP, TYPE and series; values within one scrape's drift
# live (node_exporter fetched before and after ours), equal on the fixtures.
# Accepted differences: node_exporter_latest.explained (starts empty).
# Families only node_exporter has are printed.
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
VER=$(awk '$1 == "node_exporter" { print $2 }' tests/peers/versions)
PEERS=${K8SMON_PEERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/k8smon-peers}
NE=$PEERS/node_exporter-$VER/bin/node_exporter
SRC=$PEERS/gomod/github.com/prometheus/node_exporter@$VER
EXPLAINED=tests/integration/node_exporter_latest.explained
# node_exporter is an optional peer (not in build.sh's default set): build it
# here (about 30 s cold, a no-op once cached; its module source, fixtures
# included, lands in the same module cache).
if [ ! -x "$NE" ] || [ ! -d "$SRC/collector/fixtures" ]; then
	tests/peers/build.sh node_exporter >/dev/null || true
fi
if [ ! -x "$NE" ] || [ ! -d "$SRC/collector/fixtures" ]; then
	echo "FAIL: need $NE and $SRC (tests/peers/build.sh node_exporter did not build them)"
	exit 1
fi
BIN=${K8SMON_BIN:-bin/k8smon}
if [ ! -x "$BIN" ]; then
	echo "FAIL: need $BIN (make)"
	exit 1
fi
. tests/lib/ports.sh
TMP=$(mktemp -d)
PIDS=""
cleanup() {
	[ "${KEEP:-}" ] && cp "$TMP"/*.log /tmp/ 2>/dev/null
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
	free_port_cleanup
}
trap cleanup EXIT
wait_up() {
	for i in $(seq 100); do
		curl -sf "$1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "FAIL: $1 never answered"
	return 1
}
# compare NAME MODE NE_URL OURS_URL: 3 attempts for live drift (HELP/TYPE/
# series differences repeat every time; a counter racing both fetches does not).
compare() {
	name=$1 mode=$2 neu=$3 ou=$4
	for attempt in 1 2 3; do
		curl -sf "$neu" >"$TMP/$name.ne1" || { echo "FAIL: $name: node_exporter fetch"; return 1; }
		curl -sf "$ou" >"$TMP/$name.ours" || { echo "FAIL: $name: k8smon fetch"; return 1; }
		curl -sf "$neu" >"$TMP/$name.ne2" || { echo "FAIL: $name: node_exporter fetch"; return 1; }
		if python3 tests/integration/compare_node_latest.py $mode "$EXPLAINED" \
			"$TMP/$name.ours" "$TMP/$name.ne1" "$TMP/$name.ne2" >"$TMP/$name.out"; then
			echo "== $name: node_exporter $VER"
			cat "$TMP/$name.out"
			return 0
		fi
		echo "$name: attempt $attempt failed"
		sleep 1
	done
	cat "$TMP/$name.out"
	return 1
}
fail=0

# 1. This machine, with a textfile directory.
TF=$TMP/textfile
mkdir -p "$TF"
cat >"$TF/a.prom" <<'EOF'
# HELP tf_fill Labels some samples lack are added empty.
# TYPE tf_fill gauge
tf_fill{a="1"} 1
tf_fill{b="2"} 2
# TYPE tf_c counter
tf_c_total 5
tf_dup 1
tf_dup 2
tf_cross{x="1"} 1
# HELP tf_hist A histogram.
# TYPE tf_hist histogram
tf_hist_bucket{le="1"} 1
tf_hist_bucket{le="+Inf"} 2
tf_hist_sum 3
tf_hist_count 2
EOF
cat >"$TF/b.prom" <<'EOF'
tf_cross{x="1"} 9
tf_cross{x="2"} 9
# HELP tf_fill Another help: this family is dropped from b.prom.
tf_fill{a="3"} 3
# HELP tf_escaped Escapes \\ and \n in HELP.
tf_escaped{v="q\"uote\\back"} 1
EOF
printf 'garbage{{{ 1\n' >"$TF/bad.prom"
printf 'tf_ts 1 1700000000000\n' >"$TF/ts.prom"
printf 'tf_ignored 1\n' >"$TF/not-prom.txt"
touch -d '2024-01-02 03:04:05' "$TF/a.prom"
NP=$(free_port)
KP=$(free_port)
"$NE" --web.listen-address=127.0.0.1:$NP --collector.textfile.directory="$TF" \
	>"$TMP/ne.log" 2>&1 &
PIDS="$PIDS $!"
"$BIN" -httpListenAddr=127.0.0.1:$KP -collector.textfile.directory="$TF" \
	>"$TMP/k8smon.log" 2>&1 &
PIDS="$PIDS $!"
wait_up "http://127.0.0.1:$NP/metrics" && wait_up "http://127.0.0.1:$KP/metrics/node" || exit 1
compare live "" "http://127.0.0.1:$NP/metrics" "http://127.0.0.1:$KP/metrics/node" || fail=1
# The textfile cases themselves, not only "same as node_exporter".
O=$TMP/live.ours
for want in 'node_textfile_scrape_error 1' 'tf_fill{a="",b="2"} 2' 'tf_dup 1' \
	'tf_cross{x="2"} 9' "node_textfile_mtime_seconds{file=\"$TF/a.prom\"} 1704164645" \
	'node_scrape_collector_success{collector="textfile"} 1'; do
	grep -qxF "$want" "$O" || { echo "FAIL: textfile: no line $want"; fail=1; }
done
for absent in 'tf_dup 2' 'tf_fill{a="3"' 'tf_ts' 'garbage' 'tf_ignored' "file=\"$TF/bad.prom\""; do
	if grep -qF "$absent" "$O"; then echo "FAIL: textfile: unexpected $absent"; fail=1; fi
done
grep -q 'textfile: .*bad.prom: malformed line, file skipped' "$TMP/k8smon.log" || { echo "FAIL: bad.prom not logged"; fail=1; }

# 2. node_exporter's fixture tree.
FX=$TMP/fixtures
mkdir -p "$FX/root/run/udev"
cp -r "$SRC/collector/fixtures/proc" "$FX/proc" && chmod -R u+w "$FX/proc"
(cd "$FX" && bash "$SRC/ttar" -x -f "$SRC/collector/fixtures/sys.ttar" >/dev/null 2>&1 &&
	bash "$SRC/ttar" -x -f "$SRC/collector/fixtures/udev.ttar" >/dev/null 2>&1) ||
	{ echo "FAIL: unpacking the fixture tree"; exit 1; }
ln -s ../../../udev/data "$FX/root/run/udev/data"
NP2=$(free_port)
KP2=$(free_port)
"$NE" --web.listen-address=127.0.0.1:$NP2 --path.procfs="$FX/proc" --path.sysfs="$FX/sys" \
	--path.rootfs="$FX/root" --path.udev.data="$FX/root/run/udev/data" \
	--no-collector.arp.netlink --no-collector.netdev.netlink >"$TMP/ne-fx.log" 2>&1 &
PIDS="$PIDS $!"
"$BIN" -httpListenAddr=127.0.0.1:$KP2 -path.procfs="$FX/proc" -path.sysfs="$FX/sys" \
	-path.rootfs="$FX/root" >"$TMP/k8smon-fx.log" 2>&1 &
PIDS="$PIDS $!"
wait_up "http://127.0.0.1:$NP2/metrics" && wait_up "http://127.0.0.1:$KP2/metrics/node" || exit 1
compare fixtures --static "http://127.0.0.1:$NP2/metrics" "http://127.0.0.1:$KP2/metrics/node" || fail=1
# The fixture tree must really exercise the new collectors.
for fam in node_sockstat_TCP_inuse node_softnet_processed_total node_udp_queues \
	node_arp_entries node_nf_conntrack_stat_found node_entropy_available_bits \
	node_schedstat_running_seconds_total node_bonding_active node_thermal_zone_temp \
	node_cooling_device_cur_state node_cpu_scaling_governor node_cpu_scaling_frequency_max_hertz \
	node_cpu_core_throttles_total node_cpu_package_throttles_total \
	node_md_disks node_md_state node_md_blocks_synced node_md_raid_disks node_md_degraded \
	node_hwmon_temp_celsius node_hwmon_chip_names node_hwmon_sensor_label node_hwmon_fan_rpm \
	node_hwmon_in_volts node_hwmon_freq_freq_mhz node_hwmon_pwm_enable \
	node_power_supply_info node_power_supply_online node_power_supply_energy_watthour; do
	grep -q "^$fam" "$TMP/fixtures.ours" || { echo "FAIL: fixtures: no $fam"; fail=1; }
done
[ $fail -eq 0 ] && echo "node_exporter $VER side by side: ok"
exit $fail
