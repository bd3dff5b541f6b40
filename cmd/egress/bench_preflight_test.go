package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
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

// countingServer answers 200 and counts the requests.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// TestBenchPreflightOutputs: a report file that cannot be written fails
// the run before it starts (exit 1, no request sent), not after it; a
// run that fails leaves an earlier report as it was and no new empty
// file; --json=FILE writes the JSON there and the text to stdout.
func TestBenchPreflightOutputs(t *testing.T) {
	testkit.CheckLeaks(t)
	srv, served := countingServer(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "plain")
	os.WriteFile(file, []byte("x"), 0o644)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--json=" + filepath.Join(dir, "no", "such", "r.json")}, "--json: cannot write the report there: open "},
		{[]string{"--html", filepath.Join(file, "r.html")}, "--html: cannot write the report there: open "},
		{[]string{"--hdr", dir}, "--hdr: cannot write the report there: open "},
	} {
		// -d 30s: were the check after the run, the test would wait for it.
		args := append(append([]string{"bench", "-d", "30s", "-c", "1"}, tc.args...), srv.URL)
		start := time.Now()
		out, errOut, code := cli(t, args...)
		if code != 1 || time.Since(start) > 10*time.Second {
			t.Errorf("%q: exit %d after %v, want 1 at once\n%s%s", tc.args, code, time.Since(start), out, errOut)
			continue
		}
		oneLineError(t, errOut)
		if !strings.Contains(errOut, tc.msg) || out != "" {
			t.Errorf("%q: stderr %q lacks %q (stdout %q)", tc.args, errOut, tc.msg, out)
		}
	}
	if n := served.Load(); n != 0 {
		t.Errorf("the server saw %d requests from runs refused before they started", n)
	}

	// One file for two reports: bad usage.
	same := filepath.Join(dir, "same")
	if _, errOut, code := cli(t, "bench", "-n", "5", "--html", same, "--hdr", same, srv.URL); code != 2 ||
		!strings.Contains(errOut, "--html and --hdr name the same file") {
		t.Errorf("same file twice: exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(same); !os.IsNotExist(err) {
		t.Errorf("the refused run left %s behind: %v", same, err)
	}

	// A run that cannot be made keeps the earlier report and leaves no
	// new file behind.
	old := filepath.Join(dir, "old.html")
	os.WriteFile(old, []byte("the last report"), 0o644)
	fresh := filepath.Join(dir, "fresh.json")
	dead := "http://" + testkit.ClosedAddr(t) + "/"
	if _, errOut, code := cli(t, "bench", "-n", "5", "--html", old, "--json="+fresh, dead); code != 1 || !strings.Contains(errOut, "cannot reach") {
		t.Fatalf("dead target: exit %d, %q", code, errOut)
	}
	if b, _ := os.ReadFile(old); string(b) != "the last report" {
		t.Errorf("the earlier report became %q", b)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Errorf("the failed run left %s behind: %v", fresh, err)
	}

	// --json=FILE: the JSON in the file (over the old content), the text
	// on stdout.
	os.WriteFile(fresh, bytes.Repeat([]byte("old content that is longer than nothing "), 1000), 0o644)
	out, errOut, code := cli(t, "bench", "-n", "20", "-c", "2", "--json="+fresh, "--html", old, srv.URL)
	if code != 0 || !strings.Contains(out, "Status codes   200: 20") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	b, err := os.ReadFile(fresh)
	if err != nil {
		t.Fatal(err)
	}
	if r := parseReport(t, string(b)); r.Requests != 20 {
		t.Errorf("JSON file: %d requests", r.Requests)
	}
	if b, _ := os.ReadFile(old); !bytes.HasPrefix(b, []byte("<!DOCTYPE html>")) {
		t.Errorf("the HTML report was not replaced: %.40q", b)
	}

	// "--json FILE URL" reads as two URLs: the message says how.
	if _, errOut, code := cli(t, "bench", "--json", fresh, srv.URL); code != 2 || !strings.Contains(errOut, "--json="+fresh) {
		t.Errorf("--json FILE: exit %d, %q", code, errOut)
	}
	if _, errOut, code := cli(t, "bench", "--loops", strconv.Itoa(8*runtime.NumCPU()+1), srv.URL); code != 2 ||
		!strings.Contains(errOut, "more than 8 per core") {
		t.Errorf("--loops: exit %d, %q", code, errOut)
	}
}
