package egress

import (
	"errors"
	"time"
)

var (
	// ErrHeaderTimeout: the response head did not arrive within
	// Options.ResponseHeaderTimeout of the request being written.
	ErrHeaderTimeout error = &timeoutError{"egress: timeout awaiting response headers"}
	// ErrBodyIdleTimeout: no body bytes arrived for Options.BodyIdleTimeout.
	ErrBodyIdleTimeout error = &timeoutError{"egress: response body idle timeout"}
	// ErrBodyClosed is returned by reads of a response body after Close.
	ErrBodyClosed = errors.New("egress: read on closed response body")
	// ErrTransportClosed: the transport was closed.
	ErrTransportClosed = errors.New("egress: transport closed")
	// ErrUnsupportedScheme: the URL is not http or https.
	ErrUnsupportedScheme = errors.New("egress: unsupported protocol scheme")
	// ErrBusy: Send was given an Exchange that is still in flight.
	ErrBusy = errors.New("egress: exchange already in flight")
	// ErrConnClosed: the connection closed before the response was
	// complete (the cause is wrapped alongside).
	ErrConnClosed = errors.New("egress: connection closed before the response was complete")
	// ErrHealthCheck: an HTTP/2 connection with requests in flight went
	// silent and did not answer a PING in time (HTTP2Options): it was
	// closed, and its requests failed with this error.
	ErrHealthCheck error = &timeoutError{"egress: HTTP/2 connection failed its health check (no PING answer)"}
)

type timeoutError struct{ msg string }

func (e *timeoutError) Error() string   { return e.msg }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }

// RequestError wraps a failure with the request it belongs to and what
// the transport knows about the connection.
type RequestError struct {
	Method  string
	URL     string
	Reused  bool // the connection had served earlier requests
	Retried int  // how many times the request was retried
	Err     error
}

func (e *RequestError) Error() string {
	return "egress: " + e.Method + " " + e.URL + ": " + e.Err.Error()
}

func (e *RequestError) Unwrap() error { return e.Err }

// Timeout reports whether the request failed because time ran out.
func (e *RequestError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

// closedError reports a connection that went away mid-exchange: it wraps
// both ErrConnClosed and the engine's close reason.
type closedError struct{ cause error }

func (e *closedError) Error() string   { return ErrConnClosed.Error() + ": " + e.cause.Error() }
func (e *closedError) Unwrap() []error { return []error{ErrConnClosed, e.cause} }

// Defaults.
const (
	DefaultBodyWindow            = 64 << 10
	DefaultExpectContinueTimeout = time.Second
	maxRetries                   = 2
	// DefaultReadIdleTimeout and DefaultPingTimeout are HTTP2Options'
	// health-check defaults.
	DefaultReadIdleTimeout = 15 * time.Second
	DefaultPingTimeout     = 5 * time.Second
	// maxUnprocessedRetries bounds the replays of a request the server
	// said it did not process (REFUSED_STREAM, above a GOAWAY) or that
	// never left (a stream that could not open).
	maxUnprocessedRetries = 10
)
