package resolver_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/egress-go/egress/resolver"
)

// A stand-in for the system resolver, so that the examples run anywhere
// without the network.
func exampleLookup(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if host == "api.example.com" {
		return []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")}, nil
	}
	return nil, resolver.ErrNotFound
}

// An event loop asks for addresses and gets the answer back through a
// callback; here a channel plays the loop's queue.
func Example() {
	r := resolver.New(resolver.Config{Lookup: exampleLookup})
	defer r.Close()

	type answer struct {
		addrs []netip.Addr
		err   error
	}
	loopQueue := make(chan answer, 1)

	// Never blocks: the callback runs now (literal, cache hit) or later on
	// a worker. Either way it only posts to the loop.
	r.LookupAsync(context.Background(), "ip", "api.example.com", func(addrs []netip.Addr, err error) {
		loopQueue <- answer{addrs, err}
	})

	a := <-loopQueue
	// The loop dials each address in turn until one connects.
	for _, addr := range a.addrs {
		fmt.Println(netip.AddrPortFrom(addr, 443))
	}
	// Output:
	// 192.0.2.10:443
	// [2001:db8::10]:443
}

// Failures are *resolver.Error values that name the host; errors.Is tells
// the kinds apart.
func ExampleError() {
	r := resolver.New(resolver.Config{Lookup: exampleLookup})
	defer r.Close()

	_, err := r.Lookup(context.Background(), "ip", "typo.example.com")
	fmt.Println(err)
	fmt.Println(errors.Is(err, resolver.ErrNotFound))

	var e *resolver.Error
	if errors.As(err, &e) {
		fmt.Println(e.Host, e.Temporary())
	}
	// Output:
	// resolver: lookup typo.example.com (ip): no such host
	// true
	// typo.example.com false
}
