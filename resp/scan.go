package resp

import (
	"bytes"
	"math"

	"github.com/egress-go/egress/internal/bufpool"
)

// level is one open aggregate while scanning an incomplete reply.
type level struct {
	left int  // children still to come
	attr bool // an attribute, which does not count as its parent's child
}

// more appends the bytes of the pending reply from data to buf and scans
// them, stopping as soon as the reply is complete. It returns the part of
// data after the reply, and whether the reply is complete.
//
// Bytes are taken a piece at a time so that buf never holds bytes of the
// next reply, and the scanner is only woken when a piece can settle
// something: a whole line, the type byte of an element, a line grown past
// its limit, or the last byte of a bulk string. Every byte is therefore
// searched and copied a bounded number of times, however the reply is cut.
func (d *Decoder) more(data []byte) (rest []byte, done bool, err error) {
	for len(data) > 0 {
		var take int
		wake := false
		if d.need > 0 {
			// Inside a bulk string of known length: no need to look.
			take = min(d.need-len(d.buf), len(data))
			wake = len(d.buf)+take == d.need
			d.buf = appendCapped(d.buf, data[:take], d.need)
		} else {
			wake = d.spos == len(d.buf) // a type byte arrives
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				take, wake = i+1, true
			} else {
				take = len(data)
			}
			d.buf = appendCapped(d.buf, data[:take], d.maxHeld())
			if len(d.buf)-(d.spos+1) >= d.lim.lineMax(d.buf[d.spos])+2 {
				wake = true // token will report the line as too long
			}
		}
		data = data[take:]
		if wake {
			if done, err = d.scan(); err != nil || done {
				return data, done, err
			}
		}
	}
	return data, false, nil
}

// scan reads the elements in buf from spos on, tracking the nesting, until
// the input runs out or the reply that began at buf[0] is complete. It
// applies the same checks as parse, in the same order, so that both report
// the same error for the same input.
func (d *Decoder) scan() (done bool, err error) {
	var v Value // token output; only its type is used
	for {
		if d.attrPending && d.spos < len(d.buf) && d.buf[d.spos] == byte(Attribute) {
			return false, protocolError("attribute followed by attribute", d.buf[d.spos:])
		}
		next, n, err := d.lim.token(d.buf, d.spos, &v)
		if err == errIncomplete {
			d.need = next
			return false, nil
		}
		if err != nil {
			return false, err
		}
		d.spos, d.need = next, needLine
		if v.Type.aggregate() && !v.Null {
			if len(d.stack) >= d.lim.MaxDepth {
				return false, &LimitError{Limit: "nesting depth", Got: int64(len(d.stack)) + 1, Max: int64(d.lim.MaxDepth)}
			}
			if err := d.countValues(n); err != nil {
				return false, err
			}
			if v.Type == Attribute {
				if n == 0 {
					d.attrPending = true
				} else {
					d.stack = append(d.stack, level{left: n, attr: true})
				}
				continue
			}
			d.attrPending = false
			if n > 0 {
				d.stack = append(d.stack, level{left: n})
				continue
			}
		}
		d.attrPending = false
		if d.complete() {
			return true, nil
		}
	}
}

// complete records that a value (not an attribute) has ended, closing
// every aggregate it completes. It reports whether the top-level reply is
// complete.
func (d *Decoder) complete() bool {
	for len(d.stack) > 0 {
		top := &d.stack[len(d.stack)-1]
		if top.left--; top.left > 0 {
			return false
		}
		d.stack = d.stack[:len(d.stack)-1]
		if top.attr {
			// The attribute is complete; the value it annotates is next.
			d.attrPending = true
			return false
		}
	}
	return true
}

// maxHeld is the most bytes a pending reply can need held: MaxReplyLen,
// and a line that ends past it, which is refused only when it ends.
func (d *Decoder) maxHeld() int {
	line := int64(1 + max(d.lim.MaxLineLen, maxHeaderLine) + 2)
	return int(min(saturatingAdd(d.lim.MaxReplyLen, line), math.MaxInt))
}

// appendCapped appends p to the pooled buffer b, moving to a larger pooled
// buffer when needed. Capacity at least doubles on each move, so a reply
// that arrives in many pieces is copied a bounded number of times in total;
// but, when limit > 0, it does not grow beyond limit or what p needs,
// whichever is more, so a huge bulk length announced by a peer reserves
// memory only as the bytes actually arrive, and a reply near MaxReplyLen
// does not reserve twice that.
func appendCapped(b, p []byte, limit int) []byte {
	if cap(b)-len(b) >= len(p) {
		return append(b, p...)
	}
	want := max(len(b)+len(p), 2*cap(b))
	if limit > 0 {
		want = max(len(b)+len(p), min(want, limit))
	}
	nb := bufpool.Get(want)
	nb = append(nb, b...)
	nb = append(nb, p...)
	bufpool.Put(b)
	return nb
}
