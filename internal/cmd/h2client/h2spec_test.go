package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

// raceEnabled is set by race_test.go when the race detector is on.
var raceEnabled bool

// h2specCases is the number of cases in h2specd v2.2.1's client suite.
// The test checks that this many ran, so that a case silently not run
// cannot pass for one that did.
const h2specCases = 57

// TestH2spec runs h2specd, the public HTTP/2 client conformance suite, in
// strict mode against this package's client (and so against
// egress.Transport and package http2), over h2c with prior knowledge and
// over TLS, and fails naming every case that did not pass.
//
// How h2specd runs (github.com/summerwind/h2spec, spec/specd.go): it
// listens on one port per case from --from-port, runs the --exec command
// with the case's URL, and plays a scripted server on the connection.
// Each case has a fixed 3 s limit, past which the whole run stops; the
// client's own deadline (2 s) keeps it inside. --timeout 1 is how long
// h2specd waits for each frame it expects: shorter than the client's
// linger (see main.go), so that a client that fails to answer (no GOAWAY
// or RST_STREAM with the right code) is seen failing rather than passing
// when it exits and closes the connection.
//
// h2specd's --junit-report applies to its server suite only (the client
// runner never writes one), so the test reads its text report.
func TestH2spec(t *testing.T) {
	h2specd := testkit.RequirePeer(t, "h2specd",
		"scripts/install-deps.sh (go install github.com/summerwind/h2spec/cmd/h2specd@v2.2.1+incompatible)")
	client := buildClient(t)
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	// A client built with the race detector writes what it finds here
	// (h2specd discards its output), without the detector's 1 s pause at
	// exit, which would eat into each case's 3 s.
	raceLog := filepath.Join(dir, "race")
	env := append(os.Environ(), "NO_COLOR=1", "GORACE=atexit_sleep_ms=0 log_path="+raceLog)

	for _, mode := range []struct {
		name string
		args []string
	}{
		{"h2c", nil},
		{"tls", []string{"--tls", "--cert-file", cert, "--cert-key-file", key}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			// h2specd gives each case 3 s, client start-up included. On a
			// loaded machine (the suite runs packages in parallel, and
			// the client may be built with the race detector) a case can
			// miss that for want of CPU, so a run with failures is made
			// once more, and only a case that fails both times fails the
			// test: a conformance bug fails every time.
			var res h2specResult
			var out string
			for try := 1; try <= 2; try++ {
				start := time.Now()
				out = runH2spec(t, h2specd, client, env, mode.args)
				checkRaceLogs(t, raceLog)
				prev := res
				res = parseH2spec(out)
				t.Logf("h2specd %s, run %d: %d of %d cases passed in %v", mode.name, try, res.passed, len(res.cases), time.Since(start).Round(time.Millisecond))
				if try == 2 {
					res.failed = bothFailed(prev.failed, res.failed)
				}
				if len(res.failed) == 0 {
					break
				}
				if try == 1 {
					t.Logf("run 1 failed, running again:\n%s", strings.Join(res.failed, "\n"))
				}
			}
			if len(res.failed) > 0 {
				t.Errorf("%d case(s) failed; to see the frames, run by hand: go build -o /tmp/h2client ./internal/cmd/h2client && "+
					"h2specd --strict --timeout 1 --exec /tmp/h2client -v\n%s",
					len(res.failed), strings.Join(res.failed, "\n"))
			} else if len(res.cases) != h2specCases || res.passed != h2specCases {
				t.Errorf("%d cases seen, %d passed; want all %d to pass; h2specd's summary: %q\n%s",
					len(res.cases), res.passed, h2specCases, res.summary, tail(out, 4000))
			}
		})
	}
}

// buildClient builds this package's command into a temporary directory,
// with the race detector when the test runs under it.
func buildClient(t *testing.T) string {
	t.Helper()
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command to build the client: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "h2client")
	// h2specd splits --exec on spaces.
	if strings.ContainsAny(bin, " \t") {
		t.Fatalf("temporary path %q has a space, which h2specd's --exec cannot take", bin)
	}
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, gocmd, append(args, ".")...).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// writeCert writes a self-signed certificate for 127.0.0.1 and its key,
// in PEM, for h2specd to serve TLS with.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	certPEM, keyPEM := testkit.SelfSignedCert(t, "h2specd")
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// runH2spec runs h2specd on a range of free ports and returns its report.
// A port taken between the probe and h2specd's listen gets another range,
// a bounded number of times.
func runH2spec(t *testing.T, h2specd, client string, env, extra []string) string {
	t.Helper()
	for attempt := 1; ; attempt++ {
		from := freePorts(t, h2specCases+3)
		args := append([]string{"--strict", "--timeout", "1", "--host", "127.0.0.1",
			"--from-port", strconv.Itoa(from), "--exec", client}, extra...)
		// The cases run one after the other, each bounded by h2specd's
		// 3 s; a normal run takes seconds.
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
		cmd := exec.CommandContext(ctx, h2specd, args...)
		cmd.Env = env
		cmd.WaitDelay = 5 * time.Second
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		cancel()
		s := closedNoise.ReplaceAllString(out.String(), "")
		switch {
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			t.Fatalf("h2specd %v did not finish in 100 s:\n%s", args, tail(s, 4000))
		case err != nil && strings.Contains(s, "address already in use") && attempt < 3:
			t.Logf("ports from %d taken meanwhile; another range", from)
			continue
		case err != nil:
			// h2specd exits non-zero only when it could not run: a case
			// past its 3 s limit, a case whose request never arrived.
			t.Fatalf("h2specd %v: %v\n%s", args, err, tail(s, 4000))
		}
		return s
	}
}

