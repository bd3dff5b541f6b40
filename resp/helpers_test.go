package resp

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
)

// Constructors for expected values.

func simple(s string) Value  { return Value{Type: SimpleString, Str: []byte(s)} }
func errVal(s string) Value  { return Value{Type: SimpleError, Str: []byte(s)} }
func blobErr(s string) Value { return Value{Type: BlobError, Str: []byte(s)} }
func bulk(s string) Value    { return Value{Type: BulkString, Str: []byte(s)} }
func integer(i int64) Value  { return Value{Type: Integer, Int: i} }
func double(f float64) Value { return Value{Type: Double, Float: f} }
func boolean(b bool) Value   { return Value{Type: Boolean, Bool: b} }
func bignum(s string) Value  { return Value{Type: BigNumber, Str: []byte(s)} }
func null() Value            { return Value{Type: Null} }
func nilBulk() Value         { return Value{Type: BulkString, Null: true} }
func nilArray() Value        { return Value{Type: Array, Null: true} }
func arr(e ...Value) Value   { return Value{Type: Array, Elems: e} }
func set(e ...Value) Value   { return Value{Type: Set, Elems: e} }
func push(e ...Value) Value  { return Value{Type: Push, Elems: e} }
func mapOf(e ...Value) Value { return Value{Type: Map, Elems: e} }
func verbatim(f, s string) Value {
	v := Value{Type: VerbatimString, Str: []byte(s)}
	copy(v.Format[:], f)
	return v
}
func withAttrs(v Value, attrs ...Value) Value {
	if attrs == nil {
		attrs = []Value{}
	}
	v.Attrs = attrs
	return v
}

// equal compares values deeply. NaN equals NaN; nil and empty element lists
// are equal, but a nil Attrs differs from an empty one, as the encoding
// differs.
func equal(a, b *Value) bool {
	if a.Type != b.Type || a.Null != b.Null || a.Bool != b.Bool || a.Format != b.Format ||
		a.Int != b.Int || !bytes.Equal(a.Str, b.Str) {
		return false
	}
	if math.Float64bits(a.Float) != math.Float64bits(b.Float) && !(math.IsNaN(a.Float) && math.IsNaN(b.Float)) {
		return false
	}
	if (a.Attrs == nil) != (b.Attrs == nil) {
		return false
	}
	return equalList(a.Elems, b.Elems) && equalList(a.Attrs, b.Attrs)
}

func equalList(a, b []Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !equal(&a[i], &b[i]) {
			return false
		}
	}
	return true
}

// outcome is everything a decoder produced for a stream.
type outcome struct {
	vals     []Value // clones of the emitted values
	err      error
	buffered int // Buffered() at the end when there was no error
}

func (o outcome) String() string {
	var b strings.Builder
	for i := range o.vals {
		fmt.Fprintf(&b, "  %v\n", o.vals[i].String())
	}
	fmt.Fprintf(&b, "  err: %v, buffered %d", o.err, o.buffered)
	return b.String()
}

// errSig summarises an error for comparison across different cuts of the
// same stream: the quoted excerpt of a protocol error depends on how much
// input was at hand, the problem does not.
func errSig(err error) string {
	var pe *ProtocolError
	var le *LimitError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &pe):
		return "protocol: " + pe.Problem
	case errors.As(err, &le):
		return le.Error()
	}
	return "other: " + err.Error()
}

func (o outcome) same(p outcome) bool {
	return equalList(o.vals, p.vals) && errSig(o.err) == errSig(p.err) && o.buffered == p.buffered
}

// decode feeds the chunks to d in order, cloning each value, and stops at
// the first error. Each chunk is a private copy that is overwritten after
// Feed returns, so a decoder that keeps referring to its input is caught by
// the comparison of results.
func decode(d *Decoder, chunks [][]byte) outcome {
	var o outcome
	emit := func(v *Value) error {
		o.vals = append(o.vals, v.Clone())
		return nil
	}
	for _, c := range chunks {
		c = bytes.Clone(c)
		err := d.Feed(c, emit)
		for i := range c {
			c[i] = '?'
		}
		if err != nil {
			o.err = err
			if again := d.Feed([]byte("+OK\r\n"), emit); again != err {
				o.err = fmt.Errorf("error not sticky: %v, then %v", err, again)
			}
			return o
		}
	}
	o.buffered = d.Buffered()
	return o
}

func mustEncode(vals ...Value) []byte {
	var b []byte
	for i := range vals {
		var err error
		if b, err = AppendValue(b, &vals[i]); err != nil {
			panic(err)
		}
	}
	return b
}
