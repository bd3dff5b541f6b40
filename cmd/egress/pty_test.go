//go:build linux || darwin

package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// benchChild starts this test binary as the egress command (see TestMain)
// running a short self-benchmark, with stderr on tty if given.
func benchChild(t *testing.T, stderr *os.File) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "bench", "-d", "1500ms", "-c", "4", "--loops", "1")
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
	if !strings.Contains(s, "req/s") || !strings.Contains(s, "requests") || !strings.Contains(s, "\r") {
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
	if strings.Contains(errb.String(), "req/s") || strings.Contains(errb.String(), "\r") {
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
