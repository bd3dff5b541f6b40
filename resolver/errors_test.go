package resolver

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

var _ net.Error = (*Error)(nil) // the engine may treat it as any net.Error

func TestLookupTimeoutIsErrTimeout(t *testing.T) {
	dns := &fakeDNS{gate: make(chan struct{})} // never answers; honours ctx
	defer close(dns.gate)
	r := newTest(t, Config{Lookup: dns.lookup, Timeout: 20 * time.Millisecond})

	// The caller's 10 s only bounds the test should Timeout be ignored.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := r.Lookup(ctx, "ip", "slow.example")
	var e *Error
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &e) {
		t.Fatalf("err %v, want *Error wrapping ErrTimeout", err)
	}
	if !e.Timeout() || !e.Temporary() || errors.Is(err, ErrNotFound) {
		t.Errorf("Timeout %v Temporary %v", e.Timeout(), e.Temporary())
	}
	if d := time.Since(start); d < 20*time.Millisecond || d > 5*time.Second {
		t.Errorf("took %v with a 20ms Timeout", d)
	}
	if want := "resolver: lookup slow.example (ip): context deadline exceeded"; err.Error() != want {
		t.Errorf("%q, want %q", err, want)
	}
	if s := r.Stats(); s.Errors.Timeout != 1 || s.Entries != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestCallerDeadlineIsErrTimeout(t *testing.T) {
	dns := &fakeDNS{gate: make(chan struct{})}
	defer close(dns.gate)
	r := newTest(t, Config{Lookup: dns.lookup}) // default 5s lookup Timeout
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := r.Lookup(ctx, "ip", "slow.example")
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want ErrTimeout", err)
	}
	// The caller's deadline ended it, not the 5 s lookup Timeout.
	if d := time.Since(start); d < 20*time.Millisecond || d > 4*time.Second {
		t.Errorf("took %v with a 20ms deadline", d)
	}
}

func TestDNSErrorsMapped(t *testing.T) {
	nx := &net.DNSError{Err: "no such host", Name: "nx.example", Server: "192.0.2.53:53", IsNotFound: true}
	slow := &net.DNSError{Err: "i/o timeout", Name: "slow.example", IsTimeout: true}
	servfail := &net.DNSError{Err: "server misbehaving", Name: "bad.example", IsTemporary: true}
	refused := errors.New("refused by policy")
	dns := &fakeDNS{errs: map[string]error{
		"nx.example":     nx,
		"slow.example":   slow,
		"bad.example":    servfail,
		"policy.example": refused,
		"fam.example":    &net.AddrError{Err: "no suitable address found", Addr: "fam.example"},
	}}
	r := newTest(t, Config{Lookup: dns.lookup})

	for _, tc := range []struct {
		host              string
		cause             error
		notFound, timeout bool
		temporary         bool
		text              string
	}{
		{"nx.example", nx, true, false, false, "resolver: lookup nx.example (ip): no such host (server 192.0.2.53:53)"},
		{"slow.example", slow, false, true, true, "resolver: lookup slow.example (ip): i/o timeout"},
		{"bad.example", servfail, false, false, true, "resolver: lookup bad.example (ip): server misbehaving"},
		{"policy.example", refused, false, false, false, "resolver: lookup policy.example (ip): refused by policy"},
		{"fam.example", nil, true, false, false, "resolver: lookup fam.example (ip): address fam.example: no suitable address found"},
	} {
		_, err := r.Lookup(context.Background(), "ip", tc.host)
		var e *Error
		if !errors.As(err, &e) || e.Host != tc.host || e.Network != "ip" {
			t.Errorf("%s: err %#v, want *Error naming the host", tc.host, err)
			continue
		}
		if tc.cause != nil && !errors.Is(err, tc.cause) {
			t.Errorf("%s: cause %v not wrapped", tc.host, tc.cause)
		}
		if got := errors.Is(err, ErrNotFound); got != tc.notFound {
			t.Errorf("%s: Is(ErrNotFound) = %v", tc.host, got)
		}
		if got := errors.Is(err, ErrTimeout); got != tc.timeout || e.Timeout() != tc.timeout {
			t.Errorf("%s: Is(ErrTimeout) = %v, Timeout() = %v", tc.host, got, e.Timeout())
		}
		if e.Temporary() != tc.temporary {
			t.Errorf("%s: Temporary() = %v", tc.host, e.Temporary())
		}
		if err.Error() != tc.text {
			t.Errorf("%s: %q, want %q", tc.host, err, tc.text)
		}
		var dnsErr *net.DNSError
		if _, isDNS := tc.cause.(*net.DNSError); isDNS && !errors.As(err, &dnsErr) {
			t.Errorf("%s: errors.As *net.DNSError failed", tc.host)
		}
	}
	if s := r.Stats(); s.Errors.NotFound != 2 || s.Errors.Timeout != 1 || s.Errors.Other != 2 {
		t.Errorf("Errors %+v", s.Errors)
	}
}

func TestCustomLookupSentinels(t *testing.T) {
	dns := &fakeDNS{errs: map[string]error{
		"nx.example":   ErrNotFound,
		"slow.example": ErrTimeout,
	}}
	r := newTest(t, Config{Lookup: dns.lookup})
	if _, err := r.Lookup(context.Background(), "ip", "nx.example"); !errors.Is(err, ErrNotFound) || err.Error() != "resolver: lookup nx.example (ip): no such host" {
		t.Errorf("nx: %v", err)
	}
	if _, err := r.Lookup(context.Background(), "ip", "slow.example"); !errors.Is(err, ErrTimeout) {
		t.Errorf("slow: %v", err)
	}
}

func TestErrorsOfLiteralsAndBadInputDoNotLookUp(t *testing.T) {
	var calls int
	r := newTest(t, Config{Lookup: func(context.Context, string, string) ([]netip.Addr, error) {
		calls++
		return nil, nil
	}})
	r.Lookup(context.Background(), "ip4", "::1")
	r.Lookup(context.Background(), "ip", "")
	r.Lookup(context.Background(), "udp", "example.com")
	if calls != 0 {
		t.Errorf("calls = %d, want 0", calls)
	}
}
