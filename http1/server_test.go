package http1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

type reqCase struct {
	name   string
	in     string
	limits Limits
	// For valid cases: the events expected, joined by " | ".
	events string
	bodies []string
	// For invalid cases: the error expected from Feed (or EOF).
	err    error
	status int
}

var validRequests = []reqCase{
	{
		name:   "get",
		in:     "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
		events: `head GET / 1.1 [Host="example.com"] cl=0 chunked=false ka=true expect=false body=false | done read=0`,
		bodies: []string{""},
	},
	{
		name:   "post with length",
		in:     "POST /echo?x=1 HTTP/1.1\r\nHost: h:8080\r\nContent-Length: 5\r\n\r\nhello",
		events: `head POST /echo?x=1 1.1 [Host="h:8080", Content-Length="5"] cl=5 chunked=false ka=true expect=false body=true | body | done read=5`,
		bodies: []string{"hello"},
	},
	{
		name: "chunked with extension and trailer",
		in: "PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"3;a=b\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n",
		events: `head PUT /x 1.1 [Host="h", Transfer-Encoding="chunked"] cl=-1 chunked=true ka=true expect=false body=true | body | trailers [X-Sum="5"] | done read=5`,
		bodies: []string{"abcde"},
	},
	{
		name:   "http/1.0 closes by default",
		in:     "GET /a HTTP/1.0\r\n\r\n",
		events: `head GET /a 1.0 [] cl=0 chunked=false ka=false expect=false body=false | done read=0`,
		bodies: []string{""},
	},
	{
		name:   "http/1.0 keep-alive",
		in:     "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		events: `head GET /a 1.0 [Connection="keep-alive"] cl=0 chunked=false ka=true expect=false body=false | done read=0`,
		bodies: []string{""},
	},
	{
		name:   "connection close",
		in:     "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
		events: `head GET / 1.1 [Host="h", Connection="close"] cl=0 chunked=false ka=false expect=false body=false | done read=0`,
		bodies: []string{""},
	},
	{
		name:   "expect continue",
		in:     "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nx",
		events: `head POST / 1.1 [Host="h", Expect="100-Continue", Content-Length="1"] cl=1 chunked=false ka=true expect=true body=true | body | done read=1`,
		bodies: []string{"x"},
	},
	{
		name:   "expect continue without body",
		in:     "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n",
		events: `head POST / 1.1 [Host="h", Expect="100-continue", Content-Length="0"] cl=0 chunked=false ka=true expect=false body=false | done read=0`,
		bodies: []string{""},
	},
	{
		name: "pipelined with leading empty lines",
		in: "\r\n\r\nGET /1 HTTP/1.1\r\nHost: h\r\n\r\n" +
			"POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nok\r\n" +
			"GET /3 HTTP/1.1\r\nHost: h\r\n\r\n",
		events: `head GET /1 1.1 [Host="h"] cl=0 chunked=false ka=true expect=false body=false | done read=0 | ` +
			`head POST /2 1.1 [Host="h", Content-Length="2"] cl=2 chunked=false ka=true expect=false body=true | body | done read=2 | ` +
			`head GET /3 1.1 [Host="h"] cl=0 chunked=false ka=true expect=false body=false | done read=0`,
		bodies: []string{"", "ok", ""},
	},
	{
		name:   "later 1.x answered as 1.1",
		in:     "GET * HTTP/1.7\r\nHost: h\r\n\r\n",
		events: `head GET * 1.1 [Host="h"] cl=0 chunked=false ka=true expect=false body=false | done read=0`,
		bodies: []string{""},
	},
	{
		name:   "repeated equal content-length",
		in:     "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nz",
		events: `head POST / 1.1 [Host="h", Content-Length="1", Content-Length="1"] cl=1 chunked=false ka=true expect=false body=true | body | done read=1`,
		bodies: []string{"z"},
	},
	{
		name:   "empty host is allowed",
		in:     "GET / HTTP/1.1\r\nHost:\r\n\r\n",
		events: `head GET / 1.1 [Host=""] cl=0 chunked=false ka=true expect=false body=false | done read=0`,
		bodies: []string{""},
	},
}

