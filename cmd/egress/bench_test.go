package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

// TestBenchNoURL is the first thing a new user runs: no arguments at all.
// It starts the embedded server, benchmarks it for the default 3 s with 64
// connections, prints the report and exits 0.
func TestBenchNoURL(t *testing.T) {
	testkit.CheckLeaks(t)
	out, errOut, code := cli(t, "bench", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	r := parseReport(t, out)
	// Behaviour, not speed (that is the harness's): every request is
	// counted once, and the run lasts its 3 s, ending with the last
	// completion, which comes no later than the 10 s timeout after the
	// end (a later one is given up, counted incomplete).
	if r.Requests <= 0 || r.Status["200"] != r.Requests || r.ErrorsTotal != 0 || r.Incomplete != 0 {
		t.Fatalf("requests %d status %v errors %v incomplete %d", r.Requests, r.Status, r.Errors, r.Incomplete)
	}
	if r.Elapsed < 2.9 || r.Elapsed > 3+10.5 || r.Model != "closed" || !strings.HasPrefix(r.URL, "http://127.0.0.1:") {
		t.Fatalf("elapsed %v model %s url %s", r.Elapsed, r.Model, r.URL)
	}
	if r.Conns == nil || r.Conns.Asked != 64 || r.Conns.Achieved != 64 || r.Conns.Dialed != 64 ||
		r.Conns.Reused != r.Requests-64 {
		t.Fatalf("connections %+v", r.Conns)
	}
	if r.Latency.P50 <= 0 || r.Throughput.Requests <= 0 || r.Bytes.Body != r.Requests*int64(len("hello, egress\n")) {
		t.Fatalf("latency %+v throughput %+v bytes %+v", r.Latency, r.Throughput, r.Bytes)
	}
	// One-second intervals: each but the last, partial one spans at least
	// a second (a busy machine may merge two), and they reach the end.
	prev := 0.0
	for i, p := range r.Timeline {
		if i < len(r.Timeline)-1 && p.T-prev < 0.999 {
			t.Fatalf("timeline %+v: interval %d shorter than 1 s", r.Timeline, i)
		}
		prev = p.T
	}
	if len(r.Timeline) < 1 || prev < 2.9 {
		t.Fatalf("timeline %+v", r.Timeline)
	}
	if !strings.Contains(errOut, "no URL given") {
		t.Errorf("stderr: %q", errOut)
	}
}

// TestBenchText checks the text report's sections.
func TestBenchText(t *testing.T) {
	testkit.CheckLeaks(t)
	s := startTarget(t, false)
	out, errOut, code := cli(t, "bench", "-c", "4", "-d", "300ms", s.URL()+"/bytes/10")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"closed model, 4 connections", "requests ", "req/s", "Latency (",
		"p50 ", "p99.99 ", "max ", "|", "Status codes   200: ", "Non-2xx        none\n", "Errors         none\n",
		"Thresholds     2 of 2 met (the defaults", "met      fail if errors>1%", "met      fail if non2xx>1%",
		"Connections", "asked 4, achieved 4", "stale-connection retries 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if errOut != "" {
		t.Errorf("stderr: %q", errOut)
	}
}

// TestBenchCountsAndErrors runs against a server that answers some
// requests with 500 and cuts some bodies short: the JSON must count each
// request once, as a status or as an error, and the run fails the
// default thresholds (errors>1%, non2xx>1%): exit 99, with one error line
// after the report.
func TestBenchCountsAndErrors(t *testing.T) {
	testkit.CheckLeaks(t)
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch i := n.Add(1); {
		case i%10 == 0:
			c, bw, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			bw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
			bw.Flush()
			c.Close()
		case i%7 == 0:
			w.WriteHeader(500)
		default:
			w.Write([]byte("ok"))
		}
	}))
	defer srv.Close()
	out, errOut, code := cli(t, "bench", "--json", "-c", "3", "-n", "300", srv.URL+"/")
	if code != 99 {
		t.Fatalf("exit %d, want 99\n%s", code, errOut)
	}
	oneLineError(t, errOut)
	if !strings.Contains(errOut, "threshold not met: errors>1%: errors ") || !strings.Contains(errOut, "; non2xx>1%: non2xx ") {
		t.Errorf("stderr: %q", errOut)
	}
	r := parseReport(t, out)
	if r.Requests != 300 || r.Status["500"] == 0 || r.Status["200"] == 0 || r.Errors["truncated body"] == 0 {
		t.Fatalf("requests %d status %v errors %v", r.Requests, r.Status, r.Errors)
	}
	// Every cut-short response costs a connection.
	t.Logf("connections %+v", *r.Conns)
	if r.Conns.Dialed < r.Errors["truncated body"] {
		t.Errorf("dialed %d for %d broken connections", r.Conns.Dialed, r.Errors["truncated body"])
	}
}

