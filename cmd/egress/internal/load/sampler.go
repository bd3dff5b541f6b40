package load

import (
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// sampler is the run's one bookkeeping goroutine: every few milliseconds
// it samples the open connections and the HTTP/2 streams in use on each
// (the engine and the pool keep no peak), every tick
// it reports progress, and every interval it harvests
// the latencies recorded meanwhile into an interval histogram, adds it to
// the total and hands it to Config.OnInterval.
type sampler struct {
	r        *runner
	total    *hdrhistogram.Histogram
	timeline []Sample
	peak     atomic.Int64
	// streamsNext is the connection the next sample of streams starts at.
	streamsNext int

	ivStart  time.Duration
	last     counts
	lastSent int64
	window   []point // completions over the last interval, for RateNow

	stopc, donec chan struct{}
}

type point struct {
	t time.Duration
	n int64
}

func newSampler(r *runner, total *hdrhistogram.Histogram) *sampler {
	return &sampler{r: r, total: total, stopc: make(chan struct{}), donec: make(chan struct{})}
}

func (m *sampler) start() { go m.loop() }

// peakEvery is how often open connections are counted for the peak.
const peakEvery = 10 * time.Millisecond

func (m *sampler) loop() {
	defer close(m.donec)
	tk := time.NewTicker(peakEvery)
	defer tk.Stop()
	var lastTick time.Duration
	for {
		select {
		case <-tk.C:
			open := m.samplePeak()
			now := time.Duration(m.r.now())
			if m.r.ramp != nil {
				m.r.rampTick(now)
			}
			if now-m.ivStart >= m.r.cfg.Interval {
				m.closeInterval(now)
			}
			if now-lastTick >= m.r.cfg.Tick {
				lastTick = now
				m.tick(now, open)
			}
		case <-m.stopc:
			return
		}
	}
}

func (m *sampler) samplePeak() int64 {
	open := m.r.eng.Stats().Open
	if open > m.peak.Load() {
		m.peak.Store(open)
	}
	m.streamsNext = m.r.sampleStreams(m.streamsNext, streamsPerSample)
	return open
}

func (m *sampler) tick(now time.Duration, open int64) {
	r := m.r
	c := sumCounts(r.shards)
	m.window = append(m.window, point{now, c.completed})
	for len(m.window) > 1 && now-m.window[0].t > r.cfg.Interval {
		m.window = m.window[1:]
	}
	rate := 0.0
	if first := m.window[0]; now > first.t {
		rate = float64(c.completed-first.n) / (now - first.t).Seconds()
	} else if now > 0 {
		rate = float64(c.completed) / now.Seconds()
	}
	if r.cfg.Progress != nil {
		p := Progress{Elapsed: now, Requests: c.completed, Errors: c.failed, RateNow: rate, Open: open}
		if n := len(m.timeline); n > 0 { // this goroutine's own: no lock
			p.P50, p.P99 = time.Duration(m.timeline[n-1].P50), time.Duration(m.timeline[n-1].P99)
		}
		r.cfg.Progress(p)
	}
}

// closeInterval ends the current interval at end.
func (m *sampler) closeInterval(end time.Duration) {
	r := m.r
	iv := NewHistogram()
	c := harvest(r.shards, iv)
	startMs := r.base.Add(m.ivStart).UnixMilli()
	iv.SetStartTimeMs(startMs)
	iv.SetEndTimeMs(r.base.Add(end).UnixMilli())
	m.total.Merge(iv)
	s := Sample{End: end, Requests: c.completed - m.last.completed, Errors: c.failed - m.last.failed,
		OpenConns: r.eng.Stats().Open}
	if r.open {
		sent := r.sent.Load()
		s.Sent, m.lastSent = sent-m.lastSent, sent
		if secs := (end - m.ivStart).Seconds(); secs > 0 {
			s.AskedRate = (r.sched.dueBy(end) - r.sched.dueBy(m.ivStart)) / secs
		}
	}
	if r.ramp != nil {
		s.AskedConns = r.ramp.at(end)
	}
	if iv.TotalCount() > 0 {
		s.P50, s.P99 = iv.ValueAtQuantile(50), iv.ValueAtQuantile(99)
	}
	m.timeline = append(m.timeline, s)
	if r.cfg.OnInterval != nil {
		r.cfg.OnInterval(Interval{Start: m.ivStart, End: end, Requests: s.Requests, Errors: s.Errors,
			OpenConns: s.OpenConns, Sent: s.Sent, Hist: iv})
	}
	m.ivStart, m.last = end, c
}

// finish stops the goroutine and closes the last, partial interval at
// runEnd, the run's end (the later of its stop and its last completion),
// not now.
func (m *sampler) finish(runEnd time.Duration) {
	close(m.stopc)
	<-m.donec
	end := time.Duration(m.r.now())
	if runEnd > m.ivStart && runEnd < end {
		end = runEnd
	}
	if end > m.ivStart {
		m.closeInterval(end)
	}
}
