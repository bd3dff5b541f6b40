//go:build linux

package load

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// emfileEnv carries the server's URL to the child process of
// TestTooManyOpenFiles.
const emfileEnv = "EGRESS_LOAD_EMFILE_URL"

// TestTooManyOpenFiles runs in a child process whose open-file limit
// leaves room for a few sockets only, with 32 connections asked: the
// sockets it cannot open fail as "too many open files", their own class,
// never "other". The limit is lowered in the child, so that this process
// keeps its own.
func TestTooManyOpenFiles(t *testing.T) {
	if u := os.Getenv(emfileEnv); u != "" {
		emfileChild(t, u)
		return
	}
	if runtime.GOOS != "linux" {
		t.Skip("counts open descriptors in /proc/self/fd")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestTooManyOpenFiles$", "-test.count=1")
	cmd.Env = append(os.Environ(), emfileEnv+"="+srv.URL+"/")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var res struct {
		Errors map[string]int64
		Status map[int]int64
	}
	_, line, ok := strings.Cut(string(out), "RESULT ")
	if !ok {
		t.Fatalf("child printed no result:\n%s", out)
	}
	line, _, _ = strings.Cut(line, "\n")
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	if res.Errors[ErrClassFiles] == 0 || res.Errors[ErrClassOther] != 0 {
		t.Fatalf("errors %v, status %v: want %q and no %q", res.Errors, res.Status, ErrClassFiles, ErrClassOther)
	}
	t.Logf("errors %v, status %v", res.Errors, res.Status)
}

func emfileChild(t *testing.T, u string) {
	names, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	// What is open now, the engine's poller and wake-up descriptor, and
	// room for about four sockets.
	limit := uint64(len(names) + 6)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: limit, Max: limit}); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Config{URL: u, Connections: 32, Requests: 300, Loops: 1, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"Errors": res.Errors, "Status": res.Status})
	fmt.Printf("RESULT %s\n", b)
}
