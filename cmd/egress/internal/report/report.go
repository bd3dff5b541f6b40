// Package report turns what a load run measured into what people read:
// a text report, one JSON object, an HdrHistogram log that runs on other
// machines can be merged with, and a self-contained HTML page.
package report

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/egress-go/egress/cmd/egress/internal/load"
)

// Report is the result of a run (or of merged runs) as printed with
// --json. Latencies are in milliseconds, rates per second.
type Report struct {
	Tool   string `json:"tool"`
	URL    string `json:"url,omitempty"`
	Method string `json:"method,omitempty"`
	// TargetsFile and Targets describe a run of several requests
	// (bench --targets): each target with the requests it was sent.
	TargetsFile string         `json:"targets_file,omitempty"`
	Targets     []TargetReport `json:"targets,omitempty"`
	Model       string         `json:"model"` // "closed", "open" or "merged"
	// Models counts the merged runs by model ("closed", "open").
	Models   map[string]int `json:"models,omitempty"`
	Sources  []string       `json:"sources,omitempty"`
	Duration float64        `json:"duration_s,omitempty"` // asked for
	// Stages is the ramp of the run (bench --stage), as given.
	Stages  string  `json:"stages,omitempty"`
	Elapsed float64 `json:"elapsed_s"`
	// Protocol is the protocol the responses came in: "HTTP/2.0",
	// "HTTP/1.1" or "mixed"; Protocols counts the responses of each.
	Protocol  string           `json:"protocol,omitempty"`
	Protocols map[string]int64 `json:"protocols,omitempty"`

	// Requests completed = sum of Status + ErrorsTotal.
	Requests    int64            `json:"requests"`
	Responses   int64            `json:"responses"`
	ErrorsTotal int64            `json:"errors_total"`
	Incomplete  int64            `json:"incomplete"`
	Status      map[string]int64 `json:"status"`
	Errors      map[string]int64 `json:"errors"`
	// Non2xx counts the responses with a status outside 200-299 (bench
	// follows no redirect, so a 3xx counts): the server answered, but
	// not with success. They are responses, not errors.
	Non2xx int64 `json:"non2xx"`

	// Thresholds are the --fail-if conditions checked, and ThresholdsMet
	// whether all of them were met; both absent when none was checked.
	Thresholds    []ThresholdResult `json:"thresholds,omitempty"`
	ThresholdsMet *bool             `json:"thresholds_met,omitempty"`

	Throughput Throughput  `json:"throughput"`
	Bytes      Bytes       `json:"bytes"`
	Latency    Latency     `json:"latency_ms"`
	Histogram  []Bucket    `json:"histogram"`
	Conns      *ConnReport `json:"connections,omitempty"`
	Rate       *RateReport `json:"rate,omitempty"`
	Timeline   []Point     `json:"timeline,omitempty"`
	Warnings   []string    `json:"warnings"`

	hist *hdrhistogram.Histogram
	// bins are a merged report's timeline before folding, for its log.
	bins []timeBin
}

// TargetReport is one target of a mix, as given (placeholders and all),
// and the requests sent to it.
type TargetReport struct {
	Method string `json:"method"`
	URL    string `json:"url"`
	Weight int    `json:"weight"`
	Sent   int64  `json:"sent"`
}

// Throughput is per second of elapsed time.
type Throughput struct {
	Requests float64 `json:"requests_per_s"`
	BytesIn  float64 `json:"bytes_in_per_s"`
	BytesOut float64 `json:"bytes_out_per_s"`
}

// Bytes counts traffic: on the wire (heads and TLS included) and response
// bodies.
type Bytes struct {
	In   int64 `json:"in"`
	Out  int64 `json:"out"`
	Body int64 `json:"body"`
}

// Latency summarises the latency histogram of the responses.
type Latency struct {
	Count int64   `json:"count"`
	Min   float64 `json:"min"`
	Mean  float64 `json:"mean"`
	Stdev float64 `json:"stdev"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p99_9"`
	P9999 float64 `json:"p99_99"`
	Max   float64 `json:"max"`
}

// Bucket is one bar of the text histogram: responses slower than the
// previous bucket's bound and at most UpTo.
type Bucket struct {
	UpTo  float64 `json:"le_ms"`
	Count int64   `json:"count"`
}

