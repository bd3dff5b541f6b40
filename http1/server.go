package http1

import (
	"bytes"
	"net/http"
	"strconv"

	"github.com/egress-go/egress/internal/bufpool"
)

// RequestParser is an incremental HTTP/1.1 request parser, the server-side
// twin of ResponseParser: a pure codec that an event loop feeds with bytes
// as they arrive and that reports what they complete. It makes no system
// calls, starts no goroutines, and refers to its input only until the next
// call.
//
// A parser reads the requests of one connection one after the other. The
// events of a request are EventHead, then EventBody for each piece of the
// body, EventTrailers if a chunked body has trailer fields, and EventDone.
// The call after EventDone starts on the next request, so pipelined
// requests need nothing special: keep feeding the rest of the input. A
// server that answers a request asynchronously simply stops feeding until
// it has answered, keeping the unread input; the parser holds no state
// between requests.
//
// The zero value is ready to use. A parser is not safe for concurrent use.
//
// # Strictness
//
// Requests are framed by the same rules as responses (RFC 9112 §6), and
// refused for the same smuggling vectors: Content-Length together with
// Transfer-Encoding, differing Content-Lengths, a transfer coding other
// than a single chunked, bare LF, obsolete line folding, malformed chunk
// framing. On top of that an HTTP/1.1 request must have exactly one valid
// Host field, the request line must have exactly one space between its
// three parts, and the version must be HTTP/1.x. Empty lines before a
// request line are skipped, as RFC 9112 §2.2 asks (some clients send a
// CRLF after a POST body), and count towards the head limit.
//
// Errors are *ProtocolError or *LimitError values naming the rule, or
// ErrRequestTruncated from EOF; StatusForError gives the status to answer
// with before closing the connection. Errors are sticky until Reset.
//
// # Memory
//
// As with ResponseParser, body bytes are never copied, a head that arrives
// whole is parsed in place, and only a head split across reads is copied
// into a pooled buffer that goes back once it has been reported. Method,
// Target, Fields, Get and Body are valid until the next call.
type RequestParser struct {
	// Limits bounds the request head (MaxHeadBytes, MaxHeaderFields) and
	// the trailer section. Zero fields select the defaults.
	Limits Limits

	state state
	err   error

	buf       []byte // pooled: the start of a section split across inputs
	scan      sectionScan
	secBytes  int // bytes of the current section received so far
	headBytes int // bytes of skipped empty lines before the request line

	fields    *[]RawField
	isTrailer bool
	method    []byte
	target    []byte
	body      []byte

	minor         int
	contentLength int64
	remaining     int64
	bodyRead      int64

	chunk chunkLine
	crlf  uint8

	chunked   bool
	keepAlive bool
	expect100 bool
}

// Reset discards the request in progress and any error, and gives back
// pooled memory. It is needed only to reuse a parser after an error or for
// another connection; between requests of one connection it happens by
// itself.
func (p *RequestParser) Reset() {
	p.releaseAll()
	*p = RequestParser{Limits: p.Limits}
}

// next prepares for the request after a completed one.
func (p *RequestParser) next() {
	limits := p.Limits
	p.releaseAll()
	*p = RequestParser{Limits: limits}
}

