package report

import (
	"bytes"
	"encoding/json"
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/egress-go/egress/cmd/egress/internal/load"
)

func sampleResult() *load.Result {
	h := load.NewHistogram()
	for i := int64(1); i <= 1000; i++ {
		h.RecordValue(i * 10_000) // 10 µs .. 10 ms
	}
	return &load.Result{
		Elapsed: 2 * time.Second, Requests: 1003, Failed: 3,
		Status: map[int]int64{200: 990, 503: 10}, Errors: map[string]int64{load.ErrClassReset: 3},
		BytesIn: 4096, BytesOut: 1024, BodyBytes: 2048, Latency: h,
		Timeline: []load.Sample{{End: time.Second, Requests: 500}, {End: 2 * time.Second, Requests: 503, Errors: 3}},
		Conns:    load.ConnStats{Asked: 4, Peak: 4, Dials: 7, Reuses: 996, Resets: 3, ServerClose: 1},
	}
}

func TestBuild(t *testing.T) {
	r := Build(Meta{URL: "http://h/", Method: "GET", Connections: 4, Duration: 2 * time.Second}, sampleResult())
	if r.Requests != 1003 || r.Responses != 1000 || r.ErrorsTotal != 3 || r.Status["503"] != 10 {
		t.Fatalf("%+v", r)
	}
	// Values are exact to the histogram's 3 significant digits.
	if r.Throughput.Requests != 501.5 || r.Latency.Count != 1000 || !near(r.Latency.Max, 10) || !near(r.Latency.P50, 5) {
		t.Fatalf("throughput %+v latency %+v", r.Throughput, r.Latency)
	}
	var n int64
	for i, b := range r.Histogram {
		n += b.Count
		if i > 0 && b.UpTo <= r.Histogram[i-1].UpTo {
			t.Fatalf("bucket bounds not increasing: %+v", r.Histogram)
		}
	}
	if n != 1000 || len(r.Histogram) != 10 || r.Histogram[9].UpTo != r.Latency.Max {
		t.Fatalf("histogram %+v", r.Histogram)
	}
	if r.Timeline[0].Rate != 500 || r.Timeline[1].Rate != 503 {
		t.Fatalf("timeline %+v", r.Timeline)
	}
	if r.Conns.ClosedByServer != 1 || r.Conns.Reset != 3 || len(r.Warnings) != 0 {
		t.Fatalf("conns %+v warnings %q", r.Conns, r.Warnings)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"requests      1003 in 2.00s   (502 req/s)", "p50 5.00ms", "max 10.0ms",
		"Status codes   200: 990, 503: 10", "Non-2xx        10 of 1003 requests (1.00%)",
		"Errors         3 of 1003 requests (0.30%): reset: 3", "asked 4, achieved 4", "reset 3"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
}

func near(got, want float64) bool { return got >= want && got <= want*1.001 }

func TestRateWarning(t *testing.T) {
	res := sampleResult()
	res.Rate = load.RateStats{Asked: 1000, Achieved: 500, Due: 2000, Sent: 1003}
	r := Build(Meta{URL: "http://h/", Method: "GET", Connections: 4, Duration: 2 * time.Second, Rate: 1000}, res)
	if r.Model != "open" || r.Rate.Met || r.Rate.NotSent != 997 || len(r.Warnings) != 1 ||
		!strings.Contains(r.Warnings[0], "rate not met: asked 1000 req/s") {
		t.Fatalf("rate %+v warnings %q", r.Rate, r.Warnings)
	}
	var text bytes.Buffer
	r.WriteText(&text)
	if !strings.Contains(text.String(), "WARNING: rate not met") || !strings.Contains(text.String(), "from when each request was due") {
		t.Fatalf("%s", text.String())
	}
}

func TestDur(t *testing.T) {
	for ms, want := range map[float64]string{0.0123: "12µs", 0.5: "500µs", 1.234: "1.23ms", 12.34: "12.3ms",
		123.4: "123ms", 1234: "1.23s"} {
		if got := dur(ms); got != want {
			t.Errorf("dur(%v) = %q, want %q", ms, got, want)
		}
	}
	if got := size(1536); got != "1.5 KiB" {
		t.Errorf("size: %q", got)
	}
}

// TestMergePlainLog merges a log written by hdrhistogram-go alone, with
// no egress summary: its histogram's count stands for the requests.
func TestMergePlainLog(t *testing.T) {
	h := load.NewHistogram()
	for i := int64(1); i <= 100; i++ {
		h.RecordValue(i * 1_000_000)
	}
	var buf bytes.Buffer
	lw := hdrhistogram.NewHistogramLogWriter(&buf)
	lw.OutputLogFormatVersion()
	lw.OutputLegend()
	if err := lw.OutputIntervalHistogram(h); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "plain.hdr")
	os.WriteFile(f, buf.Bytes(), 0o644)
	r, err := Merge([]string{f, f})
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 200 || r.Latency.Count != 200 || !near(r.Latency.Max, 100) {
		t.Fatalf("requests %d latency %+v", r.Requests, r.Latency)
	}
	if _, err := json.Marshal(r); err != nil {
		t.Fatal(err)
	}
}

func TestMergeErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte("1,2,3,not base64 at all\n"), 0o644)
	if _, err := Merge([]string{junk}); err == nil {
		t.Fatal("junk merged")
	}
	if _, err := Merge(nil); err == nil {
		t.Fatal("nothing merged")
	}
}

func TestHTMLWithoutResponses(t *testing.T) {
	res := &load.Result{Elapsed: time.Second, Requests: 2, Failed: 2, Errors: map[string]int64{"dns": 2},
		Status: map[int]int64{}, Latency: load.NewHistogram()}
	r := Build(Meta{URL: "http://h/", Method: "GET", Connections: 1, Duration: time.Second}, res)
	var page bytes.Buffer
	if err := r.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.String(), "Latency: no responses") || strings.Contains(page.String(), `id="latency"`) {
		t.Fatalf("page without responses is wrong")
	}
}

// TestHTTP2Pushback: the server's GOAWAYs, stream resets and refused
// requests reach the JSON and the text report.
func TestHTTP2Pushback(t *testing.T) {
	res := sampleResult()
	res.Conns.GoAways, res.Conns.StreamResets, res.Conns.Unprocessed = 2, 5, 4
	res.Conns.ResetCodes = map[string]int64{"REFUSED_STREAM": 4, "CANCEL": 1}
	res.Conns.GoAwayFailures = map[string]int64{"ENHANCE_YOUR_CALM": 3}
	r := Build(Meta{URL: "http://h/", Method: "GET", Connections: 4, Duration: 2 * time.Second}, res)
	if c := r.Conns; c.GoAways != 2 || c.StreamResets != 5 || c.RefusedRetries != 4 {
		t.Fatalf("conns %+v", c)
	}
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"goaways":2`, `"stream_resets":5`, `"refused_retries":4`,
		`"stream_reset_codes":{"CANCEL":1,"REFUSED_STREAM":4}`, `"goaway_failures":{"ENHANCE_YOUR_CALM":3}`} {
		if !bytes.Contains(js, []byte(want)) {
			t.Errorf("JSON lacks %s: %s", want, js)
		}
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"HTTP/2: GOAWAYs received 2, streams reset by the server 5 (REFUSED_STREAM 4, CANCEL 1), retries of requests it did not process 4",
		"HTTP/2: requests failed by a GOAWAY: ENHANCE_YOUR_CALM 3",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
}

// h2Result is a run of 4 connections asking 100 streams each of a server
// that allowed 10, which the engine's state showed.
func h2Result() *load.Result {
	res := sampleResult()
	res.HTTP2 = res.Status[200] + res.Status[503]
	res.Conns.Streams = 100
	res.Conns.StreamsPeak, res.Conns.StreamsPeakMean, res.Conns.ServerMaxStreams = 10, 9.5, 10
	res.Conns.Waits = 321
	return res
}

// TestHTTP2Streams: the streams asked and achieved, the server's limit,
// the connections beyond those asked and the note on them reach the
// JSON, the text and the HTML report, with a warning that the limit held
// the run below what was asked.
func TestHTTP2Streams(t *testing.T) {
	r := Build(Meta{URL: "http://h/", Method: "GET", Connections: 4, Duration: 2 * time.Second}, h2Result())
	c := r.Conns
	if r.Protocol != "HTTP/2.0" || c.Streams != 100 || c.StreamsAchieved != 10 || c.StreamsMean != 9.5 ||
		c.ServerMaxStreams != 10 || c.BeyondAsked != 0 || c.Waited != 321 {
		t.Fatalf("protocol %q conns %+v", r.Protocol, c)
	}
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"streams":100`, `"streams_achieved":10`, `"streams_achieved_mean":9.5`,
		`"server_max_streams":10`, `"beyond_asked":0`, `"waited":321`} {
		if !bytes.Contains(js, []byte(want)) {
			t.Errorf("JSON lacks %s: %s", want, js)
		}
	}
	lines := []string{
		"HTTP/2 streams per connection: asked 100, achieved 10 (most in flight on one connection at once; mean over the 4 connections 9.5); server's MAX_CONCURRENT_STREAMS 10",
		"beyond the 4 connections asked: 0 open at once. bench opens no connection because of MAX_CONCURRENT_STREAMS",
		"(321 requests waited)",
		"WARNING: the server allows 10 streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS), fewer than the 100 asked with -m",
	}
	var text, page bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	for _, want := range lines {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
		if !strings.Contains(page.String(), html.EscapeString(want)) {
			t.Errorf("HTML lacks %q", want)
		}
	}

	// Connections open beyond those asked are counted from the peak.
	res := h2Result()
	res.Conns.Peak = 6
	if r := Build(Meta{URL: "http://h/", Method: "GET", Connections: 4, Duration: time.Second}, res); r.Conns.BeyondAsked != 2 {
		t.Errorf("beyond asked %d with 6 open of 4 asked", r.Conns.BeyondAsked)
	}
	// A limit at or above the streams asked warns of nothing; an
	// HTTP/1.1 run has no streams line.
	res = h2Result()
	res.Conns.ServerMaxStreams = 100
	if r := Build(Meta{URL: "http://h/", Method: "GET", Connections: 4, Duration: time.Second}, res); len(r.Warnings) != 0 {
		t.Errorf("warnings %q", r.Warnings)
	}
	text.Reset()
	Build(Meta{URL: "http://h/", Method: "GET", Connections: 4, Duration: time.Second}, sampleResult()).WriteText(&text)
	if strings.Contains(text.String(), "HTTP/2 streams") {
		t.Errorf("HTTP/1.1 run shows streams:\n%s", text.String())
	}
}

