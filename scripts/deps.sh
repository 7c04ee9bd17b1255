#!/usr/bin/env bash
# make deps: installs everything the project's builds and tests need, from the project's own files.
#
#   Debian packages (apt-get):  runc, iptables, iproute2, util-linux, mount, e2fsprogs,
#                               busybox-static, curl, chromium (elsewhere: their commands are checked)
#   Built from the Go module proxy by the tool modules under tools/ (go.mod + go.sum committed):
#     etcd + etcdctl   tools/etcd            -> .deps/etcd-<version>/{etcd,etcdctl}
#     nats-server      tools/nats            -> .deps/nats-server-<version>/nats-server
#     consul           tools/consul          -> .deps/consul-<version>/consul
#     protoc-gen-go    tools/protoc-gen-go   -> .deps/protoc-gen-go-<version>/protoc-gen-go
#     buf              tools/buf             -> .deps/buf-<version>/buf (compiles models/*.proto)
#   Stable names: .deps/bin/<name> (symlinks). Tests find them through internal/testservers.
#
# A versioned binary that exists is never rebuilt, so a second run does no network and takes a
# moment. To rebuild one: rm -rf .deps/<name>-<version>. If etcd or nats-server cannot be built, the
# Debian packages etcd-server / nats-server are installed and linked instead (loudly); the failure is
# remembered in .deps/<name>-<version>.failed (delete it to retry). Consul has no fallback.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEPS="$ROOT/.deps"
BIN="$DEPS/bin"
mkdir -p "$BIN"

say() { echo "deps: $*"; }
warn() { echo "deps: WARNING: $*" >&2; }
die() { echo "deps: ERROR: $*" >&2; exit 1; }

SECONDS_START=$SECONDS
elapsed() { echo "$((SECONDS - $1))s"; }

# ---------------------------------------------------------------------------------------------
# Debian packages

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"
	elif command -v sudo >/dev/null 2>&1; then sudo "$@"
	else die "need root (or sudo) to run: $*"
	fi
}

