package resolver

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"
)

func TestWorkerBound(t *testing.T) {
	const hosts, workers = 20, 3
	dns := &fakeDNS{
		answers: map[string][]netip.Addr{},
		gate:    make(chan struct{}),
		started: make(chan string, hosts),
	}
	for i := range hosts {
		dns.answers[fmt.Sprintf("h%d.example", i)] = []netip.Addr{v4a}
	}
	r := newTest(t, Config{Lookup: dns.lookup, Workers: workers})

	chans := make([]chan result, hosts)
	for i := range hosts {
		var cb func([]netip.Addr, error)
		cb, chans[i] = collect(t)
		r.LookupAsync(context.Background(), "ip", fmt.Sprintf("h%d.example", i), cb)
	}
	for range workers {
		recvHost(t, dns.started)
	}
	if s := r.Stats(); s.Workers != workers || s.Pending != hosts {
		t.Errorf("while blocked: %+v, want %d workers and %d pending", s, workers, hosts)
	}
	close(dns.gate)
	for _, ch := range chans {
		if res := await(t, ch); res.err != nil {
			t.Fatal(res.err)
		}
	}
	if p := dns.peak.Load(); p != workers {
		t.Errorf("peak concurrent lookups = %d, want %d", p, workers)
	}
	if c := dns.calls.Load(); c != hosts {
		t.Errorf("calls = %d, want %d", c, hosts)
	}
	// An idle resolver holds no goroutine.
	waitFor(t, "workers to exit", func() bool { return r.Stats().Workers == 0 })
}

func TestClosePending(t *testing.T) {
	dns := &fakeDNS{
		gate:      make(chan struct{}), // never opened: only Close ends the lookup
		started:   make(chan string, 1),
		cancelled: make(chan string, 1),
	}
	checkGoroutines(t)
	r := New(Config{Lookup: dns.lookup, Workers: 1})

	var chans []chan result
	for _, host := range []string{"a.example", "a.example", "b.example", "c.example"} {
		cb, ch := collect(t)
		chans = append(chans, ch)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		r.LookupAsync(ctx, "ip", host, cb)
	}
	recvHost(t, dns.started) // a.example running, b and c queued

	r.Close() // returns only once the worker has exited
	if s := r.Stats(); s.Workers != 0 || s.Pending != 0 {
		t.Errorf("after Close: %+v", s)
	}
	if h := recvHost(t, dns.cancelled); h != "a.example" {
		t.Errorf("cancelled %q", h)
	}
	for i, ch := range chans {
		res := await(t, ch)
		var e *Error
		if !errors.Is(res.err, ErrClosed) || !errors.As(res.err, &e) || e.Host == "" {
			t.Errorf("waiter %d: %v, want ErrClosed", i, res.err)
		}
	}
	if c := dns.calls.Load(); c != 1 {
		t.Errorf("calls = %d, want 1 (queued lookups never ran)", c)
	}

	// After Close everything fails at once, literals included.
	for _, host := range []string{"a.example", "192.0.2.1"} {
		if _, err := syncCall(t, r, context.Background(), "ip", host); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v", host, err)
		}
	}
	r.Close() // idempotent
	if s := r.Stats(); s.Errors.Closed != 6 {
		t.Errorf("Errors.Closed = %d, want 6", s.Errors.Closed)
	}
}

func TestCloseIdle(t *testing.T) {
	r := newTest(t, Config{})
	r.Close()
	r.Close()
}

// TestTimeoutCountsQueueWait: Timeout bounds the wait for an answer, not
// only the lookup once a worker takes it, so a caller without a deadline
// of its own is not kept waiting for Timeout times the queue length when
// every worker is busy with a slow name.
func TestTimeoutCountsQueueWait(t *testing.T) {
	const timeout = 300 * time.Millisecond
	dns := &fakeDNS{gate: make(chan struct{}), started: make(chan string, 4)} // never answers; honours ctx
	defer close(dns.gate)
	var mu sync.Mutex
	deadlines := map[string]time.Time{}
	lookup := func(ctx context.Context, network, host string) ([]netip.Addr, error) {
		if d, ok := ctx.Deadline(); ok {
			mu.Lock()
			deadlines[host] = d
			mu.Unlock()
		}
		return dns.lookup(ctx, network, host)
	}
	r := newTest(t, Config{Lookup: lookup, Workers: 1, Timeout: timeout})

	cbA, chA := collect(t)
	r.LookupAsync(context.Background(), "ip", "a.example", cbA)
	recvHost(t, dns.started) // the only worker is busy until a's Timeout
	cbB, chB := collect(t)
	r.LookupAsync(context.Background(), "ip", "b.example", cbB)
	queued := time.Now() // after b was queued

	for _, ch := range []chan result{chA, chB} {
		if res := await(t, ch); !errors.Is(res.err, ErrTimeout) {
			t.Fatalf("err %v, want ErrTimeout", res.err)
		}
	}
	// b may run for what is left of its Timeout, or not at all; not for a
	// whole Timeout counted from when the worker took it.
	mu.Lock()
	d, ran := deadlines["b.example"]
	mu.Unlock()
	if ran && d.After(queued.Add(timeout)) {
		t.Errorf("b's lookup deadline is %v after it was queued, Timeout %v", d.Sub(queued), timeout)
	}
}

// TestExpiredInQueueNotLookedUp: a lookup whose Timeout ran out while it
// waited for a worker is answered with ErrTimeout and never made.
func TestExpiredInQueueNotLookedUp(t *testing.T) {
	const timeout = 50 * time.Millisecond
	release := make(chan struct{})
	started := make(chan string, 2)
	var calls sync.Map
	lookup := func(ctx context.Context, network, host string) ([]netip.Addr, error) {
		calls.Store(host, true)
		started <- host
		if host == "a.example" {
			<-release // holds the only worker past b's Timeout
		}
		return []netip.Addr{v4a}, nil
	}
	r := newTest(t, Config{Lookup: lookup, Workers: 1, Timeout: timeout})

	cbA, chA := collect(t)
	r.LookupAsync(context.Background(), "ip", "a.example", cbA)
	recvHost(t, started)
	cbB, chB := collect(t)
	r.LookupAsync(context.Background(), "ip", "b.example", cbB)
	queued := time.Now()
	// The event under test is b's Timeout running out in the queue.
	waitFor(t, "b's Timeout to pass", func() bool { return time.Since(queued) > timeout })
	close(release)

	if res := await(t, chA); res.err != nil {
		t.Fatalf("a: %v", res.err)
	}
	if res := await(t, chB); !errors.Is(res.err, ErrTimeout) {
		t.Fatalf("b: %v, want ErrTimeout", res.err)
	}
	if _, ok := calls.Load("b.example"); ok {
		t.Error("b was looked up after its Timeout ran out in the queue")
	}
	if s := r.Stats(); s.Errors.Timeout != 1 || s.Entries != 1 {
		t.Errorf("stats %+v, want one timeout and only a cached", s)
	}
}
