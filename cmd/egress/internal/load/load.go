// Package load is the load generator behind `egress bench`: a fixed set of
// request slots driven through the transport's non-blocking API, in a
// closed model (each slot sends its next request when the last one ends)
// or an open model at a fixed rate, with latency measured from the
// intended send time so that a slow server cannot hide its queueing
// (coordinated omission, corrected as wrk2 does).
//
// No goroutine is spent per connection or per request: completions run
// on the engine's loops and send the next request from there. The only
// goroutines of a run are the caller's, a sampler (progress, per-second
// intervals) and, in the open model, a pacer.
package load

import (
	"crypto/tls"
	"errors"
	"math"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/egress-go/egress"
)

// Config describes a run.
type Config struct {
	URL    string
	Method string // default GET
	Header []egress.HeaderField
	Body   []byte
	// Targets, when set, are the requests of the run instead of the one
	// of URL, Method, Header and Body: request n of the run goes to the
	// targets in turn, each as often as its Weight. URL, if empty, is set
	// to the first target's (it decides whether the run may speak
	// HTTP/2). Either way, URLs, header values and bodies may hold
	// placeholders (see Target).
	Targets []Target

	// Connections is the number of connections: the pool is capped at
	// this many per host. Default 64.
	Connections int
	// Streams is the number of requests in flight on each connection
	// (h2load's -m); the run has Connections × Streams request slots.
	// Above 1 it needs HTTP/2, which multiplexes the slots over the
	// connections; over HTTP/1.1 the extra slots would queue for a
	// connection. Default 1.
	Streams int
	// HTTP2 selects the protocol: Disable for HTTP/1.1 only,
	// PriorKnowledge for h2c on http:// URLs; by default https offers h2
	// by ALPN. WaitForStreams is set when Streams is above 1, so that
	// the number of connections stays as asked.
	HTTP2 egress.HTTP2Options
	// Duration bounds the run; Requests bounds it by count. At least one
	// must be set; when both are, the first reached ends the run.
	Duration time.Duration
	Requests int64
	// Rate, when positive, selects the open model: requests are due at a
	// fixed rate (per second) whatever the server does, and latency counts
	// from when each was due. It needs Duration.
	Rate float64
	// RateStages, when set, select the open model with a rate that ramps
	// from Rate (0 if unset) through each stage's target in turn; the run
	// lasts the stages' sum, which Duration is set to.
	RateStages []Stage
	// ConnStages, in the closed model, ramp the connections in use from 0
	// through each stage's target in turn (each with Streams requests in
	// flight); Connections is set to their most, Duration to their sum.
	// Connections no longer asked for go idle.
	ConnStages []Stage

	// Timeout bounds connecting, the wait for a response head and each
	// silence within a body; default 10 s. It is also how long the run
	// waits, after its end, for requests still in flight.
	Timeout time.Duration
	// TLS is the client TLS configuration for https URLs.
	TLS *tls.Config
	// Loops is the number of engine loops; default one per core.
	Loops int

	// Tick is how often Progress is called; default 250 ms. Interval is
	// the length of the intervals of the timeline and of OnInterval;
	// default 1 s. Both are called from one goroutine, in order.
	Tick       time.Duration
	Interval   time.Duration
	Progress   func(Progress)
	OnInterval func(Interval)
}

// Progress is a live view of a run.
type Progress struct {
	Elapsed  time.Duration
	Requests int64   // completed so far
	Errors   int64   // of which failed
	RateNow  float64 // requests per second over the last interval
	Open     int64   // connections open now
	// P50 and P99 are the latency percentiles of the last interval
	// closed (the last second by default); 0 before the first closes or
	// when it had no response.
	P50, P99 time.Duration
}

// Interval is one slice of the timeline.
type Interval struct {
	Start, End time.Duration // since the run began
	Requests   int64
	Errors     int64
	// OpenConns is the connections open at the interval's end; Sent, in
	// the open model, the requests sent in it.
	OpenConns int64
	Sent      int64
	// Hist holds the latencies recorded in the interval (nanoseconds);
	// its start and end times are set in milliseconds since the epoch.
	Hist *hdrhistogram.Histogram
}

// Result is what a run measured.
type Result struct {
	Start   time.Time
	Elapsed time.Duration // from the start to the later of its stop (deadline, last request, interruption) and its last completion

	Requests   int64            // completed: a status or an error
	Status     map[int]int64    // completed with a response
	Errors     map[string]int64 // failed, by Classify
	Failed     int64
	Incomplete int64 // in flight when the run was cut off; not counted above
	BodyBytes  int64
	BytesIn    int64 // on the wire, heads and TLS included
	BytesOut   int64

	Latency  *hdrhistogram.Histogram // nanoseconds
	Timeline []Sample

	Conns ConnStats
	Rate  RateStats

	// HTTP1, HTTP2 count the responses by protocol version.
	HTTP1, HTTP2 int64

	// Targets counts the requests sent to each of Config.Targets.
	Targets []TargetCount
}

// Protocol names the protocol the responses came in: "HTTP/2.0",
// "HTTP/1.1", "mixed" when both were seen, "" when none came.
func (r *Result) Protocol() string {
	switch {
	case r.HTTP1 > 0 && r.HTTP2 > 0:
		return "mixed"
	case r.HTTP2 > 0:
		return "HTTP/2.0"
	case r.HTTP1 > 0:
		return "HTTP/1.1"
	}
	return ""
}

