#!/bin/sh
# Installs the system packages that the tests and benchmarks use as real
# peers: nginx for the TLS and HTTP integration tests, redis-server for the
# Redis driver, nghttp2-server (nghttpd) for the HTTP/2 tests. With the
# argument "bench" it also installs the benchmark anchors that bench/run
# measures against (wrk, h2load from nghttp2-client, redis-benchmark from
# redis-tools). Idempotent: a package already installed is skipped, and
# `apt-get update` runs at most once.
#
# When a package is missing and cannot be installed (no apt-get, not root,
# apt failing), it fails where peers are required: in CI (CI set) and
# under scripts/test (EGRESS_REQUIRE_PEERS=1), where the tests needing a
# missing peer fail too. Run by hand elsewhere, it says what to install
# and exits 0, and those tests skip.
#
# Append packages to PACKAGES; keep this script small and boring.
set -eu

PACKAGES="nginx redis-server nghttp2-server"
if [ "${1:-}" = bench ]; then
	PACKAGES="$PACKAGES wrk nghttp2-client redis-tools"
fi

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "install-deps: all present:$(printf ' %s' $PACKAGES)"
	exit 0
fi

# cannot explains why the missing packages cannot be installed, then fails
# if peers are required here.
cannot() {
	echo "install-deps: $1; install by hand:$missing" >&2
	if [ -n "${CI:-}" ] || [ "${EGRESS_REQUIRE_PEERS:-}" = 1 ]; then
		echo "install-deps: peers are required in CI and under scripts/test: failing" >&2
		exit 1
	fi
	echo "install-deps: the tests that need them will skip" >&2
	exit 0
}

command -v apt-get >/dev/null 2>&1 || cannot "no apt-get"

SUDO=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		SUDO="sudo -n"
	else
		cannot "not root"
	fi
fi

export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086 # word splitting of the package list is wanted
$SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends $missing ||
	cannot "apt-get failed"
