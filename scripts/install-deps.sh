#!/bin/sh
# Installs the programs that the tests and benchmarks use as real peers:
# nginx for the TLS and HTTP integration tests, redis-server for the Redis
# driver, nghttp2-server (nghttpd) for the HTTP/2 tests, all Debian
# packages; and h2specd, the HTTP/2 client conformance suite, which is a
# Go program built with `go install` into /usr/local/bin. With the argument
# "bench" it also installs the benchmark anchors that bench/run measures
# against (wrk, h2load from nghttp2-client, redis-benchmark from
# redis-tools) and Azurite, the Azure Storage emulator of the azblob
# scenario, an npm package installed with `npm install -g`. Idempotent:
# what is already installed is skipped, and `apt-get update` runs at most
# once.
#
# When something is missing and cannot be installed (no apt-get or go, not
# root, apt or the build failing), it fails where peers are required: in
# CI (CI set) and under scripts/test (EGRESS_REQUIRE_PEERS=1), where the
# tests needing a missing peer fail too. Run by hand elsewhere, it says
# what to install and exits 0, and those tests skip.
#
# Append packages to PACKAGES; keep this script small and boring.
set -eu

PACKAGES="nginx redis-server nghttp2-server"
if [ "${1:-}" = bench ]; then
	PACKAGES="$PACKAGES wrk nghttp2-client redis-tools"
fi
# The last h2spec release; it has no go.mod, hence +incompatible.
H2SPECD=github.com/summerwind/h2spec/cmd/h2specd@v2.2.1+incompatible
# Azurite's blob service (azurite-blob), for bench/run azblob.
AZURITE=azurite@3.37.0

# cannot explains why $2 cannot be installed, then fails if peers are
# required here; elsewhere it returns and the tests that need $2 skip.
cannot() {
	echo "install-deps: $1; install by hand:$2" >&2
	if [ -n "${CI:-}" ] || [ "${EGRESS_REQUIRE_PEERS:-}" = 1 ]; then
		echo "install-deps: peers are required in CI and under scripts/test: failing" >&2
		exit 1
	fi
	echo "install-deps: the tests that need it will skip" >&2
}

# sudo_or_root sets SUDO to what runs a command as root, or fails.
SUDO=""
sudo_or_root() {
	[ "$(id -u)" = 0 ] && return 0
	command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null || return 1
	SUDO="sudo -n"
}

install_packages() {
	missing=""
	for p in $PACKAGES; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
			missing="$missing $p"
		fi
	done
	if [ -z "$missing" ]; then
		echo "install-deps: all present:$(printf ' %s' $PACKAGES)"
		return 0
	fi
	command -v apt-get >/dev/null 2>&1 || { cannot "no apt-get" "$missing"; return 0; }
	sudo_or_root || { cannot "not root" "$missing"; return 0; }
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086 # word splitting of the package list is wanted
	$SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends $missing ||
		cannot "apt-get failed" "$missing"
}

# install_h2specd builds h2specd as the calling user (with the user's Go
# module cache) and installs it as root into /usr/local/bin, where the
# tests find it whatever PATH says.
install_h2specd() {
	if command -v h2specd >/dev/null 2>&1 || [ -x /usr/local/bin/h2specd ]; then
		echo "install-deps: h2specd present"
		return 0
	fi
	command -v go >/dev/null 2>&1 || { cannot "no go command to build h2specd" " go install $H2SPECD"; return 0; }
	sudo_or_root || { cannot "not root" " go install $H2SPECD (into /usr/local/bin)"; return 0; }
	tmp=$(mktemp -d)
	if GOBIN="$tmp" go install "$H2SPECD" && $SUDO install -m 0755 "$tmp/h2specd" /usr/local/bin/h2specd; then
		echo "install-deps: installed /usr/local/bin/h2specd"
	else
		cannot "building h2specd failed" " go install $H2SPECD"
	fi
	rm -rf "$tmp"
}

# install_azurite installs Azurite globally with npm, as root, for the
# benchmark's azblob scenario and its test.
install_azurite() {
	if command -v azurite-blob >/dev/null 2>&1; then
		echo "install-deps: azurite-blob present"
		return 0
	fi
	command -v npm >/dev/null 2>&1 || { cannot "no npm to install Azurite" " npm install -g $AZURITE"; return 0; }
	sudo_or_root || { cannot "not root" " npm install -g $AZURITE"; return 0; }
	if $SUDO npm install -g --no-audit --no-fund "$AZURITE"; then
		echo "install-deps: installed azurite-blob"
	else
		cannot "npm install failed" " npm install -g $AZURITE"
	fi
}

install_packages
install_h2specd
# The azblob scenario's test runs in the suite too, so Azurite is in the
# default set.
install_azurite
