package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

// TestBadInput: bad URLs, unknown flags, impossible counts, a rate with
// no duration and unreachable hosts each give one error line and a
// non-zero exit (2 for usage, 1 for a failure), never a stack trace.
func TestBadInput(t *testing.T) {
	testkit.CheckLeaks(t)
	s := startTarget(t, false)
	dead := "http://" + testkit.ClosedAddr(t) + "/"
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o644)
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"bench", "--nope"}, 2, "unknown flag"},
		{[]string{"bench", "ftp://x/"}, 2, "scheme must be http or https"},
		{[]string{"bench", "http://"}, 2, "no host"},
		{[]string{"bench", "http://a b/"}, 2, "bad URL"},
		{[]string{"bench", "-c", "0", s.URL()}, 2, "connections must be at least 1"},
		{[]string{"bench", "-c", "-3", s.URL()}, 2, "connections must be at least 1"},
		{[]string{"bench", "-n", "0", s.URL()}, 2, "requests must be at least 1"},
		{[]string{"bench", "-n", "-1", s.URL()}, 2, "requests must be at least 1"},
		{[]string{"bench", "-d", "-1s", s.URL()}, 2, "duration must be positive"},
		{[]string{"bench", "-d", "0", s.URL()}, 2, "duration must be positive"},
		{[]string{"bench", "-R", "0", "-d", "1s", s.URL()}, 2, "rate must be positive"},
		{[]string{"bench", "-R", "100", s.URL()}, 2, "needs -d/--duration"},
		{[]string{"bench", "-R", "100", "-n", "10", s.URL()}, 2, "needs -d/--duration"},
		{[]string{"bench", "-c", "lots", s.URL()}, 2, "invalid argument"},
		{[]string{"bench", "-H", "no colon", s.URL()}, 2, "bad header"},
		{[]string{"bench", "-H", "X: a\r\nY: b", s.URL()}, 2, "bad header"},
		{[]string{"bench", "-X", "GE T", s.URL()}, 2, "bad method"},
		{[]string{"bench", "-H", "Host: elsewhere", s.URL()}, 2, "is not supported"},
		{[]string{"bench", "--cert", "a.pem", s.URL()}, 2, "--cert and --key go together"},
		{[]string{"bench", "--cacert", "/nonexistent/ca.pem", s.URL()}, 1, "--cacert"},
		{[]string{"bench", "--cacert", notPEM, s.URL()}, 1, "no PEM certificate"},
		{[]string{"bench", "--body", "a", "--body-file", "b", s.URL()}, 2, "exclude each other"},
		{[]string{"bench", s.URL(), s.URL()}, 2, "at most one URL"},
		{[]string{"bench", "-d", "1s", dead}, 1, "cannot reach"},
		{[]string{"get"}, 2, "needs a URL"},
		{[]string{"get", "example.com"}, 3, "did you mean http://example.com/?"},
		{[]string{"get", "ftp://example.com/"}, 1, "scheme must be http or https"},
		{[]string{"get", "http://"}, 3, "no host"},
		{[]string{"get", "-t", "0", s.URL()}, 2, "timeout must be positive"},
		{[]string{"get", dead}, 7, "connection refused"},
		{[]string{"merge"}, 2, "one or more files"},
		{[]string{"merge", "/nonexistent.hdr"}, 1, "no such file"},
		{[]string{"merge", notPEM}, 1, "no histograms"},
		{[]string{"serve", "--addr", "nonsense"}, 1, "serve"},
		{[]string{"serve", "extra"}, 2, "no arguments"},
		{[]string{"serve", "--cert-out", "x.pem"}, 2, "needs --tls"},
	}
	for _, c := range cases {
		out, errOut, code := cli(t, c.args...)
		if code != c.code {
			t.Errorf("%q: exit %d, want %d\n%s%s", c.args, code, c.code, out, errOut)
			continue
		}
		oneLineError(t, errOut)
		if !strings.Contains(errOut, c.msg) {
			t.Errorf("%q: %q lacks %q", c.args, errOut, c.msg)
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{nil, {"--help"}, {"bench", "--help"}, {"get", "-h"}, {"--version"}} {
		out, errOut, code := cli(t, args...)
		if code != 0 || out == "" || errOut != "" {
			t.Errorf("%q: exit %d, %d bytes, stderr %q", args, code, len(out), errOut)
		}
	}
	out, _, _ := cli(t, "bench", "--help")
	for _, flag := range []string{"--connections", "--duration", "--requests", "--rate", "--method", "--header",
		"--body", "--body-file", "--timeout", "--insecure", "--cacert", "--cert", "--key", "--json", "--hdr", "--html"} {
		if !strings.Contains(out, flag) {
			t.Errorf("bench --help lacks %s", flag)
		}
	}
}

// TestServe runs the serve command until its context is cancelled, as by
// Ctrl-C.
func TestServe(t *testing.T) {
	testkit.CheckLeaks(t)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--loops", "1"}, pw, &errb)
		pw.Close()
	}()
	br := bufio.NewReader(pr)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("%v; stderr %q", err, errb.String())
	}
	i := strings.Index(line, "http://")
	if i < 0 {
		t.Fatalf("no URL in %q", line)
	}
	url := strings.Fields(line[i:])[0]
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get(url + "/status/418")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 418 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	cancel()
	rest, _ := io.ReadAll(br)
	if code := <-done; code != 0 || !strings.Contains(string(rest), "stopped after 1 requests") {
		t.Fatalf("exit %d, %q, stderr %q", code, rest, errb.String())
	}
}

// TestGetHelpExitCodes: get --help documents each exit code get uses.
func TestGetHelpExitCodes(t *testing.T) {
	out, _, code := cli(t, "get", "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, c := range []int{getExitProtocol, exitUsage, getExitURL, getExitProxyResolve, getExitResolve, getExitConnect,
		getExitWeird, getExitPartial, getExitHTTP, getExitWrite, getExitRead, getExitTimeout, getExitTLS,
		getExitRedirects, getExitEmpty, getExitRecv, getExitCertificate, getExitEncoding} {
		if !strings.Contains(out, fmt.Sprintf("\n  %-3d ", c)) {
			t.Errorf("get --help does not document exit %d", c)
		}
	}
	for _, flag := range []string{"--include", "--head", "--silent", "--write-out", "--resolve", "--compressed", "--user-agent",
		"--user", "--ipv4", "--ipv6", "--proxy", "--noproxy", "--retry", "--max-redirs", "--fail", "time_starttransfer"} {
		if !strings.Contains(out, flag) {
			t.Errorf("get --help lacks %s", flag)
		}
	}
}
