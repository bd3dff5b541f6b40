package resolver

import (
	"context"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// checkGoroutines fails the test if it leaves goroutines behind. Workers
// and context.AfterFunc goroutines end shortly after their work, so the
// count is polled back to the starting one with a bounded wait.
func checkGoroutines(t *testing.T) {
	t.Helper()
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > base {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("%d goroutines left, started with %d:\n%s", runtime.NumGoroutine(), base, buf)
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	})
}

// newTest returns a Resolver closed at the end of the test, after which
// no goroutine may remain.
func newTest(t *testing.T, cfg Config) *Resolver {
	t.Helper()
	checkGoroutines(t)
	r := New(cfg)
	t.Cleanup(r.Close)
	return r
}

// fakeClock is the cache's clock in tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeDNS stands in for the system resolver: no test sends a query to a
// real name server. Configure it before use; it is read-only after.
type fakeDNS struct {
	answers map[string][]netip.Addr // host -> answer
	errs    map[string]error        // host -> failure; unknown hosts are NXDOMAIN

	gate      chan struct{} // if set, lookups wait for it to close (or ctx)
	started   chan string   // if set, receives each host as its lookup starts
	cancelled chan string   // if set, receives each host whose ctx ended first

	calls         atomic.Int64
	running, peak atomic.Int64
}

func (d *fakeDNS) lookup(ctx context.Context, network, host string) ([]netip.Addr, error) {
	d.calls.Add(1)
	n := d.running.Add(1)
	defer d.running.Add(-1)
	for p := d.peak.Load(); n > p && !d.peak.CompareAndSwap(p, n); p = d.peak.Load() {
	}
	if d.started != nil {
		d.started <- host
	}
	if d.gate != nil {
		select {
		case <-d.gate:
		case <-ctx.Done():
			if d.cancelled != nil {
				d.cancelled <- host
			}
			return nil, ctx.Err()
		}
	}
	if err, ok := d.errs[host]; ok {
		return nil, err
	}
	if a, ok := d.answers[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

var (
	v4a = netip.MustParseAddr("192.0.2.1")
	v4b = netip.MustParseAddr("192.0.2.2")
	v6a = netip.MustParseAddr("2001:db8::1")
)

// result is one callback's arguments.
type result struct {
	addrs []netip.Addr
	err   error
}

// collect returns a callback that sends its arguments on the returned
// channel and fails the test if it is called twice.
func collect(t *testing.T) (func([]netip.Addr, error), chan result) {
	ch := make(chan result, 1)
	var calls atomic.Int32
	return func(addrs []netip.Addr, err error) {
		if calls.Add(1) > 1 {
			t.Errorf("callback called more than once (err %v)", err)
			return
		}
		ch <- result{addrs, err}
	}, ch
}

// await waits a bounded time for one result.
func await(t *testing.T, ch chan result) result {
	t.Helper()
	select {
	case res := <-ch:
		return res
	case <-time.After(5 * time.Second):
		t.Fatal("callback not called within 5s")
		return result{}
	}
}

// notYet checks that no result has arrived.
func notYet(t *testing.T, ch chan result) {
	t.Helper()
	select {
	case res := <-ch:
		t.Fatalf("unexpected early callback: %v %v", res.addrs, res.err)
	default:
	}
}

// waitFor polls cond for a bounded time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// recvHost waits a bounded time for a host on ch.
func recvHost(t *testing.T, ch chan string) string {
	t.Helper()
	select {
	case h := <-ch:
		return h
	case <-time.After(5 * time.Second):
		t.Fatal("nothing received within 5s")
		return ""
	}
}

func sameSlice(a, b []netip.Addr) bool {
	return len(a) > 0 && len(a) == len(b) && &a[0] == &b[0]
}