// Feed parses a prefix of in and reports the first event it completes,
// exactly as ResponseParser.Feed does: the event, the number of bytes
// consumed, and an error if the request is malformed or over a limit.
// EventNone means all of in was consumed. After any other event, call Feed
// again with in[n:], even when it is empty. After EventDone the next call
// begins the next request on the connection.
func (p *RequestParser) Feed(in []byte) (Event, int, error) {
	p.release()
	if p.err != nil {
		return EventNone, 0, p.err
	}
	n := 0
	for {
		switch p.state {
		case stDone:
			if n == len(in) {
				return EventNone, n, nil
			}
			p.next()

		case stHead, stTrailer:
			if n == len(in) {
				return EventNone, n, nil
			}
			m, ev, err := p.readSection(in[n:])
			n += m
			if err != nil {
				return EventNone, n, p.fail(err)
			}
			if ev == EventNone && n < len(in) {
				continue // an empty line before the request line was skipped
			}
			return ev, n, nil

		case stLength, stChunkData:
			if n == len(in) {
				return EventNone, n, nil
			}
			k := min(int64(len(in)-n), p.remaining)
			p.body = in[n : n+int(k)]
			p.bodyRead += k
			p.remaining -= k
			if p.remaining == 0 {
				if p.state == stLength {
					p.state = stEnd
				} else {
					p.state, p.crlf = stChunkEnd, 0
				}
			}
			return EventBody, n + int(k), nil

		case stChunkLine:
			if n == len(in) {
				return EventNone, n, nil
			}
			m, done, err := p.chunk.feed(in[n:])
			n += m
			if err != nil {
				return EventNone, n, p.fail(err)
			}
			if !done {
				return EventNone, n, nil
			}
			if p.chunk.size == 0 {
				p.state, p.scan, p.secBytes = stTrailer, sectionScan{}, 0
			} else {
				p.state, p.remaining = stChunkData, p.chunk.size
			}

		case stChunkEnd:
			for ; p.crlf < 2 && n < len(in); n++ {
				c := in[n]
				if c == "\r\n"[p.crlf] {
					p.crlf++
					continue
				}
				if c == '\n' {
					return EventNone, n, p.fail(protoErr(ErrBareLF, in[n:n+1]))
				}
				seen := [2]byte{'\r', c}
				return EventNone, n, p.fail(protoErr(ErrMissingChunkCRLF, seen[1-p.crlf:]))
			}
			if p.crlf < 2 {
				return EventNone, n, nil
			}
			p.state = stChunkLine
			p.chunk.reset()

		default: // stEnd
			p.state = stDone
			return EventDone, n, nil
		}
	}
}

// EOF tells p that the connection has ended. It returns nil between
// requests (the usual end of a keep-alive connection), and
// ErrRequestTruncated, with how much of the body arrived, inside one.
func (p *RequestParser) EOF() error {
	p.release()
	if p.err != nil {
		return p.err
	}
	switch p.state {
	case stDone:
		return nil
	case stHead:
		if p.secBytes == 0 {
			return nil // at most some empty lines: no request began
		}
		return p.fail(ErrRequestTruncated)
	case stLength:
		return p.fail(&truncatedRequest{expected: p.contentLength, got: p.bodyRead})
	}
	return p.fail(&truncatedRequest{expected: -1, got: p.bodyRead})
}

// truncatedRequest is ErrRequestTruncated with how much of a body came.
type truncatedRequest struct{ expected, got int64 }

func (e *truncatedRequest) Error() string {
	s := ErrRequestTruncated.Error() + " body after " + strconv.FormatInt(e.got, 10) + " bytes"
	if e.expected >= 0 {
		s += " of " + strconv.FormatInt(e.expected, 10)
	}
	return s
}

func (e *truncatedRequest) Unwrap() error { return ErrRequestTruncated }

func (p *RequestParser) fail(err error) error {
	p.releaseAll()
	p.err = err
	return err
}

func (p *RequestParser) release() {
	p.body, p.method, p.target = nil, nil, nil
	if p.fields != nil {
		clear(*p.fields)
		*p.fields = (*p.fields)[:0]
		fieldPool.Put(p.fields)
		p.fields = nil
	}
	if p.buf != nil && p.secBytes == 0 {
		p.putBuf()
	}
}

func (p *RequestParser) releaseAll() {
	p.release()
	if p.buf != nil {
		p.putBuf()
	}
}

func (p *RequestParser) putBuf() {
	bufpool.Put(p.buf)
	p.buf = nil
}

