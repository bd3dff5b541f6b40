package http1

import (
	"bytes"
	"net/http"
	"strconv"
)

// Event is what a call to ResponseParser.Feed has to report.
type Event uint8

const (
	// EventNone: all input was consumed and nothing is complete yet;
	// feed more when it arrives.
	EventNone Event = iota
	// EventInformational: a 1xx interim response head (100 Continue,
	// 103 Early Hints, ...) is available through StatusCode, Fields and
	// the other head accessors. The final response follows; keep feeding.
	EventInformational
	// EventHead: the final response head is available. Body events, if
	// any, follow.
	EventHead
	// EventBody: Body holds the next piece of the body, a sub-slice of
	// the input.
	EventBody
	// EventTrailers: the trailer fields of a chunked body are available
	// through TrailerFields and Trailer.
	EventTrailers
	// EventDone: the response is complete.
	EventDone
)

var eventNames = [...]string{"None", "Informational", "Head", "Body", "Trailers", "Done"}

// String returns the event's name, such as "Head".
func (e Event) String() string {
	if int(e) < len(eventNames) {
		return eventNames[e]
	}
	return "Event(" + strconv.Itoa(int(e)) + ")"
}

type methodKind uint8

const (
	methodOther methodKind = iota
	methodHead
	methodConnect
)

// ResponseParser is an incremental HTTP/1.1 response parser: a pure codec
// that an event loop feeds with bytes as they arrive and that reports what
// they complete. It makes no system calls, starts no goroutines, and
// refers to its input only until the next call.
//
// A parser parses one response at a time. Reset prepares it for the next
// one and says which method the request used. The zero value is ready to
// parse a response to a request that is not HEAD or CONNECT. A parser is
// not safe for concurrent use.
//
// # Memory
//
// Body bytes are never copied: EventBody hands out a sub-slice of the
// input. A head or trailer section that arrives whole in one input slice
// is parsed in place; only one that is split across inputs is copied, into
// a buffer from a shared pool that is returned at the next call after the
// section completes. Between responses a parser holds no buffer.
//
// # Validity of returned slices
//
// Body, Reason, Fields, TrailerFields and Get return slices that alias the
// input or the parser's pooled buffer. They are valid until the next call
// to Feed, EOF or Reset, and only as long as the input slice is left
// untouched. Header and Trailer return copies that stay valid.
type ResponseParser struct {
	// Limits bounds the head and trailer sections. Zero fields select the
	// defaults. Set it before the first Feed, not in the middle of a
	// response.
	Limits Limits

	bodyFramer // the state, pooled memory and body framing shared with RequestParser

	method methodKind

	headBytes int // bytes of the heads completed so far (1xx included)
	reason    []byte

	status int
	minor  int

	closeDelim bool
	keepAlive  bool
	tunnel     bool
	hasBody    bool
	lineSeen   bool // the status line of the head being read is whole and checked
}

// Reset prepares p to parse the response to a request made with
// requestMethod: a response to HEAD has no body whatever its fields say,
// and a 2xx response to CONNECT turns the connection into a tunnel. It
// also gives back any pooled memory and clears a previous error.
func (p *ResponseParser) Reset(requestMethod string) {
	p.releaseAll()
	*p = ResponseParser{Limits: p.Limits}
	switch requestMethod {
	case "HEAD":
		p.method = methodHead
	case "CONNECT":
		p.method = methodConnect
	}
}

// Feed parses a prefix of in and reports the first event it completes.
// It returns the event, the number of bytes of in it consumed, and an
// error if the response is malformed or exceeds a limit.
//
// When the event is EventNone, all of in was consumed. Otherwise the
// caller handles the event and calls Feed again with in[n:], even when
// that is empty: an event can follow without more input (EventDone after
// a head with no body, for instance). So the usual loop is
//
//	for {
//		ev, n, err := p.Feed(in)
//		in = in[n:]
//		if err != nil { ... close the connection ... }
//		if ev == http1.EventNone { break }
//		... handle ev ...
//	}
//
// After EventDone, input is an error (ErrExtraData) until Reset: a server
// that sends more than the response it was asked for has lost track of
// the framing, or is answering a request nobody made. The one exception
// is a tunnel (see Tunnel), whose bytes after the head belong to another
// protocol: they must not be fed at all.
//
// Errors are sticky: after one, Feed and EOF return it until Reset.
func (p *ResponseParser) Feed(in []byte) (Event, int, error) {
	p.release()
	if p.err != nil {
		return EventNone, 0, p.err
	}
	switch p.state {
	case stHead:
		if len(in) == 0 {
			return EventNone, 0, nil
		}
		n, ev, err := p.readHead(in)
		if err != nil {
			return EventNone, n, p.fail(err)
		}
		return ev, n, nil

	case stEnd:
		p.state = stDone
		return EventDone, 0, nil

	case stDone:
		if len(in) > 0 {
			return EventNone, 0, p.fail(protoErr(ErrExtraData, in))
		}
		return EventNone, 0, nil
	}
	return p.feedBody(in, &p.Limits)
}

