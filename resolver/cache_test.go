package resolver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

func TestTTLExpiryRefreshes(t *testing.T) {
	clk := newClock()
	dns := &fakeDNS{answers: map[string][]netip.Addr{"api.example": {v4a, v6a}}}
	r := newTest(t, Config{Lookup: dns.lookup, TTL: 10 * time.Second, now: clk.now})
	ctx := context.Background()

	first, err := r.Lookup(ctx, "ip", "api.example")
	if err != nil {
		t.Fatal(err)
	}
	clk.advance(9 * time.Second)
	hit, err := syncCall(t, r, ctx, "ip", "api.example") // a hit is synchronous
	if err != nil || !sameSlice(hit, first) {
		t.Fatalf("hit: %v, %v; want the cached slice", hit, err)
	}
	if c := dns.calls.Load(); c != 1 {
		t.Fatalf("calls = %d before expiry, want 1", c)
	}

	clk.advance(time.Second) // exactly TTL: expired
	if _, err := r.Lookup(ctx, "ip", "api.example"); err != nil {
		t.Fatal(err)
	}
	if c := dns.calls.Load(); c != 2 {
		t.Errorf("calls = %d after expiry, want 2", c)
	}
	if s := r.Stats(); s.Hits != 1 || s.Entries != 1 {
		t.Errorf("stats %+v, want 1 hit and 1 entry", s)
	}
}

func TestNetworksCachedApart(t *testing.T) {
	dns := &fakeDNS{answers: map[string][]netip.Addr{"api.example": {netip.AddrFrom16(v4a.As16()), v6a}}}
	r := newTest(t, Config{Lookup: dns.lookup})
	for _, tc := range []struct {
		network string
		want    []netip.Addr
	}{
		{"ip", []netip.Addr{v4a, v6a}}, // IPv4-mapped answers come back unmapped
		{"ip4", []netip.Addr{v4a}},
		{"ip6", []netip.Addr{v6a}},
	} {
		addrs, err := r.Lookup(context.Background(), tc.network, "api.example")
		if err != nil || fmt.Sprint(addrs) != fmt.Sprint(tc.want) || cap(addrs) != len(addrs) {
			t.Errorf("%s: %v (cap %d), %v; want %v with cap == len", tc.network, addrs, cap(addrs), err, tc.want)
		}
	}
	if c := dns.calls.Load(); c != 3 {
		t.Errorf("calls = %d, want one per network", c)
	}
}

func TestNegativeCaching(t *testing.T) {
	clk := newClock()
	dns := &fakeDNS{}
	r := newTest(t, Config{Lookup: dns.lookup, NegativeTTL: 2 * time.Second, now: clk.now})
	ctx := context.Background()

	_, err1 := r.Lookup(ctx, "ip", "nx.example")
	_, err2 := syncCall(t, r, ctx, "ip", "nx.example")
	if !errors.Is(err1, ErrNotFound) || err2 != err1 {
		t.Fatalf("errors %v, %v; want the same cached ErrNotFound", err1, err2)
	}
	if c := dns.calls.Load(); c != 1 {
		t.Fatalf("calls = %d, want 1", c)
	}
	clk.advance(2 * time.Second)
	if _, err := r.Lookup(ctx, "ip", "nx.example"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if c := dns.calls.Load(); c != 2 {
		t.Errorf("calls = %d after NegativeTTL, want 2", c)
	}
}

func TestEmptyAnswerIsNotFound(t *testing.T) {
	r := newTest(t, Config{Lookup: func(context.Context, string, string) ([]netip.Addr, error) {
		return []netip.Addr{}, nil
	}})
	_, err := r.Lookup(context.Background(), "ip", "empty.example")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err %v, want ErrNotFound", err)
	}
	if want := "resolver: lookup empty.example (ip): no such host"; err.Error() != want {
		t.Errorf("%q, want %q", err, want)
	}
	if r.Stats().Entries != 1 {
		t.Error("empty answer not cached as not found")
	}
}

func TestFailuresNotCached(t *testing.T) {
	dns := &fakeDNS{errs: map[string]error{
		"slow.example": &net.DNSError{Err: "i/o timeout", Name: "slow.example", IsTimeout: true},
		"fail.example": &net.DNSError{Err: "server misbehaving", Name: "fail.example", IsTemporary: true},
	}}
	r := newTest(t, Config{Lookup: dns.lookup})
	for _, host := range []string{"slow.example", "fail.example"} {
		for range 2 {
			if _, err := r.Lookup(context.Background(), "ip", host); err == nil {
				t.Fatalf("%s: no error", host)
			}
		}
	}
	if c := dns.calls.Load(); c != 4 {
		t.Errorf("calls = %d, want 4 (failures are not cached)", c)
	}
	if s := r.Stats(); s.Entries != 0 {
		t.Errorf("Entries = %d, want 0", s.Entries)
	}
}