// readSection consumes bytes of the head or the trailer section. It
// returns EventNone with bytes consumed both while the section is
// incomplete and after skipping an empty line before the request line.
func (p *RequestParser) readSection(b []byte) (int, Event, error) {
	limit, avail := p.Limits.maxHeadBytes(), 0
	var tooLarge error = ErrRequestHeadTooLarge
	if p.state == stTrailer {
		limit, tooLarge = p.Limits.maxTrailerBytes(), ErrTrailerTooLarge
		avail = limit - p.secBytes
	} else {
		avail = limit - p.headBytes - p.secBytes
	}
	avail = max(avail, 0)
	// Scanning only up to the limit makes the outcome independent of how
	// the input was split (see ResponseParser.readSection).
	end, err := p.scan.scan(p.buf, b[:min(len(b), avail)])
	if err != nil {
		return 0, EventNone, err
	}
	if end < 0 {
		if len(b) > avail {
			return 0, EventNone, &LimitError{Err: tooLarge, Limit: limit}
		}
		p.buf = append(bufpool.Grow(p.buf, len(b)), b...)
		p.secBytes += len(b)
		return len(b), EventNone, nil
	}
	sec := b[:end]
	if p.secBytes > 0 {
		p.buf = append(bufpool.Grow(p.buf, end), sec...)
		sec = p.buf
		p.secBytes = 0
	}
	if p.state == stTrailer {
		ev, err := p.parseTrailer(sec)
		return end, ev, err
	}
	if len(sec) == 2 { // an empty line before the request line
		p.headBytes += 2
		p.scan = sectionScan{}
		if p.buf != nil {
			p.putBuf() // it held the line's CR; the request line starts afresh
		}
		return end, EventNone, nil
	}
	ev, err := p.parseHead(sec)
	return end, ev, err
}

// parseHead parses a complete request head and decides the body's framing
// (RFC 9112 §6.3: chunked, else Content-Length, else no body).
func (p *RequestParser) parseHead(sec []byte) (Event, error) {
	i := bytes.IndexByte(sec, '\n')
	line := sec[:max(i-1, 0)]
	method, target, minor, err := parseRequestLine(line)
	if err != nil {
		return EventNone, err
	}
	if p.fields == nil {
		p.fields = fieldPool.Get().(*[]RawField)
	}
	fields, err := parseFields((*p.fields)[:0], sec[i+1:], p.Limits.maxFields(), ErrTooManyFields)
	*p.fields = fields
	if err != nil {
		return EventNone, err
	}
	fr, err := readFraming(fields, minor, true)
	if err != nil {
		return EventNone, err
	}
	var host []byte
	hosts := 0
	for _, f := range fields {
		switch {
		case equalFold(f.Name, "Host"):
			host = f.Value
			hosts++
		case equalFold(f.Name, "Expect"):
			p.expect100 = minor > 0 && equalFold(f.Value, "100-continue")
		}
	}
	switch {
	case hosts > 1:
		return EventNone, protoErr(ErrDuplicateHost, joinSeen(fields...))
	case hosts == 0 && minor > 0:
		return EventNone, protoErr(ErrMissingHost, line)
	case hosts == 1 && len(host) > 0 && !validHost(string(host)):
		return EventNone, protoErr(ErrBadHost, host)
	}
	p.method, p.target, p.minor, p.isTrailer = method, target, minor, false
	p.keepAlive = !fr.closeTok && (minor > 0 || fr.keepAliveTok)
	p.state = stEnd
	switch {
	case fr.chunked:
		p.chunked, p.contentLength, p.state = true, -1, stChunkLine
		p.chunk.reset()
	case fr.length > 0:
		p.contentLength, p.remaining, p.state = fr.length, fr.length, stLength
	}
	if p.state == stEnd {
		p.expect100 = false // nothing to wait for
	}
	return EventHead, nil
}

