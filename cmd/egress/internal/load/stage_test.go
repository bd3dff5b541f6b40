package load

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

func TestRateSchedule(t *testing.T) {
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-6*max(1, math.Abs(b)) }
	c := constantRate(100, 10*time.Second)
	if c.total != 1000 || !near(c.dueBy(2500*time.Millisecond), 250) || c.end() != 10*time.Second {
		t.Fatalf("constant: total %v, due by 2.5s %v", c.total, c.dueBy(2500*time.Millisecond))
	}
	for _, i := range []int64{0, 1, 7, 999, 1000} {
		if at, ok := c.dueAt(i); !ok || at != time.Duration(i)*10*time.Millisecond {
			t.Errorf("constant: request %d due at %v", i, at)
		}
	}
	// 0 to 100 req/s over 10 s, 100 held for 5 s, down to 0 over 5 s,
	// 0 for 5 s, then up to 100 over 10 s.
	r := rampRate(0, []Stage{{10 * time.Second, 100}, {5 * time.Second, 100}, {5 * time.Second, 0},
		{5 * time.Second, 0}, {10 * time.Second, 100}})
	for _, tc := range []struct {
		at  time.Duration
		due float64
	}{
		{0, 0}, {5 * time.Second, 125}, {10 * time.Second, 500}, {15 * time.Second, 1000},
		{17 * time.Second, 1000 + 100*2 - 20*2*2/2}, {20 * time.Second, 1250}, {24 * time.Second, 1250},
		{30 * time.Second, 1250 + 125}, {35 * time.Second, 1750}, {40 * time.Second, 1750},
	} {
		if got := r.dueBy(tc.at); !near(got, tc.due) {
			t.Errorf("ramp: due by %v: %v, want %v", tc.at, got, tc.due)
		}
	}
	if r.total != 1750 || !near(r.rateAt(5*time.Second), 50) || !near(r.rateAt(17*time.Second), 60) || r.rateAt(22*time.Second) != 0 {
		t.Errorf("ramp: total %v, rates %v %v %v", r.total, r.rateAt(5*time.Second), r.rateAt(17*time.Second), r.rateAt(22*time.Second))
	}
	// dueAt inverts dueBy, over rising, flat, falling and idle stretches:
	// no request falls in the 5 s at 0 req/s.
	prev := time.Duration(-1)
	for i := int64(0); i <= 1750; i++ {
		at, ok := r.dueAt(i)
		if !ok || at < prev || !near(r.dueBy(at), float64(i)) && i != 1250 {
			t.Fatalf("request %d due at %v (due by then %v), previous %v", i, at, r.dueBy(at), prev)
		}
		if at > 20*time.Second && at < 25*time.Second {
			t.Fatalf("request %d due at %v, while the rate is 0", i, at)
		}
		prev = at
	}
	if _, ok := r.dueAt(1751); ok {
		t.Error("a request due past the end")
	}
	if at, _ := r.dueAt(125); math.Abs(at.Seconds()-5) > 1e-6 {
		t.Errorf("request 125 due at %v, want 5s", at)
	}

	cr := connRamp{stages: []Stage{{time.Second, 4}, {time.Second, 4}, {time.Second, 1}}}
	for at, want := range map[time.Duration]int{0: 0, 120 * time.Millisecond: 0, 130 * time.Millisecond: 1,
		500 * time.Millisecond: 2, time.Second: 4, 1500 * time.Millisecond: 4, 2500 * time.Millisecond: 3, 5 * time.Second: 1} {
		if got := cr.at(at); got != want {
			t.Errorf("connections at %v: %d, want %d", at, got, want)
		}
	}
}

// TestRunRateStages ramps the open model's rate from 0 to 200 req/s over
// a second and holds it for one more: 100 then 200 requests are due,
// all are sent, about a third of them in the first second, and the
// timeline says the rate asked.
func TestRunRateStages(t *testing.T) {
	testkit.CheckLeaks(t)
	var mu sync.Mutex
	var arrivals []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
	}))
	defer srv.Close()
	start := time.Now()
	res, err := Run(context.Background(), Config{URL: srv.URL, Connections: 8, Loops: 1,
		RateStages: []Stage{{time.Second, 200}, {time.Second, 200}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rate.Due != 300 || res.Rate.Sent != 300 || res.Status[200] != 300 || !res.Rate.Met() || res.Rate.Asked != 150 {
		t.Fatalf("rate %+v status %v errors %v", res.Rate, res.Status, res.Errors)
	}
	first := 0
	mu.Lock()
	defer mu.Unlock()
	for _, a := range arrivals {
		if a.Sub(start) < time.Second {
			first++
		}
	}
	if first < 60 || first > 150 {
		t.Errorf("%d of 300 requests in the first second, want about 100", first)
	}
	var sent int64
	var from time.Duration
	for i, s := range res.Timeline {
		sent += s.Sent
		// Nothing is due past the end: a last partial interval asks 0,
		// and one that straddles the end (the sampler closes intervals on
		// its 10 ms ticks) asks 200 req/s over its part before the end.
		held := 200.0
		if s.End > 2*time.Second && from < 2*time.Second {
			held = 200 * float64(2*time.Second-from) / float64(s.End-from)
		}
		if from < 2*time.Second && (s.AskedRate <= 0 || s.AskedRate > 200.001 || from >= time.Second && s.AskedRate < held-0.001) ||
			from >= 2*time.Second && s.AskedRate != 0 {
			t.Errorf("interval %d (%v to %v): asked %v req/s", i, from, s.End, s.AskedRate)
		}
		from = s.End
	}
	if sent != 300 {
		t.Errorf("the timeline sent %d", sent)
	}
}

// TestRunConnStages ramps the connections in use from 0 to 4 over 600 ms,
// holds 4 for 600 ms and goes down to 1: a server taking 20 ms per
// request sees at most 2 at once early on, 4 in the hold, and at most 2
// at the end.
func TestRunConnStages(t *testing.T) {
	testkit.CheckLeaks(t)
	var inFlight atomic.Int64
	var mu sync.Mutex
	type seen struct {
		at time.Duration
		n  int64
	}
	var log []seen
	start := time.Now()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		mu.Lock()
		log = append(log, seen{time.Since(start), n})
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		inFlight.Add(-1)
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Config{URL: srv.URL, Loops: 1,
		ConnStages: []Stage{{600 * time.Millisecond, 4}, {600 * time.Millisecond, 4}, {600 * time.Millisecond, 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Conns.Asked != 4 || res.Failed != 0 || res.Requests == 0 {
		t.Fatalf("asked %d, %d requests, errors %v", res.Conns.Asked, res.Requests, res.Errors)
	}
	mu.Lock()
	defer mu.Unlock()
	var early, hold, late int64
	for _, s := range log {
		switch {
		case s.at < 200*time.Millisecond:
			early = max(early, s.n)
		case s.at > 700*time.Millisecond && s.at < 1100*time.Millisecond:
			hold = max(hold, s.n)
		case s.at > 1650*time.Millisecond:
			late = max(late, s.n)
		}
	}
	if early > 2 || hold != 4 || late > 2 || late == 0 {
		t.Fatalf("at most %d in flight in the first 200 ms (want <= 2), %d in the hold (want 4), %d at the end (want 1 or 2)", early, hold, late)
	}
	asked := map[int]bool{}
	for _, s := range res.Timeline {
		asked[s.AskedConns] = true
	}
	if !asked[4] {
		t.Errorf("timeline %+v never asks 4", res.Timeline)
	}
}
