package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/egress-go/egress/cmd/egress/internal/load"
)

// summaryPrefix starts the comment line in which egress keeps a run's
// counts. HdrHistogram tools skip comment lines, so the file stays a
// standard log; egress merge reads them to sum requests, status codes
// and errors as well as latencies.
const summaryPrefix = "#egress-summary "

// intervalPrefix starts the comment line egress writes before each
// interval histogram: the interval's times in milliseconds since the
// epoch (the log's own timestamps are relative to a base time that the
// format keeps in whole seconds) and its counts, which the histogram
// alone lacks (errors, connections open). egress merge sums the runs'
// intervals by these times into one timeline.
const intervalPrefix = "#egress-interval "

// intervalLine is the content of an interval comment.
type intervalLine struct {
	StartMs  int64 `json:"start_ms"`
	EndMs    int64 `json:"end_ms"`
	Requests int64 `json:"requests"`
	Errors   int64 `json:"errors"`
	Sent     int64 `json:"sent,omitempty"`
	Conns    int64 `json:"connections_open"`
}

// LogWriter writes a run's latencies as a standard HdrHistogram interval
// log (format 1.3): one compressed histogram per interval, values in
// nanoseconds, timestamps relative to the start, Interval_Max in
// milliseconds. Java's HistogramLogProcessor and the Go, C and Python
// readers all read it.
type LogWriter struct {
	w  *bufio.Writer
	lw *hdrhistogram.HistogramLogWriter
}

// NewLogWriter writes the log's header for a run that started at start.
func NewLogWriter(w io.Writer, start time.Time, comment string) (*LogWriter, error) {
	bw := bufio.NewWriter(w)
	lw := hdrhistogram.NewHistogramLogWriter(bw)
	startMs := start.UnixMilli()
	lw.SetBaseTime(startMs)
	for _, f := range []func() error{
		func() error { return lw.OutputComment("[" + sanitize(comment) + "]") },
		lw.OutputLogFormatVersion,
		func() error { return lw.OutputStartTime(startMs) },
		func() error { return lw.OutputBaseTime(startMs) },
		lw.OutputLegend,
	} {
		if err := f(); err != nil {
			return nil, err
		}
	}
	return &LogWriter{w: bw, lw: lw}, nil
}

// Interval writes one interval histogram.
func (l *LogWriter) Interval(h *hdrhistogram.Histogram) error {
	if err := l.lw.OutputIntervalHistogram(h); err != nil {
		return err
	}
	return l.w.Flush() // a run cut short still leaves a readable log
}

// WriteInterval writes one interval of a run: its counts as an
// egress-interval comment, then its histogram, whose start and end times
// must be set in milliseconds since the epoch.
func (l *LogWriter) WriteInterval(iv load.Interval) error {
	return l.interval(iv.Hist, intervalLine{StartMs: iv.Hist.StartTimeMs(), EndMs: iv.Hist.EndTimeMs(),
		Requests: iv.Requests, Errors: iv.Errors, Sent: iv.Sent, Conns: iv.OpenConns})
}

func (l *LogWriter) interval(h *hdrhistogram.Histogram, il intervalLine) error {
	b, err := json.Marshal(il)
	if err != nil {
		return err
	}
	if _, err := l.w.WriteString(intervalPrefix + string(b) + "\n"); err != nil {
		return err
	}
	return l.Interval(h)
}

// Close writes the run's summary comment and flushes.
func (l *LogWriter) Close(r *Report) error {
	b, err := json.Marshal(summaryOf(r))
	if err != nil {
		return err
	}
	if _, err := l.w.WriteString(summaryPrefix + string(b) + "\n"); err != nil {
		return err
	}
	return l.w.Flush()
}

func sanitize(s string) string { return strings.NewReplacer("\n", " ", "\r", " ").Replace(s) }

// summary is the part of a report that merging adds up.
type summary struct {
	URL         string           `json:"url,omitempty"`
	Model       string           `json:"model,omitempty"`
	Protocol    string           `json:"protocol,omitempty"`
	Protocols   map[string]int64 `json:"protocols,omitempty"`
	Elapsed     float64          `json:"elapsed_s"`
	Requests    int64            `json:"requests"`
	ErrorsTotal int64            `json:"errors_total"`
	Incomplete  int64            `json:"incomplete"`
	Status      map[string]int64 `json:"status"`
	Errors      map[string]int64 `json:"errors"`
	Bytes       Bytes            `json:"bytes"`
	Conns       *ConnReport      `json:"connections,omitempty"`
}

