package http1

import (
	"bytes"
	"errors"
	"sync"

	"github.com/egress-go/egress/internal/bufpool"
)

// state is where a parser stands in a message. The head states are driven
// by each parser; the body states (stLength to stClose) by bodyFramer.
type state uint8

const (
	stHead      state = iota // reading a head (interim or final)
	stLength                 // reading a body of known length
	stChunkLine              // reading a chunk-size line
	stChunkData              // reading chunk data
	stChunkEnd               // reading the CRLF after chunk data
	stTrailer                // reading the trailer section
	stClose                  // reading a body delimited by the connection's end
	stEnd                    // complete; EventDone is reported next
	stDone                   // complete and reported
)

// fieldPool holds the slices that index the fields of a head. A parser
// takes one while a head's fields are exposed and gives it back at its
// next call, so an idle connection keeps none.
var fieldPool = sync.Pool{New: func() any { s := make([]RawField, 0, 16); return &s }}

// bodyFramer is the part of message parsing that requests and responses
// share, embedded by ResponseParser and RequestParser: the body framing of
// RFC 9112 §6 and §7.1 (a Content-Length countdown, chunk-size lines,
// chunk data, the CRLF after it, the trailer section), the memory that
// heads and trailers have in common (the buffer for a section split across
// inputs, the pooled fields exposed until the next call), and the sticky
// error.
//
// Each parser reads its own head, on its own start line and rules, through
// readSection, then calls startBody with what the fields said, and hands
// Feed calls in a body state to feedBody. What differs between the two
// (the head limit's sentinel, what an end of connection means, what a
// message without Content-Length or chunked framing is) stays with the
// parser: the framer reports, the parser words its own errors.
type bodyFramer struct {
	state state
	err   error // sticky: once set, every call returns it until Reset

	buf      []byte // pooled: the start of a section split across inputs
	scan     sectionScan
	secBytes int // bytes of the current section received so far

	fields    *[]RawField // pooled: the fields exposed until the next call
	isTrailer bool        // whether they are trailer fields, not head fields
	body      []byte

	contentLength int64 // with the meaning of http.Response.ContentLength
	remaining     int64 // bytes left in the body or current chunk
	bodyRead      int64

	chunk chunkLine
	crlf  uint8 // bytes of the CRLF after chunk data seen so far

	chunked bool // Transfer-Encoding: chunked was announced
}

// fail makes err sticky and gives back all pooled memory: nothing more
// will be parsed on this connection. The slices a parser exposes of its
// own (a reason, a method, a target) are set only when a head is
// reported, never in a call that fails, so they need no clearing here.
func (f *bodyFramer) fail(err error) error {
	f.releaseAll()
	f.err = err
	return err
}

// release drops what the previous event exposed. A buffer that holds an
// unfinished section is kept.
func (f *bodyFramer) release() {
	f.body = nil
	if f.fields != nil {
		clear(*f.fields) // drop references into the caller's input
		*f.fields = (*f.fields)[:0]
		fieldPool.Put(f.fields)
		f.fields = nil
	}
	if f.buf != nil && f.secBytes == 0 {
		f.putBuf()
	}
}

// releaseAll gives back all pooled memory, an unfinished section's buffer
// included: for a parser that failed, is reset or goes idle.
func (f *bodyFramer) releaseAll() {
	f.release()
	if f.buf != nil {
		f.putBuf()
	}
}

func (f *bodyFramer) putBuf() {
	bufpool.Put(f.buf)
	f.buf = nil
}

// startSection prepares to scan a new head or trailer section.
func (f *bodyFramer) startSection() {
	f.scan, f.secBytes = sectionScan{}, 0
}

