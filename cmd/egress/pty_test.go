//go:build linux || darwin

package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// benchChild starts this test binary as the egress command (see TestMain)
// running a short self-benchmark, with stderr on tty if given, and the
// extra arguments given.
func benchChild(t *testing.T, stderr *os.File, extra ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	args := append([]string{"bench", "-d", "1500ms", "-c", "4", "--loops", "1"}, extra...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "EGRESS_TEST_MAIN=1")
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	if stderr != nil {
		cmd.Stderr = stderr
	} else {
		cmd.Stderr = &errb
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out, &errb
}

// onTerminal runs bench with stderr on a pseudo-terminal and returns
// what the terminal received, and stdout.
func onTerminal(t *testing.T, extra ...string) (string, string) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	cmd, out, _ := benchChild(t, tty, extra...)
	tty.Close() // the child holds its own copy
	screen := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(ptmx) // ends with EIO once the child exits
		screen <- b
	}()
	waitChild(t, cmd)
	select {
	case term := <-screen:
		return string(term), out.String()
	case <-time.After(10 * time.Second):
		t.Fatal("terminal output never ended")
	}
	return "", ""
}

// liveFrame is one drawing of the live display.
var liveFrame = regexp.MustCompile(`bench \[(█*)(░*)\] (\d+\.\d)s/2\.5s, (\d+\.\d)s left  (\d+) req/s  p50 (\S+)  p99 (\S+)  (\d+) errors  (\d+) conns`)

// TestLiveDisplay runs a 2.5 s bench on a pseudo-terminal: the live line
// is redrawn in place as the run goes, its bar filling and its time left
// falling, with the rate, p50 and p99 of the last second (once a second
// has passed), the errors and the connections; it is cleared at the end,
// and nothing of it reaches stdout, even with --json there. -q turns it
// off.
func TestLiveDisplay(t *testing.T) {
	screen, out := onTerminal(t, "-d", "2500ms", "--json")
	var frames [][]string
	for _, f := range strings.Split(screen, "\r") {
		if m := liveFrame.FindStringSubmatch(f); m != nil {
			frames = append(frames, m)
		} else if strings.Contains(f, "req/s") {
			t.Errorf("a drawing of the line not as expected: %q", f)
		}
	}
	if len(frames) < 4 {
		t.Fatalf("%d drawings of the live line:\n%q", len(frames), screen)
	}
	first, last := frames[0], frames[len(frames)-1]
	if len(first[1]) >= len(last[1]) || len(last[1]) < len("█")*12 || first[3] == last[3] || first[4] == last[4] {
		t.Errorf("the line did not move on: first %q, last %q", first[0], last[0])
	}
	sawPercentiles := false
	for _, f := range frames {
		if f[6] != "-" && f[7] != "-" {
			sawPercentiles = true
		}
		if f[9] != "4" && f[9] != "0" {
			t.Errorf("conns in %q", f[0])
		}
	}
	if !sawPercentiles || last[5] == "0" || last[9] != "4" || last[8] != "0" {
		t.Errorf("no rate, percentiles or connections in the last drawing: %q", last[0])
	}
	if !strings.HasSuffix(strings.TrimRight(screen, "\n"), "\r\x1b[K") && !strings.Contains(screen, "\r\x1b[K\r\n") {
		// The line is cleared before the process exits (the terminal may
		// add a newline of its own after).
		t.Errorf("the line was not cleared at the end: %q", screen[max(len(screen)-200, 0):])
	}
	var rep struct{ Requests int64 }
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Requests == 0 || strings.ContainsAny(out, "\r\x1b") {
		t.Fatalf("stdout is not the JSON report alone (%v):\n%q", err, out)
	}

	screen, _ = onTerminal(t, "-q")
	if strings.Contains(screen, "req/s") || strings.Contains(screen, "█") {
		t.Errorf("-q: live line drawn:\n%q", screen)
	}
}

// TestProgressOnTerminal runs bench with stderr on a pseudo-terminal: the
// live progress line must be drawn there, and the report on stdout must
// stay clean.
func TestProgressOnTerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	cmd, out, _ := benchChild(t, tty)
	tty.Close() // the child holds its own copy
	screen := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(ptmx) // ends with EIO once the child exits
		screen <- b
	}()
	waitChild(t, cmd)
	var term []byte
	select {
	case term = <-screen:
	case <-time.After(10 * time.Second):
		t.Fatal("terminal output never ended")
	}
	s := string(term)
	if !strings.Contains(s, "req/s") || !strings.Contains(s, "conns") || !strings.Contains(s, "\r") {
		t.Fatalf("no live progress line on the terminal:\n%q", s)
	}
	if strings.Contains(out.String(), "\r") || !strings.Contains(out.String(), "Latency (") {
		t.Fatalf("stdout:\n%q", out.String())
	}
}

// TestNoProgressWithoutTerminal runs the same with stderr on a pipe: no
// progress line, just the one informational line.
func TestNoProgressWithoutTerminal(t *testing.T) {
	cmd, out, errb := benchChild(t, nil)
	waitChild(t, cmd)
	if strings.Contains(errb.String(), "req/s") || strings.Contains(errb.String(), "\r") || strings.Contains(errb.String(), "█") {
		t.Fatalf("progress written to a pipe:\n%q", errb.String())
	}
	if !strings.Contains(out.String(), "Latency (") {
		t.Fatalf("stdout:\n%s", out.String())
	}
}

func waitChild(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("egress bench: %v", err)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("egress bench did not finish")
	}
}
