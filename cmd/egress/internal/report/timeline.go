package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/egress-go/egress/cmd/egress/internal/load"
)

// span is one interval of one run, in wall-clock time.
type span struct {
	startMs, endMs int64 // since the epoch
	il             intervalLine
	hist           *hdrhistogram.Histogram
}

// intervalLines extracts egress's interval comments of a log.
func intervalLines(data []byte) []intervalLine {
	var out []intervalLine
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, intervalPrefix) {
			continue
		}
		var il intervalLine
		if json.Unmarshal([]byte(line[len(intervalPrefix):]), &il) == nil {
			out = append(out, il)
		}
	}
	return out
}

// spansOf pairs a log's interval histograms with its interval comments,
// one before each histogram. A log without them (another tool's, or
// edited) gives the histograms' own times, whose base the format keeps in
// whole seconds, and counts only their responses.
func spansOf(data []byte, hists []*hdrhistogram.Histogram) []span {
	ils := intervalLines(data)
	paired := len(ils) == len(hists)
	for i := 0; paired && i < len(hists); i++ {
		// The histogram's start is the comment's, but for the base time's
		// fraction of a second, which the format drops.
		d := hists[i].StartTimeMs() - ils[i].StartMs
		paired = d > -1000 && d < 1000 && ils[i].EndMs >= ils[i].StartMs
	}
	out := make([]span, len(hists))
	for i, h := range hists {
		if paired {
			out[i] = span{ils[i].StartMs, ils[i].EndMs, ils[i], h}
		} else {
			out[i] = span{h.StartTimeMs(), h.EndTimeMs(), intervalLine{Requests: h.TotalCount()}, h}
		}
	}
	return out
}

// timeBin is one interval of a merged timeline.
type timeBin struct {
	startMs, endMs int64
	il             intervalLine
	hist           *hdrhistogram.Histogram // nil: no response in it
}

// mergeBinMs is the length of a merged timeline's intervals, bench's own;
// maxBins bounds their number (runs days apart widen them).
const (
	mergeBinMs = 1000
	maxBins    = 100_000
)

// mergeTimeline sums the runs' intervals by wall-clock time into one
// timeline of one-second intervals from the first run's start to the last
// run's end, as the runs side by side loaded the target. A run's interval
// seldom falls on the merged ones' boundaries: its requests, errors and
// sent are shared among the merged intervals it overlaps in proportion to
// the overlap (rounded so that the totals stay exact), its histogram goes
// whole into the one it overlaps most, and its connections open count in
// each merged interval where it is the run's interval overlapping most.
func mergeTimeline(runs [][]span) []timeBin {
	t0, t1 := int64(math.MaxInt64), int64(math.MinInt64)
	for _, run := range runs {
		for _, sp := range run {
			t0, t1 = min(t0, sp.startMs), max(t1, sp.endMs)
		}
	}
	if t0 > t1 {
		return nil
	}
	t1 = max(t1, t0+1)
	width := int64(mergeBinMs)
	if (t1-t0)/width >= maxBins {
		width = (t1-t0)/maxBins + 1
	}
	n := int((t1 - t0 + width - 1) / width)
	reqs, errs, sent := make([]float64, n), make([]float64, n), make([]float64, n)
	bins := make([]timeBin, n)
	for i := range bins {
		bins[i].startMs, bins[i].endMs = t0+int64(i)*width, min(t0+int64(i+1)*width, t1)
	}
	best, bestConns := make([]int64, n), make([]int64, n)
	for _, run := range runs {
		clear(best)
		clear(bestConns)
		for _, sp := range run {
			first := min(int((sp.startMs-t0)/width), n-1)
			last := min(int((max(sp.endMs-1, sp.startMs)-t0)/width), n-1)
			home, homeOv := first, int64(-1)
			for i := first; i <= last; i++ {
				ov := min(sp.endMs, bins[i].endMs) - max(sp.startMs, bins[i].startMs)
				f := 1.0 // an interval of no length counts where it is
				if d := sp.endMs - sp.startMs; d > 0 {
					if ov <= 0 {
						continue
					}
					f = float64(ov) / float64(d)
				}
				reqs[i] += f * float64(sp.il.Requests)
				errs[i] += f * float64(sp.il.Errors)
				sent[i] += f * float64(sp.il.Sent)
				if ov > homeOv {
					home, homeOv = i, ov
				}
				if ov >= best[i] {
					best[i], bestConns[i] = ov, sp.il.Conns
				}
			}
			if sp.hist.TotalCount() > 0 {
				if bins[home].hist == nil {
					bins[home].hist = load.NewHistogram()
				}
				bins[home].hist.Merge(sp.hist)
			}
		}
		for i := range bins {
			bins[i].il.Conns += bestConns[i]
		}
	}
	var cr, ce, cs float64
	var pr, pe, ps int64
	for i := range bins {
		cr, ce, cs = cr+reqs[i], ce+errs[i], cs+sent[i]
		r, e, s := int64(math.Round(cr)), int64(math.Round(ce)), int64(math.Round(cs))
		bins[i].il.Requests, bins[i].il.Errors, bins[i].il.Sent = r-pr, e-pe, s-ps
		pr, pe, ps = r, e, s
		bins[i].il.StartMs, bins[i].il.EndMs = bins[i].startMs, bins[i].endMs
	}
	return bins
}

// samplesOf turns a merged timeline into samples, times since its start.
func samplesOf(bins []timeBin) []load.Sample {
	if len(bins) == 0 {
		return nil
	}
	t0 := bins[0].startMs
	out := make([]load.Sample, len(bins))
	for i, b := range bins {
		s := load.Sample{End: time.Duration(b.endMs-t0) * time.Millisecond, Requests: b.il.Requests,
			Errors: b.il.Errors, Sent: b.il.Sent, OpenConns: b.il.Conns}
		if b.hist != nil && b.hist.TotalCount() > 0 {
			s.P50, s.P99 = b.hist.ValueAtQuantile(50), b.hist.ValueAtQuantile(99)
		}
		out[i] = s
	}
	return out
}