// Sample summarises one interval of the timeline.
type Sample struct {
	End      time.Duration
	Requests int64
	Errors   int64
	P50, P99 int64 // nanoseconds
	// In the open model, AskedRate is the rate asked over the interval
	// (its requests due per second) and Sent the requests sent in it.
	AskedRate float64
	Sent      int64
	// AskedConns is the connections a ramp (ConnStages) asked for at the
	// interval's end; OpenConns those open then.
	AskedConns int
	OpenConns  int64
}

// ConnStats is the connection accounting of a run.
type ConnStats struct {
	Asked          int   // Config.Connections
	Streams        int   // Config.Streams: requests in flight per connection
	Peak           int64 // most connections open at once, sampled
	Dials          int64 // connections dialed
	DialFailures   int64
	Reuses         int64 // requests sent on a connection used before
	ServerClose    int64 // responses carrying "Connection: close"
	PeerClosedIdle int64 // pooled connections the server closed while idle
	ClosedInUse    int64 // requests failed because the server closed mid-exchange
	Resets         int64 // requests failed by a connection reset
	Retries        int64 // requests replayed after a stale reused connection failed
	Unprocessed    int64 // of which an HTTP/2 server said it had not processed them (refused stream, GOAWAY)
	GoAways        int64 // GOAWAY frames HTTP/2 servers sent
	StreamResets   int64 // streams HTTP/2 servers reset (RST_STREAM)
	Expired        int64 // idle connections closed for age
	Discarded      int64 // connections not returned to the pool after use
	Waits          int64 // requests that queued for a connection or for an HTTP/2 stream

	// HTTP/2 streams achieved. StreamsPeak is the most requests in flight
	// at once on one connection, StreamsPeakMean the mean over the
	// connections asked of each one's most: streams open, not slots
	// waiting for one, sampled from the pool every 10 ms (0 when no
	// sample caught a stream, in a run shorter than that). A connection's
	// figure is capped at its server's MAX_CONCURRENT_STREAMS: the streams
	// egress opens above it before the server's SETTINGS arrive are
	// refused unprocessed, and retried.
	StreamsPeak     int64
	StreamsPeakMean float64
	// ServerMaxStreams is the lowest SETTINGS_MAX_CONCURRENT_STREAMS of
	// the HTTP/2 connections open at the end of the run; 0 when none was
	// open or none set a limit.
	ServerMaxStreams int64

	// ResetCodes counts the streams the server reset by RST_STREAM error
	// code, and GoAwayFailures the requests GOAWAYs failed by the
	// GOAWAY's code. Both come from the requests' errors (Classify): a
	// reset whose request did not fail is counted as REFUSED_STREAM, the
	// one code for which egress replays a request; a GOAWAY that failed
	// nothing (a graceful NO_ERROR) counts in GoAways alone.
	ResetCodes     map[string]int64
	GoAwayFailures map[string]int64
}

// RateStats describes an open-model run.
type RateStats struct {
	Asked    float64       // Config.Rate
	Achieved float64       // requests sent per second
	Due      int64         // requests due over the run
	Sent     int64         // of which sent
	MaxLag   time.Duration // the latest a request was sent after it was due
}

// Met reports whether the asked rate was reached: at least 95% of the
// requests due were sent.
func (r RateStats) Met() bool { return r.Asked == 0 || float64(r.Sent) >= 0.95*float64(r.Due) }

// Errors from Run for a Config it cannot run.
var (
	ErrNoEnd          = errors.New("load: neither a duration nor a request count")
	ErrRateNeedsTime  = errors.New("load: a rate needs a duration")
	ErrBadConnections = errors.New("load: connections must be positive")
	ErrBadStreams     = errors.New("load: streams must be positive")
	ErrBadStages      = errors.New("load: stages need a positive duration and a target of 0 or more, " +
		"connection stages one of 1 or more, and rate and connection stages do not mix")
)

func (c *Config) defaults() error {
	if c.Method == "" {
		c.Method = "GET"
	}
	if c.URL == "" && len(c.Targets) > 0 {
		c.URL = c.Targets[0].URL
	}
	if len(c.RateStages) > 0 && len(c.ConnStages) > 0 {
		return ErrBadStages
	}
	for _, stages := range [][]Stage{c.RateStages, c.ConnStages} {
		if len(stages) == 0 {
			continue
		}
		var sum time.Duration
		most := 0.0
		for _, st := range stages {
			if st.Duration <= 0 || st.Target < 0 || math.IsNaN(st.Target) || math.IsInf(st.Target, 0) {
				return ErrBadStages
			}
			sum += st.Duration
			most = max(most, st.Target)
		}
		c.Duration = sum
		if len(c.ConnStages) > 0 {
			if most < 1 {
				return ErrBadStages
			}
			c.Connections = int(math.Ceil(most))
		}
	}
	if c.Connections == 0 {
		c.Connections = 64
	}
	if c.Connections < 0 {
		return ErrBadConnections
	}
	if c.Streams == 0 {
		c.Streams = 1
	}
	if c.Streams < 0 {
		return ErrBadStreams
	}
	if c.Duration <= 0 && c.Requests <= 0 {
		return ErrNoEnd
	}
	if c.Rate > 0 && c.Duration <= 0 {
		return ErrRateNeedsTime
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Tick <= 0 {
		c.Tick = 250 * time.Millisecond
	}
	if c.Interval <= 0 {
		c.Interval = time.Second
	}
	if c.Interval < c.Tick {
		c.Tick = c.Interval
	}
	return nil
}
