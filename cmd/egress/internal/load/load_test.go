package load

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/egress-go/egress"
	"github.com/egress-go/egress/internal/testkit"
	"github.com/egress-go/egress/target"
)

// startTarget starts the embedded server for a test, after a leak check
// (so that the check runs last, once the server is closed).
func startTarget(t *testing.T) *target.Server {
	t.Helper()
	testkit.CheckLeaks(t)
	s, err := target.Start(target.Config{Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func checkTotals(t *testing.T, res *Result) {
	t.Helper()
	var sum int64
	for _, n := range res.Status {
		sum += n
	}
	var errs int64
	for _, n := range res.Errors {
		errs += n
	}
	if sum+errs != res.Requests || errs != res.Failed {
		t.Fatalf("requests %d != statuses %d + errors %d (failed %d)", res.Requests, sum, errs, res.Failed)
	}
	if res.Latency.TotalCount() != sum {
		t.Fatalf("histogram holds %d latencies for %d responses", res.Latency.TotalCount(), sum)
	}
	var tl int64
	for _, s := range res.Timeline {
		tl += s.Requests
	}
	if tl != res.Requests {
		t.Fatalf("timeline sums to %d, not %d", tl, res.Requests)
	}
}

func TestClosedByCount(t *testing.T) {
	s := startTarget(t)
	// Run leaves nothing behind even while the server still runs (a
	// connection it forgot would end only when the server closes it).
	before := testkit.TakeSnapshot()
	res, err := Run(context.Background(), Config{URL: s.URL() + "/", Connections: 4, Requests: 500, Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	checkTotals(t, res)
	if res.Requests != 500 || res.Status[200] != 500 || res.Incomplete != 0 {
		t.Fatalf("requests %d, status %v, incomplete %d", res.Requests, res.Status, res.Incomplete)
	}
	if res.Conns.Dials != 4 || res.Conns.Peak > 4 || res.Conns.Reuses != 496 {
		t.Fatalf("connections %+v", res.Conns)
	}
	if res.BodyBytes != 500*int64(len("hello, egress\n")) {
		t.Fatalf("body bytes %d", res.BodyBytes)
	}
	before.Check(t)
}

func TestClosedByDuration(t *testing.T) {
	s := startTarget(t)
	var ticks, ivs int
	start := time.Now()
	res, err := Run(context.Background(), Config{
		URL: s.URL() + "/bytes/100", Connections: 8, Duration: 500 * time.Millisecond, Loops: 1,
		Tick: 50 * time.Millisecond, Interval: 100 * time.Millisecond,
		Progress:   func(Progress) { ticks++ },
		OnInterval: func(iv Interval) { ivs++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	wall := time.Since(start)
	checkTotals(t, res)
	if res.Requests == 0 || res.Failed != 0 || res.Conns.Peak != 8 {
		t.Fatalf("requests %d failed %d peak %d", res.Requests, res.Failed, res.Conns.Peak)
	}
	// Cadences are checked by ordering, not by counts in a window (a busy
	// machine may skip ticks): progress came, no two ticks closer than a
	// tick apart; every interval but the last, partial one spans at least
	// an interval. The run ends with its last completion, which comes
	// after the 500 ms (a request is always in flight in the closed
	// model) and no later than the 10 s timeout after it.
	if ticks < 1 || int64(ticks) > int64(wall/(50*time.Millisecond))+1 || ivs < 1 || len(res.Timeline) != ivs {
		t.Fatalf("ticks %d intervals %d timeline %d in %v", ticks, ivs, len(res.Timeline), wall)
	}
	var prev time.Duration
	for i, s := range res.Timeline[:len(res.Timeline)-1] {
		if s.End-prev < 100*time.Millisecond {
			t.Fatalf("interval %d: %v to %v, shorter than 100 ms", i, prev, s.End)
		}
		prev = s.End
	}
	if res.Elapsed < 450*time.Millisecond || res.Elapsed > 500*time.Millisecond+10*time.Second {
		t.Fatalf("elapsed %v", res.Elapsed)
	}
}

// TestRateCorrected runs the open model against a server that takes
// 100 ms per request with too few connections for the rate: requests
// queue, and the latencies (counted from when each was due) must show it,
// well above the server's own 100 ms.
func TestRateCorrected(t *testing.T) {
	s := startTarget(t)
	res, err := Run(context.Background(), Config{
		URL: s.URL() + "/delay/100", Connections: 2, Rate: 50, Duration: time.Second, Loops: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkTotals(t, res)
	// 2 connections serve at most 20 req/s (2 more in flight at the
	// end): 50 asked cannot be met, however fast the machine.
	if res.Rate.Met() || res.Rate.Sent > 22 || res.Rate.Due <= res.Rate.Sent {
		t.Fatalf("rate %+v", res.Rate)
	}
	if min := time.Duration(res.Latency.Min()); min < 100*time.Millisecond {
		t.Fatalf("min latency %v below the server's delay", min)
	}
	if p90 := time.Duration(res.Latency.ValueAtQuantile(90)); p90 < 300*time.Millisecond {
		t.Fatalf("p90 %v: queueing not counted", p90)
	}
}

// TestRateMet runs the open model where the rate can be met, and checks
// how it counts, not how fast it went (whether 200 req/s is reached is
// the benchmark harness's business): every request sent is counted, none
// is sent before it is due, and what is due follows the clock, so that by
// the end of each interval no more than its time at 200 req/s (plus the
// first, due at once) can have completed; an interval's count is taken
// just after its end, so it is checked against the next one's end.
func TestRateMet(t *testing.T) {
	s := startTarget(t)
	start := time.Now()
	res, err := Run(context.Background(), Config{
		URL: s.URL() + "/", Connections: 4, Rate: 200, Duration: 500 * time.Millisecond, Loops: 1,
		Interval: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	wall := time.Since(start)
	checkTotals(t, res)
	rs := res.Rate
	if rs.Asked != 200 || rs.Sent < 1 || rs.Sent > rs.Due || rs.Due > 100 || rs.Sent != res.Requests+res.Incomplete ||
		res.Failed != 0 || rs.MaxLag < 0 {
		t.Fatalf("rate %+v, requests %d incomplete %d failed %d", rs, res.Requests, res.Incomplete, res.Failed)
	}
	if limit := int64(wall.Seconds()*200) + 1; rs.Due > limit {
		t.Fatalf("%d due in %v at 200 req/s", rs.Due, wall)
	}
	var done int64
	for i := 0; i+1 < len(res.Timeline); i++ {
		done += res.Timeline[i].Requests
		if end := res.Timeline[i+1].End; done > int64(end.Seconds()*200)+1 {
			t.Fatalf("interval %d: %d completed before %v, more than were due at 200 req/s", i, done, end)
		}
	}
}

// TestRateOverRunLength runs the open model at a rate whose last request
// is due well before the end (4 req/s for 1 s: due at 0, 250, 500 and
// 750 ms). The run lasts its second all the same, so the rates, the
// elapsed time and the timeline are over that second: sending exactly
// what was asked must not read as 5.3 req/s against 4 asked.
func TestRateOverRunLength(t *testing.T) {
	s := startTarget(t)
	const d = time.Second
	res, err := Run(context.Background(), Config{
		URL: s.URL() + "/", Connections: 2, Rate: 4, Duration: d, Loops: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkTotals(t, res)
	if res.Rate.Sent != 4 || res.Requests != 4 || res.Failed != 0 {
		t.Fatalf("rate %+v, requests %d, errors %v", res.Rate, res.Requests, res.Errors)
	}
	if res.Elapsed < d || res.Rate.Achieved > 4 {
		t.Fatalf("elapsed %v, sent %.2f req/s of 4 asked: the run lasted %v", res.Elapsed, res.Rate.Achieved, d)
	}
	if last := res.Timeline[len(res.Timeline)-1].End; last < d {
		t.Fatalf("the timeline ends at %v, before the run's end at %v", last, d)
	}
}

// TestReusesHTTP2 counts the requests on reused connections over HTTP/2,
// where a request after a connection's first is a new stream of it
// rather than a checkout of an idle connection: 200 requests on 2 h2c
// connections were 198 on connections used before, not 0.
func TestReusesHTTP2(t *testing.T) {
	testkit.CheckLeaks(t)
	s, err := target.Start(target.Config{HTTP2: target.H2C})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := Run(context.Background(), Config{
		URL: s.URL() + "/", Connections: 2, Requests: 200, Loops: 1,
		HTTP2: egress.HTTP2Options{PriorKnowledge: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	checkTotals(t, res)
	c := res.Conns
	if res.Requests != 200 || res.HTTP2 != 200 || c.Dials < 2 || c.Reuses+c.Dials < 200 || c.Reuses > 198 {
		t.Fatalf("requests %d (HTTP/2 %d), dials %d, reuses %d", res.Requests, res.HTTP2, c.Dials, c.Reuses)
	}
}

func TestRefused(t *testing.T) {
	testkit.CheckLeaks(t)
	addr := testkit.ClosedAddr(t)
	res, err := Run(context.Background(), Config{URL: "http://" + addr + "/", Connections: 2, Duration: 200 * time.Millisecond, Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	checkTotals(t, res)
	if res.Errors[ErrClassRefused] == 0 || res.Failed != res.Requests {
		t.Fatalf("errors %v", res.Errors)
	}
	// The back-off keeps a dead server from being hammered.
	if res.Requests > 200 {
		t.Fatalf("%d attempts in 200 ms", res.Requests)
	}
}

func TestStragglersAreIncomplete(t *testing.T) {
	s := startTarget(t)
	start := time.Now()
	res, err := Run(context.Background(), Config{
		URL: s.URL() + "/delay/60000", Connections: 3, Duration: 100 * time.Millisecond,
		Timeout: 200 * time.Millisecond, Loops: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkTotals(t, res)
	// The header timeout (200 ms) fails them before the grace ends, or the
	// grace gives up on them: either way nothing waits for the server's
	// minute (the bound leaves a busy machine 30 s).
	if time.Since(start) > 30*time.Second || res.Requests+res.Incomplete != 3 {
		t.Fatalf("took %v; requests %d incomplete %d errors %v", time.Since(start), res.Requests, res.Incomplete, res.Errors)
	}
}

func TestBadConfig(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want error
	}{
		{Config{URL: "http://x/"}, ErrNoEnd},
		{Config{URL: "http://x/", Rate: 10, Requests: 5}, ErrRateNeedsTime},
		{Config{URL: "http://x/", Connections: -1, Requests: 1}, ErrBadConnections},
	} {
		if _, err := Run(context.Background(), c.cfg); !errors.Is(err, c.want) {
			t.Errorf("%+v: %v, want %v", c.cfg, err, c.want)
		}
	}
}
