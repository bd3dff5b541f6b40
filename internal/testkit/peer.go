package testkit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// peerDirs are searched after PATH: the system directories that a
// non-root user's PATH often lacks (nginx lives in /usr/sbin on Debian).
var peerDirs = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// PeersRequired reports whether a missing peer server fails a test
// instead of skipping it: in CI (the CI environment variable is set, as
// every CI service does) and under scripts/test, which sets
// EGRESS_REQUIRE_PEERS=1. There, a missing nginx or redis-server must not
// let the suite pass without the tests that need it.
func PeersRequired() bool {
	return os.Getenv("CI") != "" || os.Getenv("EGRESS_REQUIRE_PEERS") == "1"
}

// LookPeer returns the path of the program name, looked up on PATH and
// then in the usual system directories, or "" if it is not found.
func LookPeer(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range peerDirs {
		if p, err := exec.LookPath(filepath.Join(dir, name)); err == nil {
			return p
		}
	}
	return ""
}

// RequirePeer returns the path of name, a real server that t runs as its
// peer (nginx, redis-server, nghttpd), found as LookPeer finds it. When
// it is missing, t stops: with t.Fatalf where PeersRequired, with t.Skipf
// elsewhere, so that a developer running one package by hand without the
// server is told what to install. install says how to get the program,
// for example "scripts/install-deps.sh (Debian package nginx)".
func RequirePeer(t testing.TB, name, install string) string {
	t.Helper()
	if p := LookPeer(name); p != "" {
		return p
	}
	msg := name + " not found on PATH or in " + strings.Join(peerDirs, ", ") + "; install it: " + install
	if PeersRequired() {
		t.Fatalf("%s (peers are required in CI and scripts/test: CI=%q, EGRESS_REQUIRE_PEERS=%q)",
			msg, os.Getenv("CI"), os.Getenv("EGRESS_REQUIRE_PEERS"))
	}
	t.Skipf("%s (this is a failure in CI and under scripts/test)", msg)
	return ""
}
