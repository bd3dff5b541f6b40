package http1

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/egress-go/egress/internal/testkit"
)

type respCase struct {
	name   string
	method string // request method; "" means GET
	in     string
	limits Limits

	// For valid responses.
	summary  string // "status cl=N" plus flags: keep chunked closedelim tunnel body
	events   string // if set, the exact event sequence
	body     string
	trailers string

	// For invalid ones: the sentinel expected from Feed or EOF.
	err error

	// netHTTPBodyDiffers says why net/http is expected to fail reading
	// this valid body, for the differential test.
	netHTTPBodyDiffers string
}

func (c *respCase) run() *result {
	p := ResponseParser{Limits: c.limits}
	return parse(&p, c.method, [][]byte{[]byte(c.in)}, true)
}

func summary(r *result) string {
	s := fmt.Sprintf("%d cl=%d", r.status, r.cl)
	for _, f := range []struct {
		on   bool
		name string
	}{{r.keepAlive, "keep"}, {r.chunked, "chunked"}, {r.closeDelim, "closedelim"}, {r.tunnel, "tunnel"}, {r.hasBody, "body"}} {
		if f.on {
			s += " " + f.name
		}
	}
	return s
}

const okHead = "HTTP/1.1 200 OK\r\n"

var validResponses = []respCase{
	{
		// RFC 9112 §5.2: a user agent replaces each obs-fold with a space.
		name:    "obs-fold unfolded",
		in:      okHead + "X: a  \r\n  b\r\n\tc\r\nContent-Length: 2\r\n\r\nhi",
		summary: "200 cl=2 keep body",
		events:  `head 200 "OK" [X="a b c", Content-Length="2"] | body | done`,
		body:    "hi",
	},
	{
		// A blank continuation line is a fold of its own: two folds, two
		// spaces (as net/http reads it).
		name:    "obs-fold onto a blank line",
		in:      okHead + "X: a\r\n \r\n b\r\nContent-Length: 0\r\n\r\n",
		summary: "200 cl=0 keep",
		events:  `head 200 "OK" [X="a  b", Content-Length="0"] | done`,
	},
	{
		name:    "content-length",
		in:      okHead + "Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
		summary: "200 cl=5 keep body",
		events:  `head 200 "OK" [Content-Type="text/plain", Content-Length="5"] | body | done`,
		body:    "hello",
	},
	{
		name:    "content-length zero",
		in:      okHead + "Content-Length: 0\r\n\r\n",
		summary: "200 cl=0 keep",
		events:  `head 200 "OK" [Content-Length="0"] | done`,
	},
	{
		name: "typical keep-alive",
		in: "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sat, 22 Nov 2025 03:28:00 GMT\r\n" +
			"Content-Type: application/json\r\nContent-Length: 17\r\nConnection: keep-alive\r\n" +
			"ETag: \"6561-5f0\"\r\nCache-Control: max-age=60\r\nVary: Accept-Encoding\r\n\r\n" +
			`{"hello":"world"}`,
		summary: "200 cl=17 keep body",
		body:    `{"hello":"world"}`,
	},
	{
		name: "chunked with extensions and trailers",
		in: okHead + "Transfer-Encoding: chunked\r\nTrailer: X-Sum, X-Other\r\n\r\n" +
			"5;name=val\r\nhello\r\n" +
			"6 ; a = \"q\\\"x;y\" ;b\t;c=tok\r\n world\r\n" +
			"0;last\r\nX-Sum: abc\r\nX-Other:  v w \r\n\r\n",
		summary:  "200 cl=-1 keep chunked body",
		events:   `head 200 "OK" [Transfer-Encoding="chunked", Trailer="X-Sum, X-Other"] | body | trailers [X-Sum="abc", X-Other="v w"] | done`,
		body:     "hello world",
		trailers: `X-Sum="abc", X-Other="v w"`,
		// RFC 9112 §7.1.1 allows BWS before ";"; net/http does not.
		netHTTPBodyDiffers: "whitespace before a chunk extension",
	},
	{
		name: "chunked with extensions, no whitespace",
		in: okHead + "Transfer-Encoding: chunked\r\n\r\n" +
			"5;name=val\r\nhello\r\n6;a=\"q\\\"x;y\";b;c=tok\r\n world\r\n0;last\r\n\r\n",
		summary: "200 cl=-1 keep chunked body",
		body:    "hello world",
	},
	{
		name:    "chunked without trailers",
		in:      okHead + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		summary: "200 cl=-1 keep chunked body",
		events:  `head 200 "OK" [Transfer-Encoding="chunked"] | body | done`,
		body:    "abc",
	},
	{
		name:    "chunked empty body",
		in:      okHead + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		summary: "200 cl=-1 keep chunked body",
		events:  `head 200 "OK" [Transfer-Encoding="chunked"] | done`,
	},
	{
		name:    "chunk sizes in hex with leading zeros and case",
		in:      okHead + "transfer-encoding: CHUNKED\r\n\r\n000A\r\n0123456789\r\na\r\nabcdefghij\r\n00\r\n\r\n",
		summary: "200 cl=-1 keep chunked body",
		body:    "0123456789abcdefghij",
	},
	{
		name:    "chunk size followed by whitespace",
		in:      okHead + "Transfer-Encoding: chunked\r\n\r\n5 \t\r\nhello\r\n0  \r\n\r\n",
		summary: "200 cl=-1 keep chunked body",
		body:    "hello",
	},
	{
		name:    "chunk data containing CRLF",
		in:      okHead + "Transfer-Encoding: chunked\r\n\r\n4\r\n\r\n\r\n\r\n0\r\n\r\n",
		summary: "200 cl=-1 keep chunked body",
		body:    "\r\n\r\n",
	},
	{
		name:    "close-delimited",
		in:      okHead + "Content-Type: text/html\r\n\r\n<html>till the end</html>",
		summary: "200 cl=-1 closedelim body",
		events:  `head 200 "OK" [Content-Type="text/html"] | body`,
		body:    "<html>till the end</html>",
	},
	{
		name:    "close-delimited empty",
		in:      okHead + "\r\n",
		summary: "200 cl=-1 closedelim body",
		events:  `head 200 "OK" []`,
	},
	{
		name:    "HTTP/1.0 closes by default",
		in:      "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi",
		summary: "200 cl=2 body",
		body:    "hi",
	},
	{
		name:    "HTTP/1.0 keep-alive",
		in:      "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nhi",
		summary: "200 cl=2 keep body",
		body:    "hi",
	},
	{
		name:    "HTTP/1.0 close-delimited",
		in:      "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nall of it",
		summary: "200 cl=-1 closedelim body",
		body:    "all of it",
	},
	{
		name:    "HTTP/1.1 connection close",
		in:      okHead + "Connection: close\r\nContent-Length: 2\r\n\r\nhi",
		summary: "200 cl=2 body",
		body:    "hi",
	},
	{
		name:    "connection close in a list, any case",
		in:      okHead + "Connection: keep-alive\r\nConnection: Upgrade ,, CLOSE\r\nContent-Length: 0\r\n\r\n",
		summary: "200 cl=0",
	},
	{
		name:    "connection token that only contains close",
		in:      okHead + "Connection: closed, x-close\r\nContent-Length: 0\r\n\r\n",
		summary: "200 cl=0 keep",
	},
	{
		name:    "HTTP/1.2 is treated as 1.1",
		in:      "HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n",
		summary: "200 cl=0 keep",
	},
	{
		name:    "HEAD with content-length",
		method:  "HEAD",
		in:      okHead + "Content-Length: 1234\r\n\r\n",
		summary: "200 cl=1234 keep",
		events:  `head 200 "OK" [Content-Length="1234"] | done`,
	},
	{
		name:    "HEAD without content-length",
		method:  "HEAD",
		in:      okHead + "Content-Type: text/plain\r\n\r\n",
		summary: "200 cl=-1 keep",
		events:  `head 200 "OK" [Content-Type="text/plain"] | done`,
	},
	{
		name:    "HEAD with chunked",
		method:  "HEAD",
		in:      okHead + "Transfer-Encoding: chunked\r\n\r\n",
		summary: "200 cl=-1 keep chunked",
		events:  `head 200 "OK" [Transfer-Encoding="chunked"] | done`,
	},
	{
		name:    "204 no content",
		in:      "HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n",
		summary: "204 cl=0 keep",
		events:  `head 204 "No Content" [Date="x"] | done`,
	},
	{
		name:    "304 with content-length of the representation",
		in:      "HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\nETag: \"x\"\r\n\r\n",
		summary: "304 cl=0 keep",
	},
	{
		name:    "100 continue then final",
		method:  "PUT",
		in:      "HTTP/1.1 100 Continue\r\n\r\n" + okHead + "Content-Length: 2\r\n\r\nok",
		summary: "200 cl=2 keep body",
		events:  `1xx 100 "Continue" [] | head 200 "OK" [Content-Length="2"] | body | done`,
		body:    "ok",
	},
	{
		name: "103 early hints twice then final",
		in: "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n" +
			"HTTP/1.1 103 Early Hints\r\nLink: </script.js>; rel=preload; as=script\r\n\r\n" +
			okHead + "Content-Length: 0\r\n\r\n",
		summary: "200 cl=0 keep",
		events: `1xx 103 "Early Hints" [Link="</style.css>; rel=preload; as=style"] | ` +
			`1xx 103 "Early Hints" [Link="</script.js>; rel=preload; as=script"] | ` +
			`head 200 "OK" [Content-Length="0"] | done`,
	},
	{
		name:    "1xx framing fields are checked but not used",
		in:      "HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\n" + okHead + "Content-Length: 1\r\n\r\nx",
		summary: "200 cl=1 keep body",
		body:    "x",
	},
	{
		name:    "101 switching protocols is final and a tunnel",
		in:      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello",
		summary: "101 cl=-1 tunnel",
		events:  `head 101 "Switching Protocols" [Upgrade="websocket", Connection="Upgrade"] | done`,
		body:    "\x81\x05hello",
	},
	{
		name:    "CONNECT 200 is a tunnel whatever its fields",
		method:  "CONNECT",
		in:      "HTTP/1.1 200 Connection established\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n\x16\x03\x01",
		summary: "200 cl=-1 tunnel",
		body:    "\x16\x03\x01",
	},
	{
		name:    "CONNECT refused has a body",
		method:  "CONNECT",
		in:      "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 4\r\n\r\nauth",
		summary: "407 cl=4 keep body",
		body:    "auth",
	},
	{
		name:    "repeated identical content-length",
		in:      okHead + "Content-Length: 3\r\ncontent-length:3 \r\n\r\nabc",
		summary: "200 cl=3 keep body",
		body:    "abc",
	},
	{
		name:    "content-length with leading zeros",
		in:      okHead + "Content-Length: 007\r\n\r\n1234567",
		summary: "200 cl=7 keep body",
		body:    "1234567",
	},
	{
		name:    "status line without reason",
		in:      "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
		summary: "200 cl=0 keep",
		events:  `head 200 "" [Content-Length="0"] | done`,
	},
	{
		name:    "status line with empty reason",
		in:      "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n",
		summary: "404 cl=0 keep",
	},
	{
		name:    "unusual status code",
		in:      "HTTP/1.1 999 Request denied\r\nContent-Length: 0\r\n\r\n",
		summary: "999 cl=0 keep",
	},
	{
		name:    "obs-text and tabs in reason and values",
		in:      "HTTP/1.1 200 \xc3\x89t\xe9\tok\r\nX-Name: caf\xc3\xa9\t \r\nX-Empty:\r\nX-Spaces:   \r\nContent-Length: 0\r\n\r\n",
		summary: "200 cl=0 keep",
		events:  `head 200 "Ét\xe9\tok" [X-Name="café", X-Empty="", X-Spaces="", Content-Length="0"] | done`,
	},
	{
		name:    "field names keep their case",
		in:      okHead + "x-lower: a\r\nX-UPPER: b\r\nCONTENT-LENGTH: 1\r\n\r\nz",
		summary: "200 cl=1 keep body",
		events:  `head 200 "OK" [x-lower="a", X-UPPER="b", CONTENT-LENGTH="1"] | body | done`,
		body:    "z",
	},
	{
		name:    "large content-length body",
		in:      okHead + "Content-Length: 3000\r\n\r\n" + strings.Repeat("0123456789", 300),
		summary: "200 cl=3000 keep body",
		body:    strings.Repeat("0123456789", 300),
	},
}

