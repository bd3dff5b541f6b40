package http1

import (
	"bytes"
	"net/http"
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

	bodyFramer // the state, pooled memory and body framing shared with ResponseParser

	headBytes int // bytes of skipped empty lines before the request line
	method    []byte
	target    []byte

	minor     int
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
			// The next request begins: nothing of this one is kept.
			p.Reset()

		case stHead:
			if n == len(in) {
				return EventNone, n, nil
			}
			m, ev, err := p.readHead(in[n:])
			n += m
			if err != nil {
				return EventNone, n, p.fail(err)
			}
			if ev == EventNone && n < len(in) {
				continue // an empty line before the request line was skipped
			}
			return ev, n, nil

		case stEnd:
			p.state = stDone
			return EventDone, n, nil

		default:
			ev, m, err := p.feedBody(in[n:], &p.Limits)
			return ev, n + m, err
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
	}
	expected, got := p.truncation()
	return p.fail(&truncatedRequest{expected: expected, got: got})
}

// release drops what the previous event exposed.
func (p *RequestParser) release() {
	p.method, p.target = nil, nil
	p.bodyFramer.release()
}

// readHead consumes bytes of a request head from b. It returns EventNone
// with bytes consumed both while the head is incomplete and after
// skipping an empty line before the request line.
func (p *RequestParser) readHead(b []byte) (int, Event, error) {
	n, sec, err := p.readSection(b, p.Limits.maxHeadBytes(), p.headBytes, ErrRequestHeadTooLarge)
	if err != nil || sec == nil {
		return n, EventNone, err
	}
	if len(sec) == 2 { // an empty line before the request line
		p.headBytes += 2
		p.startSection()
		if p.buf != nil {
			p.putBuf() // it held the line's CR; the request line starts afresh
		}
		return n, EventNone, nil
	}
	ev, err := p.parseHead(sec)
	return n, ev, err
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
	fields, err := p.parseHeadFields(sec[i+1:], &p.Limits, false)
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
	p.method, p.target, p.minor = method, target, minor
	p.keepAlive = !fr.closeTok && (minor > 0 || fr.keepAliveTok)
	p.state = stEnd
	p.startBody(fr) // without Content-Length or chunked, a request has no body
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

// Method returns the method of the request whose head was just reported.
func (p *RequestParser) Method() []byte { return p.method }

// Target returns the request-target as received (origin-form
// "/path?query" normally).
func (p *RequestParser) Target() []byte { return p.target }

// ProtoMinor returns the minor version of the request: 0 or 1.
func (p *RequestParser) ProtoMinor() int { return p.minor }

// Fields returns the head's fields in the order received, after
// EventHead.
func (p *RequestParser) Fields() []RawField { return p.headFields() }

// Get returns the value of the first head field named name (ASCII case
// ignored), or nil. It does not allocate.
func (p *RequestParser) Get(name string) []byte { return lookup(p.Fields(), name) }

// Header returns the head's fields as a new http.Header.
func (p *RequestParser) Header() http.Header { return buildHeader(p.Fields()) }

// TrailerFields returns the trailer fields just reported by EventTrailers.
func (p *RequestParser) TrailerFields() []RawField { return p.trailerFields() }

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
