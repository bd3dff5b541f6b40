package report

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// WriteText prints the report for people.
func (r *Report) WriteText(w io.Writer) error {
	tw := &textWriter{w: w}
	tw.printf("%s", r.title())
	tw.printf("")
	tw.printf("  requests      %d in %s   (%s req/s)", r.Requests, secs(r.Elapsed), num(r.Throughput.Requests))
	if r.Protocol != "" {
		p := r.Protocol
		if p == "mixed" {
			p = "mixed: " + counts(r.Protocols, false)
		}
		tw.printf("  protocol      %s", p)
	}
	if r.Bytes.In > 0 || r.Bytes.Out > 0 {
		tw.printf("  transfer      in %s (%s/s), out %s (%s/s), bodies %s",
			size(float64(r.Bytes.In)), size(r.Throughput.BytesIn),
			size(float64(r.Bytes.Out)), size(r.Throughput.BytesOut), size(float64(r.Bytes.Body)))
	}
	r.writeTargets(tw)
	if r.Rate != nil {
		rr := r.Rate
		tw.printf("  rate          asked %s req/s, sent %s req/s (%d of %d due), latest send %s after due",
			num(rr.Asked), num(rr.Achieved), rr.Sent, rr.Due, dur(rr.MaxLag))
	}

	tw.printf("")
	if l := r.Latency; l.Count > 0 {
		tw.printf("Latency (%d responses%s)", l.Count, r.latencyNote())
		tw.printf("  p50 %s   p90 %s   p99 %s   p99.9 %s   p99.99 %s   max %s",
			dur(l.P50), dur(l.P90), dur(l.P99), dur(l.P999), dur(l.P9999), dur(l.Max))
		tw.printf("  min %s   mean %s   stdev %s", dur(l.Min), dur(l.Mean), dur(l.Stdev))
		tw.printf("")
		r.writeBars(tw)
	} else {
		tw.printf("Latency: no responses")
	}

	tw.printf("")
	tw.printf("Status codes   %s", counts(r.Status, true))
	// Responses outside 2xx and requests that failed without a response
	// each have their line, so that a run of 500s never reads as a run
	// without errors.
	switch {
	case r.Non2xx == 0:
		tw.printf("Non-2xx        none")
	default:
		tw.printf("Non-2xx        %d of %d requests (%s)", r.Non2xx, r.Requests, pct(r.Non2xx, r.Requests))
	}
	switch {
	case r.ErrorsTotal > 0:
		tw.printf("Errors         %d of %d requests (%s): %s", r.ErrorsTotal, r.Requests, pct(r.ErrorsTotal, r.Requests), counts(r.Errors, false))
	case r.Non2xx > 0:
		tw.printf("Errors         0 failed without a response (the non-2xx above did get one)")
	default:
		tw.printf("Errors         none")
	}
	if r.Incomplete > 0 {
		tw.printf("Incomplete     %d (in flight at the end, not counted)", r.Incomplete)
	}

	if c := r.Conns; c != nil {
		tw.printf("")
		tw.printf("Connections")
		if c.Streams > 1 {
			tw.printf("  asked %d with %d streams each, achieved %d (most open at once)", c.Asked, c.Streams, c.Achieved)
		} else {
			tw.printf("  asked %d, achieved %d (most open at once)", c.Asked, c.Achieved)
		}
		tw.printf("  dialed %d (%d failed), requests on reused connections %d", c.Dialed, c.DialFailures, c.Reused)
		tw.printf("  closed by server %d: asked to close %d, while idle %d, in use %d",
			c.ClosedByServer, c.ServerAskedClose, c.PeerClosedIdle, c.ClosedInUse)
		tw.printf("  reset %d, stale-connection retries %d, expired %d, not reused %d",
			c.Reset, c.StaleRetries, c.Expired, c.Discarded)
		if r.Protocols["HTTP/2.0"] > 0 {
			r.writeStreams(tw)
		}
		if c.RefusedRetries > 0 || c.GoAways > 0 || c.StreamResets > 0 {
			resets := ""
			if len(c.ResetCodes) > 0 {
				resets = " (" + codes(c.ResetCodes) + ")"
			}
			tw.printf("  HTTP/2: GOAWAYs received %d, streams reset by the server %d%s, retries of requests it did not process %d",
				c.GoAways, c.StreamResets, resets, c.RefusedRetries)
			if len(c.GoAwayFailures) > 0 {
				tw.printf("  HTTP/2: requests failed by a GOAWAY: %s", codes(c.GoAwayFailures))
			}
		}
	}
	r.writeThresholds(tw)
	for _, wn := range r.Warnings {
		tw.printf("")
		tw.printf("WARNING: %s", wn)
	}
	return tw.err
}