var invalidRequests = []reqCase{
	{name: "bare LF", in: "GET / HTTP/1.1\nHost: h\r\n\r\n", err: ErrBareLF, status: 400},
	{name: "two spaces", in: "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", err: ErrBadRequestLine, status: 400},
	{name: "no version", in: "GET /\r\nHost: h\r\n\r\n", err: ErrBadRequestLine, status: 400},
	{name: "lowercase version", in: "GET / http/1.1\r\nHost: h\r\n\r\n", err: ErrBadRequestLine, status: 400},
	{name: "space in target", in: "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", err: ErrBadRequestLine, status: 400},
	{name: "control in target", in: "GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", err: ErrBadRequestLine, status: 400},
	{name: "bad method", in: "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", err: ErrBadRequestLine, status: 400},
	{name: "http/2", in: "GET / HTTP/2.0\r\nHost: h\r\n\r\n", err: ErrUnsupportedVersion, status: 505},
	{name: "missing host", in: "GET / HTTP/1.1\r\nX: y\r\n\r\n", err: ErrMissingHost, status: 400},
	{name: "two hosts", in: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", err: ErrDuplicateHost, status: 400},
	{name: "bad host", in: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", err: ErrBadHost, status: 400},
	{name: "length and chunked", in: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", err: ErrLengthAndChunked, status: 400},
	{name: "conflicting lengths", in: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc", err: ErrConflictingLength, status: 400},
	{name: "signed length", in: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\nabc", err: ErrBadContentLength, status: 400},
	{name: "gzip coding", in: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", err: ErrUnsupportedTransferEncoding, status: 501},
	{name: "chunked in 1.0", in: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", err: ErrUnsupportedTransferEncoding, status: 501},
	{name: "obs fold", in: "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", err: ErrObsFold, status: 400},
	{name: "space before colon", in: "GET / HTTP/1.1\r\nHost : h\r\n\r\n", err: ErrBadHeaderField, status: 400},
	{name: "bad chunk size", in: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", err: ErrBadChunkSize, status: 400},
	{name: "chunk data too long", in: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", err: ErrMissingChunkCRLF, status: 400},
	{name: "truncated head", in: "GET / HTTP/1.1\r\nHost: h\r\n", err: ErrRequestTruncated, status: 400},
	{name: "truncated body", in: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\nabc", err: ErrRequestTruncated, status: 400},
	{name: "truncated chunked", in: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab", err: ErrRequestTruncated, status: 400},
	{
		name:   "head too large",
		in:     "GET / HTTP/1.1\r\nHost: h\r\nX: " + strings.Repeat("a", 200) + "\r\n\r\n",
		limits: Limits{MaxHeadBytes: 128},
		err:    ErrRequestHeadTooLarge, status: 431,
	},
	{
		name:   "empty lines count towards the limit",
		in:     strings.Repeat("\r\n", 100) + "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
		limits: Limits{MaxHeadBytes: 128},
		err:    ErrRequestHeadTooLarge, status: 431,
	},
	{
		name:   "too many fields",
		in:     "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n",
		limits: Limits{MaxHeaderFields: 2},
		err:    ErrTooManyFields, status: 431,
	},
}

func TestRequestParserValid(t *testing.T) {
	var p RequestParser
	for _, c := range validRequests {
		p.Limits = c.limits
		r := parseRequests(&p, [][]byte{[]byte(c.in)})
		if r.err != nil || r.eofErr != nil {
			t.Errorf("%s: err %v, eof %v", c.name, r.err, r.eofErr)
			continue
		}
		if got := strings.Join(r.events, " | "); got != c.events {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.events)
		}
		if strings.Join(r.bodies, ",") != strings.Join(c.bodies, ",") {
			t.Errorf("%s: bodies %q, want %q", c.name, r.bodies, c.bodies)
		}
	}
}

func TestRequestParserInvalid(t *testing.T) {
	var p RequestParser
	for _, c := range invalidRequests {
		p.Limits = c.limits
		r := parseRequests(&p, [][]byte{[]byte(c.in)})
		err := r.err
		if err == nil {
			err = r.eofErr
		}
		if !errors.Is(err, c.err) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.err)
			continue
		}
		var pe *ProtocolError
		var le *LimitError
		if !errors.As(err, &pe) && !errors.As(err, &le) && !errors.Is(err, ErrRequestTruncated) {
			t.Errorf("%s: error %T is not typed", c.name, err)
		}
		if s := StatusForError(err); s != c.status {
			t.Errorf("%s: status %d, want %d", c.name, s, c.status)
		}
		// Sticky until Reset.
		if _, _, again := p.Feed([]byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n")); again == nil {
			t.Errorf("%s: error not sticky", c.name)
		}
	}
}

// TestRequestSplitEquivalence feeds every case whole, a byte at a time, cut
// at each offset and at random pairs of offsets, and wants the same result.
func TestRequestSplitEquivalence(t *testing.T) {
	cases := append(append([]reqCase(nil), validRequests...), invalidRequests...)
	var p RequestParser
	for _, c := range cases {
		in := []byte(c.in)
		p.Limits = c.limits
		want := parseRequests(&p, [][]byte{in}).String()
		for s := range testkit.Splits(in, testkit.SplitOptions{Random: 20, Seed: 3}) {
			if got := parseRequests(&p, s.Chunks).String(); got != want {
				t.Fatalf("%s: fed %s:\n got %s\nwant %s", c.name, s.Name, got, want)
			}
		}
	}
}

// TestRequestParserAgainstNetHTTP parses each valid request with
// http.ReadRequest too and compares method, target, fields and body.
func TestRequestParserAgainstNetHTTP(t *testing.T) {
	var p RequestParser
	for _, c := range validRequests {
		br := bufio.NewReader(strings.NewReader(c.in))
		r := parseRequests(&p, [][]byte{[]byte(c.in)})
		for i := range r.bodies {
			// net/http does not skip empty lines before a request.
			for {
				if b, _ := br.Peek(2); string(b) != "\r\n" {
					break
				}
				br.Discard(2)
			}
			req, err := http.ReadRequest(br)
			if err != nil {
				t.Fatalf("%s: net/http: %v", c.name, err)
			}
			body, err := io.ReadAll(req.Body)
			if err != nil {
				t.Fatalf("%s: net/http body: %v", c.name, err)
			}
			if string(body) != r.bodies[i] {
				t.Errorf("%s: body %q, net/http %q", c.name, r.bodies[i], body)
			}
			if !strings.HasPrefix(headEvent(r.events, i), "head "+req.Method+" "+req.RequestURI+" ") {
				t.Errorf("%s: %s, net/http %s %s", c.name, headEvent(r.events, i), req.Method, req.RequestURI)
			}
			if req.Close == strings.Contains(headEvent(r.events, i), "ka=true") {
				t.Errorf("%s: keep-alive disagrees with net/http (Close=%v)", c.name, req.Close)
			}
		}
	}
}

func headEvent(events []string, i int) string {
	for _, e := range events {
		if strings.HasPrefix(e, "head ") {
			if i == 0 {
				return e
			}
			i--
		}
	}
	return ""
}

func TestRequestParserAccessors(t *testing.T) {
	var p RequestParser
	in := []byte("POST /p?q=1 HTTP/1.1\r\nHost: example.com\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 3\r\n\r\nabc")
	ev, n, err := p.Feed(in)
	if err != nil || ev != EventHead {
		t.Fatalf("Feed: %v %v", ev, err)
	}
	if string(p.Method()) != "POST" || string(p.Target()) != "/p?q=1" || p.ProtoMinor() != 1 {
		t.Fatalf("request line: %s %s 1.%d", p.Method(), p.Target(), p.ProtoMinor())
	}
	if string(p.Get("x-a")) != "1" || p.Get("missing") != nil {
		t.Fatalf("Get: %q", p.Get("x-a"))
	}
	if h := p.Header(); h.Get("Host") != "example.com" || len(h["X-A"]) != 2 {
		t.Fatalf("Header: %v", h)
	}
	ev, m, err := p.Feed(in[n:])
	if err != nil || ev != EventBody || string(p.Body()) != "abc" || n+m != len(in) {
		t.Fatalf("body: %v %q %v", ev, p.Body(), err)
	}
	if ev, _, err = p.Feed(nil); ev != EventDone || err != nil || !p.Done() {
		t.Fatalf("done: %v %v", ev, err)
	}
	// Nothing more: idle between requests, EOF is clean.
	if ev, _, err = p.Feed(nil); ev != EventNone || err != nil {
		t.Fatalf("idle Feed: %v %v", ev, err)
	}
	if err := p.EOF(); err != nil {
		t.Fatalf("EOF between requests: %v", err)
	}
	if p.buf != nil || p.fields != nil {
		t.Fatal("parser holds pooled memory while idle")
	}
}

func TestAppendResponseHead(t *testing.T) {
	cases := []struct {
		name string
		h    ResponseHead
		want string
	}{
		{"ok", ResponseHead{StatusCode: 200, ContentLength: 5, Fields: []HeaderField{{"Content-Type", "text/plain"}}},
			"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n"},
		{"chunked close", ResponseHead{StatusCode: 200, ContentLength: -1, Close: true},
			"HTTP/1.1 200 OK\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"no content", ResponseHead{StatusCode: 204, ContentLength: 7},
			"HTTP/1.1 204 No Content\r\n\r\n"},
		{"not modified", ResponseHead{StatusCode: 304, ContentLength: -1},
			"HTTP/1.1 304 Not Modified\r\n\r\n"},
		{"unknown code", ResponseHead{StatusCode: 599},
			"HTTP/1.1 599 \r\nContent-Length: 0\r\n\r\n"},
		{"own reason, owned fields skipped", ResponseHead{StatusCode: 418, Reason: "Short", ContentLength: 0,
			Fields: []HeaderField{{"Content-Length", "99"}, {"Transfer-Encoding", "chunked"}},
			Header: http.Header{"X-B": {"2"}, "X-A": {"1"}, "Connection": {"close"}}, Close: true},
			"HTTP/1.1 418 Short\r\nConnection: close\r\nX-A: 1\r\nX-B: 2\r\nContent-Length: 0\r\n\r\n"},
	}
	for _, c := range cases {
		got, err := AppendResponseHead([]byte("pre"), &c.h)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if string(got) != "pre"+c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, "pre"+c.want)
		}
	}
	bad := []ResponseHead{
		{StatusCode: 99}, {StatusCode: 1000}, {StatusCode: 101},
		{StatusCode: 200, Reason: "a\r\nX: y"},
		{StatusCode: 200, Fields: []HeaderField{{"X", "a\nb"}}},
		{StatusCode: 200, Header: http.Header{"Bad Name": {"v"}}},
	}
	for _, h := range bad {
		dst, err := AppendResponseHead([]byte("pre"), &h)
		var re *RequestError
		if !errors.As(err, &re) || string(dst) != "pre" {
			t.Errorf("%+v: got %q, %v", h, dst, err)
		}
	}
	if got := string(AppendContinue(nil)); got != "HTTP/1.1 100 Continue\r\n\r\n" {
		t.Errorf("AppendContinue: %q", got)
	}
}

// TestResponseRoundTrip encodes responses and reads them back with both
// this package's ResponseParser and net/http.
func TestResponseRoundTrip(t *testing.T) {
	for _, cl := range []int64{0, 11, -1} {
		head, err := AppendResponseHead(nil, &ResponseHead{StatusCode: 201, ContentLength: cl,
			Fields: []HeaderField{{"X-Test", "yes"}}})
		if err != nil {
			t.Fatal(err)
		}
		body := "hello world"
		if cl == 0 {
			body = ""
		}
		msg := head
		if cl < 0 {
			msg = AppendChunk(msg, []byte("hello "))
			msg = AppendChunk(msg, []byte("world"))
			msg, _ = AppendLastChunk(msg, nil)
		} else {
			msg = append(msg, body...)
		}
		r := whole("GET", string(msg))
		if r.err != nil || r.status != 201 || r.body != body || !r.keepAlive {
			t.Errorf("cl=%d: ResponseParser: %s", cl, r)
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(msg)), nil)
		if err != nil {
			t.Fatalf("cl=%d: net/http: %v", cl, err)
		}
		got, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 201 || string(got) != body || resp.Header.Get("X-Test") != "yes" {
			t.Errorf("cl=%d: net/http read %d %q %v", cl, resp.StatusCode, got, resp.Header)
		}
	}
}

func TestResponseHeadAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	buf := make([]byte, 0, 512)
	h := &ResponseHead{StatusCode: 200, ContentLength: 14, Fields: []HeaderField{{"Content-Type", "text/plain"}}}
	if n := testkit.AllocsPerOp(20, testkit.AllocBatch, func() { buf, _ = AppendResponseHead(buf[:0], h) }); n != 0 {
		t.Errorf("AppendResponseHead allocates %.2f times per head", n)
	}
	req := []byte("GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: x\r\n\r\n")
	var p RequestParser
	if n := testkit.AllocsPerOp(20, testkit.AllocBatch, func() {
		for in := req; ; {
			ev, k, err := p.Feed(in)
			in = in[k:]
			if err != nil {
				panic(err)
			}
			if ev == EventNone {
				break
			}
		}
	}); n != 0 {
		t.Errorf("parsing a keep-alive GET allocates %.2f times per request", n)
	}
}