// ConnReport is the connection accounting.
type ConnReport struct {
	Asked            int   `json:"asked"`
	Streams          int   `json:"streams"`  // requests in flight per connection asked
	Achieved         int64 `json:"achieved"` // most open at once
	Dialed           int64 `json:"dialed"`
	DialFailures     int64 `json:"dial_failures"`
	Reused           int64 `json:"reused"`
	ClosedByServer   int64 `json:"closed_by_server"` // the next three together
	ServerAskedClose int64 `json:"server_asked_close"`
	PeerClosedIdle   int64 `json:"closed_while_idle"`
	ClosedInUse      int64 `json:"closed_in_use"`
	Reset            int64 `json:"reset"`
	StaleRetries     int64 `json:"stale_retries"`
	RefusedRetries   int64 `json:"refused_retries"` // of the retries, requests an HTTP/2 server did not process
	GoAways          int64 `json:"goaways"`         // GOAWAY frames received (HTTP/2)
	StreamResets     int64 `json:"stream_resets"`   // streams the server reset (HTTP/2 RST_STREAM)
	Expired          int64 `json:"expired"`
	Discarded        int64 `json:"discarded"`
	Waited           int64 `json:"waited"` // requests that queued for a connection or an HTTP/2 stream

	// HTTP/2 streams: StreamsAchieved is the most requests in flight at
	// once on one connection (sampled every 10 ms; 0 when no sample caught
	// one), StreamsMean the mean over the connections asked of each one's
	// most, ServerMaxStreams the lowest SETTINGS_MAX_CONCURRENT_STREAMS of
	// the connections open at the end (0: none known).
	StreamsAchieved  int64   `json:"streams_achieved"`
	StreamsMean      float64 `json:"streams_achieved_mean"`
	ServerMaxStreams int64   `json:"server_max_streams,omitempty"`
	// BeyondAsked is how many connections were open at once beyond the
	// number asked (-c). bench opens none for a server's
	// MAX_CONCURRENT_STREAMS: requests above it wait for a stream on their
	// own connection (see Waited), as h2load's do.
	BeyondAsked int64 `json:"beyond_asked"`
	// ResetCodes counts the streams the server reset by RST_STREAM code;
	// GoAwayFailures the requests GOAWAYs failed, by the GOAWAY's code
	// (see load.ConnStats.ResetCodes).
	ResetCodes     map[string]int64 `json:"stream_reset_codes,omitempty"`
	GoAwayFailures map[string]int64 `json:"goaway_failures,omitempty"`
}

// RateReport describes an open-model run.
type RateReport struct {
	Asked    float64 `json:"asked_per_s"`
	Achieved float64 `json:"achieved_per_s"`
	Due      int64   `json:"due"`
	Sent     int64   `json:"sent"`
	NotSent  int64   `json:"not_sent"`
	MaxLag   float64 `json:"max_send_lag_ms"`
	Met      bool    `json:"met"`
}

