package load

import (
	"math"
	"time"
)

// Stage is one step of a ramp: over Duration, the rate (open model) or
// the connections in use (closed model) go in a straight line from the
// previous stage's Target to this one's.
type Stage struct {
	Duration time.Duration
	Target   float64
}

// segment is a stretch of the open model's rate, going linearly from r0
// to r1 requests per second between start and end (since the run's
// first send); cum is the requests due before start.
type segment struct {
	start, end time.Duration
	r0, r1     float64
	cum        float64
}

// rateSchedule is the open model's asked rate over time, a constant or a
// ramp of stages, and the times requests are due by it: request i is due
// when the requests due so far reach i.
type rateSchedule struct {
	segs  []segment
	total float64 // requests due over the whole run
}

// constantRate is a schedule of one rate for d.
func constantRate(rate float64, d time.Duration) *rateSchedule {
	return rampRate(rate, []Stage{{Duration: d, Target: rate}})
}

// rampRate is a schedule of stages starting from the rate from.
func rampRate(from float64, stages []Stage) *rateSchedule {
	s := &rateSchedule{}
	var at time.Duration
	prev := from
	for _, st := range stages {
		seg := segment{start: at, end: at + st.Duration, r0: prev, r1: st.Target, cum: s.total}
		s.segs = append(s.segs, seg)
		s.total += (prev + st.Target) / 2 * st.Duration.Seconds()
		at, prev = seg.end, st.Target
	}
	return s
}

// end is the length of the schedule.
func (s *rateSchedule) end() time.Duration { return s.segs[len(s.segs)-1].end }

// rateAt is the asked rate at t.
func (s *rateSchedule) rateAt(t time.Duration) float64 {
	for _, g := range s.segs {
		if t < g.end {
			f := 0.0
			if g.end > g.start {
				f = float64(t-g.start) / float64(g.end-g.start)
			}
			return g.r0 + (g.r1-g.r0)*max(f, 0)
		}
	}
	return s.segs[len(s.segs)-1].r1
}

// dueBy is the requests due by t (the integral of the rate).
func (s *rateSchedule) dueBy(t time.Duration) float64 {
	if t <= 0 {
		return 0
	}
	for _, g := range s.segs {
		if t < g.end {
			x := (t - g.start).Seconds()
			slope := (g.r1 - g.r0) / (g.end - g.start).Seconds()
			return g.cum + g.r0*x + slope*x*x/2
		}
	}
	return s.total
}

// dueAt is when request i (from 0) is due: the time the requests due
// reach i. ok is false for a request past the schedule's end.
func (s *rateSchedule) dueAt(i int64) (time.Duration, bool) {
	k := float64(i)
	for _, g := range s.segs {
		length := (g.end - g.start).Seconds()
		inSeg := (g.r0 + g.r1) / 2 * length
		if k > g.cum+inSeg {
			continue
		}
		// Solve cum + r0 x + a x^2 = k for the first x >= 0, a = slope/2,
		// in the form that stays exact when a is 0 or negative.
		need := k - g.cum
		if need <= 0 {
			return g.start, true
		}
		a := (g.r1 - g.r0) / length / 2
		disc := g.r0*g.r0 + 4*a*need
		if disc < 0 {
			disc = 0
		}
		den := g.r0 + math.Sqrt(disc)
		if den <= 0 {
			continue
		}
		x := 2 * need / den
		return g.start + time.Duration(x*float64(time.Second)), true
	}
	return 0, false
}

// connRamp is the closed model's connections in use over time.
type connRamp struct {
	stages []Stage
}

// at is the connections asked at t (rounded), after the last stage its
// target.
func (c connRamp) at(t time.Duration) int {
	var start time.Duration
	prev := 0.0
	for _, st := range c.stages {
		end := start + st.Duration
		if t < end {
			f := float64(t-start) / float64(st.Duration)
			return int(math.Round(prev + (st.Target-prev)*f))
		}
		start, prev = end, st.Target
	}
	return int(math.Round(prev))
}