// writeRunLog writes r's histogram and summary as bench --hdr does.
func writeRunLog(t *testing.T, name string, r *Report) {
	t.Helper()
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lw, err := NewLogWriter(f, time.Now(), "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := lw.Interval(r.Hist()); err != nil {
		t.Fatal(err)
	}
	if err := lw.Close(r); err != nil {
		t.Fatal(err)
	}
}

// TestMergeProtocols merges runs over HTTP/2 and HTTP/1.1, closed and
// open: the protocols are summed and named, the HTTP/2 accounting is
// kept, and the report warns of the mixes; runs alike merge without a
// warning.
func TestMergeProtocols(t *testing.T) {
	dir := t.TempDir()
	meta := Meta{URL: "http://h/", Method: "GET", Connections: 4, Duration: 2 * time.Second}
	res := h2Result()
	res.Conns.GoAways, res.Conns.StreamResets, res.Conns.Unprocessed = 1, 3, 2
	res.Conns.ResetCodes = map[string]int64{"REFUSED_STREAM": 2, "CANCEL": 1}
	h2a, h2b := filepath.Join(dir, "h2a.hdr"), filepath.Join(dir, "h2b.hdr")
	writeRunLog(t, h2a, Build(meta, res))
	res = h2Result()
	res.Conns.StreamsPeak, res.Conns.StreamsPeakMean, res.Conns.ServerMaxStreams = 8, 7.5, 8
	res.Conns.StreamResets, res.Conns.ResetCodes = 2, map[string]int64{"REFUSED_STREAM": 2}
	writeRunLog(t, h2b, Build(meta, res))
	h1open := filepath.Join(dir, "h1.hdr")
	res = sampleResult()
	res.HTTP1 = 1000
	res.Rate = load.RateStats{Asked: 500, Due: 1003, Sent: 1003}
	writeRunLog(t, h1open, Build(Meta{URL: "http://h/", Method: "GET", Connections: 4, Duration: 2 * time.Second, Rate: 500}, res))

	r, err := Merge([]string{h2a, h2b})
	if err != nil {
		t.Fatal(err)
	}
	c := r.Conns
	if r.Protocol != "HTTP/2.0" || r.Protocols["HTTP/2.0"] != 2000 || len(r.Warnings) != 0 {
		t.Fatalf("protocol %q %v warnings %q", r.Protocol, r.Protocols, r.Warnings)
	}
	if c.Streams != 100 || c.StreamsAchieved != 10 || c.StreamsMean != 8.5 || c.ServerMaxStreams != 8 ||
		c.GoAways != 1 || c.StreamResets != 5 || c.RefusedRetries != 2 || c.Waited != 642 ||
		c.ResetCodes["REFUSED_STREAM"] != 4 || c.ResetCodes["CANCEL"] != 1 {
		t.Fatalf("merged conns %+v", c)
	}
	var text bytes.Buffer
	r.WriteText(&text)
	for _, want := range []string{"  protocol      HTTP/2.0\n", "HTTP/2 streams per connection: asked 100, achieved 10",
		"streams reset by the server 5 (REFUSED_STREAM 4, CANCEL 1)"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("merged text lacks %q:\n%s", want, text.String())
		}
	}

	r, err = Merge([]string{h2a, h1open})
	if err != nil {
		t.Fatal(err)
	}
	if r.Protocol != "mixed" || r.Protocols["HTTP/2.0"] != 1000 || r.Protocols["HTTP/1.1"] != 1000 ||
		r.Models["closed"] != 1 || r.Models["open"] != 1 {
		t.Fatalf("protocol %q %v models %v", r.Protocol, r.Protocols, r.Models)
	}
	warns := strings.Join(r.Warnings, "\n")
	for _, want := range []string{"the runs mixed protocols (HTTP/1.1: 1000, HTTP/2.0: 1000)",
		"the runs mixed models (runs by model: closed: 1, open: 1)", "the runs asked different streams per connection (-m from 1 to 100)"} {
		if !strings.Contains(warns, want) {
			t.Errorf("warnings lack %q: %q", want, r.Warnings)
		}
	}
}
