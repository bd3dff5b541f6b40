package load

import (
	"context"
	"errors"
	"testing"
	"time"

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
	res, err := Run(context.Background(), Config{
		URL: s.URL() + "/bytes/100", Connections: 8, Duration: 500 * time.Millisecond, Loops: 1,
		Tick: 50 * time.Millisecond, Interval: 100 * time.Millisecond,
		Progress:   func(Progress) { ticks++ },
		OnInterval: func(iv Interval) { ivs++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	checkTotals(t, res)
	if res.Requests == 0 || res.Failed != 0 || res.Conns.Peak != 8 {
		t.Fatalf("requests %d failed %d peak %d", res.Requests, res.Failed, res.Conns.Peak)
	}
	if ticks < 5 || ivs < 4 || len(res.Timeline) != ivs {
		t.Fatalf("ticks %d intervals %d timeline %d", ticks, ivs, len(res.Timeline))
	}
	if res.Elapsed < 450*time.Millisecond || res.Elapsed > 2*time.Second {
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
	// 2 connections serve at most 20 req/s: 50 asked cannot be met.
	if res.Rate.Met() || res.Rate.Due < 45 || res.Rate.Sent > 25 {
		t.Fatalf("rate %+v", res.Rate)
	}
	if min := time.Duration(res.Latency.Min()); min < 100*time.Millisecond {
		t.Fatalf("min latency %v below the server's delay", min)
	}
	if p90 := time.Duration(res.Latency.ValueAtQuantile(90)); p90 < 300*time.Millisecond {
		t.Fatalf("p90 %v: queueing not counted", p90)
	}
}

func TestRateMet(t *testing.T) {
	s := startTarget(t)
	res, err := Run(context.Background(), Config{
		URL: s.URL() + "/", Connections: 4, Rate: 200, Duration: 500 * time.Millisecond, Loops: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkTotals(t, res)
	if !res.Rate.Met() || res.Rate.Sent < 95 || res.Rate.Sent > 101 {
		t.Fatalf("rate %+v, requests %d", res.Rate, res.Requests)
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
		URL: s.URL() + "/delay/5000", Connections: 3, Duration: 100 * time.Millisecond,
		Timeout: 200 * time.Millisecond, Loops: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkTotals(t, res)
	// The header timeout (200 ms) fails them before the grace ends, or the
	// grace gives up on them: either way nothing waits 5 s.
	if time.Since(start) > 3*time.Second || res.Requests+res.Incomplete != 3 {
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