// EOF tells p that the connection has ended (the peer closed it, or a
// read failed). It returns nil if the response is complete, which ends a
// close-delimited body; otherwise it says what was cut short:
// ErrNoResponse if no byte of the response had arrived, ErrHeadTruncated
// inside a head, a *TruncatedError inside a body.
func (p *ResponseParser) EOF() error {
	p.release()
	if p.err != nil {
		return p.err
	}
	switch p.state {
	case stDone, stEnd, stClose:
		p.state = stDone
		return nil
	case stHead:
		if p.headBytes+p.secBytes == 0 {
			return p.fail(ErrNoResponse)
		}
		return p.fail(ErrHeadTruncated)
	default:
		expected, got := p.truncation()
		return p.fail(&TruncatedError{Expected: expected, Got: got})
	}
}

// release drops what the previous event exposed.
func (p *ResponseParser) release() {
	p.reason = nil
	p.bodyFramer.release()
}

// readHead consumes bytes of a head from b. When the head completes it is
// parsed and its event returned; until then everything is buffered and
// EventNone returned.
func (p *ResponseParser) readHead(b []byte) (int, Event, error) {
	// Interim heads count towards the limit too, so that a server cannot
	// stream 1xx responses forever.
	limit := p.Limits.maxHeadBytes()
	if p.secBytes == 0 {
		if n, minor, code, reason, fields, ok := p.readWholeHead(b, limit); ok {
			p.headBytes += n
			ev, err := p.headParsed(minor, code, reason, fields)
			return n, ev, err
		}
	}
	if !p.lineSeen {
		if err := p.checkStatusLine(b, limit); err != nil {
			return 0, EventNone, err
		}
	}
	n, sec, err := p.readSection(b, limit, p.headBytes, ErrHeaderTooLarge)
	if err != nil || sec == nil {
		return n, EventNone, err
	}
	p.headBytes += len(sec)
	p.lineSeen = false // the next head, after a 1xx, has a line of its own
	ev, err := p.parseHead(sec)
	return n, ev, err
}

// checkStatusLine judges the status line of the head being read as soon
// as it is whole, before the rest of the head has come: a peer that is no
// HTTP server (an SSH or SMTP banner, say) then fails at its first line
// rather than when its silence runs into a timeout, with the error a head
// that came whole gets (parseHead), however the input was cut. A line
// ended by a bare LF is left to the section's scanner, which refuses it.
func (p *ResponseParser) checkStatusLine(b []byte, limit int) error {
	avail := max(limit-p.headBytes-p.secBytes, 0)
	j := bytes.IndexByte(b[:min(len(b), avail)], '\n')
	if j < 0 {
		return nil // not whole yet, or over the limit: readSection decides
	}
	p.lineSeen = true
	line := b[:j]
	if p.secBytes > 0 { // its start came in an earlier read
		var joined [128]byte // on the stack: a status line is short
		line = append(append(joined[:0], p.buf[len(p.buf)-p.secBytes:]...), line...)
	}
	if len(line) == 0 || line[len(line)-1] != '\r' {
		return nil
	}
	line = line[:len(line)-1]
	if _, _, _, ok := parseStatusLine(line); !ok {
		return protoErr(ErrBadStatusLine, line)
	}
	return nil
}