// writeThresholds prints each --fail-if condition as met or NOT MET, with
// what the run measured.
func (r *Report) writeThresholds(tw *textWriter) {
	if len(r.Thresholds) == 0 {
		return
	}
	met, dflt := 0, false
	width := 0
	for _, t := range r.Thresholds {
		if t.Met {
			met++
		}
		dflt = dflt || t.Default
		width = max(width, len(t.FailIf))
	}
	tw.printf("")
	head := fmt.Sprintf("Thresholds     %d of %d met", met, len(r.Thresholds))
	if dflt {
		head += " (the defaults: --fail-if sets your own, --fail-if none checks nothing)"
	}
	tw.printf("%s", head)
	for _, t := range r.Thresholds {
		state := "met    "
		if !t.Met {
			state = "NOT MET"
		}
		tw.printf("  %s  fail if %-*s   %s", state, width, t.FailIf, t.measured())
	}
}

// pct renders n of total as a percentage.
func pct(n, total int64) string {
	if total == 0 {
		return "0%"
	}
	p := 100 * float64(n) / float64(total)
	if p == 100 || p == 0 {
		return strconv.FormatFloat(p, 'f', 0, 64) + "%"
	}
	return strconv.FormatFloat(p, 'f', 2, 64) + "%"
}

// writeStreams prints the HTTP/2 streams asked and achieved, and the
// connections opened beyond those asked.
func (r *Report) writeStreams(tw *textWriter) {
	c := r.Conns
	achieved := "not measured (no 10 ms sample caught a request in flight)"
	if c.StreamsAchieved > 0 {
		achieved = fmt.Sprintf("%d (most in flight on one connection at once; mean over the %d connections %s)",
			c.StreamsAchieved, c.Asked, strconv.FormatFloat(c.StreamsMean, 'f', 1, 64))
	}
	limit := ""
	if c.ServerMaxStreams > 0 {
		limit = fmt.Sprintf("; server's MAX_CONCURRENT_STREAMS %d", c.ServerMaxStreams)
	}
	tw.printf("  HTTP/2 streams per connection: asked %d, achieved %s%s", c.Streams, achieved, limit)
	tw.printf("  beyond the %d connections asked: %d open at once. bench opens no connection because of MAX_CONCURRENT_STREAMS: "+
		"requests above a server's limit wait for a stream on their own connection (%d requests waited)",
		c.Asked, c.BeyondAsked, c.Waited)
}

// maxTargetLines bounds the targets listed in the text report.
const maxTargetLines = 20

// writeTargets lists the targets of a mix with the requests each was sent.
func (r *Report) writeTargets(tw *textWriter) {
	if len(r.Targets) == 0 {
		return
	}
	if len(r.Targets) == 1 {
		tw.printf("  target")
	} else {
		tw.printf("  targets       %d, taken in turn by weight", len(r.Targets))
	}
	for i, t := range r.Targets {
		if i == maxTargetLines {
			tw.printf("    ... and %d more (see --json)", len(r.Targets)-i)
			break
		}
		tw.printf("    sent %-8d weight %-4d %s %s", t.Sent, t.Weight, t.Method, t.URL)
	}
}