// readSection consumes bytes of a head or trailer section from b. used is
// what already counts against limit before this section (earlier interim
// heads, skipped empty lines); tooLarge is the sentinel of the LimitError
// for a section over it. It returns the bytes consumed and, once the
// section is complete, the section itself, which lies in b when it arrived
// whole and in the pooled buffer otherwise. Until then it buffers all of b.
func (f *bodyFramer) readSection(b []byte, limit, used int, tooLarge error) (int, []byte, error) {
	// Limits lowered in the middle of a message must not make this
	// negative.
	avail := max(limit-used-f.secBytes, 0)
	// Scanning only up to the limit makes the result independent of how
	// the input was split: an oversized section fails at the same byte
	// whether it came whole or in pieces.
	end, err := f.scan.scan(f.buf, b[:min(len(b), avail)])
	if err != nil {
		return 0, nil, err
	}
	if end < 0 {
		if len(b) > avail {
			return 0, nil, &LimitError{Err: tooLarge, Limit: limit}
		}
		f.buf = append(bufpool.Grow(f.buf, len(b)), b...)
		f.secBytes += len(b)
		return len(b), nil, nil
	}
	sec := b[:end]
	if f.secBytes > 0 {
		f.buf = append(bufpool.Grow(f.buf, end), sec...)
		sec = f.buf
		f.secBytes = 0 // complete: the buffer goes back at the next call
	}
	return end, sec, nil
}

func (f *bodyFramer) takeFields() []RawField {
	if f.fields == nil {
		f.fields = fieldPool.Get().(*[]RawField)
	}
	return (*f.fields)[:0]
}

// parseHeadFields parses the field lines of a complete head, those after
// its start line, and exposes them until the next call.
// With unfold set (a response), obsolete line folding is undone as RFC
// 9112 §5.2 asks of a user agent: each fold becomes one space, in a copy
// of the section, so that the common case pays nothing.
func (f *bodyFramer) parseHeadFields(sec []byte, l *Limits, unfold bool) ([]RawField, error) {
	fields, err := parseFields(f.takeFields(), sec, l.maxFields(), ErrTooManyFields)
	if unfold && errors.Is(err, ErrObsFold) {
		if u, ok := unfoldSection(sec); ok {
			fields, err = parseFields(f.takeFields(), u, l.maxFields(), ErrTooManyFields)
		}
	}
	*f.fields = fields
	f.isTrailer = false
	return fields, err
}

// scanWholeFields parses the field lines of a head from b[off:] up to and
// including the blank line that ends it, in one pass, and exposes them
// until the next call as parseHeadFields does. It returns the offset just
// past the blank line. It reports false, exposing nothing, unless the
// whole section is in b, is valid and has at most limit fields: it accepts
// exactly what the scanner and parseFields accept together, and leaves
// everything else, errors included, to them.
func (f *bodyFramer) scanWholeFields(b []byte, off, limit int) ([]RawField, int, bool) {
	fields := f.takeFields()
	for off < len(b) {
		if b[off] == '\r' {
			if off+1 < len(b) && b[off+1] == '\n' {
				*f.fields = fields
				f.isTrailer = false
				return fields, off + 2, true
			}
			break
		}
		// The name runs up to the colon, all of it tchars: a line that
		// starts with whitespace (obs-fold) or holds anything else
		// before the colon is not handled here.
		start := off
		for off < len(b) && byteClass[b[off]]&classToken != 0 {
			off++
		}
		if off == start || off == len(b) || b[off] != ':' {
			break
		}
		name := b[start:off]
		off++
		for off < len(b) && isOWS(b[off]) {
			off++
		}
		// The value runs up to the first byte that cannot be in one,
		// which must be the CR of the line's CRLF.
		start = off
		off = valueEnd(b, off)
		if off+1 >= len(b) || b[off] != '\r' || b[off+1] != '\n' || len(fields) >= limit {
			break
		}
		end := off
		for end > start && isOWS(b[end-1]) {
			end--
		}
		fields = append(fields, RawField{Name: name, Value: b[start:end]})
		off += 2
	}
	// Give the slice back at once: the general path may now wait for
	// more input, and a parser holds no fields while it waits.
	clear(fields)
	*f.fields = fields[:0]
	fieldPool.Put(f.fields)
	f.fields = nil
	return nil, 0, false
}

// headFields returns the fields of the head just reported, or nil.
func (f *bodyFramer) headFields() []RawField {
	if f.fields == nil || f.isTrailer {
		return nil
	}
	return *f.fields
}

