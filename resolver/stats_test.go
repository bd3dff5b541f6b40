package resolver

import (
	"context"
	"net/netip"
	"testing"
)

func TestStatsCounters(t *testing.T) {
	dns := &fakeDNS{
		answers: map[string][]netip.Addr{"api.example": {v4a}},
		gate:    make(chan struct{}),
		started: make(chan string, 2),
	}
	r := newTest(t, Config{Lookup: dns.lookup})
	bg := context.Background()

	r.Lookup(bg, "ip", "192.0.2.7") // literal

	cb1, ch1 := collect(t)
	cb2, ch2 := collect(t)
	r.LookupAsync(bg, "ip", "api.example", cb1) // lookup
	r.LookupAsync(bg, "ip", "api.example", cb2) // merged
	recvHost(t, dns.started)
	if s := r.Stats(); s.Pending != 1 || s.Workers != 1 || s.Merged != 1 {
		t.Errorf("in flight: %+v", s)
	}
	close(dns.gate)
	await(t, ch1)
	await(t, ch2)

	r.Lookup(bg, "ip", "api.example") // hit
	r.Lookup(bg, "ip", "nx.example")  // lookup, not found
	r.Lookup(bg, "ip", "nx.example")  // negative hit
	ctx, cancel := context.WithCancel(bg)
	cancel()
	r.Lookup(ctx, "ip", "api.example") // cancelled before anything

	want := Stats{
		Lookups: 2, Hits: 2, Literals: 1, Merged: 1,
		Errors:  ErrorCounts{NotFound: 2, Canceled: 1},
		Entries: 2,
	}
	waitFor(t, "workers to exit", func() bool { return r.Stats().Workers == 0 })
	if s := r.Stats(); s != want {
		t.Errorf("Stats\n got %+v\nwant %+v", s, want)
	}
}