func (r *Report) title() string {
	what := r.Method + " " + r.URL
	if len(r.Targets) > 0 {
		what = fmt.Sprintf("%d targets from %s at %s", len(r.Targets), r.TargetsFile, r.URL)
		if len(r.Targets) == 1 {
			what = fmt.Sprintf("1 target from %s at %s", r.TargetsFile, r.URL)
		}
	}
	switch r.Model {
	case "merged":
		return fmt.Sprintf("egress merge: %d histogram logs", len(r.Sources))
	case "open":
		if r.Stages != "" {
			return fmt.Sprintf("egress bench %s   open model, stages %s (mean %s req/s) over %d connections",
				what, r.Stages, num(r.Rate.Asked), r.Conns.Asked)
		}
		return fmt.Sprintf("egress bench %s   open model, %s req/s over %d connections for %s",
			what, num(r.Rate.Asked), r.Conns.Asked, secs(r.Duration))
	}
	end := "for " + secs(r.Duration)
	if r.Duration == 0 {
		end = "until " + strconv.FormatInt(r.Requests+r.Incomplete, 10) + " requests"
	}
	asked := 0
	if r.Conns != nil {
		asked = r.Conns.Asked
	}
	if r.Stages != "" {
		return fmt.Sprintf("egress bench %s   closed model, stages %s (up to %d connections)", what, r.Stages, asked)
	}
	return fmt.Sprintf("egress bench %s   closed model, %d connections %s", what, asked, end)
}

func (r *Report) latencyNote() string {
	if r.Model == "open" {
		return ", from when each request was due"
	}
	return ""
}

// writeBars draws the text histogram, one line per bucket.
func (r *Report) writeBars(tw *textWriter) {
	var most int64
	for _, b := range r.Histogram {
		most = max(most, b.Count)
	}
	const width = 40
	total := float64(r.Latency.Count)
	for _, b := range r.Histogram {
		n := 0
		if most > 0 {
			n = int(math.Round(float64(b.Count) / float64(most) * width))
		}
		if n == 0 && b.Count > 0 {
			n = 1
		}
		tw.printf("  ≤ %9s |%-*s| %6.2f%%  %d", dur(b.UpTo), width, strings.Repeat("█", n), 100*float64(b.Count)/total, b.Count)
	}
}

type textWriter struct {
	w   io.Writer
	err error
}

func (t *textWriter) printf(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format+"\n", args...)
	}
}

// counts renders a map of counts, largest first.
func counts(m map[string]int64, numeric bool) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if numeric {
			return keys[i] < keys[j]
		}
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// codes renders counts by HTTP/2 error code, as "REFUSED_STREAM 3,
// CANCEL 1": largest first.
func codes(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + strconv.FormatInt(m[k], 10)
	}
	return strings.Join(parts, ", ")
}

// dur renders milliseconds with a unit that keeps three significant digits.
func dur(msec float64) string {
	d := time.Duration(msec * float64(time.Millisecond))
	switch {
	case d < time.Millisecond:
		return strconv.FormatFloat(msec*1000, 'f', 0, 64) + "µs"
	case d < 10*time.Millisecond:
		return strconv.FormatFloat(msec, 'f', 2, 64) + "ms"
	case d < 100*time.Millisecond:
		return strconv.FormatFloat(msec, 'f', 1, 64) + "ms"
	case d < time.Second:
		return strconv.FormatFloat(msec, 'f', 0, 64) + "ms"
	}
	return strconv.FormatFloat(msec/1000, 'f', 2, 64) + "s"
}

func secs(s float64) string { return strconv.FormatFloat(s, 'f', 2, 64) + "s" }

func num(v float64) string {
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// size renders bytes with binary units.
func size(b float64) string {
	const unit = 1024
	if b < unit {
		return strconv.FormatFloat(b, 'f', 0, 64) + " B"
	}
	exp, div := 0, float64(unit)
	for n := b / unit; n >= unit && exp < 4; n /= unit {
		div *= unit
		exp++
	}
	return strconv.FormatFloat(b/div, 'f', 1, 64) + " " + string("KMGTP"[exp]) + "iB"
}
