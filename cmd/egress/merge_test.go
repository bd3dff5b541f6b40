package main

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/egress-go/egress/cmd/egress/internal/load"
	"github.com/egress-go/egress/cmd/egress/internal/report"
	"github.com/egress-go/egress/internal/testkit"
	"github.com/egress-go/egress/target"
)

// writeLog writes samples (ns) as an HdrHistogram log of intervals of 100
// samples each, the way bench --hdr does.
func writeLog(t *testing.T, name string, samples []int64) {
	t.Helper()
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	start := time.Now()
	lw, err := report.NewLogWriter(f, start, "test")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(samples); i += 100 {
		h := load.NewHistogram()
		for _, v := range samples[i:min(i+100, len(samples))] {
			h.RecordValue(v)
		}
		h.SetStartTimeMs(start.UnixMilli() + int64(i))
		h.SetEndTimeMs(start.UnixMilli() + int64(i) + 100)
		if err := lw.Interval(h); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMergeEqualsCombined writes two logs from different sample sets and
// checks that merging them gives exactly the histogram of all samples
// together, in the report and in the merged log.
func TestMergeEqualsCombined(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	a := make([]int64, 1234)
	b := make([]int64, 777)
	all := load.NewHistogram()
	for i := range a {
		a[i] = int64(50_000 + rng.ExpFloat64()*200_000) // ~0.25 ms
		all.RecordValue(a[i])
	}
	for i := range b {
		b[i] = int64(2_000_000 + rng.NormFloat64()*300_000) // ~2 ms, another machine
		all.RecordValue(b[i])
	}
	dir := t.TempDir()
	fa, fb, merged := filepath.Join(dir, "a.hdr"), filepath.Join(dir, "b.hdr"), filepath.Join(dir, "m.hdr")
	writeLog(t, fa, a)
	writeLog(t, fb, b)

	out, errOut, code := cli(t, "merge", "--json", "--hdr", merged, fa, fb)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	var r struct {
		Requests int64              `json:"requests"`
		Latency  map[string]float64 `json:"latency_ms"`
		Sources  []string           `json:"sources"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	ms := func(ns int64) float64 { return math.Round(float64(ns)/1e3) / 1e3 }
	want := map[string]float64{
		"count": float64(all.TotalCount()), "min": ms(all.Min()), "max": ms(all.Max()),
		"p50": ms(all.ValueAtQuantile(50)), "p90": ms(all.ValueAtQuantile(90)),
		"p99": ms(all.ValueAtQuantile(99)), "p99_9": ms(all.ValueAtQuantile(99.9)),
	}
	for k, v := range want {
		if got := r.Latency[k]; got != v {
			t.Errorf("%s: merged %v, combined samples %v", k, got, v)
		}
	}
	if r.Requests != int64(len(a)+len(b)) || len(r.Sources) != 2 {
		t.Errorf("requests %d sources %v", r.Requests, r.Sources)
	}

	// The merged log holds the same histogram, bucket for bucket.
	data, err := os.ReadFile(merged)
	if err != nil {
		t.Fatal(err)
	}
	lr := hdrhistogram.NewHistogramLogReader(strings.NewReader(string(data)))
	got := load.NewHistogram()
	for {
		h, err := lr.NextIntervalHistogram()
		if err != nil {
			t.Fatal(err)
		}
		if h == nil {
			break
		}
		got.Merge(h)
	}
	if !got.Equals(all) {
		t.Fatalf("merged log differs: count %d vs %d, p99 %d vs %d",
			got.TotalCount(), all.TotalCount(), got.ValueAtQuantile(99), all.ValueAtQuantile(99))
	}
}

// TestBenchThenMerge runs bench twice with --hdr and merges the logs: the
// counts add up, status codes and all.
func TestBenchThenMerge(t *testing.T) {
	testkit.CheckLeaks(t)
	s := startTarget(t, false)
	dir := t.TempDir()
	var total int64
	var files []string
	for i, path := range []string{"/", "/status/202"} {
		f := filepath.Join(dir, "run"+string(rune('a'+i))+".hdr")
		files = append(files, f)
		out, errOut, code := cli(t, "bench", "--json", "--hdr", f, "-c", "2", "-n", "200", s.URL()+path)
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, errOut)
		}
		total += parseReport(t, out).Requests
		data, _ := os.ReadFile(f)
		if !strings.HasPrefix(string(data), "#[egress bench GET ") || !strings.Contains(string(data), "#[Histogram log format version 1.3]") ||
			!strings.Contains(string(data), "HISTF") || !strings.Contains(string(data), "#egress-summary {") {
			t.Fatalf("log:\n%s", data)
		}
	}
	out, errOut, code := cli(t, "merge", "--json", files[0], files[1])
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	r := parseReport(t, out)
	if r.Requests != total || r.Status["200"] != 200 || r.Status["202"] != 200 || r.Latency.Count != total || r.Model != "merged" {
		t.Fatalf("merged: requests %d of %d, status %v, latency count %d", r.Requests, total, r.Status, r.Latency.Count)
	}
	text, _, code := cli(t, "merge", files[0], files[1])
	if code != 0 || !strings.Contains(text, "egress merge: 2 histogram logs") || !strings.Contains(text, "202: 200") {
		t.Fatalf("text merge:\n%s", text)
	}
}

// TestMergeAcrossProtocols benchmarks the embedded target (h2c and
// HTTP/1.1 on one port) over HTTP/2 twice, over HTTP/1.1 once and in the
// open model once, and merges the logs: runs alike keep their protocol
// and streams without a warning; mixing protocols or models is merged
// all the same, counted by protocol, with a warning on stderr.
func TestMergeAcrossProtocols(t *testing.T) {
	testkit.CheckLeaks(t)
	s, err := target.Start(target.Config{HTTP2: target.H2C})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	dir := t.TempDir()
	logs := map[string]string{}
	for _, run := range []struct {
		name string
		args []string
	}{
		{"h2a", []string{"--http2-prior-knowledge", "-c", "2", "-m", "4", "-n", "200"}},
		{"h2b", []string{"--http2-prior-knowledge", "-c", "2", "-m", "4", "-n", "100"}},
		{"h1", []string{"-c", "2", "-n", "100"}},
		{"open", []string{"--http2-prior-knowledge", "-c", "2", "-R", "200", "-d", "300ms"}},
	} {
		logs[run.name] = filepath.Join(dir, run.name+".hdr")
		args := append([]string{"bench", "--json", "--hdr", logs[run.name]}, run.args...)
		if out, errOut, code := cli(t, append(args, s.URL()+"/")...); code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", run.name, code, out, errOut)
		}
	}
	type mergedJSON struct {
		Protocol  string           `json:"protocol"`
		Protocols map[string]int64 `json:"protocols"`
		Models    map[string]int   `json:"models"`
		Warnings  []string         `json:"warnings"`
		Conns     struct {
			Streams int `json:"streams"`
		} `json:"connections"`
	}
	merge := func(names ...string) (mergedJSON, string) {
		t.Helper()
		args := []string{"merge", "--json"}
		for _, n := range names {
			args = append(args, logs[n])
		}
		out, errOut, code := cli(t, args...)
		var r mergedJSON
		if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 {
			t.Fatalf("merge %v: exit %d %v\n%s%s", names, code, err, out, errOut)
		}
		return r, errOut
	}

	r, errOut := merge("h2a", "h2b")
	if r.Protocol != "HTTP/2.0" || r.Protocols["HTTP/2.0"] != 300 || len(r.Protocols) != 1 || r.Conns.Streams != 4 ||
		r.Models["closed"] != 2 || errOut != "" {
		t.Errorf("HTTP/2 runs: %+v\n%s", r, errOut)
	}
	r, errOut = merge("h2a", "h1")
	if r.Protocol != "mixed" || r.Protocols["HTTP/2.0"] != 200 || r.Protocols["HTTP/1.1"] != 100 ||
		!strings.Contains(errOut, "egress: merge: warning: the runs mixed protocols (HTTP/2.0: 200, HTTP/1.1: 100)") {
		t.Errorf("mixed protocols: %+v\n%s", r, errOut)
	}
	r, errOut = merge("h2a", "open")
	if r.Protocol != "HTTP/2.0" || r.Models["closed"] != 1 || r.Models["open"] != 1 ||
		!strings.Contains(errOut, "egress: merge: warning: the runs mixed models (runs by model: closed: 1, open: 1)") ||
		strings.Contains(errOut, "mixed protocols") {
		t.Errorf("mixed models: %+v\n%s", r, errOut)
	}
	// The text report carries the warning and the protocols too.
	text, errOut, code := cli(t, "merge", logs["h2a"], logs["h1"])
	if code != 0 || !strings.Contains(text, "  protocol      mixed: HTTP/2.0: 200, HTTP/1.1: 100\n") ||
		!strings.Contains(text, "WARNING: the runs mixed protocols") || !strings.Contains(errOut, "mixed protocols") {
		t.Errorf("text merge: exit %d\n%s\n%s", code, text, errOut)
	}
}
