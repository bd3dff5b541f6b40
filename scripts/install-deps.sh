#!/bin/sh
# Installs the system packages that the tests and benchmarks use as real
# peers (nginx for the TLS and HTTP integration tests, redis-server for the
# Redis driver). With the argument
# "bench" it also installs the benchmark anchors that bench/run measures
# against (wrk, h2load from nghttp2-client, redis-benchmark from
# redis-tools). Idempotent: a
# package already installed is skipped, and `apt-get update` runs at most
# once. Without root (or without apt-get) it explains and exits 0, so the
# tests that need a missing package skip instead of failing.
#
# Append packages to PACKAGES; keep this script small and boring.
set -eu

PACKAGES="nginx redis-server"
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

if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-deps: no apt-get; install by hand:$missing (tests that need them will skip)"
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		SUDO="sudo -n"
	else
		echo "install-deps: not root; install by hand:$missing (tests that need them will skip)"
		exit 0
	fi
else
	SUDO=""
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
# shellcheck disable=SC2086 # word splitting of the package list is wanted
$SUDO apt-get install -y --no-install-recommends $missing
