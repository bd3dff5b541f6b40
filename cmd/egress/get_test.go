package main

import (
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

func TestGet(t *testing.T) {
	testkit.CheckLeaks(t)
	s := startTarget(t, false)
	out, errOut, code := cli(t, "get", s.URL()+"/")
	if code != 0 || out != "hello, egress\n" || errOut != "" {
		t.Fatalf("exit %d %q %q", code, out, errOut)
	}
	// Data makes a POST; @file reads the body from a file.
	out, _, code = cli(t, "get", "-d", "ping", s.URL()+"/echo")
	if code != 0 || out != "ping" {
		t.Fatalf("-d: exit %d %q", code, out)
	}
	f := filepath.Join(t.TempDir(), "data")
	os.WriteFile(f, []byte("from a file"), 0o644)
	out, _, code = cli(t, "get", "-X", "PUT", "-H", "Content-Type: text/x-test", "-d", "@"+f, s.URL()+"/echo")
	if code != 0 || out != "from a file" {
		t.Fatalf("-d @file: exit %d %q", code, out)
	}
	// A status is not a failure unless -f.
	if _, _, code = cli(t, "get", s.URL()+"/status/404"); code != 0 {
		t.Fatalf("404 without -f: exit %d", code)
	}
	// -f: no body, curl's exit 22.
	out, errOut, code = cli(t, "get", "-f", s.URL()+"/status/404")
	if code != 22 || out != "" || !strings.Contains(errOut, "404 Not Found") {
		t.Fatalf("404 with -f: exit %d %q %q", code, out, errOut)
	}
	oneLineError(t, errOut)
}

// TestGetVerbose checks the heads and the timing breakdown of -v. The URL
// names localhost so that the name is resolved and the DNS hooks fire.
func TestGetVerbose(t *testing.T) {
	testkit.CheckLeaks(t)
	s := startTarget(t, false)
	u, _ := url.Parse(s.URL())
	local := "http://localhost:" + u.Port() + "/chunked?n=2&size=3"
	out, errOut, code := cli(t, "get", "-v", local)
	if code != 0 || out != "abcabc" {
		t.Fatalf("exit %d %q\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"> GET /chunked?n=2&size=3 HTTP/1.1", "> Host: localhost:", "> User-Agent: egress/",
		"< HTTP/1.1 200 OK", "< Content-Type: application/octet-stream", "< Transfer-Encoding: chunked",
		"* new connection to ", "* connect ", " ms", "* first byte ", "* total ", "6 body bytes",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("-v output lacks %q:\n%s", want, errOut)
		}
	}
	if !strings.Contains(errOut, "* dns ") {
		t.Logf("the transport fired no DNS hooks for localhost:\n%s", errOut)
	}
	// The timing lines are in order and plausible.
	var prev float64
	for _, label := range []string{"* first byte", "* total"} {
		i := strings.Index(errOut, label)
		fields := strings.Fields(errOut[i+len(label):])
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil || v < prev || v > 5000 {
			t.Errorf("%s: %q", label, fields[0])
		}
		prev = v
	}
}

// TestGetLargeBody streams a 64 MiB body to a file and checks that memory
// stays bounded, far below the body's size.
func TestGetLargeBody(t *testing.T) {
	testkit.CheckLeaks(t)
	s := startTarget(t, false)
	const n = 64 << 20
	f := filepath.Join(t.TempDir(), "big")
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	go func() {
		defer close(done)
		tk := time.NewTicker(5 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		}
	}()
	_, errOut, code := cli(t, "get", "-o", f, s.URL()+"/bytes/"+strconv.Itoa(n))
	close(stop)
	<-done
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	b, err := os.ReadFile(f)
	if err != nil || len(b) != n {
		t.Fatalf("%d bytes, %v", len(b), err)
	}
	for i := 0; i < n; i += 4093 {
		if b[i] != 'a'+byte(i%26) {
			t.Fatalf("byte %d is %q", i, b[i])
		}
	}
	if grew := int64(peak.Load()) - int64(base); grew > 16<<20 {
		t.Fatalf("heap grew by %d MiB for a %d MiB body", grew>>20, n>>20)
	}
}

func TestGetTimeout(t *testing.T) {
	testkit.CheckLeaks(t)
	s := startTarget(t, false)
	// Not before the timeout, and without waiting for the server's minute
	// (the bound leaves a busy machine 30 s).
	start := time.Now()
	_, errOut, code := cli(t, "get", "-t", "200ms", s.URL()+"/delay/60000")
	if d := time.Since(start); code != 28 || !strings.Contains(errOut, "timed out after 200ms") || d < 200*time.Millisecond || d > 30*time.Second {
		t.Fatalf("exit %d after %v: %q", code, d, errOut)
	}
	oneLineError(t, errOut)
}