// readWholeHead is the fast path of readHead, for a head that arrives
// whole in b, as a response head from a server nearly always does: it
// finds the end of the head and parses it in one pass, where the general
// path scans for the end first and then parses the lines again. It
// handles only a valid head within the limit; for anything else (a head
// that goes on past b, a malformed one, too many fields) it consumes
// nothing and reports false, and the general path, which defines the
// behaviour, runs from the start.
func (p *ResponseParser) readWholeHead(b []byte, limit int) (n, minor, code int, reason []byte, fields []RawField, ok bool) {
	b = b[:min(len(b), max(limit-p.headBytes, 0))]
	i := bytes.IndexByte(b, '\n')
	if i < 1 || b[i-1] != '\r' {
		return
	}
	if minor, code, reason, ok = parseStatusLine(b[:i-1]); !ok {
		return
	}
	if fields, n, ok = p.scanWholeFields(b, i+1, p.Limits.maxFields()); !ok {
		return
	}
	return n, minor, code, reason, fields, true
}

// parseHead parses a complete head: the status line, the fields and the
// blank line.
func (p *ResponseParser) parseHead(sec []byte) (Event, error) {
	i := bytes.IndexByte(sec, '\n') // present: sec ends in CRLF
	line := sec[:max(i-1, 0)]
	minor, code, reason, ok := parseStatusLine(line)
	if !ok {
		return EventNone, protoErr(ErrBadStatusLine, line)
	}
	fields, err := p.parseHeadFields(sec[i+1:], &p.Limits, true)
	if err != nil {
		return EventNone, err
	}
	return p.headParsed(minor, code, reason, fields)
}

// headParsed finishes a head whose status line and fields are parsed.
func (p *ResponseParser) headParsed(minor, code int, reason []byte, fields []RawField) (Event, error) {
	// The framing fields of every head are checked, although an interim
	// response never has content and a 101 hands the connection over: a
	// malformed Content-Length is a broken server wherever it appears,
	// and net/http refuses it too.
	fr, err := readFraming(fields, minor, p.method != methodConnect || code/100 != 2)
	if err != nil {
		return EventNone, err
	}
	p.status, p.minor, p.reason = code, minor, reason
	if code < 200 && code != 101 {
		// Interim response; the final one comes next.
		p.startSection()
		return EventInformational, nil
	}
	p.frame(fr)
	return EventHead, nil
}

// frame decides, from a final head, how the body is delimited and whether
// the connection can be reused (RFC 9112 §6.3 and §9.3).
func (p *ResponseParser) frame(fr framing) {
	// HTTP/1.1 defaults to persistent connections, HTTP/1.0 to closing
	// them unless the server opts in (RFC 9112 §9.3).
	p.keepAlive = !fr.closeTok && (p.minor > 0 || fr.keepAliveTok)
	p.state = stEnd
	p.contentLength = 0

	// After 101 or a 2xx to CONNECT the connection speaks another protocol
	// (or carries a tunnel) right after the head.
	if p.status == 101 || p.method == methodConnect && p.status/100 == 2 {
		p.tunnel, p.keepAlive, p.contentLength = true, false, -1
		return
	}
	p.chunked = fr.chunked
	switch {
	case p.method == methodHead:
		// The fields describe the response a GET would have had.
		p.contentLength = fr.length
	case p.status == 204 || p.status == 304:
		// No content whatever the fields say (RFC 9110 §15.3.5, §15.4.5).
	case p.startBody(fr):
		p.hasBody = p.state != stEnd
	default:
		// Neither: the body runs until the server closes the connection,
		// which therefore cannot be reused.
		p.contentLength, p.hasBody, p.state = -1, true, stClose
		p.closeDelim, p.keepAlive = true, false
	}
}

// StatusCode returns the status code of the last head reported (interim
// or final), or 0 before the first.
func (p *ResponseParser) StatusCode() int { return p.status }

// ProtoMajor returns the major HTTP version of the last head: always 1
// once a head has been reported, 0 before.
func (p *ResponseParser) ProtoMajor() int {
	if p.status == 0 {
		return 0
	}
	return 1
}

// ProtoMinor returns the minor HTTP version of the last head.
func (p *ResponseParser) ProtoMinor() int { return p.minor }

// Reason returns the reason phrase of the last head, possibly empty. See
// ResponseParser for how long it stays valid.
func (p *ResponseParser) Reason() []byte { return p.reason }

// Fields returns the fields of the head just reported by
// EventInformational or EventHead, in the order received. See
// ResponseParser for how long they stay valid.
func (p *ResponseParser) Fields() []RawField { return p.headFields() }

