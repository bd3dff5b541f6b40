package resolver

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
)

type ctxKey struct{}

func TestMergeThousandWaiters(t *testing.T) {
	dns := &fakeDNS{
		answers: map[string][]netip.Addr{"api.example": {v6a, v4a}}, // order kept
		gate:    make(chan struct{}),
	}
	r := newTest(t, Config{Lookup: dns.lookup})

	const n = 1000
	results := make([]result, n)
	var done sync.WaitGroup
	done.Add(n)
	var callers sync.WaitGroup
	for g := range 10 {
		callers.Add(1)
		go func() {
			defer callers.Done()
			for i := g * n / 10; i < (g+1)*n/10; i++ {
				r.LookupAsync(context.Background(), "ip", "api.example", func(addrs []netip.Addr, err error) {
					results[i] = result{addrs, err}
					done.Done()
				})
			}
		}()
	}
	callers.Wait()
	if s := r.Stats(); s.Merged != n-1 || s.Pending != 1 {
		t.Fatalf("before the answer: %+v, want Merged %d, Pending 1", s, n-1)
	}
	close(dns.gate)
	done.Wait()

	if c := dns.calls.Load(); c != 1 {
		t.Errorf("Lookup called %d times, want 1", c)
	}
	first := results[0].addrs
	if len(first) != 2 || first[0] != v6a || first[1] != v4a {
		t.Fatalf("answer %v, want [%v %v] in the system's order", first, v6a, v4a)
	}
	for i, res := range results {
		if res.err != nil || !sameSlice(res.addrs, first) {
			t.Fatalf("caller %d: %v, %v; want the shared answer", i, res.addrs, res.err)
		}
	}
	if s := r.Stats(); s.Pending != 0 || s.Entries != 1 {
		t.Errorf("after: %+v", s)
	}
}

func TestWaiterCancelOthersAnswered(t *testing.T) {
	dns := &fakeDNS{
		answers: map[string][]netip.Addr{"api.example": {v4a}},
		gate:    make(chan struct{}),
		started: make(chan string, 1),
	}
	r := newTest(t, Config{Lookup: dns.lookup})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cbLeaver, leaver := collect(t)
	cbA, a := collect(t)
	cbB, b := collect(t)
	r.LookupAsync(ctx, "ip", "api.example", cbLeaver)
	r.LookupAsync(context.Background(), "ip", "api.example", cbA)
	bctx, bcancel := context.WithCancel(context.Background()) // cancellable, never cancelled
	defer bcancel()
	r.LookupAsync(bctx, "ip", "api.example", cbB)
	recvHost(t, dns.started)

	cancel()
	res := await(t, leaver) // answered while the lookup still runs
	var e *Error
	if !errors.Is(res.err, context.Canceled) || !errors.As(res.err, &e) || e.Host != "api.example" || res.addrs != nil {
		t.Fatalf("leaver got %v, %v; want *Error wrapping context.Canceled", res.addrs, res.err)
	}
	notYet(t, a)
	notYet(t, b)

	close(dns.gate)
	for _, ch := range []chan result{a, b} {
		if res := await(t, ch); res.err != nil || len(res.addrs) != 1 || res.addrs[0] != v4a {
			t.Errorf("remaining waiter got %v, %v", res.addrs, res.err)
		}
	}
	if c := dns.calls.Load(); c != 1 {
		t.Errorf("Lookup called %d times, want 1", c)
	}
	if s := r.Stats(); s.Errors.Canceled != 1 {
		t.Errorf("Errors.Canceled = %d, want 1", s.Errors.Canceled)
	}
}