// TestBenchRateSlowServer runs the open model at 50 req/s against a
// server that takes 100 ms per request, over 2 connections: at most 20
// req/s get through, so requests queue. Latency counted from when each
// request was due shows the queueing, above the server's 100 ms, and the
// report says the rate was not met.
func TestBenchRateSlowServer(t *testing.T) {
	testkit.CheckLeaks(t)
	s := startTarget(t, false)
	// The default threshold sent<95% fails it: exit 99.
	out, errOut, code := cli(t, "bench", "--json", "-R", "50", "-d", "1s", "-c", "2", s.URL()+"/delay/100")
	if code != 99 || !strings.Contains(errOut, "threshold not met: sent<95%: sent ") {
		t.Fatalf("exit %d, want 99 for the rate not met\n%s", code, errOut)
	}
	r := parseReport(t, out)
	if r.Model != "open" || r.Rate == nil || r.Rate.Met || r.Rate.Asked != 50 {
		t.Fatalf("model %s rate %+v", r.Model, r.Rate)
	}
	if r.Latency.Min < 100 || r.Latency.P90 < 300 || r.Latency.Max < 400 {
		t.Fatalf("latency %+v: not corrected for the queueing", r.Latency)
	}
	if len(r.Warnings) == 0 || !strings.Contains(r.Warnings[0], "rate not met") ||
		!strings.Contains(errOut, "warning: rate not met") {
		t.Fatalf("warnings %q, stderr %q", r.Warnings, errOut)
	}

	// The same server with enough connections meets the rate; latency is
	// then the server's own.
	out, errOut, code = cli(t, "bench", "--json", "-R", "50", "-d", "1s", "-c", "20", s.URL()+"/delay/100")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	r = parseReport(t, out)
	if !r.Rate.Met || r.Latency.Min < 100 || r.Latency.P50 > 250 || len(r.Warnings) != 0 {
		t.Fatalf("rate %+v latency %+v warnings %q", r.Rate, r.Latency, r.Warnings)
	}
}

// TestBenchRequestOptions checks method, headers and a body from a file
// reach the server.
func TestBenchRequestOptions(t *testing.T) {
	testkit.CheckLeaks(t)
	var bad atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 64)
		n, _ := r.Body.Read(b)
		if r.Method != "PUT" || r.Header.Get("X-Test") != "yes" || string(b[:n]) != "payload" {
			bad.Add(1)
		}
	}))
	defer srv.Close()
	f := filepath.Join(t.TempDir(), "body")
	os.WriteFile(f, []byte("payload"), 0o644)
	out, errOut, code := cli(t, "bench", "--json", "-X", "PUT", "-H", "X-Test: yes", "--body-file", f, "-n", "20", "-c", "2", srv.URL)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if r := parseReport(t, out); r.Requests != 20 || bad.Load() != 0 {
		t.Fatalf("requests %d, %d malformed", r.Requests, bad.Load())
	}
}

// TestBenchHTML checks that the HTML report is self-contained: the chart
// library is inline and nothing is fetched from the network.
func TestBenchHTML(t *testing.T) {
	testkit.CheckLeaks(t)
	s := startTarget(t, false)
	dir := t.TempDir()
	html := filepath.Join(dir, "r.html")
	_, errOut, code := cli(t, "bench", "-c", "2", "-d", "1200ms", "--html", html, s.URL())
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	b, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{"<!DOCTYPE html>", "echarts.init(", `id="latency"`, `id="timeline"`,
		"Latency by percentile", "Requests per second over time", "Apache Software Foundation", "Status codes"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, bad := range []string{"<script src", "<link ", "go-echarts-assets", "cdn."} {
		if strings.Contains(page, bad) {
			t.Errorf("page refers to the network: %q", bad)
		}
	}
	if len(b) < 500<<10 {
		t.Errorf("page is %d bytes: the chart library is not inlined", len(b))
	}
}

// TestBenchHTTPS runs bench and get over TLS against the embedded
// server, trusting it through --cacert.
func TestBenchHTTPS(t *testing.T) {
	testkit.CheckLeaks(t)
	s := startTarget(t, true)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, s.CertificatePEM(), 0o644)
	out, errOut, code := cli(t, "get", "--cacert", ca, s.URL()+"/")
	if code != 0 || out != "hello, egress\n" {
		t.Fatalf("get: exit %d %q\n%s", code, out, errOut)
	}
	out, errOut, code = cli(t, "bench", "--json", "--cacert", ca, "-c", "2", "-n", "50", s.URL()+"/")
	if code != 0 {
		t.Fatalf("bench: exit %d\n%s", code, errOut)
	}
	if r := parseReport(t, out); r.Status["200"] != 50 {
		t.Fatalf("status %v errors %v", r.Status, r.Errors)
	}
	// Without the CA: verification fails, as errors of type tls.
	out, errOut, code = cli(t, "bench", "--json", "-c", "1", "-n", "3", s.URL()+"/")
	if code != 1 {
		t.Fatalf("untrusted bench: exit %d\n%s", code, errOut)
	}
	if r := parseReport(t, out); r.Errors["tls"] != 3 {
		t.Fatalf("errors %v", r.Errors)
	}
	// -k skips verification.
	if _, errOut, code = cli(t, "get", "-k", s.URL()+"/"); code != 0 {
		t.Fatalf("get -k: exit %d\n%s", code, errOut)
	}
}
