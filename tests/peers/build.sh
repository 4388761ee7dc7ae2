#!/bin/sh
# Builds the pinned real peers (tests/peers/versions) from the Go module proxy
# into a cache outside the clone and prints where each one is.
#
#   tests/peers/build.sh                 the peers `make test` needs (kubernetes kubernetes-node etcd helm prometheus-operator-crds victoriametrics-operator-crds kube-state-metrics node_exporter cadvisor)
#   tests/peers/build.sh all             every peer in tests/peers/versions
#   tests/peers/build.sh NAME...         those peers
#   tests/peers/build.sh --env NAME...   build, then print NAME_BIN=<dir> lines for eval
#                                        (name upper-cased, '-' -> '_')
#
# Cache: ${K8SMON_PEERS_CACHE:-~/.cache/k8smon-peers}/<name>-<version>/bin/
# with the module and build caches beside it (gomod/, gocache/), so a second
# run is a no-op and a version bump rebuilds only that peer. A peer directory
# counts as built only when its .built stamp (written last) names the same
# module, version and packages as tests/peers/versions. Each peer is built
# under flock(1) on its own lock file, so two runs at once build it once.
# The wall time of each build goes to <dir>/build-seconds and to stderr.
#
# No fallback: a peer that does not build makes this script exit non-zero
# with the go command's error; the tests that need it then fail.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
VERSIONS="$HERE/versions"
CACHE="${K8SMON_PEERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/k8smon-peers}"
# Bump when the way a peer is built changes, so cached builds are redone.
BUILD_REV=2
DEFAULT_PEERS="kubernetes kubernetes-node etcd helm prometheus-operator-crds victoriametrics-operator-crds kube-state-metrics node_exporter cadvisor"