// parseRequestLine parses
//
//	request-line = method SP request-target SP HTTP-version
//
// with exactly one SP between the parts (RFC 9112 §3: a server that splits
// on any whitespace may disagree with one in front of it). The target may
// hold any visible ASCII byte; its form is the application's business.
func parseRequestLine(line []byte) (method, target []byte, minor int, err error) {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 || !validToken(line[:sp1]) {
		return nil, nil, 0, protoErr(ErrBadRequestLine, line)
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return nil, nil, 0, protoErr(ErrBadRequestLine, line)
	}
	target, version := rest[:sp2], rest[sp2+1:]
	for _, c := range target {
		if c <= ' ' || c >= 0x7f {
			return nil, nil, 0, protoErr(ErrBadRequestLine, line)
		}
	}
	if len(version) != len("HTTP/1.1") || string(version[:5]) != "HTTP/" ||
		!isDigit(version[5]) || version[6] != '.' || !isDigit(version[7]) {
		return nil, nil, 0, protoErr(ErrBadRequestLine, line)
	}
	if version[5] != '1' {
		return nil, nil, 0, protoErr(ErrUnsupportedVersion, version)
	}
	// A later HTTP/1.x is answered as 1.1 (RFC 9110 §2.5).
	return line[:sp1], target, min(int(version[7]-'0'), 1), nil
}

func (p *RequestParser) parseTrailer(sec []byte) (Event, error) {
	p.state = stEnd
	if len(sec) == 2 {
		p.state = stDone
		p.releaseAll()
		return EventDone, nil
	}
	if p.fields == nil {
		p.fields = fieldPool.Get().(*[]RawField)
	}
	fields, err := parseFields((*p.fields)[:0], sec, p.Limits.maxTrailers(), ErrTooManyTrailers)
	*p.fields = fields
	if err != nil {
		return EventNone, err
	}
	p.isTrailer = true
	return EventTrailers, nil
}

// Method returns the method of the request whose head was just reported.
func (p *RequestParser) Method() []byte { return p.method }

// Target returns the request-target as received (origin-form
// "/path?query" normally).
func (p *RequestParser) Target() []byte { return p.target }

// ProtoMinor returns the minor version of the request: 0 or 1.
func (p *RequestParser) ProtoMinor() int { return p.minor }

// Fields returns the head's fields in the order received, after
// EventHead.
func (p *RequestParser) Fields() []RawField {
	if p.fields == nil || p.isTrailer {
		return nil
	}
	return *p.fields
}

// Get returns the value of the first head field named name (ASCII case
// ignored), or nil. It does not allocate.
func (p *RequestParser) Get(name string) []byte { return lookup(p.Fields(), name) }

// Header returns the head's fields as a new http.Header.
func (p *RequestParser) Header() http.Header { return buildHeader(p.Fields()) }

// TrailerFields returns the trailer fields just reported by EventTrailers.
func (p *RequestParser) TrailerFields() []RawField {
	if p.fields == nil || !p.isTrailer {
		return nil
	}
	return *p.fields
}

// Body returns the body bytes just reported by EventBody, a sub-slice of
// the input.
func (p *RequestParser) Body() []byte { return p.body }

// BodyRead returns the number of body bytes reported so far.
func (p *RequestParser) BodyRead() int64 { return p.bodyRead }

// ContentLength returns the announced body length: 0 for a request with
// no body, -1 for a chunked one.
func (p *RequestParser) ContentLength() int64 { return p.contentLength }

// Chunked reports whether the body is chunked.
func (p *RequestParser) Chunked() bool { return p.chunked }

// HasBody reports whether body events follow the head.
func (p *RequestParser) HasBody() bool { return p.contentLength != 0 }

// KeepAlive reports whether the client lets the connection carry another
// request after this one: HTTP/1.1 without "Connection: close", or
// HTTP/1.0 with "Connection: keep-alive".
func (p *RequestParser) KeepAlive() bool { return p.keepAlive }

// ExpectContinue reports whether the client sent "Expect: 100-continue"
// with a body and waits for a 100 (Continue) before sending it (see
// AppendContinue). A server that would refuse the body answers with the
// final status instead and closes the connection.
func (p *RequestParser) ExpectContinue() bool { return p.expect100 }

// Done reports whether the request is complete: EventDone was reported.
func (p *RequestParser) Done() bool { return p.state == stDone }