var invalidResponses = []respCase{
	// Framing ambiguity: the smuggling vectors.
	{name: "content-length and chunked", in: okHead + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", err: ErrLengthAndChunked},
	{name: "chunked and content-length", in: okHead + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", err: ErrLengthAndChunked},
	{name: "content-length and chunked on HEAD", method: "HEAD", in: okHead + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", err: ErrLengthAndChunked},
	{name: "conflicting content-length", in: okHead + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello", err: ErrConflictingLength},
	{name: "content-length same value spelled differently", in: okHead + "Content-Length: 5\r\nContent-Length: 05\r\n\r\nhello", err: ErrConflictingLength},
	{name: "content-length list", in: okHead + "Content-Length: 5, 5\r\n\r\nhello", err: ErrBadContentLength},
	{name: "content-length negative", in: okHead + "Content-Length: -1\r\n\r\n", err: ErrBadContentLength},
	{name: "content-length plus sign", in: okHead + "Content-Length: +5\r\n\r\nhello", err: ErrBadContentLength},
	{name: "content-length hex", in: okHead + "Content-Length: 0x5\r\n\r\nhello", err: ErrBadContentLength},
	{name: "content-length empty", in: okHead + "Content-Length: \r\n\r\n", err: ErrBadContentLength},
	{name: "content-length inner space", in: okHead + "Content-Length: 1 2\r\n\r\n", err: ErrBadContentLength},
	{name: "content-length overflow", in: okHead + "Content-Length: 9223372036854775808\r\n\r\n", err: ErrBadContentLength},
	{name: "content-length huge", in: okHead + "Content-Length: 99999999999999999999999\r\n\r\n", err: ErrBadContentLength},
	{name: "content-length on 100 still checked", in: "HTTP/1.1 100 Continue\r\nContent-Length: x\r\n\r\n" + okHead + "Content-Length: 0\r\n\r\n", err: ErrBadContentLength},
	{name: "content-length and chunked on 101", in: "HTTP/1.1 101 Switching Protocols\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n", err: ErrLengthAndChunked},
	{name: "content-length on 204 still checked", in: "HTTP/1.1 204 No Content\r\nContent-Length: x\r\n\r\n", err: ErrBadContentLength},
	{name: "transfer-encoding gzip", in: okHead + "Transfer-Encoding: gzip\r\n\r\n", err: ErrUnsupportedTransferEncoding},
	{name: "transfer-encoding gzip, chunked", in: okHead + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", err: ErrUnsupportedTransferEncoding},
	{name: "transfer-encoding chunked not last", in: okHead + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", err: ErrUnsupportedTransferEncoding},
	{name: "transfer-encoding twice", in: okHead + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", err: ErrUnsupportedTransferEncoding},
	{name: "transfer-encoding identity", in: okHead + "Transfer-Encoding: identity\r\n\r\n", err: ErrUnsupportedTransferEncoding},
	{name: "transfer-encoding empty", in: okHead + "Transfer-Encoding: \r\n\r\n", err: ErrUnsupportedTransferEncoding},
	{name: "transfer-encoding chunked with trailing comma", in: okHead + "Transfer-Encoding: chunked,\r\n\r\n0\r\n\r\n", err: ErrUnsupportedTransferEncoding},
	{name: "transfer-encoding in HTTP/1.0", in: "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", err: ErrUnsupportedTransferEncoding},

	// Chunked framing.
	{name: "chunk size not hex", in: okHead + "Transfer-Encoding: chunked\r\n\r\nxyz\r\n", err: ErrBadChunkSize},
	{name: "chunk size empty", in: okHead + "Transfer-Encoding: chunked\r\n\r\n\r\n", err: ErrBadChunkSize},
	{name: "chunk size empty with extension", in: okHead + "Transfer-Encoding: chunked\r\n\r\n;a=b\r\n", err: ErrBadChunkSize},
	{name: "chunk size negative", in: okHead + "Transfer-Encoding: chunked\r\n\r\n-1\r\n", err: ErrBadChunkSize},
	{name: "chunk size with 0x", in: okHead + "Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n", err: ErrBadChunkSize},
	{name: "chunk size leading space", in: okHead + "Transfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n", err: ErrBadChunkSize},
	{name: "chunk size two numbers", in: okHead + "Transfer-Encoding: chunked\r\n\r\n5 5\r\nhello\r\n", err: ErrBadChunkSize},
	{name: "chunk size overflow", in: okHead + "Transfer-Encoding: chunked\r\n\r\n8000000000000000\r\n", err: ErrBadChunkSize},
	{name: "chunk size too many digits", in: okHead + "Transfer-Encoding: chunked\r\n\r\n00000000000000005\r\nhello\r\n", err: ErrBadChunkSize},
	{name: "chunk size CR without LF", in: okHead + "Transfer-Encoding: chunked\r\n\r\n5\rhello\r\n", err: ErrBadChunkSize},
	{name: "chunk extension without name", in: okHead + "Transfer-Encoding: chunked\r\n\r\n5;\r\nhello\r\n0\r\n\r\n", err: ErrBadChunkExtension},
	{name: "chunk extension without value", in: okHead + "Transfer-Encoding: chunked\r\n\r\n5;a=\r\nhello\r\n0\r\n\r\n", err: ErrBadChunkExtension},
	{name: "chunk extension with space in name", in: okHead + "Transfer-Encoding: chunked\r\n\r\n5;a b\r\nhello\r\n0\r\n\r\n", err: ErrBadChunkExtension},
	{name: "chunk extension unterminated quote", in: okHead + "Transfer-Encoding: chunked\r\n\r\n5;a=\"x\r\nhello\r\n0\r\n\r\n", err: ErrBadChunkExtension},
	{name: "chunk extension control byte", in: okHead + "Transfer-Encoding: chunked\r\n\r\n5;a=\"\x01\"\r\nhello\r\n0\r\n\r\n", err: ErrBadChunkExtension},
	{name: "chunk extension too long", in: okHead + "Transfer-Encoding: chunked\r\n\r\n5;a=" + strings.Repeat("x", 5000) + "\r\nhello\r\n0\r\n\r\n", err: ErrChunkLineTooLong},
	{name: "chunk data too long", in: okHead + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello!\r\n0\r\n\r\n", err: ErrMissingChunkCRLF},
	{name: "chunk data followed by CR only", in: okHead + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\rX0\r\n\r\n", err: ErrMissingChunkCRLF},
	{name: "last chunk with bad trailer", in: okHead + "Transfer-Encoding: chunked\r\n\r\n0\r\nBad Trailer: x\r\n\r\n", err: ErrBadHeaderField},
	{name: "trailer with obs-fold", in: okHead + "Transfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n b\r\n\r\n", err: ErrObsFold},

	// Bare LF wherever a line ends.
	{name: "bare LF after status line", in: "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", err: ErrBareLF},
	{name: "bare LF after field", in: okHead + "Content-Length: 0\n\r\n", err: ErrBareLF},
	{name: "bare LF ends head", in: okHead + "Content-Length: 0\r\n\n", err: ErrBareLF},
	{name: "bare LF everywhere", in: "HTTP/1.1 200 OK\nContent-Length: 0\n\n", err: ErrBareLF},
	{name: "bare LF after chunk size", in: okHead + "Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", err: ErrBareLF},
	{name: "bare LF in chunk extension", in: okHead + "Transfer-Encoding: chunked\r\n\r\n5;a=\"x\ny\"\r\nhello\r\n0\r\n\r\n", err: ErrBareLF},
	{name: "bare LF after chunk data", in: okHead + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n", err: ErrBareLF},
	{name: "bare LF after last chunk", in: okHead + "Transfer-Encoding: chunked\r\n\r\n0\n\r\n", err: ErrBareLF},
	{name: "bare LF in trailer", in: okHead + "Transfer-Encoding: chunked\r\n\r\n0\r\nX: y\n\r\n", err: ErrBareLF},
	{name: "bare LF ends trailer", in: okHead + "Transfer-Encoding: chunked\r\n\r\n0\r\n\n", err: ErrBareLF},

	// Field syntax.
	{name: "bare CR in value", in: okHead + "X: a\rb\r\nContent-Length: 0\r\n\r\n", err: ErrBadHeaderField},
	{name: "NUL in value", in: okHead + "X: a\x00b\r\nContent-Length: 0\r\n\r\n", err: ErrBadHeaderField},
	{name: "DEL in value", in: okHead + "X: a\x7fb\r\nContent-Length: 0\r\n\r\n", err: ErrBadHeaderField},
	{name: "obs-fold on the first field line", in: okHead + " X: a\r\nContent-Length: 0\r\n\r\n", err: ErrObsFold},
	{name: "obs-fold unfolded into a bad Content-Length", in: okHead + "Content-Length: 0\r\n\tb\r\n\r\n", err: ErrBadContentLength},
	{name: "whitespace before first field", in: okHead + " Content-Length: 0\r\n\r\n", err: ErrObsFold},
	{name: "space in field name", in: okHead + "Bad Name: x\r\n\r\n", err: ErrBadHeaderField},
	{name: "space before colon", in: okHead + "Content-Length : 0\r\n\r\n", err: ErrBadHeaderField},
	{name: "empty field name", in: okHead + ": x\r\n\r\n", err: ErrBadHeaderField},
	{name: "separator in field name", in: okHead + "Na(me): x\r\n\r\n", err: ErrBadHeaderField},
	{name: "non-ASCII field name", in: okHead + "Caf\xc3\xa9: x\r\n\r\n", err: ErrBadHeaderField},
	{name: "field without colon", in: okHead + "NoColon\r\n\r\n", err: ErrBadHeaderField},

	// Status line.
	{name: "HTTP/2.0", in: "HTTP/2.0 200 OK\r\n\r\n", err: ErrBadStatusLine},
	{name: "HTTP/1.x missing minor", in: "HTTP/1. 200 OK\r\n\r\n", err: ErrBadStatusLine},
	{name: "lower-case protocol", in: "http/1.1 200 OK\r\n\r\n", err: ErrBadStatusLine},
	{name: "ICY", in: "ICY 200 OK\r\n\r\n", err: ErrBadStatusLine},
	{name: "two-digit status", in: "HTTP/1.1 20 OK\r\n\r\n", err: ErrBadStatusLine},
	{name: "four-digit status", in: "HTTP/1.1 2000 OK\r\n\r\n", err: ErrBadStatusLine},
	{name: "status below 100", in: "HTTP/1.1 099 Odd\r\n\r\n", err: ErrBadStatusLine},
	{name: "status not numeric", in: "HTTP/1.1 abc OK\r\n\r\n", err: ErrBadStatusLine},
	{name: "double space", in: "HTTP/1.1  200 OK\r\n\r\n", err: ErrBadStatusLine},
	{name: "reason glued to code", in: "HTTP/1.1 200OK\r\n\r\n", err: ErrBadStatusLine},
	{name: "control byte in reason", in: "HTTP/1.1 200 O\x01K\r\n\r\n", err: ErrBadStatusLine},
	{name: "empty line before status", in: "\r\n" + okHead + "Content-Length: 0\r\n\r\n", err: ErrBadStatusLine},
	{name: "garbage", in: "<html>not http</html>\r\n\r\n", err: ErrBadStatusLine},

	// Bytes after the end.
	{name: "body longer than content-length", in: okHead + "Content-Length: 5\r\n\r\nhello, world", err: ErrExtraData},
	{name: "body on HEAD", method: "HEAD", in: okHead + "Content-Length: 5\r\n\r\nhello", err: ErrExtraData},
	{name: "body on 204", in: "HTTP/1.1 204 No Content\r\n\r\nsurprise", err: ErrExtraData},
	{name: "bytes after chunked end", in: okHead + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n", err: ErrExtraData},
	{name: "CRLF after response", in: okHead + "Content-Length: 0\r\n\r\n\r\n", err: ErrExtraData},

	// The connection ends early.
	{name: "no response", in: "", err: ErrNoResponse},
	{name: "truncated status line", in: "HTTP/1.1 20", err: ErrHeadTruncated},
	{name: "truncated head", in: okHead + "Content-Length: 5\r\n", err: ErrHeadTruncated},
	{name: "truncated after 100 continue", in: "HTTP/1.1 100 Continue\r\n\r\n", err: ErrHeadTruncated},
	{name: "truncated content-length body", in: okHead + "Content-Length: 10\r\n\r\nhello", err: io.ErrUnexpectedEOF},
	{name: "truncated chunk data", in: okHead + "Transfer-Encoding: chunked\r\n\r\n5\r\nhel", err: io.ErrUnexpectedEOF},
	{name: "truncated chunk line", in: okHead + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0", err: io.ErrUnexpectedEOF},
	{name: "truncated before last chunk", in: okHead + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", err: io.ErrUnexpectedEOF},
	{name: "truncated trailers", in: okHead + "Transfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n", err: io.ErrUnexpectedEOF},

	// Limits.
	{name: "too many fields", in: okHead + strings.Repeat("X: y\r\n", 101) + "\r\n", err: ErrTooManyFields},
	{name: "too many fields, custom limit", limits: Limits{MaxHeaderFields: 2}, in: okHead + "A: 1\r\nB: 2\r\nC: 3\r\n\r\n", err: ErrTooManyFields},
	{name: "head too large", in: okHead + "X: " + strings.Repeat("y", 70000) + "\r\n\r\n", err: ErrHeaderTooLarge},
	{name: "head too large, never ending", in: okHead + "X: " + strings.Repeat("y", 70000), err: ErrHeaderTooLarge},
	{name: "head too large, custom limit", limits: Limits{MaxHeadBytes: 40}, in: okHead + "Content-Length: 0\r\nX: 12\r\n\r\n", err: ErrHeaderTooLarge},
	{
		name:   "interim heads count towards the head limit",
		limits: Limits{MaxHeadBytes: 100},
		in:     strings.Repeat("HTTP/1.1 103 Early Hints\r\n\r\n", 4) + okHead + "Content-Length: 0\r\n\r\n",
		err:    ErrHeaderTooLarge,
	},
	{name: "too many trailers", in: okHead + "Transfer-Encoding: chunked\r\n\r\n0\r\n" + strings.Repeat("X: y\r\n", 33) + "\r\n", err: ErrTooManyTrailers},
	{name: "trailers too large", limits: Limits{MaxTrailerBytes: 10}, in: okHead + "Transfer-Encoding: chunked\r\n\r\n0\r\nX: 123456\r\n\r\n", err: ErrTrailerTooLarge},
}

func TestResponseValid(t *testing.T) {
	for _, c := range validResponses {
		t.Run(c.name, func(t *testing.T) {
			r := c.run()
			if r.err != nil {
				t.Fatalf("error: %v\n%s", r.err, r)
			}
			if !r.done {
				t.Errorf("response not done\n%s", r)
			}
			if got := summary(r); got != c.summary {
				t.Errorf("summary = %q, want %q", got, c.summary)
			}
			if c.events != "" {
				if got := strings.Join(r.events, " | "); got != c.events {
					t.Errorf("events:\n got %s\nwant %s", got, c.events)
				}
			}
			if r.body != c.body {
				t.Errorf("body = %q, want %q", r.body, c.body)
			}
			if r.trailers != c.trailers {
				t.Errorf("trailers = %q, want %q", r.trailers, c.trailers)
			}
		})
	}
}

func TestResponseInvalid(t *testing.T) {
	for _, c := range invalidResponses {
		t.Run(c.name, func(t *testing.T) {
			r := c.run()
			if !errors.Is(r.err, c.err) {
				t.Fatalf("error = %v, want %v\n%s", r.err, c.err, r)
			}
			t.Logf("%v", r.err)
		})
	}
}

func TestTruncatedError(t *testing.T) {
	var p ResponseParser
	r := parse(&p, "GET", [][]byte{[]byte(okHead + "Content-Length: 10\r\n\r\nhello")}, true)
	var te *TruncatedError
	if !errors.As(r.err, &te) || te.Expected != 10 || te.Got != 5 {
		t.Fatalf("err = %#v, want TruncatedError{10, 5}", r.err)
	}
	if got, want := te.Error(), "http1: response body truncated: got 5 of 10 bytes"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}

	r = parse(&p, "GET", [][]byte{[]byte(okHead + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nab")}, true)
	if !errors.As(r.err, &te) || te.Expected != -1 || te.Got != 7 {
		t.Fatalf("err = %#v, want TruncatedError{-1, 7}", r.err)
	}
	if !strings.Contains(te.Error(), "after 7 bytes") {
		t.Errorf("Error() = %q", te.Error())
	}
}

func TestProtocolErrorMessage(t *testing.T) {
	r := whole("GET", okHead+"Content-Length: 5\r\nContent-Length: 6\r\n\r\n")
	want := `http1: conflicting Content-Length values: "Content-Length: 5\r\nContent-Length: 6"`
	if r.err == nil || r.err.Error() != want {
		t.Errorf("err = %v, want %s", r.err, want)
	}
	r = whole("GET", "HTTP/1.1 200 OK\r\nX: 1\nContent-Length: 0\r\n\r\n")
	want = `http1: line ends in bare LF: "X: 1\n"`
	if r.err == nil || r.err.Error() != want {
		t.Errorf("err = %v, want %s", r.err, want)
	}
	// The line is quoted whole even when it was split across reads.
	var p ResponseParser
	r = parse(&p, "GET", testkit.SplitAt([]byte("HTTP/1.1 200 OK\r\nX: 1\nContent-Length: 0\r\n\r\n"), 19, 21), true)
	if r.err == nil || r.err.Error() != want {
		t.Errorf("split: err = %v, want %s", r.err, want)
	}
	r = whole("GET", okHead+"Transfer-Encoding: chunked\r\n\r\n12x4\r\n")
	want = `http1: invalid chunk size: "12x"`
	if r.err == nil || r.err.Error() != want {
		t.Errorf("err = %v, want %s", r.err, want)
	}
	r = whole("GET", okHead+strings.Repeat("X: y\r\n", 101)+"\r\n")
	want = "http1: too many header fields (limit 100)"
	if r.err == nil || r.err.Error() != want {
		t.Errorf("err = %v, want %s", r.err, want)
	}
}

// TestErrorsAreSticky checks that after an error every call returns it,
// until Reset.
func TestErrorsAreSticky(t *testing.T) {
	var p ResponseParser
	_, _, err := p.Feed([]byte("HTTP/1.1 200 OK\nX"))
	if !errors.Is(err, ErrBareLF) {
		t.Fatalf("err = %v", err)
	}
	if _, n, err2 := p.Feed([]byte(okHead)); err2 != err || n != 0 {
		t.Errorf("second Feed = %d, %v", n, err2)
	}
	if err2 := p.EOF(); err2 != err {
		t.Errorf("EOF = %v", err2)
	}
	p.Reset("GET")
	r := parse(&p, "GET", [][]byte{[]byte(okHead + "Content-Length: 0\r\n\r\n")}, true)
	if r.err != nil {
		t.Errorf("after Reset: %v", r.err)
	}
}

// TestReuse parses many responses with one parser, as a keep-alive
// connection would, including ones that leave state behind when they fail.
func TestReuse(t *testing.T) {
	var p ResponseParser
	for i := 0; i < 3; i++ {
		for _, c := range validResponses {
			p.Limits = c.limits
			r := parse(&p, c.method, testkit.Bytewise([]byte(c.in)), true)
			if r.err != nil || r.body != c.body {
				t.Fatalf("%s: err=%v body=%q", c.name, r.err, r.body)
			}
		}
		for _, c := range invalidResponses {
			p.Limits = c.limits
			parse(&p, c.method, testkit.SplitAt([]byte(c.in), len(c.in)/2), true)
		}
	}
}

func TestFeedAfterDone(t *testing.T) {
	var p ResponseParser
	in := []byte(okHead + "Content-Length: 2\r\n\r\nhi")
	for {
		ev, n, err := p.Feed(in)
		in = in[n:]
		if err != nil {
			t.Fatal(err)
		}
		if ev == EventNone {
			break
		}
	}
	if !p.Done() {
		t.Fatal("not done")
	}
	// Empty input after the end is fine, and so is EOF.
	if ev, n, err := p.Feed(nil); ev != EventNone || n != 0 || err != nil {
		t.Errorf("Feed(nil) = %v %d %v", ev, n, err)
	}
	if err := p.EOF(); err != nil {
		t.Errorf("EOF = %v", err)
	}
	// An unsolicited response on the idle connection is not.
	_, _, err := p.Feed([]byte("HTTP/1.1 408 Request Timeout\r\n"))
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.Err != ErrExtraData || pe.Seen != "HTTP/1.1 408 Request Timeout\r\n" {
		t.Errorf("err = %#v", err)
	}
}

func TestEOFCompletesCloseDelimited(t *testing.T) {
	var p ResponseParser
	ev, n, err := p.Feed([]byte(okHead + "\r\nabc"))
	if ev != EventHead || err != nil || !p.CloseDelimited() || p.KeepAlive() {
		t.Fatalf("Feed = %v %d %v", ev, n, err)
	}
	if ev, _, _ := p.Feed([]byte("abc")); ev != EventBody || string(p.Body()) != "abc" {
		t.Fatalf("body event = %v %q", ev, p.Body())
	}
	if p.Done() || p.BodyRead() != 3 {
		t.Fatalf("done %v, BodyRead %d before EOF", p.Done(), p.BodyRead())
	}
	if err := p.EOF(); err != nil || !p.Done() {
		t.Fatalf("EOF = %v, done %v", err, p.Done())
	}
}

func TestGetAndHeader(t *testing.T) {
	var p ResponseParser
	in := []byte(okHead + "Content-Type: text/plain\r\nset-cookie: a=1\r\nSet-Cookie: b=2\r\nX-Empty:\r\nContent-Length: 0\r\n\r\n")
	ev, _, err := p.Feed(in)
	if ev != EventHead || err != nil {
		t.Fatal(ev, err)
	}
	if p.ProtoMajor() != 1 || p.ProtoMinor() != 1 || p.StatusCode() != 200 || string(p.Reason()) != "OK" {
		t.Errorf("status line read as %d.%d %d %q", p.ProtoMajor(), p.ProtoMinor(), p.StatusCode(), p.Reason())
	}
	if got := string(p.Get("content-type")); got != "text/plain" {
		t.Errorf("Get(content-type) = %q", got)
	}
	if got := string(p.Get("SET-COOKIE")); got != "a=1" {
		t.Errorf("Get(SET-COOKIE) = %q", got)
	}
	if got := p.Get("X-Empty"); got == nil || len(got) != 0 {
		t.Errorf("Get(X-Empty) = %#v, want empty non-nil", got)
	}
	if got := p.Get("X-Missing"); got != nil {
		t.Errorf("Get(X-Missing) = %q", got)
	}
	h := p.Header()
	if got := h["Set-Cookie"]; len(got) != 2 || got[0] != "a=1" || got[1] != "b=2" {
		t.Errorf("Set-Cookie = %q", got)
	}
	if got := h.Get("X-Empty"); got != "" || len(h["X-Empty"]) != 1 {
		t.Errorf("X-Empty = %q", h["X-Empty"])
	}
	// Appending to one key must not clobber another's value.
	h["Content-Type"] = append(h["Content-Type"], "more")
	if h.Get("Set-Cookie") != "a=1" || h.Get("X-Empty") != "" {
		t.Errorf("append leaked into another key: %v", h)
	}
	// A name repeated in any spelling gathers its values in order, and
	// leaves the keys between and around it alone.
	p.Reset("GET")
	in = []byte(okHead + "Vary: a\r\nX-Tag: 1\r\nvary: b\r\nx-tag: 2\r\nETag: e\r\nVARY: c\r\nContent-Length: 0\r\n\r\n")
	if ev, _, err := p.Feed(in); ev != EventHead || err != nil {
		t.Fatal(ev, err)
	}
	want := http.Header{"Vary": {"a", "b", "c"}, "X-Tag": {"1", "2"}, "Etag": {"e"}, "Content-Length": {"0"}}
	if got := p.Header(); !reflect.DeepEqual(got, want) {
		t.Errorf("Header() = %v, want %v", got, want)
	}
	// The header is a copy: it survives the next call.
	p.Feed(nil)
	if p.Fields() != nil || p.Get("Content-Type") != nil {
		t.Error("fields still exposed after the next call")
	}
	if h.Get("Content-Type") != "text/plain" {
		t.Error("Header did not copy")
	}
}

// TestHeaderInto: the header built into the caller's space equals
// Header's; the values' array is the caller's when it has room; the spare
// capacity shares the values' allocation, and filling it (with a body)
// leaves every value as it was.
func TestHeaderInto(t *testing.T) {
	head := okHead + "Content-Type: text/plain\r\nVary: a\r\nvary: b\r\nX-Empty:\r\nContent-Length: 5\r\n\r\n"
	feed := func() *ResponseParser {
		p := new(ResponseParser)
		if ev, _, err := p.Feed([]byte(head)); ev != EventHead || err != nil {
			t.Fatal(ev, err)
		}
		return p
	}
	want := feed().Header()
	for _, room := range []int{0, 3, 5, 8} {
		p := feed()
		vals := make([]string, room)
		h, rest := p.HeaderInto(vals, 5)
		if len(rest) != 0 || cap(rest) != 5 {
			t.Fatalf("room %d: spare len %d cap %d, want 0 and 5", room, len(rest), cap(rest))
		}
		rest = append(rest, "hello"...)
		if !reflect.DeepEqual(h, want) {
			t.Errorf("room %d: HeaderInto = %v, want %v", room, h, want)
		}
		if string(rest) != "hello" {
			t.Errorf("room %d: spare holds %q", room, rest)
		}
		usedVals := room > 0 && vals[0] != ""
		if wantUsed := room >= len(p.Fields()); usedVals != wantUsed {
			t.Errorf("room %d for %d fields: caller's array used %v, want %v", room, len(p.Fields()), usedVals, wantUsed)
		}
		// The spare bytes follow the values' bytes in one allocation.
		if ct := h["Content-Type"][0]; unsafe.StringData(ct) == nil || uintptr(unsafe.Pointer(unsafe.SliceData(rest))) < uintptr(unsafe.Pointer(unsafe.StringData(ct))) ||
			uintptr(unsafe.Pointer(unsafe.SliceData(rest)))-uintptr(unsafe.Pointer(unsafe.StringData(ct))) > uintptr(len(head)) {
			t.Errorf("room %d: the spare bytes are not in the values' allocation", room)
		}
	}
	// Common names, each once: nothing else to allocate.
	head = okHead + "Server: nginx\r\nDate: Sun, 06 Dec 2026 10:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n"
	p := feed()
	vals := make([]string, 8)
	if a := testing.AllocsPerRun(50, func() { p.HeaderInto(vals, 5) }); a > 3 {
		t.Errorf("HeaderInto with room for every value: %.0f allocations, want at most 3 (map, its table, the bytes)", a)
	}
}

func TestEventString(t *testing.T) {
	for ev, want := range map[Event]string{EventNone: "None", EventHead: "Head", EventDone: "Done", 42: "Event(42)"} {
		if got := ev.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", ev, got, want)
		}
	}
}

// TestIdleHoldsNothing checks that a parser keeps no pooled memory from
// the moment it reports EventDone (or EOF returns), or fails, however the
// input was split: an idle connection must not hold a buffer.
func TestIdleHoldsNothing(t *testing.T) {
	cases := append(append([]respCase(nil), validResponses...), invalidResponses...)
	for _, c := range cases {
		in := []byte(c.in)
		for _, chunks := range [][][]byte{{in}, testkit.Bytewise(in), testkit.SplitAt(in, len(in)/2)} {
			p := ResponseParser{Limits: c.limits}
			p.Reset(c.method)
			var err error
			done := false
		feed:
			for _, chunk := range chunks {
				for {
					var ev Event
					var n int
					ev, n, err = p.Feed(chunk)
					chunk = chunk[n:]
					if err != nil || ev == EventDone {
						done = ev == EventDone
						break feed
					}
					if ev == EventNone {
						break
					}
				}
			}
			if !done && err == nil {
				err = p.EOF()
			}
			if p.buf != nil || p.fields != nil {
				t.Errorf("%s: idle parser holds buf=%d bytes, fields=%v (err %v)", c.name, cap(p.buf), p.fields != nil, err)
			}
		}
	}
}

// TestLimitsLoweredMidResponse checks that changing Limits in the middle
// of a head, which the documentation advises against, fails cleanly.
func TestLimitsLoweredMidResponse(t *testing.T) {
	var p ResponseParser
	if _, _, err := p.Feed([]byte(okHead + "X-Long: " + strings.Repeat("a", 200))); err != nil {
		t.Fatal(err)
	}
	p.Limits.MaxHeadBytes = 10
	if _, _, err := p.Feed([]byte("\r\n\r\n")); !errors.Is(err, ErrHeaderTooLarge) {
		t.Fatalf("err = %v", err)
	}
}

// TestValueEnd checks the eight-bytes-at-a-time scan of field values
// against the byte class it stands for, with each kind of byte that
// matters at every position of values long and short.
func TestValueEnd(t *testing.T) {
	special := []byte{0x00, '\t', '\n', '\r', 0x1f, ' ', 0x7e, 0x7f, 0x80, 0xff}
	for n := 0; n <= 24; n++ {
		for pos := 0; pos < n; pos++ {
			for _, c := range special {
				b := []byte(strings.Repeat("v", n))
				b[pos] = c
				for start := 0; start <= n; start++ {
					want := start
					for want < n && byteClass[b[want]]&classValue != 0 {
						want++
					}
					if got := valueEnd(b, start); got != want {
						t.Fatalf("valueEnd(%q, %d) = %d, want %d", b, start, got, want)
					}
				}
			}
		}
	}
}

// TestCanonicalKey: the interned names agree with net/http's
// canonicalization for every case and spelling.
func TestCanonicalKey(t *testing.T) {
	for _, name := range []string{
		"content-length", "CONTENT-TYPE", "Content-Type", "eTaG", "x-custom-thing", "X-Request-ID",
		"content_length", "content length", "-date", "date-", "a--b", "", "Set-Cookie", "sErVeR",
		"\xffbad", "www-authenticate", "strict-transport-security-but-longer-than-forty-eight-bytes",
	} {
		if got, want := canonicalKey([]byte(name)), http.CanonicalHeaderKey(name); got != want {
			t.Errorf("canonicalKey(%q) = %q, want %q", name, got, want)
		}
	}
	if a := testing.AllocsPerRun(100, func() { canonicalKey([]byte("content-length")) }); a != 0 {
		t.Errorf("%v allocations for a common name", a)
	}
}

// TestHeaderRepeatedNamesLinear: a head that repeats a name costs
// allocations in proportion to its fields, not to their square, however
// the repeats fall: a hostile server gets no quadratic work out of the
// loop (the field limit can be raised far past its default).
func TestHeaderRepeatedNamesLinear(t *testing.T) {
	const n = 2000
	for _, tc := range []struct {
		name  string
		field func(i int) string
	}{
		{"one uncommon name", func(int) string { return "x-a" }},
		{"one common name", func(int) string { return "Set-Cookie" }},
		{"two alternating", func(i int) string { return []string{"x-a", "x-b"}[i%2] }},
		{"distinct, then a repeat", func(i int) string {
			if i == n-1 {
				return "x-0"
			}
			return "x-" + strconv.Itoa(i)
		}},
	} {
		fields := make([]RawField, n)
		for i := range fields {
			fields[i] = RawField{Name: []byte(tc.field(i)), Value: []byte("v")}
		}
		h := buildHeader(fields)
		total := 0
		for _, vv := range h {
			total += len(vv)
		}
		if total != n {
			t.Fatalf("%s: %d values, want %d", tc.name, total, n)
		}
		// Each field may cost its name's string twice (the first pass
		// and the plain one) and its slice's growth; the square of n is
		// four million.
		if a := testing.AllocsPerRun(3, func() { buildHeader(fields) }); a > 6*n {
			t.Errorf("%s: %.0f allocations for %d fields", tc.name, a, n)
		}
	}
}

// TestStatusLineJudgedWhenWhole: a bad status line fails as soon as it is
// whole, before the head's blank line comes, so that a peer that is no
// HTTP server and speaks first (an SSH banner, then silence) gets an error
// at once rather than a wait for a timeout. A good line, or one not yet
// whole, waits for the rest of the head as before.
func TestStatusLineJudgedWhenWhole(t *testing.T) {
	for _, tc := range []struct {
		name   string
		pieces []string
		bad    bool
	}{
		{"ssh banner", []string{"SSH-2.0-OpenSSH_9.6\r\n"}, true},
		{"ssh banner in pieces", []string{"SSH-2.0-Op", "enSSH_9.6", "\r\n"}, true},
		{"smtp banner", []string{"220 mail.example ESMTP\r\n"}, true},
		{"bad line after an interim head", []string{"HTTP/1.1 100 Continue\r\n\r\n", "SSH-2.0-x\r\n"}, true},
		{"good line", []string{"HTTP/1.1 200 OK\r\n"}, false},
		{"good line in pieces", []string{"HTTP/1.1 2", "00 OK\r\nContent-Le"}, false},
		{"not whole yet", []string{"SSH-2.0-OpenSSH_9.6"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p ResponseParser
			p.Reset("GET")
			defer p.Reset("")
			var err error
			for _, piece := range tc.pieces {
				in := []byte(piece)
				for len(in) > 0 && err == nil {
					var n int
					_, n, err = p.Feed(in)
					if n == 0 && err == nil {
						t.Fatalf("Feed(%q) consumed nothing", in)
					}
					in = in[n:]
				}
			}
			if !tc.bad {
				if err != nil {
					t.Fatalf("got %v before the head was whole, want no error yet", err)
				}
				return
			}
			if !errors.Is(err, ErrBadStatusLine) {
				t.Fatalf("got %v, want ErrBadStatusLine before the head's end", err)
			}
		})
	}
}