dpkg_installed() {
	[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

APT_UPDATED=0
apt_install() { # apt_install PKG... : installs the ones that are missing
	local missing=() p t0
	for p in "$@"; do dpkg_installed "$p" || missing+=("$p"); done
	if [ ${#missing[@]} -eq 0 ]; then
		say "apt $* already installed"
		return 0
	fi
	command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install ${missing[*]} by hand"
	t0=$SECONDS
	say "apt installing ${missing[*]} ..."
	export DEBIAN_FRONTEND=noninteractive
	if [ $APT_UPDATED = 0 ]; then
		as_root apt-get -o DPkg::Lock::Timeout=300 update -qq
		APT_UPDATED=1
	fi
	as_root apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	say "apt ${missing[*]} installed in $(elapsed $t0)"
}

# ---------------------------------------------------------------------------------------------
# Go tools built from the module proxy

. "$ROOT/scripts/modver.sh"

# link NAME TARGET: .deps/bin/NAME -> TARGET
link() { ln -sfn "$2" "$BIN/$1"; }

# build_tool NAME VERSION TOOLDIR [ENV=VAL...] -- BINARY=PACKAGE...
# Builds every BINARY from PACKAGE inside TOOLDIR into .deps/NAME-VERSION/ and links them into
# .deps/bin. Returns 1 if the build fails (the build log is then kept in .deps/NAME-VERSION.log).
build_tool() {
	local name=$1 version=$2 dir=$3
	shift 3
	local envs=()
	while [ "$1" != "--" ]; do envs+=("$1"); shift; done
	shift
	local out="$DEPS/$name-$version" spec bin pkg missing=0
	for spec in "$@"; do [ -x "$out/${spec%%=*}" ] || missing=1; done
	if [ $missing = 0 ]; then
		for spec in "$@"; do link "${spec%%=*}" "../$name-$version/${spec%%=*}"; done
		say "$name $version cached"
		return 0
	fi
	if [ -e "$out.failed" ]; then
		warn "$name $version failed to build before (see $out.log); rm $out.failed to retry"
		return 1
	fi
	local t0=$SECONDS tmp="$out.tmp" log="$out.log"
	rm -rf "$tmp" && mkdir -p "$tmp"
	say "$name $version building from the Go module proxy in tools/$(basename "$dir") ..."
	: >"$log"
	for spec in "$@"; do
		bin=${spec%%=*} pkg=${spec#*=}
		if ! (cd "$dir" && env ${envs[@]+"${envs[@]}"} go build -o "$tmp/$bin" "$pkg") >>"$log" 2>&1; then
			tail -n 20 "$log" >&2
			rm -rf "$tmp"
			touch "$out.failed"
			warn "building $name $version failed (full log: $log)"
			return 1
		fi
	done
	rm -rf "$out" && mv "$tmp" "$out" && rm -f "$log"
	for spec in "$@"; do link "${spec%%=*}" "../$name-$version/${spec%%=*}"; done
	say "$name $version built in $(elapsed $t0)"
}

# debian_bin PACKAGE NAME: the path of the executable NAME that the installed PACKAGE ships.
debian_bin() {
	dpkg -L "$1" 2>/dev/null | grep -E "/s?bin/$2\$" | head -n 1
}

# fallback NAME=PACKAGE...: install the Debian packages and link their binaries into .deps/bin.
fallback() {
	local spec pkgs=() name pkg path
	for spec in "$@"; do pkgs+=("${spec#*=}"); done
	apt_install "${pkgs[@]}"
	for spec in "$@"; do
		name=${spec%%=*} pkg=${spec#*=}
		path=$(debian_bin "$pkg" "$name")
		[ -n "$path" ] && [ -x "$path" ] || die "Debian package $pkg does not ship a $name binary"
		link "$name" "$path"
		warn "USING DEBIAN FALLBACK: .deps/bin/$name -> $path ($(dpkg-query -W -f='${Package} ${Version}' "$pkg"))"
	done
}

# ---------------------------------------------------------------------------------------------

command -v go >/dev/null 2>&1 || die "go not found in PATH"

# One make deps at a time per checkout (engineers and CI share .deps).
if command -v flock >/dev/null 2>&1; then
	exec 9>"$DEPS/.lock"
	if ! flock -n 9; then
		say "waiting for another make deps in this checkout to finish ..."
		flock 9
	fi
fi

# runc and the tools the garden backend drives (iptables, ip, nsenter/losetup/mount, mkfs.ext4);
# busybox-static and curl for the container specs; chromium for the dashboard's browser spec
# (inigo/dashboard_test.go). Each as DEBIAN_PACKAGE=COMMAND: without apt-get
# and dpkg (another distribution) the commands are only checked, and the missing ones named.
SYSTEM_TOOLS=(runc=runc iptables=iptables iproute2=ip util-linux=nsenter mount=mount
	e2fsprogs=mkfs.ext4 busybox-static=busybox curl=curl chromium=chromium)
if command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1; then
	apt_install "${SYSTEM_TOOLS[@]%%=*}"
else
	missing=()
	for spec in "${SYSTEM_TOOLS[@]}"; do
		PATH="$PATH:/usr/sbin:/sbin" command -v "${spec#*=}" >/dev/null 2>&1 || missing+=("${spec#*=}")
	done
	[ ${#missing[@]} -eq 0 ] ||
		die "no apt-get here: install ${missing[*]} with this distribution's packages (busybox must be static)"
	say "system tools found: ${SYSTEM_TOOLS[*]#*=}"
fi

v=$(modver "$ROOT/tools/protoc-gen-go" google.golang.org/protobuf)
build_tool protoc-gen-go "$v" "$ROOT/tools/protoc-gen-go" -- \
	protoc-gen-go=google.golang.org/protobuf/cmd/protoc-gen-go ||
	die "protoc-gen-go $v did not build"

v=$(modver "$ROOT/tools/buf" github.com/bufbuild/buf)
build_tool buf "$v" "$ROOT/tools/buf" -- buf=github.com/bufbuild/buf/cmd/buf ||
	die "buf $v did not build"

v=$(modver "$ROOT/tools/etcd" go.etcd.io/etcd/server/v3)
if ! build_tool etcd "$v" "$ROOT/tools/etcd" -- \
	etcd=go.etcd.io/etcd/server/v3 etcdctl=go.etcd.io/etcd/etcdctl/v3; then
	fallback etcd=etcd-server etcdctl=etcd-client
fi

v=$(modver "$ROOT/tools/nats" github.com/nats-io/nats-server/v2)
if ! build_tool nats-server "$v" "$ROOT/tools/nats" -- \
	nats-server=github.com/nats-io/nats-server/v2; then
	fallback nats-server=nats-server
fi

v=$(modver "$ROOT/tools/consul" github.com/hashicorp/consul)
if [ ! -x "$DEPS/consul-$v/consul" ] &&
	[ ! -e "$(go env GOMODCACHE)/cache/download/github.com/hashicorp/consul/@v/v$v.zip" ]; then
	say "consul $v: the first build downloads about 2.3 GB of modules and takes minutes"
fi
rm -f "$DEPS/consul-$v.failed" # no fallback: always retry
build_tool consul "$v" "$ROOT/tools/consul" \
	GONOSUMDB=github.com/hashicorp/consul "GOFLAGS=${GOFLAGS:-} -mod=mod" -- \
	consul=github.com/hashicorp/consul ||
	die "consul $v did not build and has no fallback (log: $DEPS/consul-$v.log)"

say "done in $(elapsed $SECONDS_START); binaries in .deps/bin: $(cd "$BIN" && ls | tr '\n' ' ')"
