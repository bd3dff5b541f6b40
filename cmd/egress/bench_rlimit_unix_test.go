//go:build unix

package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

// allowsRE finds the connections the limit allows in bench's message.
var allowsRE = regexp.MustCompile(`it allows -c (\d+) at most`)

// TestBenchFDLimit: -c above what the open-file limit holds is refused
// before the run, saying the limit and the -c it allows; that -c then
// runs without an error under the same limit, and one more is refused.
// The limit is lowered in a child process (the test binary as egress, see
// TestMain) by the shell's ulimit, which sets the hard limit too, so that
// Go cannot raise it.
func TestBenchFDLimit(t *testing.T) {
	testkit.CheckLeaks(t)
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("needs a POSIX shell's ulimit")
	}
	srv, served := countingServer(t)
	limited := func(args ...string) (string, string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, sh, append([]string{"-c", `ulimit -n 64 && exec "$0" "$@"`, os.Args[0], "bench"}, args...)...)
		cmd.Env = append(os.Environ(), "EGRESS_TEST_MAIN=1")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
	_, errOut, code := limited("-c", "200", "-n", "10", srv.URL)
	m := allowsRE.FindStringSubmatch(errOut)
	if code != 1 || m == nil || !strings.Contains(errOut, "-c 200 needs about ") ||
		!strings.Contains(errOut, "but the open-file limit is 64 (ulimit -n)") || served.Load() != 0 {
		t.Fatalf("exit %d, %d requests served: %q", code, served.Load(), errOut)
	}
	allowed, _ := strconv.Atoi(m[1])
	if allowed < 8 || allowed >= 64 {
		t.Fatalf("allows -c %d under a limit of 64", allowed)
	}
	out, errOut, code := limited("-c", m[1], "-n", "2000", "--json", srv.URL)
	if code != 0 {
		t.Fatalf("-c %d under the limit: exit %d\n%s", allowed, code, errOut)
	}
	if r := parseReport(t, out); r.ErrorsTotal != 0 || r.Requests != 2000 || r.Conns.Achieved != int64(allowed) {
		t.Fatalf("-c %d: errors %v, %d requests, %d connections", allowed, r.Errors, r.Requests, r.Conns.Achieved)
	}
	if _, errOut, code = limited("-c", strconv.Itoa(allowed+1), "-n", "10", srv.URL); code != 1 || !strings.Contains(errOut, "it allows -c "+m[1]+" at most") {
		t.Fatalf("-c %d: exit %d, %q", allowed+1, code, errOut)
	}

	// In this process, under its own limit (which Go raised to the hard
	// one): one connection more than the limit is refused, with the limit.
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<30 {
		t.Skipf("limit %d: %v", rl.Cur, err)
	}
	_, errOut, code = cli(t, "bench", "-c", strconv.FormatUint(uint64(rl.Cur)+1, 10), "-n", "10", srv.URL)
	if code != 1 || !strings.Contains(errOut, "but the open-file limit is "+strconv.FormatUint(uint64(rl.Cur), 10)+" (ulimit -n)") {
		t.Fatalf("exit %d, %q", code, errOut)
	}
}
