package resp

import (
	"github.com/egress-go/egress/internal/bufpool"
)

// Decoder turns a stream of RESP2 or RESP3 bytes, cut at arbitrary points,
// into values. It is driven from a connection's data callback with Feed.
//
// A zero Decoder is ready to use with default Limits. A Decoder is not safe
// for concurrent use.
type Decoder struct {
	lim  Limits
	init bool

	top   Value // the reply being emitted
	arena arena // children of top

	// While a reply is incomplete, pending is set and buf holds its bytes
	// from the first; the scanner has checked buf up to spos, where the
	// next element starts, and knows the nesting from stack. buf holds
	// only this reply's bytes and goes back to the pool when it completes.
	pending     bool
	buf         []byte
	spos        int
	need        int // from token: length buf must reach, or needLine
	stack       []level
	attrPending bool // the last element read was an attribute

	// values counts the values of the reply being parsed or scanned, for
	// Limits.MaxReplyValues.
	values int64

	err error
}

// NewDecoder returns a Decoder that enforces lim; zero fields of lim take
// their defaults.
func NewDecoder(lim Limits) *Decoder {
	return &Decoder{lim: lim.withDefaults(), init: true}
}

// Limits returns the limits the decoder enforces, with defaults filled in.
func (d *Decoder) Limits() Limits {
	d.setup()
	return d.lim
}

// setup fills in default limits on first use, which is what makes the zero
// Decoder usable.
func (d *Decoder) setup() {
	if !d.init {
		d.lim = d.lim.withDefaults()
		d.init = true
	}
}

// Buffered returns the number of bytes held for a reply that has not fully
// arrived. It is zero between replies: the decoder then holds no buffer.
func (d *Decoder) Buffered() int { return len(d.buf) }

// Reset discards a partial reply, returns its buffer to the pool and clears
// a sticky error, so the decoder can start on a new stream.
func (d *Decoder) Reset() {
	d.dropPending()
	d.err = nil
}

// Feed consumes data and calls emit with each complete top-level value
// (reply or push), in order.
//
// The Value, and every slice reachable from it, belongs to the decoder and
// is valid only until emit returns; use Value.Clone to keep it. A value that
// lies whole inside data refers into data and is delivered without copying
// anything. Only a reply that is cut off at the end of data is copied, into
// a pooled buffer that is returned as soon as the reply completes.
//
// Decoding stops at the first error: a *ProtocolError for malformed input, a
// *LimitError for input beyond the decoder's Limits, or an error returned
// by emit. The error is sticky: every later Feed returns it without looking
// at its input, until Reset, as the stream is no longer in sync. Feed must
// not be called from inside emit.
func (d *Decoder) Feed(data []byte, emit func(v *Value) error) error {
	if d.err != nil {
		return d.err
	}
	d.setup()
	if d.pending {
		rest, done, err := d.more(data)
		if err == nil && done {
			err = d.emitPending(emit)
		}
		if err != nil || !done {
			return d.fail(err)
		}
		data = rest
	}
	for len(data) > 0 {
		n, err := d.parseReply(data)
		if err == nil {
			err = emit(&d.top)
			d.clearTop()
			if err != nil {
				return d.fail(err)
			}
			data = data[n:]
			continue
		}
		d.clearTop()
		if err != errIncomplete {
			return d.fail(err)
		}
		// The reply runs past the end of data: copy it out and follow it
		// with the scanner, which reads each byte once however the rest
		// arrives. The whole of data belongs to this reply.
		d.pending = true
		d.buf = bufpool.Get(len(data))
		d.spos, d.need, d.attrPending, d.values = 0, needLine, false, 0
		rest, done, err := d.more(data)
		if err == nil && done {
			err = d.emitPending(emit)
		}
		if err != nil || !done {
			return d.fail(err)
		}
		data = rest
	}
	return nil
}

// emitPending parses the completed reply in buf, emits it and drops the
// buffer.
func (d *Decoder) emitPending(emit func(*Value) error) error {
	n, err := d.parseReply(d.buf)
	if err == nil && n != len(d.buf) || err == errIncomplete {
		// The scanner and the parser disagree about where the reply
		// ends. That is a bug here, not in the input, but the stream can
		// no longer be followed either way.
		err = protocolError("reply framing inconsistent", d.buf)
	}
	if err == nil {
		err = emit(&d.top)
	}
	d.clearTop()
	d.dropPending()
	return err
}

// clearTop forgets the emitted value and its children, so that nothing
// keeps the caller's input or the pooled buffer reachable.
func (d *Decoder) clearTop() {
	d.top = Value{}
	d.arena.release()
}

// dropPending returns the buffer of an incomplete reply to the pool.
func (d *Decoder) dropPending() {
	if d.buf != nil {
		bufpool.Put(d.buf)
		d.buf = nil
	}
	d.pending = false
	d.spos, d.need, d.attrPending, d.values = 0, needLine, false, 0
	if cap(d.stack) > 16 {
		d.stack = nil // a rare deep reply: do not keep its stack
	}
	d.stack = d.stack[:0]
}

// fail makes err sticky. It is a no-op for nil.
func (d *Decoder) fail(err error) error {
	if err == nil {
		return nil
	}
	d.dropPending()
	d.clearTop()
	d.err = err
	return err
}

// parseReply decodes the reply that b starts with into d.top.
func (d *Decoder) parseReply(b []byte) (int, error) {
	d.values = 0
	return d.parse(b, 0, &d.top, 0)
}

// parse decodes the complete value at b[pos] into v, giving aggregates
// their children from the arena, and returns the position after it.
// depth is the number of aggregates around v.
func (d *Decoder) parse(b []byte, pos int, v *Value, depth int) (int, error) {
	next, n, err := d.lim.token(b, pos, v)
	if err != nil || !v.Type.aggregate() || v.Null {
		return next, err
	}
	if depth >= d.lim.MaxDepth {
		return 0, &LimitError{Limit: "nesting depth", Got: int64(depth) + 1, Max: int64(d.lim.MaxDepth)}
	}
	if err := d.countValues(n); err != nil {
		return 0, err
	}
	// A header that announces more values than the remaining input could
	// hold means the reply is incomplete; saying so now, before reserving
	// room for the children, keeps a huge announced count from costing
	// memory.
	if n > (len(b)-next)/minValueLen {
		return 0, errIncomplete
	}
	elems := d.arena.alloc(n)
	for i := range elems {
		if next, err = d.parse(b, next, &elems[i], depth+1); err != nil {
			return 0, err
		}
	}
	if v.Type != Attribute {
		v.Elems = elems
		return next, nil
	}
	// An attribute annotates the value after it, which takes its place.
	if next < len(b) && b[next] == byte(Attribute) {
		return 0, protocolError("attribute followed by attribute", b[next:])
	}
	if next, err = d.parse(b, next, v, depth); err != nil {
		return 0, err
	}
	v.Attrs = elems
	return next, nil
}

// countValues adds the n children of an aggregate header to the reply's
// count of values, and fails once that passes MaxReplyValues: before the
// children are reserved (parse) or awaited (scan).
func (d *Decoder) countValues(n int) error {
	d.values += int64(n)
	if d.values > d.lim.MaxReplyValues {
		return &LimitError{Limit: "reply values", Got: d.values, Max: d.lim.MaxReplyValues}
	}
	return nil
}