// trailerFields returns the trailer fields just reported, or nil.
func (f *bodyFramer) trailerFields() []RawField {
	if f.fields == nil || !f.isTrailer {
		return nil
	}
	return *f.fields
}

// framing is what the fields of a head say about connection and length.
type framing struct {
	length       int64 // the Content-Length value, or -1 without one
	chunked      bool  // Transfer-Encoding: chunked
	closeTok     bool  // Connection: close
	keepAliveTok bool  // Connection: keep-alive
}

// readFraming extracts and checks the framing fields of a head. When
// check is false (a 2xx answer to CONNECT, whose Content-Length and
// Transfer-Encoding RFC 9110 §9.3.6 has the client ignore) only Connection
// is read.
func readFraming(fields []RawField, minor int, check bool) (framing, error) {
	fr := framing{length: -1}
	var cl, te []byte
	var clField, teField RawField // for errors: the field as received
	teCount := 0
	for _, f := range fields {
		// Most fields are none of the three, and the length tells so
		// at once.
		switch len(f.Name) {
		case len("Connection"), len("Content-Length"), len("Transfer-Encoding"):
		default:
			continue
		}
		switch {
		case isField(f.Name, "Connection"):
			closeTok, keepAliveTok := connectionTokens(f.Value)
			fr.closeTok = fr.closeTok || closeTok
			fr.keepAliveTok = fr.keepAliveTok || keepAliveTok
		case !check:
		case isField(f.Name, "Content-Length"):
			// Repeats of one value are tolerated, as RFC 9110 §8.6
			// allows and net/http does; different values mean two parties
			// could disagree on where the body ends.
			if cl != nil && !bytes.Equal(cl, f.Value) {
				return fr, protoErr(ErrConflictingLength, joinSeen(clField, f))
			}
			cl, clField = f.Value, f
		case isField(f.Name, "Transfer-Encoding"):
			te, teField = f.Value, f
			teCount++
		}
	}
	if cl != nil {
		var ok bool
		if fr.length, ok = parseContentLength(cl); !ok {
			return fr, protoErr(ErrBadContentLength, joinSeen(clField))
		}
	}
	if teCount > 0 {
		// A message with both is either an attack or a broken server;
		// RFC 9112 §6.3 says it "ought to be handled as an error" and a
		// client loses nothing by doing so.
		if cl != nil {
			return fr, protoErr(ErrLengthAndChunked, joinSeen(clField, teField))
		}
		// Only a single "chunked" is supported, like net/http and nginx:
		// other codings are not used in practice, and each extra form
		// accepted is one more way for two parsers to disagree. HTTP/1.0
		// has no Transfer-Encoding at all (RFC 9112 §6.1).
		if teCount > 1 || minor == 0 || !equalFold(te, "chunked") {
			return fr, protoErr(ErrUnsupportedTransferEncoding, joinSeen(teField))
		}
		fr.chunked = true
	}
	return fr, nil
}

// isField reports whether a field's name is canon, ignoring case. Servers
// nearly always send the canonical spelling, which one comparison of
// memory confirms.
func isField(name []byte, canon string) bool {
	return string(name) == canon || equalFold(name, canon)
}

// connectionTokens reports whether a Connection value lists close and
// keep-alive. A value that is just one of them, as servers send it, is
// recognised without splitting the list.
func connectionTokens(v []byte) (closeTok, keepAliveTok bool) {
	switch string(v) {
	case "keep-alive":
		return false, true
	case "close":
		return true, false
	}
	return hasToken(v, "close"), hasToken(v, "keep-alive")
}

// joinSeen renders fields as received, "Name: value" separated by
// CRLF, to quote them in an error.
func joinSeen(fields ...RawField) []byte {
	var s []byte
	for i, f := range fields {
		if i > 0 {
			s = append(s, "\r\n"...)
		}
		s = append(s, f.Name...)
		s = append(s, ": "...)
		s = append(s, f.Value...)
	}
	return s
}

