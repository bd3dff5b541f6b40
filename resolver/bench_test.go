package resolver

import (
	"context"
	"net/netip"
	"testing"
)

func benchResolver(b *testing.B) *Resolver {
	dns := &fakeDNS{answers: map[string][]netip.Addr{"api.example": {v4a, v6a}}}
	r := New(Config{Lookup: dns.lookup})
	b.Cleanup(r.Close)
	if _, err := r.Lookup(context.Background(), "ip", "api.example"); err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkCacheHit is the path an event loop takes for every dial to a
// known upstream. It must not allocate.
func BenchmarkCacheHit(b *testing.B) {
	r := benchResolver(b)
	ctx := context.Background()
	var n int
	cb := func(addrs []netip.Addr, err error) { n += len(addrs) }
	b.ReportAllocs()
	for b.Loop() {
		r.LookupAsync(ctx, "ip", "api.example", cb)
	}
}

func BenchmarkCacheHitParallel(b *testing.B) {
	r := benchResolver(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		var n int
		cb := func(addrs []netip.Addr, err error) { n += len(addrs) }
		for pb.Next() {
			r.LookupAsync(ctx, "ip", "api.example", cb)
		}
	})
}

func BenchmarkLookupCacheHit(b *testing.B) {
	r := benchResolver(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r.Lookup(ctx, "ip", "api.example")
	}
}

func BenchmarkLiteral(b *testing.B) {
	r := benchResolver(b)
	ctx := context.Background()
	cb := func([]netip.Addr, error) {}
	b.ReportAllocs()
	for b.Loop() {
		r.LookupAsync(ctx, "ip", "192.0.2.1", cb)
	}
}

// BenchmarkMiss measures a full lookup through a worker: queue, goroutine
// start, fake Lookup, callback. Caching is off so that every call misses.
func BenchmarkMiss(b *testing.B) {
	dns := &fakeDNS{answers: map[string][]netip.Addr{"api.example": {v4a}}}
	r := New(Config{Lookup: dns.lookup, TTL: -1})
	b.Cleanup(r.Close)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r.Lookup(ctx, "ip", "api.example")
	}
}
