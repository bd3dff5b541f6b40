package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/egress-go/egress/cmd/egress/internal/load"
)

// TestLiveLineRequests checks the live line of a run bounded by -n alone:
// the bar is the requests done, and the time left is estimated from the
// rate; and the line of a timed run once its time is up.
func TestLiveLineRequests(t *testing.T) {
	var w bytes.Buffer
	p := newProgress(&w, load.Config{Requests: 1000})
	p.update(load.Progress{Elapsed: 1500 * time.Millisecond, Requests: 250, RateNow: 150, Open: 3,
		P50: 1500 * time.Microsecond, P99: 25 * time.Millisecond})
	p.finish()
	p.update(load.Progress{Elapsed: 2 * time.Second, Requests: 300}) // after finish: nothing
	frames := strings.Split(w.String(), "\r")
	want := "bench [" + strings.Repeat("█", 5) + strings.Repeat("░", 15) + "] 1.5s, 250/1000 requests, ~5.0s left" +
		"  150 req/s  p50 1.50ms  p99 25.0ms  0 errors  3 conns\x1b[K"
	if len(frames) != 4 || frames[2] != want || frames[3] != "\x1b[K" {
		t.Fatalf("frames %q\nwant %q", frames, want)
	}
	timed := &progressLine{total: 2 * time.Second}
	if got := timed.render(load.Progress{Elapsed: 2300 * time.Millisecond, Errors: 2}); !strings.HasPrefix(got,
		"bench ["+strings.Repeat("█", 20)+"] 2.3s/2.0s, 0.0s left  0 req/s  p50 -  p99 -  2 errors") {
		t.Errorf("after the end: %q", got)
	}
	if got := cutRunes("██ab", 3); got != "██a" {
		t.Errorf("cutRunes: %q", got)
	}
}