// Get returns the value of the first field of the head just reported
// whose name equals name, ignoring ASCII case, or nil if there is none.
// It does not allocate.
func (p *ResponseParser) Get(name string) []byte { return lookup(p.Fields(), name) }

// Header returns the fields of the head just reported as a new
// http.Header with canonical keys, as http.ReadResponse would build it.
// It allocates; it is meant for the http.RoundTripper path.
func (p *ResponseParser) Header() http.Header { return buildHeader(p.Fields()) }

// HeaderInto is Header with fewer allocations, for a caller that builds
// a Response in one allocation of its own: vals, when it has room for
// every field, holds the header's values instead of a new array, and the
// returned slice, empty with capacity spare, shares the allocation that
// holds the values' bytes (a small body fits there). Both end up referred
// to by the header: the caller must not reuse vals for anything else.
func (p *ResponseParser) HeaderInto(vals []string, spare int) (http.Header, []byte) {
	return buildHeaderInto(p.Fields(), vals, spare)
}

// TrailerFields returns the trailer fields just reported by
// EventTrailers. See ResponseParser for how long they stay valid.
func (p *ResponseParser) TrailerFields() []RawField { return p.trailerFields() }

// Trailer returns the trailer fields just reported as a new http.Header.
func (p *ResponseParser) Trailer() http.Header { return buildHeader(p.TrailerFields()) }

// Body returns the body bytes just reported by EventBody: a sub-slice of
// the input given to Feed.
func (p *ResponseParser) Body() []byte { return p.body }

// BodyRead returns the number of body bytes reported so far.
func (p *ResponseParser) BodyRead() int64 { return p.bodyRead }

// ContentLength returns the length of the final response's body with the
// meaning of http.Response.ContentLength: the Content-Length value, 0 for
// a response that cannot have a body (204, 304), -1 when unknown (chunked,
// close-delimited or a tunnel). For a response to HEAD it is the announced
// Content-Length, or -1, although no body follows.
func (p *ResponseParser) ContentLength() int64 { return p.contentLength }

// Chunked reports whether the final response announced
// "Transfer-Encoding: chunked". Its body is chunked only if it has one
// (see HasBody).
func (p *ResponseParser) Chunked() bool { return p.chunked }

// MayHaveTrailers reports whether a trailer section may follow the body:
// in HTTP/1.1 only a response that announced chunked framing carries one.
func (p *ResponseParser) MayHaveTrailers() bool { return p.chunked }

// CloseDelimited reports whether the final response's body ends only when
// the server closes the connection: it has neither Content-Length nor
// chunked encoding. Such a body completes at EOF, and the connection
// cannot be reused.
func (p *ResponseParser) CloseDelimited() bool { return p.closeDelim }

// HasBody reports whether body bytes may follow the final head. It is
// false for a response to HEAD, a 1xx, 204 or 304 status, a
// Content-Length of 0 and a tunnel.
func (p *ResponseParser) HasBody() bool { return p.hasBody }

// KeepAlive reports whether, once the response is complete, the
// connection may carry another request as far as the server's response
// is concerned: HTTP/1.1 without "Connection: close", or HTTP/1.0 with
// "Connection: keep-alive", and a body that is not close-delimited, and
// not a tunnel. The client's own "Connection: close", a failed or
// incomplete read and idle expiry are for the caller to add.
func (p *ResponseParser) KeepAlive() bool { return p.keepAlive }

// Tunnel reports whether the final response hands the connection over to
// another protocol right after its head: 101 Switching Protocols, or a
// 2xx answer to CONNECT. Content-Length and Transfer-Encoding do not
// apply, and EventDone follows the head at once without consuming input.
// The bytes after the head are not HTTP/1: at EventDone (or already at
// EventHead) the caller takes the rest of its input, and all later input,
// for the new protocol instead of feeding it.
func (p *ResponseParser) Tunnel() bool { return p.tunnel }

// BodyWant is how many more bytes a Content-Length body needs, so that a
// caller reading straight into a buffer of its own can ask the socket for
// no more than the response holds; -1 when the body is chunked or
// delimited by the connection's close, or when no body is being read.
func (p *ResponseParser) BodyWant() int64 {
	if p.err == nil && p.state == stLength {
		return p.remaining
	}
	return -1
}

// Done reports whether the response is complete: EventDone was reported,
// or EOF returned nil.
func (p *ResponseParser) Done() bool { return p.state == stDone }
