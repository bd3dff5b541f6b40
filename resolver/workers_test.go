package resolver

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
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
