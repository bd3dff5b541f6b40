package egress

import (
	"net/http"
	"unsafe"

	"github.com/egress-go/egress/http1"
)

// HeaderField is a request header field sent as it is: the allocation-free
// way to give an Exchange its fields (a caller can keep a slice of constant
// pairs). Names are sent as given over HTTP/1.1 and lowercased over HTTP/2.
type HeaderField struct {
	Name, Value string
}

// responseHead is what a sink sees of a response head, a 1xx head or a
// trailer section, whichever protocol carried it. It is valid only during
// the sink call that receives it: the HTTP/1.1 parser and the HTTP/2
// stream reuse their storage for the next response.
type responseHead interface {
	StatusCode() int
	ProtoMajor() int
	ProtoMinor() int
	// Reason is the status line's reason phrase; HTTP/2 has none.
	Reason() []byte
	// Get returns the first value of the named field, or nil.
	Get(name string) []byte
	Header() http.Header
	// ContentLength is the declared body length, -1 when unknown.
	ContentLength() int64
	// HasBody reports whether a body follows the head.
	HasBody() bool
	// KeepAlive reports whether the connection may serve another request
	// after this response; always true for a multiplexed protocol.
	KeepAlive() bool
	// MayHaveTrailers reports whether a trailer section may follow the
	// body (an HTTP/1.1 chunked body; any HTTP/2 body).
	MayHaveTrailers() bool
	Trailer() http.Header
}

// The HTTP/1.1 parser is a response head as it stands.
var _ responseHead = (*http1.ResponseParser)(nil)

// h1Fields passes fields to the HTTP/1.1 encoder without copying them. The
// two types have the same fields in the same order (the conversion below
// stops compiling if either changes), so the slice can be reinterpreted.
func h1Fields(fs []HeaderField) []http1.HeaderField {
	var _ = http1.HeaderField(HeaderField{})
	return unsafe.Slice((*http1.HeaderField)(unsafe.Pointer(unsafe.SliceData(fs))), len(fs))
}