// checkRaceLogs fails t with the reports of data races that runs of the
// client wrote (GORACE log_path: prefix.pid, one per run that found any),
// the first few in full, and removes them.
func checkRaceLogs(t *testing.T, prefix string) {
	t.Helper()
	files, _ := filepath.Glob(prefix + ".*")
	for i, f := range files {
		if i < 3 {
			b, _ := os.ReadFile(f)
			t.Errorf("the client found a data race:\n%s", b)
		}
		os.Remove(f)
	}
	if len(files) > 3 {
		t.Errorf("and %d more runs of the client found data races", len(files)-3)
	}
}

// freePorts returns the first of n consecutive loopback ports that are
// free now. It looks below 32000, under the ephemeral ranges of Linux
// (32768-60999) and the BSDs and macOS (49152-65535), where the other
// tests' listeners on port 0 and their outgoing connections take ports,
// from a random start so that two runs at once rarely meet.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	for range 50 {
		from := 20000 + mrand.IntN(12000-n)
		var lns []net.Listener
		ok := true
		for p := from; p < from+n; p++ {
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				ok = false
				break
			}
			lns = append(lns, ln)
		}
		for _, ln := range lns {
			ln.Close()
		}
		if ok {
			return from
		}
	}
	t.Fatalf("no %d consecutive free ports found in 20000-32000", n)
	return 0
}

// h2specResult is what h2specd's text report says.
type h2specResult struct {
	cases   []string // "client/4.2/1: description", in order
	passed  int
	failed  []string // each failed case with h2specd's explanation
	summary string   // "57 tests, 57 passed, 0 skipped, 0 failed"
}

// closedNoise matches what h2specd's accept loops print, over and over,
// between the end of the run and its exit.
var closedNoise = regexp.MustCompile(`(?m)^accept tcp .*: use of closed network connection\n`)

var (
	ansi      = regexp.MustCompile(`\x1b\[[0-9;]*m`)
	groupLine = regexp.MustCompile(`^(\d+(?:\.\d+)*)\. \S`)
	caseLine  = regexp.MustCompile(`^(✔|×)? ?(\d+): (.*)$`)
	summary   = regexp.MustCompile(`^\d+ tests, \d+ passed, \d+ skipped, \d+ failed$`)
)

// parseH2spec reads h2specd's report: groups ("4.2. Frame Size"), cases
// under them ("✔ 1: ...", "× 1: ..." followed by the requirement, what
// was expected and what was seen; a bare "1: ..." is skipped), then a
// "Failures:" section repeating the failed ones, and the summary. A case
// is named by its group's section and its number, as h2spec names them
// ("client/4.2/1").
func parseH2spec(out string) h2specResult {
	var r h2specResult
	section, inFailures := "", false
	var last *string // the explanation lines go to the last failed case
	for _, line := range strings.Split(ansi.ReplaceAllString(out, ""), "\n") {
		line = strings.TrimSpace(strings.ReplaceAll(line, "\r", ""))
		switch {
		case line == "Failures:":
			inFailures = true
		case summary.MatchString(line):
			r.summary = line
		case inFailures:
		case groupLine.MatchString(line):
			section = groupLine.FindStringSubmatch(line)[1]
			last = nil
		case caseLine.MatchString(line):
			m := caseLine.FindStringSubmatch(line)
			id := fmt.Sprintf("client/%s/%s: %s", section, m[2], m[3])
			r.cases = append(r.cases, id)
			last = nil
			switch m[1] {
			case "✔":
				r.passed++
			case "×":
				r.failed = append(r.failed, id)
				last = &r.failed[len(r.failed)-1]
			default:
				r.failed = append(r.failed, id+" (skipped)")
			}
		case last != nil && line != "":
			*last += "\n    " + line
		}
	}
	return r
}

// tail returns the last n bytes of s, which h2specd ends with the
// failures and the summary.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// bothFailed returns the failures of the second run whose case also
// failed in the first (each entry's first line names its case).
func bothFailed(first, second []string) []string {
	seen := make(map[string]bool, len(first))
	for _, f := range first {
		id, _, _ := strings.Cut(f, "\n")
		seen[id] = true
	}
	var out []string
	for _, f := range second {
		if id, _, _ := strings.Cut(f, "\n"); seen[id] {
			out = append(out, f)
		}
	}
	return out
}