func summaryOf(r *Report) summary {
	return summary{URL: r.URL, Model: r.Model, Protocol: r.Protocol, Protocols: r.Protocols, Elapsed: r.Elapsed, Requests: r.Requests, ErrorsTotal: r.ErrorsTotal,
		Incomplete: r.Incomplete, Status: r.Status, Errors: r.Errors, Bytes: r.Bytes, Conns: r.Conns}
}

// Merge reads HdrHistogram logs (written by egress bench --hdr on one or
// many machines, or any log of nanosecond histograms of the same
// geometry) and combines them into one report: the latency histogram is
// the sum of every interval of every file; requests, status codes, errors
// and bytes are summed from egress's summary lines where present (a log
// without one counts its histogram's responses); throughput adds up the
// runs' rates, as for runs side by side.
func Merge(files []string) (*Report, error) {
	if len(files) == 0 {
		return nil, errors.New("no files to merge")
	}
	total := load.NewHistogram()
	r := &Report{Tool: "egress merge", Model: "merged", Status: map[string]int64{}, Errors: map[string]int64{},
		Warnings: []string{}}
	urls := map[string]bool{}
	var streams []int
	var runs [][]span
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		hists, err := readLog(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		var fileHist = load.NewHistogram()
		for _, h := range hists {
			if dropped := fileHist.Merge(h); dropped > 0 {
				return nil, fmt.Errorf("%s: %d values outside the histogram's range (1µs to 1h in ns)", name, dropped)
			}
		}
		total.Merge(fileHist)
		runs = append(runs, spansOf(data, hists))
		r.Sources = append(r.Sources, name)
		sums := summaries(data)
		if len(sums) == 0 {
			// A plain HdrHistogram log: only its latencies are known.
			r.Requests += fileHist.TotalCount()
			r.Responses += fileHist.TotalCount()
			continue
		}
		for _, s := range sums {
			r.addSummary(s, urls)
			if s.Conns != nil {
				streams = append(streams, max(s.Conns.Streams, 1))
			}
		}
	}
	if len(urls) == 1 {
		for u := range urls {
			r.URL = u
		}
	}
	r.mergeProtocols(streams)
	r.Non2xx = non2xx(r.Status)
	if r.Elapsed > 0 && r.Throughput.Requests == 0 {
		r.Throughput.Requests = float64(r.Requests) / r.Elapsed
	}
	r.setHistogram(total)
	r.bins = mergeTimeline(runs)
	r.Timeline = timelinePoints(samplesOf(r.bins))
	return r, nil
}

func (r *Report) addSummary(s summary, urls map[string]bool) {
	if s.URL != "" {
		urls[s.URL] = true
	}
	r.Requests += s.Requests
	r.ErrorsTotal += s.ErrorsTotal
	r.Incomplete += s.Incomplete
	for k, n := range s.Status {
		r.Status[k] += n
		r.Responses += n
	}
	for k, n := range s.Errors {
		r.Errors[k] += n
	}
	r.Bytes.In += s.Bytes.In
	r.Bytes.Out += s.Bytes.Out
	r.Bytes.Body += s.Bytes.Body
	r.Elapsed = max(r.Elapsed, s.Elapsed)
	if s.Elapsed > 0 {
		r.Throughput.Requests += float64(s.Requests) / s.Elapsed
		r.Throughput.BytesIn += float64(s.Bytes.In) / s.Elapsed
		r.Throughput.BytesOut += float64(s.Bytes.Out) / s.Elapsed
	}
	if c := s.Conns; c != nil {
		if r.Conns == nil {
			r.Conns = &ConnReport{}
		}
		m := r.Conns
		m.Asked += c.Asked
		m.Achieved += c.Achieved
		m.Dialed += c.Dialed
		m.DialFailures += c.DialFailures
		m.Reused += c.Reused
		m.ClosedByServer += c.ClosedByServer
		m.ServerAskedClose += c.ServerAskedClose
		m.PeerClosedIdle += c.PeerClosedIdle
		m.ClosedInUse += c.ClosedInUse
		m.Reset += c.Reset
		m.StaleRetries += c.StaleRetries
		m.Expired += c.Expired
		m.Discarded += c.Discarded
		m.Waited += c.Waited
		m.RefusedRetries += c.RefusedRetries
		m.GoAways += c.GoAways
		m.StreamResets += c.StreamResets
		m.BeyondAsked += c.BeyondAsked
		// Streams achieved: the most of any run, and the mean over all
		// the runs' connections (each run's weighted by its connections).
		if n := m.Asked; n > 0 {
			m.StreamsMean = round3((m.StreamsMean*float64(n-c.Asked) + c.StreamsMean*float64(c.Asked)) / float64(n))
		}
		m.StreamsAchieved = max(m.StreamsAchieved, c.StreamsAchieved)
		if l := c.ServerMaxStreams; l > 0 && (m.ServerMaxStreams == 0 || l < m.ServerMaxStreams) {
			m.ServerMaxStreams = l
		}
		m.ResetCodes = addCounts(m.ResetCodes, c.ResetCodes)
		m.GoAwayFailures = addCounts(m.GoAwayFailures, c.GoAwayFailures)
	}
	if s.Model != "" {
		if r.Models == nil {
			r.Models = map[string]int{}
		}
		r.Models[s.Model]++
	}
	r.Protocols = addCounts(r.Protocols, s.Protocols)
}

