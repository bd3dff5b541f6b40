package http1

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// Sentinels for the rules a request can break, returned by RequestParser
// wrapped in a *ProtocolError (or a *LimitError for the size limits). The
// framing sentinels of responses apply to requests too: a request with
// both Content-Length and Transfer-Encoding fails with
// ErrLengthAndChunked, and so on.
var (
	// ErrBadRequestLine: the request line is not
	// "method SP request-target SP HTTP/1.x".
	ErrBadRequestLine = errors.New("http1: malformed request line")
	// ErrUnsupportedVersion: the request is not HTTP/1.x.
	ErrUnsupportedVersion = errors.New("http1: unsupported HTTP version")
	// ErrMissingHost: an HTTP/1.1 request has no Host field
	// (RFC 9112 §3.2 has the server answer 400).
	ErrMissingHost = errors.New("http1: HTTP/1.1 request without Host")
	// ErrDuplicateHost: a request has more than one Host field. (A
	// single Host whose value is not host[:port] fails with ErrBadHost.)
	ErrDuplicateHost = errors.New("http1: more than one Host field")
	// ErrRequestHeadTooLarge: a request head exceeds Limits.MaxHeadBytes.
	ErrRequestHeadTooLarge = errors.New("http1: request head too large")
	// ErrRequestTruncated: the connection ended inside a request. It
	// wraps io.ErrUnexpectedEOF.
	ErrRequestTruncated = fmt.Errorf("http1: connection closed inside a request: %w", io.ErrUnexpectedEOF)
)

// Sentinels for a response head that cannot be written, returned by
// AppendResponseHead wrapped in a *RequestError (the encoder's error type
// for heads of either direction).
var (
	// ErrBadStatusCode: the status code is not in 100..999, or is 101,
	// which hands the connection to another protocol that this package
	// does not speak.
	ErrBadStatusCode = errors.New("http1: invalid status code")
	// ErrBadReason: the reason phrase holds a control byte.
	ErrBadReason = errors.New("http1: invalid reason phrase")
)

// truncatedRequest is ErrRequestTruncated with how much of a body came:
// the server-side counterpart of TruncatedError. It is unexported:
// callers test for ErrRequestTruncated with errors.Is.
type truncatedRequest struct{ expected, got int64 }

// Error says how many body bytes arrived, and how many were expected.
func (e *truncatedRequest) Error() string {
	s := ErrRequestTruncated.Error() + " body after " + strconv.FormatInt(e.got, 10) + " bytes"
	if e.expected >= 0 {
		s += " of " + strconv.FormatInt(e.expected, 10)
	}
	return s
}

// Unwrap returns ErrRequestTruncated, which wraps io.ErrUnexpectedEOF.
func (e *truncatedRequest) Unwrap() error { return ErrRequestTruncated }

// StatusForError returns the status code a server should answer a request
// that RequestParser refused with err: 431 for a head over the limits,
// 505 for another HTTP version, 501 for a transfer coding other than
// chunked, and 400 for the rest. After any of them the connection must be
// closed, since where the next request starts is unknown.
func StatusForError(err error) int {
	switch {
	case errors.Is(err, ErrRequestHeadTooLarge), errors.Is(err, ErrTooManyFields):
		return http.StatusRequestHeaderFieldsTooLarge
	case errors.Is(err, ErrUnsupportedVersion):
		return http.StatusHTTPVersionNotSupported
	case errors.Is(err, ErrUnsupportedTransferEncoding):
		return http.StatusNotImplemented
	}
	return http.StatusBadRequest
}
