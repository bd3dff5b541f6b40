package resolver

import (
	"net"
	"net/netip"
	"strings"
)

// validNetwork reports whether network is one LookupAsync accepts.
func validNetwork(network string) bool {
	return network == "ip" || network == "ip4" || network == "ip6"
}

// accept reports whether a belongs to network and returns it in the form
// the engine dials. The system resolver hands IPv4 answers back as
// IPv4-mapped IPv6 (::ffff:a.b.c.d) because net.IP is 16 bytes; they are
// unmapped here so that an "ip4" answer is a 4-byte address. For "ip6",
// mapped addresses are refused, as package net does.
func accept(network string, a netip.Addr) (netip.Addr, bool) {
	if !a.IsValid() {
		return a, false
	}
	switch network {
	case "ip4":
		a = a.Unmap()
		return a, a.Is4()
	case "ip6":
		return a, a.Is6() && !a.Is4In6()
	}
	return a.Unmap(), true
}

// literal answers host if it is an IP address (IPv6 with a zone included).
// ok is false when host is a name that needs a lookup.
func literal(network, host string) (addrs []netip.Addr, err *Error, ok bool) {
	if !maybeLiteral(host) {
		return nil, nil, false
	}
	a, perr := netip.ParseAddr(host)
	if perr != nil {
		return nil, nil, false
	}
	a, fits := accept(network, a)
	if !fits {
		return nil, newError(network, host, kindNotFound, errNoSuitable), true
	}
	return []netip.Addr{a}, nil, true
}

// maybeLiteral is a cheap screen run before netip.ParseAddr, whose error
// for an ordinary name would cost an allocation on every cache hit. An
// IPv6 literal has a colon; an IPv4 literal is only digits and dots.
func maybeLiteral(host string) bool {
	if strings.IndexByte(host, ':') >= 0 {
		return true
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; c != '.' && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// checkInput rejects what no lookup could answer.
func checkInput(network, host string) *Error {
	if !validNetwork(network) {
		return newError(network, host, kindOther, net.UnknownNetworkError(network))
	}
	if host == "" {
		return newError(network, host, kindOther, errEmptyHost)
	}
	return nil
}

// normalize copies what Config.Lookup returned into the slice the cache
// will share: filtered to network, IPv4 unmapped, order kept, and capacity
// equal to length so that a caller's append copies instead of writing
// into the shared array.
func normalize(network string, in []netip.Addr) []netip.Addr {
	n := 0
	for _, a := range in {
		if _, ok := accept(network, a); ok {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]netip.Addr, 0, n)
	for _, a := range in {
		if a, ok := accept(network, a); ok {
			out = append(out, a)
		}
	}
	return out
}