func TestLookupCancelledWhenAllWaitersLeave(t *testing.T) {
	dns := &fakeDNS{
		answers:   map[string][]netip.Addr{"api.example": {v4a}},
		gate:      make(chan struct{}),
		started:   make(chan string, 2),
		cancelled: make(chan string, 2),
	}
	r := newTest(t, Config{Lookup: dns.lookup})

	ctx1, cancel1 := context.WithCancel(context.Background())
	ctx2, cancel2 := context.WithCancel(context.Background())
	cb1, ch1 := collect(t)
	cb2, ch2 := collect(t)
	r.LookupAsync(ctx1, "ip", "api.example", cb1)
	r.LookupAsync(ctx2, "ip", "api.example", cb2)
	recvHost(t, dns.started)

	cancel1()
	await(t, ch1)
	select {
	case <-dns.cancelled:
		t.Fatal("lookup cancelled while a waiter remained")
	default:
	}
	cancel2()
	await(t, ch2)
	if h := recvHost(t, dns.cancelled); h != "api.example" {
		t.Fatalf("cancelled %q", h)
	}
	if s := r.Stats(); s.Pending != 0 || s.Entries != 0 {
		t.Errorf("after abandon: %+v", s)
	}

	// A new caller starts a new lookup rather than joining the dead one.
	close(dns.gate)
	addrs, err := r.Lookup(context.Background(), "ip", "api.example")
	if err != nil || len(addrs) != 1 {
		t.Fatalf("after abandon: %v, %v", addrs, err)
	}
	if c := dns.calls.Load(); c != 2 {
		t.Errorf("Lookup called %d times, want 2", c)
	}
}

func TestQueuedLookupDroppedWhenAbandoned(t *testing.T) {
	dns := &fakeDNS{
		answers: map[string][]netip.Addr{"a.example": {v4a}, "b.example": {v4b}},
		gate:    make(chan struct{}),
		started: make(chan string, 2),
	}
	r := newTest(t, Config{Lookup: dns.lookup, Workers: 1})

	cbA, a := collect(t)
	r.LookupAsync(context.Background(), "ip", "a.example", cbA)
	recvHost(t, dns.started) // the only worker is busy

	ctx, cancel := context.WithCancel(context.Background())
	cbB, b := collect(t)
	r.LookupAsync(ctx, "ip", "b.example", cbB)
	cancel()
	if res := await(t, b); !errors.Is(res.err, context.Canceled) {
		t.Fatalf("queued waiter: %v", res.err)
	}
	close(dns.gate)
	await(t, a)
	waitFor(t, "workers to exit", func() bool { return r.Stats().Workers == 0 })
	if c := dns.calls.Load(); c != 1 {
		t.Errorf("Lookup called %d times, want 1 (b.example was abandoned in the queue)", c)
	}
}

func TestLookupSeesFirstCallersValues(t *testing.T) {
	var got any
	r := newTest(t, Config{Lookup: func(ctx context.Context, _, _ string) ([]netip.Addr, error) {
		got = ctx.Value(ctxKey{})
		return []netip.Addr{v4a}, nil
	}})
	ctx := context.WithValue(context.Background(), ctxKey{}, "trace-1")
	if _, err := r.Lookup(ctx, "ip", "api.example"); err != nil {
		t.Fatal(err)
	}
	if got != "trace-1" {
		t.Errorf("Lookup saw value %v, want trace-1", got)
	}
}

// TestExactlyOnce races callers' cancellations against the answer and
// Close; each callback must run exactly once (collect checks) and -race
// must stay quiet.
func TestExactlyOnce(t *testing.T) {
	checkGoroutines(t)
	for round := range 50 {
		dns := &fakeDNS{answers: map[string][]netip.Addr{"api.example": {v4a}}, gate: make(chan struct{})}
		r := New(Config{Lookup: dns.lookup, Workers: 2})
		var chans []chan result
		var cancels []context.CancelFunc
		for range 8 {
			ctx, cancel := context.WithCancel(context.Background())
			cancels = append(cancels, cancel)
			cb, ch := collect(t)
			chans = append(chans, ch)
			r.LookupAsync(ctx, "ip", "api.example", cb)
		}
		var wg sync.WaitGroup
		for i, cancel := range cancels {
			if i%2 == round%2 {
				wg.Go(cancel)
			}
		}
		wg.Go(func() { close(dns.gate) })
		if round%5 == 0 {
			wg.Go(r.Close)
		}
		wg.Wait()
		for _, ch := range chans {
			res := await(t, ch)
			if res.err == nil && len(res.addrs) != 1 {
				t.Fatalf("round %d: bad answer %v", round, res.addrs)
			}
		}
		r.Close()
		for _, cancel := range cancels {
			cancel()
		}
	}
}