// Point is one interval of the timeline.
type Point struct {
	T        float64 `json:"t_s"` // end of the interval
	Requests int64   `json:"requests"`
	Rate     float64 `json:"requests_per_s"`
	Errors   int64   `json:"errors"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
	// Open model: the rate asked over the interval and the requests sent
	// per second in it.
	AskedRate float64 `json:"asked_per_s,omitempty"`
	SentRate  float64 `json:"sent_per_s,omitempty"`
	// A ramp of connections: those asked at the interval's end; and the
	// connections open then.
	AskedConns int   `json:"connections_asked,omitempty"`
	OpenConns  int64 `json:"connections_open"`
}

// Meta is what the command knows about a run beyond its result.
type Meta struct {
	URL         string
	Method      string
	Connections int
	Duration    time.Duration
	Rate        float64 // the open model's rate; with rate stages, their mean
	Stages      string  // the ramp, as given
	// TargetsFile names the file of the run's targets, if it had some.
	TargetsFile string
}

// Build makes the report of a run.
func Build(m Meta, res *load.Result) *Report {
	r := &Report{
		Tool: "egress bench", URL: m.URL, Method: m.Method, Model: "closed", Stages: m.Stages,
		Duration: m.Duration.Seconds(), Elapsed: res.Elapsed.Seconds(),
		Requests: res.Requests, ErrorsTotal: res.Failed, Incomplete: res.Incomplete,
		Status: map[string]int64{}, Errors: map[string]int64{},
		Bytes:    Bytes{In: res.BytesIn, Out: res.BytesOut, Body: res.BodyBytes},
		Warnings: []string{},
	}
	for code, n := range res.Status {
		r.Status[strconv.Itoa(code)] = n
		r.Responses += n
	}
	r.Non2xx = non2xx(r.Status)
	for k, n := range res.Errors {
		r.Errors[k] = n
	}
	if len(res.Targets) > 0 {
		r.TargetsFile, r.Method = m.TargetsFile, ""
		for _, t := range res.Targets {
			r.Targets = append(r.Targets, TargetReport{Method: t.Method, URL: t.URL, Weight: t.Weight, Sent: t.Sent})
		}
	}
	if r.Elapsed > 0 {
		r.Throughput = Throughput{
			Requests: float64(r.Requests) / r.Elapsed,
			BytesIn:  float64(r.Bytes.In) / r.Elapsed,
			BytesOut: float64(r.Bytes.Out) / r.Elapsed,
		}
	}
	r.Protocol = res.Protocol()
	if r.Protocol != "" {
		r.Protocols = map[string]int64{}
		if res.HTTP1 > 0 {
			r.Protocols["HTTP/1.1"] = res.HTTP1
		}
		if res.HTTP2 > 0 {
			r.Protocols["HTTP/2.0"] = res.HTTP2
		}
	}
	c := res.Conns
	r.Conns = &ConnReport{
		Asked: c.Asked, Streams: max(c.Streams, 1), RefusedRetries: c.Unprocessed, Achieved: c.Peak, Dialed: c.Dials, DialFailures: c.DialFailures, Reused: c.Reuses,
		ClosedByServer:   c.ServerClose + c.PeerClosedIdle + c.ClosedInUse,
		ServerAskedClose: c.ServerClose, PeerClosedIdle: c.PeerClosedIdle, ClosedInUse: c.ClosedInUse,
		Reset: c.Resets, StaleRetries: c.Retries, Expired: c.Expired, Discarded: c.Discarded,
		GoAways: c.GoAways, StreamResets: c.StreamResets,
		Waited: c.Waits, StreamsAchieved: c.StreamsPeak, StreamsMean: round3(c.StreamsPeakMean),
		ServerMaxStreams: c.ServerMaxStreams, BeyondAsked: max(c.Peak-int64(c.Asked), 0),
		ResetCodes: c.ResetCodes, GoAwayFailures: c.GoAwayFailures,
	}
	r.Timeline = timelinePoints(res.Timeline)
	if m.Rate > 0 {
		r.Model = "open"
		rs := res.Rate
		r.Rate = &RateReport{
			Asked: m.Rate, Achieved: round3(rs.Achieved), Due: rs.Due, Sent: rs.Sent, NotSent: rs.Due - rs.Sent,
			MaxLag: ms(int64(rs.MaxLag)), Met: rs.Met(),
		}
		if !rs.Met() {
			r.Warnings = append(r.Warnings, fmt.Sprintf(
				"rate not met: asked %.0f req/s, achieved %.0f req/s; %d of %d requests due were never sent "+
					"(all %d connections busy) and those sent late count their wait in the latencies",
				m.Rate, rs.Achieved, rs.Due-rs.Sent, rs.Due, m.Connections))
		}
	}
	if c.Peak < int64(c.Asked) && m.Rate == 0 && res.Requests > int64(c.Asked) {
		r.Warnings = append(r.Warnings, fmt.Sprintf("only %d of the %d connections asked for were open at once", c.Peak, c.Asked))
	}
	if c.Streams > 1 && res.HTTP1 > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf(
			"%d responses came over HTTP/1.1, which carries one request at a time: the %d streams per connection "+
				"asked queued for the %d connections, and the latencies include that wait", res.HTTP1, c.Streams, c.Asked))
	}
	if lim := c.ServerMaxStreams; lim > 0 && lim < int64(c.Streams) && res.HTTP2 > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf(
			"the server allows %d streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS), fewer than the %d asked with -m: "+
				"at most %d requests were in flight on one connection at once. bench opens no connections beyond the %d asked, "+
				"so the other requests waited for a stream and their latencies include that wait; raise -c for more in flight",
			lim, c.Streams, lim, c.Asked))
	}
	if res.Incomplete > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%d requests still in flight at the end were given up (not counted)", res.Incomplete))
	}
	r.setHistogram(res.Latency)
	return r
}

// timelinePoints makes the report's timeline of a run's intervals (the
// last folded into the one before if short), rates over each interval's
// real length.
func timelinePoints(tl []load.Sample) []Point {
	var out []Point
	prev := 0.0
	for _, s := range foldLastInterval(tl) {
		t := s.End.Seconds()
		p := Point{T: round3(t), Requests: s.Requests, Errors: s.Errors, P50: ms(s.P50), P99: ms(s.P99),
			AskedRate: round3(s.AskedRate), AskedConns: s.AskedConns, OpenConns: s.OpenConns}
		if t > prev {
			p.Rate = round3(float64(s.Requests) / (t - prev))
			p.SentRate = round3(float64(s.Sent) / (t - prev))
		}
		prev = t
		out = append(out, p)
	}
	return out
}

// foldLastInterval folds a run's last interval into the one before when
// it is shorter than half of that one. A run rarely ends on an interval's
// boundary: the last interval holds what completed in the moments after
// the previous one closed (often the requests in flight at the end, or
// nothing at all), and a rate over a few milliseconds is noise that a
// chart draws as a spike or a fall to 0. Folded, the counts stay whole
// and the rate is over the time they took; the percentiles are those of
// the interval with more responses, the levels (connections) the last's.
func foldLastInterval(tl []load.Sample) []load.Sample {
	n := len(tl)
	if n < 2 {
		return tl
	}
	prevStart := time.Duration(0)
	if n > 2 {
		prevStart = tl[n-3].End
	}
	a, b := tl[n-2], tl[n-1]
	da, db := a.End-prevStart, b.End-a.End
	if db*2 >= da {
		return tl
	}
	f := b
	f.Requests, f.Errors, f.Sent = a.Requests+b.Requests, a.Errors+b.Errors, a.Sent+b.Sent
	if a.Requests-a.Errors >= b.Requests-b.Errors {
		f.P50, f.P99 = a.P50, a.P99
	}
	if d := da + db; d > 0 {
		f.AskedRate = (a.AskedRate*da.Seconds() + b.AskedRate*db.Seconds()) / d.Seconds()
	}
	return append(tl[:n-2:n-2], f)
}

// non2xx counts the responses whose status is outside 200-299.
func non2xx(status map[string]int64) int64 {
	var n int64
	for code, c := range status {
		if v, err := strconv.Atoi(code); err != nil || v < 200 || v > 299 {
			n += c
		}
	}
	return n
}

// setHistogram fills the latency summary and text histogram from h.
func (r *Report) setHistogram(h *hdrhistogram.Histogram) {
	r.hist = h
	if h == nil || h.TotalCount() == 0 {
		r.Histogram = []Bucket{}
		return
	}
	r.Latency = Latency{
		Count: h.TotalCount(),
		Min:   ms(h.Min()), Mean: round3(h.Mean() / 1e6), Stdev: round3(h.StdDev() / 1e6),
		P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)), P99: ms(h.ValueAtQuantile(99)),
		P999: ms(h.ValueAtQuantile(99.9)), P9999: ms(h.ValueAtQuantile(99.99)), Max: ms(h.Max()),
	}
	r.Histogram = buckets(h, 10)
}

// Hist returns the latency histogram (nanoseconds) the report was built
// from.
func (r *Report) Hist() *hdrhistogram.Histogram { return r.hist }

// buckets groups the histogram into at most n bars on a logarithmic
// scale between its minimum and maximum, which is how latency spreads.
func buckets(h *hdrhistogram.Histogram, n int) []Bucket {
	lo, hi := float64(h.Min()), float64(h.Max())
	if hi <= lo*1.01 {
		return []Bucket{{UpTo: ms(h.Max()), Count: h.TotalCount()}}
	}
	edges := make([]float64, n)
	for i := range edges {
		edges[i] = lo * math.Pow(hi/lo, float64(i+1)/float64(n))
	}
	edges[n-1] = hi
	out := make([]Bucket, n)
	for i, e := range edges {
		out[i].UpTo = round3(e / 1e6)
	}
	// Max walks the whole histogram: once, not per bar.
	for _, b := range h.Distribution() {
		if b.Count == 0 {
			continue
		}
		v := hi
		if float64(b.To) < v {
			v = float64(b.To)
		}
		i := sort.SearchFloat64s(edges, v)
		out[min(i, n-1)].Count += b.Count
	}
	return out
}

func ms(ns int64) float64 { return round3(float64(ns) / 1e6) }

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
