package resolver

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

func noLookup(t *testing.T) func(context.Context, string, string) ([]netip.Addr, error) {
	return func(_ context.Context, network, host string) ([]netip.Addr, error) {
		t.Errorf("unexpected lookup of %s %q", network, host)
		return nil, errors.New("unexpected")
	}
}

// syncCall calls LookupAsync and fails unless the callback ran before it
// returned. A callback on another goroutine would also trip -race.
func syncCall(t *testing.T, r *Resolver, ctx context.Context, network, host string) ([]netip.Addr, error) {
	t.Helper()
	var got *result
	r.LookupAsync(ctx, network, host, func(addrs []netip.Addr, err error) {
		if got != nil {
			t.Errorf("callback called twice")
		}
		got = &result{addrs, err}
	})
	if got == nil {
		t.Fatalf("LookupAsync(%s, %q): callback not synchronous", network, host)
	}
	return got.addrs, got.err
}

func TestLiteralIsSynchronous(t *testing.T) {
	r := newTest(t, Config{Lookup: noLookup(t)})
	for _, tc := range []struct{ network, host, want string }{
		{"ip", "192.0.2.1", "192.0.2.1"},
		{"ip4", "192.0.2.1", "192.0.2.1"},
		{"ip", "2001:db8::1", "2001:db8::1"},
		{"ip6", "::1", "::1"},
		{"ip6", "fe80::1%eth0", "fe80::1%eth0"},
		{"ip", "::ffff:192.0.2.1", "192.0.2.1"}, // mapped form is IPv4, as in package net
		{"ip4", "::ffff:192.0.2.1", "192.0.2.1"},
	} {
		addrs, err := syncCall(t, r, context.Background(), tc.network, tc.host)
		if err != nil || len(addrs) != 1 || addrs[0].String() != tc.want {
			t.Errorf("%s %q: got %v, %v; want [%s]", tc.network, tc.host, addrs, err, tc.want)
		}
	}
	if s := r.Stats(); s.Literals != 7 || s.Lookups != 0 || s.Workers != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestLiteralWrongFamily(t *testing.T) {
	r := newTest(t, Config{Lookup: noLookup(t)})
	for _, tc := range []struct{ network, host string }{
		{"ip4", "2001:db8::1"},
		{"ip6", "192.0.2.1"},
		{"ip6", "::ffff:192.0.2.1"},
	} {
		_, err := syncCall(t, r, context.Background(), tc.network, tc.host)
		var e *Error
		if !errors.Is(err, ErrNotFound) || !errors.As(err, &e) || e.Host != tc.host {
			t.Errorf("%s %q: err %v, want *Error wrapping ErrNotFound", tc.network, tc.host, err)
		}
	}
}

func TestBadInput(t *testing.T) {
	r := newTest(t, Config{Lookup: noLookup(t)})

	_, err := syncCall(t, r, context.Background(), "ip", "")
	var e *Error
	if !errors.As(err, &e) || errors.Is(err, ErrNotFound) || e.Temporary() || e.Timeout() {
		t.Errorf("empty host: err %v", err)
	}
	if want := `resolver: lookup "" (ip): empty host`; err.Error() != want {
		t.Errorf("empty host: %q, want %q", err, want)
	}

	_, err = syncCall(t, r, context.Background(), "tcp", "example.com")
	var unk net.UnknownNetworkError
	if !errors.As(err, &e) || !errors.As(err, &unk) {
		t.Errorf("bad network: err %v, want *Error wrapping net.UnknownNetworkError", err)
	}
	if s := r.Stats(); s.Errors.Other != 2 {
		t.Errorf("Errors.Other = %d, want 2", s.Errors.Other)
	}
}

func TestDoneContextIsSynchronous(t *testing.T) {
	r := newTest(t, Config{Lookup: noLookup(t)})

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := syncCall(t, r, ctx, "ip", "example.com")
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Errorf("cancelled ctx: err %v, want context.Canceled", err)
	}

	ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err = syncCall(t, r, ctx, "ip", "example.com")
	var e *Error
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &e) || !e.Timeout() {
		t.Errorf("expired ctx: err %v, want ErrTimeout and DeadlineExceeded", err)
	}
}

func TestNilCallbackPanics(t *testing.T) {
	r := newTest(t, Config{Lookup: noLookup(t)})
	defer func() {
		if recover() == nil {
			t.Error("no panic for a nil callback")
		}
	}()
	r.LookupAsync(context.Background(), "ip", "192.0.2.1", nil)
}