// startBody sets up the framing a head announced, chunked or with a
// Content-Length, and reports whether there was one. A message with
// neither is not the framer's to decide: a request has no body, a
// response runs until the connection ends. An empty Content-Length body
// leaves the message complete (stEnd).
func (f *bodyFramer) startBody(fr framing) bool {
	switch {
	case fr.chunked:
		f.chunked, f.contentLength, f.state = true, -1, stChunkLine
		f.chunk.reset()
	case fr.length > 0:
		f.contentLength, f.remaining, f.state = fr.length, fr.length, stLength
	case fr.length == 0:
		f.contentLength, f.state = 0, stEnd
	default:
		return false
	}
	return true
}

// feedBody consumes body framing from in, in one of the body states, and
// reports the first event it completes, as Feed does: EventNone means
// all of in was consumed, and an error is sticky. It leaves the body
// states only with an event (the last EventBody of a Content-Length body,
// EventTrailers, or EventDone after an empty trailer section), so the
// parser's own states are never entered from here within one call.
func (f *bodyFramer) feedBody(in []byte, l *Limits) (Event, int, error) {
	ev, n, err := f.frameBody(in, l)
	if err != nil {
		return EventNone, n, f.fail(err)
	}
	return ev, n, nil
}

// frameBody is feedBody without making its errors sticky.
func (f *bodyFramer) frameBody(in []byte, l *Limits) (Event, int, error) {
	n := 0
	for n < len(in) {
		switch f.state {
		case stClose:
			// Everything up to the connection's end is body.
			f.body = in[n:]
			f.bodyRead += int64(len(f.body))
			return EventBody, len(in), nil

		case stLength, stChunkData:
			k := min(int64(len(in)-n), f.remaining)
			f.body = in[n : n+int(k)]
			f.bodyRead += k
			f.remaining -= k
			if f.remaining == 0 {
				if f.state == stLength {
					f.state = stEnd
				} else {
					f.state, f.crlf = stChunkEnd, 0
				}
			}
			return EventBody, n + int(k), nil

		case stChunkLine:
			m, done, err := f.chunk.feed(in[n:])
			n += m
			if err != nil || !done {
				return EventNone, n, err
			}
			if f.chunk.size == 0 {
				f.state = stTrailer
				f.startSection()
			} else {
				f.state, f.remaining = stChunkData, f.chunk.size
			}

		case stChunkEnd:
			// The CRLF may be split across inputs too: crlf counts the
			// bytes of it already seen.
			c := in[n]
			if c != "\r\n"[f.crlf] {
				if c == '\n' {
					return EventNone, n, protoErr(ErrBareLF, in[n:n+1])
				}
				seen := [2]byte{'\r', c}
				return EventNone, n, protoErr(ErrMissingChunkCRLF, seen[1-f.crlf:])
			}
			n++
			if f.crlf++; f.crlf == 2 {
				f.state = stChunkLine
				f.chunk.reset()
			}

		case stTrailer:
			m, sec, err := f.readSection(in[n:], l.maxTrailerBytes(), 0, ErrTrailerTooLarge)
			n += m
			if err != nil || sec == nil {
				return EventNone, n, err
			}
			ev, err := f.parseTrailer(sec, l)
			return ev, n, err

		default:
			// Not a body state: a parser bug. Consuming nothing would
			// spin this loop, so stop loudly instead.
			panic("http1: feedBody outside a body")
		}
	}
	return EventNone, n, nil
}

// parseTrailer parses a complete trailer section.
func (f *bodyFramer) parseTrailer(sec []byte, l *Limits) (Event, error) {
	f.state = stEnd
	if len(sec) == 2 { // just the blank line: no trailer fields
		f.state = stDone
		f.releaseAll() // nothing refers to the buffer: keep none while idle
		return EventDone, nil
	}
	fields, err := parseFields(f.takeFields(), sec, l.maxTrailers(), ErrTooManyTrailers)
	*f.fields = fields
	if err != nil {
		return EventNone, err
	}
	f.isTrailer = true
	return EventTrailers, nil
}

// truncation says what an end of connection in a body state cut short:
// the length announced (-1 once a chunked body is being read) and the
// body bytes that came. Each parser turns it into its own error.
func (f *bodyFramer) truncation() (expected, got int64) {
	if f.state == stLength {
		return f.contentLength, f.bodyRead
	}
	return -1, f.bodyRead
}