env_out=0
if [ "${1:-}" = "--env" ]; then env_out=1; shift; fi
if [ $# -eq 0 ]; then set -- $DEFAULT_PEERS; fi
if [ "$1" = "all" ]; then
	set -- $(awk '!/^#/ && NF {print $1}' "$VERSIONS")
fi

GO="${GO:-}"
if [ -z "$GO" ]; then
	if [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go
	elif command -v go >/dev/null 2>&1; then GO=$(command -v go)
	else echo "peers: no Go toolchain (/usr/local/go/bin/go or go in PATH); see README 'Real peers'" >&2; exit 1
	fi
fi
command -v flock >/dev/null 2>&1 || { echo "peers: flock(1) (util-linux) is needed" >&2; exit 1; }

mkdir -p "$CACHE"
export GOMODCACHE="$CACHE/gomod" GOCACHE="$CACHE/gocache" GOPATH="$CACHE/gopath"
export GOFLAGS=-trimpath GOTOOLCHAIN=local GOWORK=off GO111MODULE=on
export GOPROXY="${GOPROXY:-https://proxy.golang.org,direct}"
GOVER=$("$GO" env GOVERSION | sed 's/^go//')

# kubernetes: replace every staging module with its published v0.<minor>.<patch>.
k8s_replaces() { # version
	gomod=$("$GO" mod download -json "k8s.io/kubernetes@$1" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
	[ -f "$gomod" ] || { echo "peers: no go.mod for k8s.io/kubernetes@$1" >&2; return 1; }
	staging="v0.${1#v1.}"
	awk -v v="$staging" '$2 == "=>" && $3 ~ /^\.\/staging\// {print "replace " $1 " => " $1 " " v}' "$gomod"
}

build_one() { # name version module pkgs
	name=$1 version=$2 module=$3 pkgs=$4
	dir="$CACHE/$name-$version"
	stamp="$module $version $pkgs $BUILD_REV"
	case "$pkgs" in
	local:*) # our own main package: a change to its source rebuilds it
		src="$HERE/${pkgs#local:}"; src=${src%%=*}
		[ -d "$src" ] || { echo "peers: $src missing" >&2; return 1; }
		stamp="$stamp $(cat "$src"/*.go | sha256sum | cut -c1-16)" ;;
	esac
	if [ -f "$dir/.built" ] && [ "$(cat "$dir/.built")" = "$stamp" ]; then
		return 0
	fi
	mkdir -p "$dir"
	(
		flock 9
		if [ -f "$dir/.built" ] && [ "$(cat "$dir/.built")" = "$stamp" ]; then exit 0; fi
		echo "peers: building $name $version ($module) into $dir/bin" >&2
		start=$(date +%s)
		work="$dir/mod"
		rm -rf "$work" "$dir/bin.tmp"
		mkdir -p "$work" "$dir/bin.tmp"
		{
			echo "module k8smon.local/peers/$name"
			echo
			echo "go $GOVER"
		} > "$work/go.mod"
		if [ "$module" = k8s.io/kubernetes ]; then
			k8s_replaces "$version" >> "$work/go.mod"
		fi
		cd "$work"
		case "$pkgs" in
		files:*) # published YAML from the module's zip, no build
			mdir=$("$GO" mod download -json "$module@$version" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')
			[ -d "$mdir" ] || { echo "peers: $module@$version did not download" >&2; exit 1; }
			for f in $(echo "${pkgs#files:}" | tr ',' ' '); do
				cp "$mdir/$f" "$dir/bin.tmp/" || exit 1
			done
			rm -rf "$dir/bin"; mv "$dir/bin.tmp" "$dir/bin"
			end=$(date +%s); echo $((end - start)) > "$dir/build-seconds"
			echo "$stamp" > "$dir/.built"
			exit 0 ;;
		esac
		case "$pkgs" in
		local:*) # tests/peers/<dir>/*.go built against $module@$version; the
			# other modules it imports at the versions $module requires (-mod=mod)
			p=${pkgs#local:}; b=${p#*=}; p=${p%%=*}
			cp "$HERE/$p"/*.go "$work/" || exit 1
			"$GO" get "$module@$version" >&2 || exit 1
			echo "peers:   go build tests/peers/$p -> $b" >&2
			CGO_ENABLED=0 "$GO" build -mod=mod -ldflags="-s -w" -o "$dir/bin.tmp/$b" . >&2 || exit 1
			rm -rf "$dir/bin"; mv "$dir/bin.tmp" "$dir/bin"
			end=$(date +%s); echo $((end - start)) > "$dir/build-seconds"
			echo "$stamp" > "$dir/.built"
			echo "peers: built $name $version in $((end - start))s" >&2
			exit 0 ;;
		esac
		gets=""
		for pb in $(echo "$pkgs" | tr ',' ' '); do
			p=${pb%%=*}
			if [ "$p" = . ]; then full=$module; else full=$module/$p; fi
			gets="$gets $full@$version"
		done
		# shellcheck disable=SC2086
		"$GO" get $gets >&2
		ldflags="-s -w"
		case "$name" in
		helm) # as helm's Makefile: without these, helm reports v0.0.0 and
			# `helm template` assumes Kubernetes v1.20.0 (a chart's kubeVersion >= 1.25 fails)
			kmin=$("$GO" list -m -f '{{.Version}}' k8s.io/client-go | cut -d. -f2)
			ldflags="$ldflags -X helm.sh/helm/v3/internal/version.version=$version"
			for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
				ldflags="$ldflags -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$kmin"
			done ;;
		kubernetes|kubernetes-node) # as hack/lib/version.sh: else the server says v0.0.0-master+$Format:%H$,
			# which kubectl version cannot parse
			minor=$(echo "$version" | cut -d. -f2)
			for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
				ldflags="$ldflags -X $p.gitVersion=$version -X $p.gitMajor=1 -X $p.gitMinor=$minor"
				ldflags="$ldflags -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
			done ;;
		esac
		for pb in $(echo "$pkgs" | tr ',' ' '); do
			p=${pb%%=*} b=${pb#*=}
			if [ "$p" = . ]; then full=$module; else full=$module/$p; fi
			echo "peers:   go build $full -> $b" >&2
			CGO_ENABLED=0 "$GO" build -ldflags="$ldflags" -o "$dir/bin.tmp/$b" "$full" >&2
		done
		rm -rf "$dir/bin"
		mv "$dir/bin.tmp" "$dir/bin"
		end=$(date +%s)
		echo $((end - start)) > "$dir/build-seconds"
		echo "$stamp" > "$dir/.built"
		echo "peers: built $name $version in $((end - start))s" >&2
	) 9>"$CACHE/.lock-$name-$version"
}

rc=0
for want in "$@"; do
	line=$(awk -v n="$want" '!/^#/ && $1 == n' "$VERSIONS")
	if [ -z "$line" ]; then echo "peers: '$want' is not in $VERSIONS" >&2; rc=1; continue; fi
	# shellcheck disable=SC2086
	set -- $line
	if ! build_one "$1" "$2" "$3" "$4"; then
		echo "peers: FAILED to build $1 $2 ($3); see the go error above" >&2
		rc=1
		continue
	fi
	bindir="$CACHE/$1-$2/bin"
	if [ "$env_out" = 1 ]; then
		echo "$(echo "$1" | tr 'a-z-' 'A-Z_')_BIN=$bindir"
	else
		echo "$1 $2 $bindir ($(ls "$bindir" | tr '\n' ' '))last build took $(cat "$CACHE/$1-$2/build-seconds") s"
	fi
done
exit $rc
