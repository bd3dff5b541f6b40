package http1

import (
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Sentinels for the rules a response can break. The parser returns them
// wrapped in a *ProtocolError that quotes what was seen; test for them
// with errors.Is.
var (
	// ErrBadStatusLine: the status line is not "HTTP/1.x SP 3DIGIT [SP reason]".
	ErrBadStatusLine = errors.New("http1: malformed status line")
	// ErrBadHeaderField: a field line without a colon, with an invalid
	// name (not a token, or whitespace before the colon) or with a control
	// byte in its value.
	ErrBadHeaderField = errors.New("http1: malformed header field")
	// ErrObsFold: a field line starts with whitespace, i.e. obsolete line
	// folding, which RFC 9112 §5.2 lets a client reject.
	ErrObsFold = errors.New("http1: obsolete line folding in header")
	// ErrBareLF: a line of the head, trailer or chunked framing ends in LF
	// without CR.
	ErrBareLF = errors.New("http1: line ends in bare LF")
	// ErrLengthAndChunked: a response carries both Content-Length and
	// Transfer-Encoding, the classic smuggling vector.
	ErrLengthAndChunked = errors.New("http1: both Content-Length and Transfer-Encoding")
	// ErrConflictingLength: Content-Length appears more than once with
	// different values.
	ErrConflictingLength = errors.New("http1: conflicting Content-Length values")
	// ErrBadContentLength: Content-Length is not a decimal number that
	// fits in an int64.
	ErrBadContentLength = errors.New("http1: invalid Content-Length")
	// ErrUnsupportedTransferEncoding: Transfer-Encoding is anything other
	// than a single "chunked", or appears in an HTTP/1.0 response.
	ErrUnsupportedTransferEncoding = errors.New("http1: unsupported Transfer-Encoding")
	// ErrBadChunkSize: a chunk-size is empty, not hexadecimal, or larger
	// than an int64.
	ErrBadChunkSize = errors.New("http1: invalid chunk size")
	// ErrBadChunkExtension: a chunk extension does not follow the grammar
	// of RFC 9112 §7.1.1.
	ErrBadChunkExtension = errors.New("http1: invalid chunk extension")
	// ErrMissingChunkCRLF: chunk data is not followed by CRLF, so the
	// chunk-size did not match the data sent.
	ErrMissingChunkCRLF = errors.New("http1: chunk data not followed by CRLF")
	// ErrExtraData: bytes arrived after the response was complete and
	// before Reset: typically a body longer than its Content-Length, or an
	// unsolicited response on an idle connection.
	ErrExtraData = errors.New("http1: data after end of response")
)

// Sentinels for the limits of Limits, returned wrapped in a *LimitError.
var (
	// ErrHeaderTooLarge: the heads of a response exceed MaxHeadBytes.
	ErrHeaderTooLarge = errors.New("http1: response head too large")
	// ErrTooManyFields: a head has more than MaxHeaderFields fields.
	ErrTooManyFields = errors.New("http1: too many header fields")
	// ErrTrailerTooLarge: the trailer section exceeds MaxTrailerBytes.
	ErrTrailerTooLarge = errors.New("http1: trailer section too large")
	// ErrTooManyTrailers: the trailer has more than MaxTrailerFields fields.
	ErrTooManyTrailers = errors.New("http1: too many trailer fields")
	// ErrChunkLineTooLong: a chunk-size line, extensions included, is
	// longer than 4096 bytes.
	ErrChunkLineTooLong = errors.New("http1: chunk-size line too long")
)

// Sentinels for a connection that ended before the response did. A body
// cut short is reported as a *TruncatedError instead.
var (
	// ErrNoResponse: the connection ended before any byte of the response
	// arrived. On a reused connection this is the case a client may retry.
	ErrNoResponse = errors.New("http1: connection closed before response")
	// ErrHeadTruncated: the connection ended in the middle of a response
	// head. It wraps io.ErrUnexpectedEOF.
	ErrHeadTruncated = fmt.Errorf("http1: connection closed inside response head: %w", io.ErrUnexpectedEOF)
)

// maxSeen bounds the excerpt a ProtocolError quotes, so an error never
// holds on to a large buffer nor floods a log.
const maxSeen = 64

// ProtocolError reports a response that breaks HTTP/1.1 framing or syntax.
// The connection it arrived on cannot be reused.
type ProtocolError struct {
	// Err is the rule that was broken: one of the Err* sentinels above.
	Err error
	// Seen is an excerpt of the offending bytes, at most 64 of them.
	Seen string
}

// Error returns the sentinel's message followed by the quoted excerpt.
func (e *ProtocolError) Error() string {
	return e.Err.Error() + ": " + strconv.Quote(e.Seen)
}

// Unwrap returns the sentinel, so errors.Is(err, ErrBareLF) works.
func (e *ProtocolError) Unwrap() error { return e.Err }

// clip cuts s to at most maxSeen bytes, for quoting in an error.
func clip[T ~string | ~[]byte](s T) T {
	return s[:min(len(s), maxSeen)]
}

func protoErr(sentinel error, seen []byte) error {
	return &ProtocolError{Err: sentinel, Seen: string(clip(seen))}
}

// LimitError reports input that exceeds one of the parser's Limits.
type LimitError struct {
	// Err is one of ErrHeaderTooLarge, ErrTooManyFields,
	// ErrTrailerTooLarge, ErrTooManyTrailers or ErrChunkLineTooLong.
	Err error
	// Limit is the limit in force, in bytes or fields.
	Limit int
}

// Error returns the sentinel's message followed by the limit.
func (e *LimitError) Error() string {
	return e.Err.Error() + " (limit " + strconv.Itoa(e.Limit) + ")"
}

// Unwrap returns the sentinel.
func (e *LimitError) Unwrap() error { return e.Err }

// TruncatedError reports a connection that ended in the middle of a
// response body. It wraps io.ErrUnexpectedEOF.
type TruncatedError struct {
	// Expected is the body length announced by Content-Length, or -1 when
	// it was not known (a chunked body).
	Expected int64
	// Got is the number of body bytes received before the end.
	Got int64
}

// Error says how many body bytes arrived, and how many were expected.
func (e *TruncatedError) Error() string {
	if e.Expected < 0 {
		return "http1: response body truncated: connection closed after " +
			strconv.FormatInt(e.Got, 10) + " bytes of a chunked body"
	}
	return "http1: response body truncated: got " + strconv.FormatInt(e.Got, 10) +
		" of " + strconv.FormatInt(e.Expected, 10) + " bytes"
}

// Unwrap returns io.ErrUnexpectedEOF.
func (e *TruncatedError) Unwrap() error { return io.ErrUnexpectedEOF }

// Sentinels for a request head or trailer that cannot be written safely,
// returned wrapped in a *RequestError.
var (
	// ErrBadMethod: the method is not a token.
	ErrBadMethod = errors.New("http1: invalid method")
	// ErrBadTarget: the request-target has a byte outside URI syntax,
	// a broken percent-escape, or none of the four request-target forms.
	ErrBadTarget = errors.New("http1: invalid request target")
	// ErrBadHost: the Host is not host[:port].
	ErrBadHost = errors.New("http1: invalid Host")
	// ErrBadFieldName: a field name is not a token.
	ErrBadFieldName = errors.New("http1: invalid header field name")
	// ErrBadFieldValue: a field value holds a control byte (CR, LF, NUL...).
	ErrBadFieldValue = errors.New("http1: invalid header field value")
	// ErrBadLength: RequestHead.ContentLength is below -1.
	ErrBadLength = errors.New("http1: invalid ContentLength")
	// ErrForbiddenTrailer: a trailer field, or a Trailer announcement,
	// names Content-Length, Transfer-Encoding, Host or Trailer.
	ErrForbiddenTrailer = errors.New("http1: field not allowed in a trailer")
)

// RequestError reports why a request head or a trailer was refused. The
// encoder refuses rather than sanitises: a CR or LF in a value is either a
// bug or an attempt at header injection, and either way should surface.
type RequestError struct {
	// Err is one of the request sentinels (ErrBadMethod, ErrBadTarget, ...).
	Err error
	// Name is the header field concerned, when there is one.
	Name string
	// Value is the offending value, cut to at most 64 bytes.
	Value string
}

// Error returns the sentinel's message, the field and the quoted value.
func (e *RequestError) Error() string {
	s := e.Err.Error()
	if e.Name != "" {
		s += " in " + strconv.Quote(e.Name)
	}
	return s + ": " + strconv.Quote(e.Value)
}

// Unwrap returns the sentinel.
func (e *RequestError) Unwrap() error { return e.Err }

func requestErr(sentinel error, name, value string) error {
	return &RequestError{Err: sentinel, Name: clip(name), Value: clip(value)}
}
