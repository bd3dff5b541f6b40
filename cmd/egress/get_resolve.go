package main

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/egress-go/egress/resolver"
)

// getResolver is get's name resolver: --resolve's fixed answers for a
// host and port, the -4/-6 family, and the engine's usual resolver for
// the rest.
type getResolver struct {
	base   *resolver.Resolver
	family int // 4 or 6; 0 for either
	fixed  map[string][]netip.Addr

	mu   sync.Mutex
	port string // the port about to be dialed (see dialing)
}

// testLookup, when set by a test, replaces the system's look-up (tests
// reach no DNS server).
var testLookup func(ctx context.Context, network, host string) ([]netip.Addr, error)

// newGetResolver parses --resolve entries, HOST:PORT:ADDR[,ADDR...] as in
// curl, with an IPv6 address in brackets or not.
func newGetResolver(entries []string, family int) (*getResolver, error) {
	r := &getResolver{family: family, fixed: map[string][]netip.Addr{}}
	for _, e := range entries {
		host, rest, ok1 := strings.Cut(e, ":")
		port, addrs, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 || host == "" || addrs == "" {
			return nil, usagef("get: --resolve %q: want HOST:PORT:ADDRESS", e)
		}
		if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
			return nil, usagef("get: --resolve %q: bad port %q", e, port)
		}
		var list []netip.Addr
		for _, a := range strings.Split(addrs, ",") {
			ip, err := netip.ParseAddr(strings.Trim(strings.TrimSpace(a), "[]"))
			if err != nil {
				return nil, usagef("get: --resolve %q: %q is not an IP address", e, a)
			}
			list = append(list, ip.Unmap())
		}
		r.fixed[resolveKey(host, port)] = list
	}
	r.base = resolver.New(resolver.Config{Lookup: testLookup})
	return r, nil
}

func resolveKey(host, port string) string {
	return net.JoinHostPort(strings.ToLower(strings.TrimSuffix(host, ".")), port)
}

// dialing tells the resolver the port of the connection about to be
// made: the engine asks the resolver for a host alone, and --resolve's
// answers are for a host and a port. get makes one request at a time, so
// the port of the one in flight is the one its dial is for.
func (r *getResolver) dialing(port string) {
	r.mu.Lock()
	r.port = port
	r.mu.Unlock()
}

// LookupAsync implements engine.Resolver.
func (r *getResolver) LookupAsync(ctx context.Context, network, host string, cb func([]netip.Addr, error)) {
	r.mu.Lock()
	addrs, ok := r.fixed[resolveKey(host, r.port)]
	r.mu.Unlock()
	if ok {
		var keep []netip.Addr
		for _, a := range addrs {
			if r.family == 0 || (r.family == 4) == a.Is4() {
				keep = append(keep, a)
			}
		}
		if len(keep) == 0 {
			cb(nil, &familyError{host: host, family: r.family})
			return
		}
		cb(keep, nil)
		return
	}
	switch r.family {
	case 4:
		network = "ip4"
	case 6:
		network = "ip6"
	}
	r.base.LookupAsync(ctx, network, host, cb)
}

// checkFamily refuses an IP literal of the other family than -4/-6 asks
// for (the engine connects to a literal without asking the resolver).
func (r *getResolver) checkFamily(host string) error {
	a, err := netip.ParseAddr(host)
	if err != nil || r.family == 0 || (r.family == 4) == a.Unmap().Is4() {
		return nil
	}
	return &familyError{host: host, family: r.family}
}

func (r *getResolver) Close() { r.base.Close() }
