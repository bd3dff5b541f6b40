package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/egress-go/egress/target"
)

// TestMain lets the test binary stand in for the egress binary: run with
// EGRESS_TEST_MAIN=1 it is the command itself, which the terminal tests
// start as a child process.
func TestMain(m *testing.M) {
	if os.Getenv("EGRESS_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// syncBuffer is a bytes.Buffer safe for a command writing while the test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// cli runs the command in-process.
func cli(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code = run(ctx, args, &out, &errb)
	return out.String(), errb.String(), code
}

// startTarget starts the embedded server for a test.
func startTarget(t *testing.T, tlsOn bool) *target.Server {
	t.Helper()
	s, err := target.Start(target.Config{Loops: 1, TLS: tlsOn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// benchJSON is the part of the JSON report the tests check.
type benchJSON struct {
	Tool        string           `json:"tool"`
	URL         string           `json:"url"`
	Model       string           `json:"model"`
	Elapsed     float64          `json:"elapsed_s"`
	Requests    int64            `json:"requests"`
	Responses   int64            `json:"responses"`
	ErrorsTotal int64            `json:"errors_total"`
	Incomplete  int64            `json:"incomplete"`
	Status      map[string]int64 `json:"status"`
	Errors      map[string]int64 `json:"errors"`
	Throughput  struct {
		Requests float64 `json:"requests_per_s"`
		BytesIn  float64 `json:"bytes_in_per_s"`
	} `json:"throughput"`
	Bytes struct {
		In, Out, Body int64
	} `json:"bytes"`
	Latency struct {
		Count                         int64
		Min, P50, P90, P99, Max, Mean float64
		P999                          float64 `json:"p99_9"`
		P9999                         float64 `json:"p99_99"`
	} `json:"latency_ms"`
	Histogram []struct {
		UpTo  float64 `json:"le_ms"`
		Count int64   `json:"count"`
	} `json:"histogram"`
	Conns *struct {
		Asked          int   `json:"asked"`
		Achieved       int64 `json:"achieved"`
		Dialed         int64 `json:"dialed"`
		Reused         int64 `json:"reused"`
		ClosedByServer int64 `json:"closed_by_server"`
		Reset          int64 `json:"reset"`
		StaleRetries   int64 `json:"stale_retries"`
	} `json:"connections"`
	Rate *struct {
		Asked    float64 `json:"asked_per_s"`
		Achieved float64 `json:"achieved_per_s"`
		Due      int64   `json:"due"`
		Sent     int64   `json:"sent"`
		Met      bool    `json:"met"`
	} `json:"rate"`
	Timeline []struct {
		T        float64 `json:"t_s"`
		Requests int64   `json:"requests"`
	} `json:"timeline"`
	Warnings []string `json:"warnings"`
}

// parseReport decodes a JSON report and checks the invariants every
// report must hold.
func parseReport(t *testing.T, stdout string) *benchJSON {
	t.Helper()
	var r benchJSON
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stdout), &raw); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, stdout)
	}
	for _, k := range []string{"tool", "model", "elapsed_s", "requests", "responses", "errors_total", "incomplete",
		"status", "errors", "throughput", "bytes", "latency_ms", "histogram", "warnings"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("JSON report lacks %q", k)
		}
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	var statuses, errs int64
	for _, n := range r.Status {
		statuses += n
	}
	for _, n := range r.Errors {
		errs += n
	}
	if r.Requests != statuses+r.ErrorsTotal || errs != r.ErrorsTotal || r.Responses != statuses {
		t.Errorf("requests %d != status %d + errors %d (errors by type sum to %d, responses %d)",
			r.Requests, statuses, r.ErrorsTotal, errs, r.Responses)
	}
	if r.Latency.Count != statuses {
		t.Errorf("latency count %d, responses %d", r.Latency.Count, statuses)
	}
	var hist int64
	for _, b := range r.Histogram {
		hist += b.Count
	}
	if hist != r.Latency.Count {
		t.Errorf("histogram buckets hold %d, latency count %d", hist, r.Latency.Count)
	}
	l := r.Latency
	if l.Count > 0 && !(l.Min <= l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.P9999 && l.P9999 <= l.Max) {
		t.Errorf("percentiles out of order: %+v", l)
	}
	var tl int64
	for _, p := range r.Timeline {
		tl += p.Requests
	}
	if len(r.Timeline) > 0 && tl != r.Requests {
		t.Errorf("timeline sums to %d, requests %d", tl, r.Requests)
	}
	return &r
}

// oneLineError checks a failure's stderr: a single "egress: " line and
// nothing that looks like a stack trace.
func oneLineError(t *testing.T, stderr string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "egress: ") || strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic") {
		t.Errorf("want one error line, got:\n%s", stderr)
	}
	for _, l := range lines[:len(lines)-1] {
		if strings.HasPrefix(l, "egress: ") && !strings.HasPrefix(l, "egress: bench: warning") {
			t.Errorf("more than one error line:\n%s", stderr)
		}
	}
}