// mergeProtocols names the merged runs' protocol and streams, and warns
// when the runs differ in protocol, model or streams asked: their
// latencies are then summed across unlike things. streams holds each
// run's -m.
func (r *Report) mergeProtocols(streams []int) {
	switch len(r.Protocols) {
	case 0:
	case 1:
		for p := range r.Protocols {
			r.Protocol = p
		}
	default:
		r.Protocol = "mixed"
		r.Warnings = append(r.Warnings, "the runs mixed protocols ("+counts(r.Protocols, false)+
			"): the merged latencies and rates combine them")
	}
	if len(r.Models) > 1 {
		parts := make(map[string]int64, len(r.Models))
		for m, n := range r.Models {
			parts[m] = int64(n)
		}
		r.Warnings = append(r.Warnings, "the runs mixed models (runs by model: "+counts(parts, false)+
			"): closed-model latencies are service times, open-model ones count from when each request was due, "+
			"and the merged percentiles combine both")
	}
	if r.Conns == nil || len(streams) == 0 {
		return
	}
	r.Conns.Streams = streams[0]
	for _, n := range streams[1:] {
		if n != streams[0] {
			r.Conns.Streams = slices.Max(streams)
			r.Warnings = append(r.Warnings, fmt.Sprintf(
				"the runs asked different streams per connection (-m from %d to %d); streams shows the most", slices.Min(streams), slices.Max(streams)))
			break
		}
	}
}

// addCounts adds the counts of b to a, making a if needed.
func addCounts(a, b map[string]int64) map[string]int64 {
	if len(b) == 0 {
		return a
	}
	if a == nil {
		a = make(map[string]int64, len(b))
	}
	for k, n := range b {
		a[k] += n
	}
	return a
}

// readLog decodes every interval histogram of an HdrHistogram log.
func readLog(data []byte) ([]*hdrhistogram.Histogram, error) {
	lr := hdrhistogram.NewHistogramLogReader(bytes.NewReader(data))
	var out []*hdrhistogram.Histogram
	for {
		h, err := lr.NextIntervalHistogram()
		if err != nil {
			return nil, fmt.Errorf("not a readable HdrHistogram log: %w", err)
		}
		if h == nil {
			break
		}
		out = append(out, h)
	}
	if len(out) == 0 {
		return nil, errors.New("no histograms in the file (is it an HdrHistogram log?)")
	}
	return out, nil
}

// summaries extracts egress's summary lines.
func summaries(data []byte) []summary {
	var out []summary
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, summaryPrefix) {
			continue
		}
		var s summary
		if json.Unmarshal([]byte(line[len(summaryPrefix):]), &s) == nil {
			out = append(out, s)
		}
	}
	return out
}

// WriteMergedLog writes a merged report as an HdrHistogram log, for it to
// be merged again or read by other tools: its timeline's intervals, each
// with its egress-interval comment, or if it has none its histogram as
// one interval.
func WriteMergedLog(w io.Writer, r *Report) error {
	start := time.Now()
	if len(r.bins) > 0 {
		start = time.UnixMilli(r.bins[0].startMs)
	}
	lw, err := NewLogWriter(w, start, "egress merge of "+strings.Join(r.Sources, " "))
	if err != nil {
		return err
	}
	if len(r.bins) > 0 {
		for _, b := range r.bins {
			h := b.hist
			if h == nil {
				h = load.NewHistogram()
			}
			h.SetStartTimeMs(b.startMs)
			h.SetEndTimeMs(b.endMs)
			if err := lw.interval(h, b.il); err != nil {
				return err
			}
		}
		return lw.Close(r)
	}
	h := r.Hist()
	if h == nil {
		h = load.NewHistogram()
	}
	h.SetStartTimeMs(lw.lw.BaseTime())
	h.SetEndTimeMs(lw.lw.BaseTime() + int64(r.Elapsed*1000))
	if err := lw.Interval(h); err != nil {
		return err
	}
	return lw.Close(r)
}
