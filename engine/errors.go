package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
)

// Reasons a connection closed, passed to Handler.OnClose, and errors
// returned by Conn methods. Compare with errors.Is: the errors handed to
// OnClose may wrap these together with the system error that was seen.
var (
	// ErrLocalClose: the connection was closed by this side (Conn.Close).
	ErrLocalClose = errors.New("egress: connection closed locally")
	// ErrPeerClosed: the peer closed its side gracefully (FIN, read EOF).
	ErrPeerClosed = errors.New("egress: connection closed by peer")
	// ErrReset: the peer reset the connection (ECONNRESET, EPIPE).
	ErrReset = errors.New("egress: connection reset by peer")
	// ErrIdleTimeout: nothing was read or written for the idle timeout.
	ErrIdleTimeout error = &timeoutError{"egress: connection idle timeout"}
	// ErrEngineClosed: the engine shut down.
	ErrEngineClosed = errors.New("egress: engine closed")
	// ErrClosed is returned by Conn methods called after the connection closed.
	ErrClosed = errors.New("egress: use of closed connection")
	// ErrWriteQueueFull: a Write would have queued more than the
	// connection's write-queue limit. Nothing of that Write was queued; the
	// connection stays open.
	ErrWriteQueueFull = errors.New("egress: write queue limit exceeded")
	// ErrNotSupported: the operation is not available on this backend.
	ErrNotSupported = errors.New("egress: operation not supported by this backend")

	// ErrConnectRefused: the server actively refused the connection.
	ErrConnectRefused = errors.New("egress: connection refused")
	// ErrConnectTimeout: the connect did not finish within the dial timeout.
	ErrConnectTimeout error = &timeoutError{"egress: connect timeout"}
	// ErrNoAddress: the name resolved to no address of the wanted family.
	ErrNoAddress = errors.New("egress: no address to dial")
)

// timeoutError is a sentinel that also satisfies net.Error's Timeout.
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string   { return e.msg }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }

// sysError pairs one of the sentinels above with the errno that caused it,
// so that both errors.Is(err, ErrReset) and errors.Is(err, syscall.ECONNRESET)
// hold.
type sysError struct {
	kind  error
	errno syscall.Errno
}

func (e *sysError) Error() string {
	k, n := e.kind.Error(), e.errno.Error()
	if strings.HasSuffix(k, n) {
		return k // "connection refused", not "connection refused (connection refused)"
	}
	return k + " (" + n + ")"
}
func (e *sysError) Unwrap() []error { return []error{e.kind, e.errno} }

// Timeout reports whether the errno is a timeout (ETIMEDOUT from keep-alive
// probes, for instance).
func (e *sysError) Timeout() bool { return e.errno.Timeout() }

// classify maps an errno seen on an established connection to the error
// reported in OnClose.
func classify(errno syscall.Errno) error {
	switch errno {
	case syscall.ECONNRESET, syscall.EPIPE, syscall.ECONNABORTED:
		return &sysError{ErrReset, errno}
	}
	return &OpError{Op: "io", Err: errno}
}

// classifyConnect maps an errno from a failed connect.
func classifyConnect(errno syscall.Errno) error {
	switch errno {
	case syscall.ECONNREFUSED:
		return &sysError{ErrConnectRefused, errno}
	case syscall.ETIMEDOUT:
		return &sysError{ErrConnectTimeout, errno}
	}
	return errno
}

// OpError reports a system call failure on an open connection.
type OpError struct {
	Op  string // what was being done: "read", "write", "io", "accept"
	Err error
}

func (e *OpError) Error() string { return "egress: " + e.Op + ": " + e.Err.Error() }
func (e *OpError) Unwrap() error { return e.Err }

// DialError is the reason passed to OnClose when a connection could not be
// established. Err says why: it wraps ErrConnectRefused, ErrConnectTimeout,
// ErrNoAddress, a *resolver.Error, context.Canceled or
// context.DeadlineExceeded, ErrEngineClosed, or the system error.
type DialError struct {
	Network string
	Address string         // as given to Dial
	Addr    netip.AddrPort // the last address tried, if any
	Tried   int            // how many addresses were tried
	Err     error
}

func (e *DialError) Error() string {
	s := "egress: dial " + e.Network + " " + e.Address
	if e.Addr.IsValid() && e.Addr.String() != e.Address {
		s += " (" + e.Addr.String() + ")"
	}
	if e.Tried > 1 {
		s += fmt.Sprintf(" after %d addresses", e.Tried)
	}
	return s + ": " + e.Err.Error()
}

func (e *DialError) Unwrap() error { return e.Err }

// Timeout reports whether the dial failed because time ran out.
func (e *DialError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}
