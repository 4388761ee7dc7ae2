#!/bin/sh
# netclass on live sysfs follows renamed and re-created network devices.
# k8smon keeps the attribute descriptors of /sys/class/net/<dev>/* between
# scrapes, tagged with the inode of the class/net entry (on sysfs the link
# itself, lstat()ed: its inode names the name->device binding). In a private
# network and mount namespace (root, sysfs mounted for it): devices a0 and b0
# are scraped; then a0 -> c0 and b0 -> a0: the next scrape must give a0 b0's
# ifindex and c0 a0's (a descriptor kept for a0/ifindex must not answer for
# the old a0); then a0 is deleted and a new a0 created: its own ifindex.
# Attributes the kernel refuses for a down device are left out exactly then.
set -u
cd "$(dirname "$0")/../.."
BIN=${K8SMON_BIN:-bin/k8smon}
if [ ! -x "$BIN" ]; then
	echo "FAIL: need $BIN (make)"
	exit 1
fi
if ! command -v unshare >/dev/null || ! command -v ip >/dev/null; then
	echo "FAIL: need unshare (util-linux) and ip (iproute2, .ci/deps.sh)"
	exit 1
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cat >"$TMP/inner.sh" <<'INNER'
set -u
BIN=$1 TMP=$2
fail() { echo "FAIL: $*"; kill "$KPID" 2>/dev/null; exit 1; }
# Any device type the kernel has (dummy and ifb are modules on some kernels).
mk() {
	ip link add "$1" type dummy 2>/dev/null || ip link add "$1" type ifb 2>/dev/null ||
		ip link add "$1" type veth peer name "p$1" 2>/dev/null
}
KPID=
mount -t sysfs sysfs /sys || fail "cannot mount sysfs in the new namespaces"
ip link set lo up || fail "lo up"
mk a0 && mk b0 || fail "cannot create network devices (dummy, ifb, veth)"
ia=$(cat /sys/class/net/a0/ifindex) ib=$(cat /sys/class/net/b0/ifindex)
"$BIN" -httpListenAddr=127.0.0.1:19420 -path.sysfs=/sys >"$TMP/k8smon.log" 2>&1 &
KPID=$!
up=0
for i in $(seq 100); do
	curl -sf http://127.0.0.1:19420/metrics/node >"$TMP/m" 2>/dev/null && { up=1; break; }
	sleep 0.1
done
[ $up = 1 ] || fail "k8smon never answered ($(tail -3 "$TMP/k8smon.log"))"
id() { # device -> node_network_iface_id of the last scrape ("" if absent)
	sed -n "s/^node_network_iface_id{device=\"$1\"} //p" "$TMP/m"
}
scrape() { curl -sf http://127.0.0.1:19420/metrics/node >"$TMP/m" || fail "scrape"; }
scrape
[ "$(id a0)" = "$ia" ] && [ "$(id b0)" = "$ib" ] || fail "first scrape: a0=$(id a0) (want $ia) b0=$(id b0) (want $ib)"
scrape
ip link set a0 name c0 && ip link set b0 name a0 || fail "rename"
scrape
[ "$(id a0)" = "$ib" ] || fail "after the swap a0 has ifindex $(id a0), want $ib (b0's)"
[ "$(id c0)" = "$ia" ] || fail "after the swap c0 has ifindex $(id c0), want $ia"
[ -z "$(id b0)" ] || fail "b0 still listed after its rename"
ip link del a0 || fail "delete"
mk a0 || fail "re-create a0"
ic=$(cat /sys/class/net/a0/ifindex)
scrape
[ "$(id a0)" = "$ic" ] || fail "re-created a0 has ifindex $(id a0), want $ic"
# On sysfs carrier_changes is the sum of carrier_up_count and
# carrier_down_count (net-sysfs.c since 4.16) and k8smon adds them instead of
# reading the file: after carrier flaps the sum must equal the kernel's file.
ip link add f0 type veth peer name pf0 2>/dev/null || ip link add f0 type dummy 2>/dev/null ||
	fail "cannot create a veth or dummy device"
ip link set f0 up || fail "f0 up"
flap() { # dummy takes carrier writes; a veth follows its peer
	{ echo 0 >/sys/class/net/f0/carrier && echo 1 >/sys/class/net/f0/carrier; } 2>/dev/null ||
		{ ip link set pf0 up && ip link set pf0 down && ip link set pf0 up; } 2>/dev/null
}
flap && flap || fail "cannot flap f0's carrier"
scrape
want=$(cat /sys/class/net/f0/carrier_changes) down=$(cat /sys/class/net/f0/carrier_down_count)
[ "$down" -ge 2 ] || fail "carrier_down_count is $down after two flaps"
got=$(sed -n 's/^node_network_carrier_changes_total{device="f0"} //p' "$TMP/m")
[ "$got" = "$want" ] || fail "f0 carrier_changes_total $got, the kernel's file says $want"
# carrier, dormant, speed and duplex are not read for a device whose flags
# say down (the kernel refuses them while it is not running): every device,
# down, up and down again, must have exactly the series the kernel's files
# give at that moment.
refused() {
	for dev in $(ls /sys/class/net); do
		for a in carrier dormant speed; do
			m=$a
			[ "$a" = speed ] && m=speed_bytes
			got=$(sed -n "s/^node_network_$m{device=\"$dev\"} //p" "$TMP/m")
			if k=$(cat "/sys/class/net/$dev/$a" 2>/dev/null); then
				[ "$a" = speed ] && k=$((k * 125000))
				[ "$got" = "$k" ] || fail "$1: $dev $a is $k, exported '$got'"
			else
				[ -z "$got" ] || fail "$1: the kernel refuses $dev $a, exported $got"
			fi
		done
		kd=$(cat "/sys/class/net/$dev/duplex" 2>/dev/null)
		gd=$(sed -n "s/^node_network_info{.*device=\"$dev\",duplex=\"\([^\"]*\)\".*/\1/p" "$TMP/m")
		[ "$gd" = "$kd" ] || fail "$1: $dev duplex is '$kd', exported '$gd'"
	done
}
mk d0 || fail "create d0"
scrape
refused "d0 down"
ip link set d0 up || fail "d0 up"
scrape
[ -n "$(sed -n 's/^node_network_dormant{device="d0"} //p' "$TMP/m")" ] || fail "d0 up: no dormant"
refused "d0 up"
ip link set d0 down || fail "d0 down"
scrape
refused "d0 down again"
[ -z "$(sed -n 's/^node_network_dormant{device="d0"} //p' "$TMP/m")" ] || fail "d0 down: dormant exported"
kill "$KPID"
echo "netclass follows renamed and re-created devices: ok"
INNER
unshare -nm sh "$TMP/inner.sh" "$BIN" "$TMP"
