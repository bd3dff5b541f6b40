package http1

import (
	"net/http"
	"strconv"
)

// ResponseHead describes the head of a response to encode with
// AppendResponseHead. The encoder always writes HTTP/1.1.
type ResponseHead struct {
	// StatusCode is the status, 100 to 999 (101 excepted).
	StatusCode int

	// Reason is the reason phrase; empty means http.StatusText's, or none
	// for a code it does not know.
	Reason string

	// Fields are written first, in order: the allocation-free way.
	Fields []HeaderField

	// Header is written after Fields, keys sorted. It may be nil.
	Header http.Header

	// ContentLength is the length of the body that follows: -1 means
	// unknown, and the head announces "Transfer-Encoding: chunked" (frame
	// the body with AppendChunk and AppendLastChunk); 0 or more is written
	// as Content-Length. For a response to HEAD give the length a GET
	// would have had and send no body. It is ignored, and nothing is
	// written, for 1xx, 204 and 304, which never have content.
	ContentLength int64

	// Close announces "Connection: close": the server closes the
	// connection after this response. A server must set it when the
	// request's KeepAlive was false, or when it will not read the rest of
	// the request's body.
	Close bool
}

// AppendResponseHead appends the status line and header section described
// by h to dst, up to the blank line that ends the head. Content-Length and
// Transfer-Encoding in Fields or Header are skipped, as are Host fields:
// the encoder alone decides the framing (see AppendRequestHead). It
// allocates nothing when dst has room and Header has at most 32 keys.
//
// It returns a *RequestError, and dst unchanged, for a status code out of
// range (ErrBadStatusCode), a ContentLength below -1 (ErrBadLength), a
// reason or field value with a control byte,
// or a field name that is not a token.
func AppendResponseHead(dst []byte, h *ResponseHead) ([]byte, error) {
	code := h.StatusCode
	if code < 100 || code > 999 || code == http.StatusSwitchingProtocols {
		return dst, requestErr(ErrBadStatusCode, "", strconv.Itoa(code))
	}
	if h.ContentLength < -1 {
		return dst, requestErr(ErrBadLength, "", strconv.FormatInt(h.ContentLength, 10))
	}
	reason := h.Reason
	if reason == "" {
		reason = http.StatusText(code)
	}
	if !validFieldValue(reason) {
		return dst, requestErr(ErrBadReason, "", reason)
	}
	start := len(dst)
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ' ')
	dst = append(dst, reason...)
	dst = append(dst, "\r\n"...)

	dst, err := appendFields(dst, h.Fields, h.Header, h.Close)
	if err != nil {
		return dst[:start], err
	}
	if code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified {
		dst = appendFraming(dst, h.ContentLength)
	}
	return append(dst, "\r\n"...), nil
}

// AppendContinue appends the interim response "100 Continue", which tells
// a client that sent "Expect: 100-continue" to go on with the body.
func AppendContinue(dst []byte) []byte {
	return append(dst, "HTTP/1.1 100 Continue\r\n\r\n"...)
}