func TestCachingDisabled(t *testing.T) {
	dns := &fakeDNS{answers: map[string][]netip.Addr{"api.example": {v4a}}}
	for _, cfg := range []Config{
		{TTL: -1, NegativeTTL: -1},
		{MaxEntries: -1},
	} {
		cfg.Lookup = dns.lookup
		dns.calls.Store(0)
		r := newTest(t, cfg)
		for range 3 {
			r.Lookup(context.Background(), "ip", "api.example")
			r.Lookup(context.Background(), "ip", "nx.example")
		}
		if c := dns.calls.Load(); c != 6 {
			t.Errorf("%+v: calls = %d, want 6", cfg, c)
		}
		if s := r.Stats(); s.Entries != 0 || s.Hits != 0 {
			t.Errorf("%+v: stats %+v", cfg, s)
		}
	}
}

func TestMaxEntriesEvictsOldest(t *testing.T) {
	clk := newClock()
	dns := &fakeDNS{answers: map[string][]netip.Addr{}}
	for i := range 4 {
		dns.answers[fmt.Sprintf("h%d.example", i)] = []netip.Addr{v4a}
	}
	r := newTest(t, Config{Lookup: dns.lookup, MaxEntries: 3, now: clk.now})
	for i := range 4 {
		r.Lookup(context.Background(), "ip", fmt.Sprintf("h%d.example", i))
		clk.advance(time.Second)
	}
	if s := r.Stats(); s.Entries != 3 {
		t.Fatalf("Entries = %d, want 3", s.Entries)
	}
	for i, wantCalls := range []int64{4, 4, 4, 5} { // h1..h3 hit, then h0 is a miss
		host := fmt.Sprintf("h%d.example", (i+1)%4)
		r.Lookup(context.Background(), "ip", host)
		if c := dns.calls.Load(); c != wantCalls {
			t.Fatalf("after %s: calls = %d, want %d", host, c, wantCalls)
		}
	}
}

// TestEvictExpiredFirst: the oldest entry is a live negative one; an
// expired positive entry must go before it.
func TestEvictExpiredFirst(t *testing.T) {
	clk := newClock()
	dns := &fakeDNS{answers: map[string][]netip.Addr{"a.example": {v4a}, "b.example": {v4b}}}
	r := newTest(t, Config{
		Lookup: dns.lookup, MaxEntries: 2, now: clk.now,
		TTL: 5 * time.Second, NegativeTTL: 100 * time.Second,
	})
	ctx := context.Background()
	r.Lookup(ctx, "ip", "nx.example") // t=0, expires t=100
	clk.advance(time.Second)
	r.Lookup(ctx, "ip", "a.example") // t=1, expires t=6
	clk.advance(9 * time.Second)
	r.Lookup(ctx, "ip", "b.example") // t=10: a has expired, nx has not
	if _, err := syncCall(t, r, ctx, "ip", "nx.example"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("nx: %v", err)
	}
	if c := dns.calls.Load(); c != 3 {
		t.Errorf("calls = %d, want 3 (nx.example still cached)", c)
	}
	if s := r.Stats(); s.Entries != 2 {
		t.Errorf("Entries = %d, want 2", s.Entries)
	}
}

// TestCacheHitAllocs pins the zero-allocation cache hit; the benchmark
// reports the same figure.
func TestCacheHitAllocs(t *testing.T) {
	dns := &fakeDNS{answers: map[string][]netip.Addr{"api.example": {v4a}}}
	r := newTest(t, Config{Lookup: dns.lookup})
	ctx := context.Background()
	if _, err := r.Lookup(ctx, "ip", "api.example"); err != nil {
		t.Fatal(err)
	}
	var n int
	cb := func(addrs []netip.Addr, err error) { n += len(addrs) }
	if a := testkit.AllocsPerOp(10, testkit.AllocBatch, func() { r.LookupAsync(ctx, "ip", "api.example", cb) }); a != 0 {
		t.Errorf("LookupAsync cache hit: %.2f allocs per look-up, want 0", a)
	}
	if a := testkit.AllocsPerOp(10, testkit.AllocBatch, func() { r.Lookup(ctx, "ip", "api.example") }); a != 0 {
		t.Errorf("Lookup cache hit: %.2f allocs per look-up, want 0", a)
	}
}
