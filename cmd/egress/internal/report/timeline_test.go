package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/egress-go/egress/cmd/egress/internal/load"
)

// TestTimelineLastPartialInterval builds reports of runs that end just
// after an interval closed: the few milliseconds left over must not be
// drawn as a spike (or a fall to 0) of the rate, the timeline's counts
// must still add up to the run's, and a last interval long enough to
// mean something keeps its own point, its rate over its real duration.
func TestTimelineLastPartialInterval(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name     string
		tl       []load.Sample
		points   int
		lastRate float64 // want, ±1%
	}{
		{
			// 64 requests in flight at the end complete 5 ms after the
			// last interval closed: 12800 req/s over those 5 ms.
			name: "burst",
			tl: []load.Sample{{End: 1000 * ms, Requests: 1000, OpenConns: 64}, {End: 2000 * ms, Requests: 1000, OpenConns: 64},
				{End: 2005 * ms, Requests: 64, OpenConns: 64}},
			points: 2, lastRate: 1064 / 1.005,
		},
		{
			// An open-model run whose last interval closed after the last
			// completion: 0 requests in 2 ms.
			name: "empty",
			tl: []load.Sample{{End: 1001 * ms, Requests: 2000, Sent: 2000, AskedRate: 2000},
				{End: 2001 * ms, Requests: 2000, Sent: 2000, AskedRate: 2000}, {End: 2003 * ms, AskedRate: 2000}},
			points: 2, lastRate: 2000 / 1.002,
		},
		{
			// A run of 1.6 s: its last 0.6 s is a point of its own.
			name:   "long partial",
			tl:     []load.Sample{{End: 1000 * ms, Requests: 1000}, {End: 1600 * ms, Requests: 600}},
			points: 2, lastRate: 1000,
		},
		{
			name:   "one interval",
			tl:     []load.Sample{{End: 300 * ms, Requests: 30}},
			points: 1, lastRate: 100,
		},
	} {
		res := sampleResult()
		res.Timeline = tc.tl
		var sum int64
		for _, s := range tc.tl {
			sum += s.Requests
		}
		r := Build(Meta{URL: "http://h/", Method: "GET", Connections: 64}, res)
		if len(r.Timeline) != tc.points {
			t.Errorf("%s: %d points, want %d: %+v", tc.name, len(r.Timeline), tc.points, r.Timeline)
			continue
		}
		var got int64
		for _, p := range r.Timeline {
			got += p.Requests
		}
		last := r.Timeline[len(r.Timeline)-1]
		if got != sum || last.T != tc.tl[len(tc.tl)-1].End.Seconds() {
			t.Errorf("%s: timeline sums to %d (want %d), ends at %v: %+v", tc.name, got, sum, last.T, r.Timeline)
		}
		if last.Rate < tc.lastRate*0.99 || last.Rate > tc.lastRate*1.01 {
			t.Errorf("%s: last rate %v, want %v: %+v", tc.name, last.Rate, tc.lastRate, r.Timeline)
		}
		if tc.name == "empty" && (last.SentRate < 1990 || last.AskedRate < 1999 || last.AskedRate > 2001) {
			t.Errorf("%s: sent %v asked %v", tc.name, last.SentRate, last.AskedRate)
		}
	}
}

// TestHTMLErrorsAndConnections checks that the page charts the errors
// per second and the connections open over time.
func TestHTMLErrorsAndConnections(t *testing.T) {
	res := sampleResult()
	res.Timeline = []load.Sample{{End: time.Second, Requests: 500, OpenConns: 3},
		{End: 2 * time.Second, Requests: 503, Errors: 7, OpenConns: 4}}
	r := Build(Meta{URL: "http://h/", Method: "GET", Connections: 4}, res)
	var page bytes.Buffer
	if err := r.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	s := page.String()
	if !strings.Contains(s, "Errors and connections over time") {
		t.Fatal("no errors and connections chart")
	}
	// Each series' points, in echarts' JSON: [t, value].
	for _, want := range []string{
		`"name":"connections open"[^]]*"data":\[\{"value":\[1,3\]\},\{"value":\[2,4\]\}\]`,
		`"name":"errors/s"[^]]*"data":\[\{"value":\[1,0\]\},\{"value":\[2,7\]\}\]`,
	} {
		if !regexp.MustCompile(want).MatchString(s) {
			i := strings.Index(s, `id="connections"`)
			t.Errorf("page lacks %s:\n%.3000s", want, s[max(i, 0):])
		}
	}
}

// TestMergeTimeline sums two runs' intervals by wall-clock time when the
// second started half a second after the first: each merged second gets
// the share of each run's interval that fell in it, the counts and the
// latencies stay whole, and the connections open are summed.
func TestMergeTimeline(t *testing.T) {
	const t0 = 1_700_000_000_000
	sp := func(from, to, reqs, conns int64) span {
		h := load.NewHistogram()
		for i := int64(0); i < reqs; i++ {
			h.RecordValue(int64(time.Millisecond))
		}
		return span{t0 + from, t0 + to, intervalLine{StartMs: t0 + from, EndMs: t0 + to, Requests: reqs, Conns: conns}, h}
	}
	a := []span{sp(0, 1000, 100, 4), sp(1000, 2000, 100, 4)}
	b := []span{sp(500, 1500, 50, 2), sp(1500, 2500, 50, 2)}
	bins := mergeTimeline([][]span{a, b})
	type want struct{ start, end, reqs, conns int64 }
	wants := []want{{0, 1000, 125, 6}, {1000, 2000, 150, 6}, {2000, 2500, 25, 2}}
	if len(bins) != len(wants) {
		t.Fatalf("%d intervals: %+v", len(bins), bins)
	}
	var hist int64
	for i, w := range wants {
		g := bins[i]
		if g.startMs-t0 != w.start || g.endMs-t0 != w.end || g.il.Requests != w.reqs || g.il.Conns != w.conns {
			t.Errorf("interval %d: %d-%d ms, %d requests, %d connections; want %+v", i, g.startMs-t0, g.endMs-t0, g.il.Requests, g.il.Conns, w)
		}
		if g.hist != nil {
			hist += g.hist.TotalCount()
		}
	}
	if hist != 300 {
		t.Errorf("the intervals' histograms hold %d latencies, want 300", hist)
	}
	// Shares that do not fall on whole requests still add up.
	c := []span{sp(0, 300, 1, 1), sp(300, 1300, 1, 1), sp(1300, 2300, 1, 1)}
	var sum int64
	for _, g := range mergeTimeline([][]span{c}) {
		sum += g.il.Requests
	}
	if sum != 3 {
		t.Errorf("3 requests merged into %d", sum)
	}
}
