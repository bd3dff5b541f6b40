package resolver

import (
	"context"
	"errors"
	"net"
)

// Sentinel errors, reachable through errors.Is on an *Error.
var (
	// ErrNotFound means the name does not exist or has no address of the
	// requested family (NXDOMAIN, an empty answer, "ip6" for a host that
	// has only IPv4 addresses). Such answers are cached for NegativeTTL.
	ErrNotFound = errors.New("no such host")

	// ErrTimeout means the lookup ran past Config.Timeout or past the
	// caller's deadline. Timeouts are never cached.
	ErrTimeout = errors.New("lookup timed out")

	// ErrClosed means the Resolver was closed before it could answer.
	ErrClosed = errors.New("resolver closed")

	errEmptyHost  = errors.New("empty host")
	errNoSuitable = errors.New("no suitable address found")
)

// kind sorts failures for errors.Is, Timeout/Temporary and Stats.
type kind uint8

const (
	kindOther kind = iota
	kindNotFound
	kindTimeout
	kindCanceled
	kindClosed
)

func (k kind) sentinel() error {
	switch k {
	case kindNotFound:
		return ErrNotFound
	case kindTimeout:
		return ErrTimeout
	case kindClosed:
		return ErrClosed
	}
	return nil
}

// Error is the error every Resolver method reports. It names the host and
// wraps the cause, so both errors.Is(err, ErrNotFound) and
// errors.As(err, &dnsErr) (for a *net.DNSError from the system) work.
//
// An *Error delivered to several merged callers is the same value; treat it
// as read-only.
type Error struct {
	Host    string // the host as the caller gave it
	Network string // "ip", "ip4" or "ip6"
	Err     error  // the cause: from Config.Lookup, the caller's ctx.Err(), or a sentinel

	kind    kind
	wrapped []error // built once so that errors.Is does not allocate
}

func newError(network, host string, k kind, cause error) *Error {
	e := &Error{Host: host, Network: network, Err: cause, kind: k}
	if s := k.sentinel(); s != nil && s != cause {
		e.wrapped = []error{s, cause}
	} else {
		e.wrapped = []error{cause}
	}
	return e
}

// ctxError is the answer for a caller whose context ended first.
func ctxError(ctx context.Context, network, host string) *Error {
	err := ctx.Err()
	if errors.Is(err, context.DeadlineExceeded) {
		return newError(network, host, kindTimeout, err)
	}
	return newError(network, host, kindCanceled, err)
}

// Error returns "resolver: lookup HOST (NETWORK): REASON".
func (e *Error) Error() string {
	host := e.Host
	if host == "" {
		host = `""`
	}
	return "resolver: lookup " + host + " (" + e.Network + "): " + e.reason()
}

// reason is the cause in few words. A *net.DNSError already repeats the
// host in its own message, so only its reason and server are kept.
func (e *Error) reason() string {
	var dns *net.DNSError
	if errors.As(e.Err, &dns) && dns.Err != "" {
		if dns.Server != "" {
			return dns.Err + " (server " + dns.Server + ")"
		}
		return dns.Err
	}
	if e.Err == nil {
		return "unknown error"
	}
	return e.Err.Error()
}

// Unwrap returns the kind's sentinel (if any) and the cause.
func (e *Error) Unwrap() []error { return e.wrapped }

// Timeout reports whether the lookup timed out (Config.Timeout or the
// caller's deadline). It makes *Error a net.Error.
func (e *Error) Timeout() bool { return e.kind == kindTimeout }

// Temporary reports whether trying again later may succeed: a timeout or a
// temporary server failure (SERVFAIL). Not found, cancelled, closed and bad
// input are not temporary.
func (e *Error) Temporary() bool {
	if e.kind == kindTimeout {
		return true
	}
	if e.kind != kindOther {
		return false
	}
	var dns *net.DNSError
	return errors.As(e.Err, &dns) && dns.IsTemporary
}

// classify maps what Config.Lookup returned to a kind. The system resolver
// reports NXDOMAIN as a *net.DNSError with IsNotFound, and "no address of
// this family" as a *net.AddrError; a custom Lookup may return ErrNotFound
// or ErrTimeout directly.
func classify(err error) kind {
	var dns *net.DNSError
	var addr *net.AddrError
	var ne net.Error
	switch {
	case errors.Is(err, ErrNotFound),
		errors.As(err, &dns) && dns.IsNotFound,
		errors.As(err, &addr):
		return kindNotFound
	case errors.Is(err, ErrTimeout),
		errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return kindTimeout
	case errors.Is(err, context.Canceled):
		return kindCanceled
	}
	return kindOther
}
