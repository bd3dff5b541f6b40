package resp

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/egress-go/egress/internal/bufpool"
	"github.com/egress-go/egress/internal/testkit"
)

var fuzzLimits = []Limits{
	{}, // defaults
	{MaxBulkLen: 16, MaxAggregateLen: 6, MaxDepth: 3, MaxLineLen: 12},
	// Whole-reply limits tighter than the per-element ones allow.
	{MaxBulkLen: 40, MaxLineLen: 12, MaxReplyLen: 48, MaxReplyValues: 5},
}

// FuzzDecoder feeds arbitrary input, cut in arbitrary ways, and checks that
// the decoder never panics, that every cut yields the same values and the
// same error as feeding the input whole, that every value it produces
// encodes and decodes back to itself, and that hostile input costs bounded
// memory (see checkMemory).
func FuzzDecoder(f *testing.F) {
	for _, tc := range replyCases {
		f.Add([]byte(tc.in), []byte{3, 1}, uint8(0))
	}
	for _, tc := range malformedCases {
		f.Add([]byte(tc.in), []byte{0}, uint8(1))
	}
	f.Add(mustEncode(allTypes...), []byte{5, 0, 9}, uint8(0))
	// Large announcements of which part comes, and over-long lines.
	f.Add([]byte("*2\r\n$100000\r\nab"), []byte{4, 9, 1}, uint8(0))
	f.Add([]byte("$100000\r\n"+strings.Repeat("x", 1000)), []byte{15}, uint8(0))
	f.Add([]byte("*2\r\n$10\r\nab"), []byte{4, 9, 1}, uint8(1))
	f.Add([]byte("*2\r\n$100\r\nab"), []byte{4, 9, 1}, uint8(1))
	f.Add([]byte("+a simple string that goes on"), []byte{2, 0, 1}, uint8(1))
	// Replies at and past the whole-reply limits of fuzzLimits[2], and a
	// header that announces more than they allow.
	f.Add([]byte("*2\r\n$16\r\n0123456789abcdef\r\n$16\r\n0123456789abcdef\r\n"), []byte{3, 1}, uint8(2))
	f.Add([]byte("*2\r\n$16\r\n0123456789abcdef\r\n$15\r\n0123456789abcde\r\n+OK\r\n"), []byte{7, 2}, uint8(2))
	f.Add([]byte("*3\r\n*2\r\n:1\r\n:2\r\n%1\r\n:3\r\n:4\r\n"), []byte{1}, uint8(2))
	f.Add([]byte("|1\r\n+a\r\n+b\r\n*3\r\n:1\r\n:2\r\n:3\r\n"), []byte{2, 5}, uint8(2))
	f.Add([]byte("*20\r\n"), []byte{0}, uint8(2))
	f.Add([]byte("*1\r\n$40\r\n"), []byte{4}, uint8(2))
	f.Fuzz(func(t *testing.T, data, cuts []byte, sel uint8) {
		lim := fuzzLimits[int(sel)%len(fuzzLimits)]
		d := NewDecoder(lim)
		want := decode(d, testkit.Whole(data))
		for _, chunks := range [][][]byte{testkit.Chunks(data, cuts, 24), testkit.Bytewise(data)} {
			d.Reset()
			if got := decode(d, chunks); !got.same(want) {
				t.Fatalf("chunks %q:\ngot\n%v\nwant\n%v", chunks, got, want)
			}
		}
		if want.err != nil && d.Buffered() != 0 {
			t.Fatalf("failed decoder holds %d bytes", d.Buffered())
		}
		for i := range want.vals {
			if n, _ := want.vals[i].footprint(); int64(n) > d.Limits().MaxReplyValues {
				t.Fatalf("%v holds %d values, limit %d", &want.vals[i], n, d.Limits().MaxReplyValues)
			}
		}
		// The round trip decodes with the default limits: a value's
		// canonical encoding may be longer than the form it came in
		// (",10000001" comes back as ",1.0000001e+07"), so the tight
		// limits of the first decode do not apply to it.
		rd := NewDecoder(Limits{})
		for i := range want.vals {
			v := &want.vals[i]
			enc, err := AppendValue(nil, v)
			if err != nil {
				t.Fatalf("decoded value %v does not encode: %v", v, err)
			}
			rd.Reset()
			back := decode(rd, testkit.Whole(enc))
			if back.err != nil || len(back.vals) != 1 || !equal(&back.vals[0], v) {
				t.Fatalf("%v encoded as %q decodes to\n%v", v, enc, back)
			}
		}
		checkMemory(t, lim, data, cuts)
	})
}

// checkMemory feeds a decoder with limits lim data cut as cuts says and,
// when one element's worth is small enough to feed, filler that ends no
// line and starts no element. After every Feed, the element being read
// must be within its limit (its line, or its bulk string with the header
// and CRLFs), the elements before it within the reply's limits, all in a
// pooled buffer that grows with the bytes that came
// (a peer that announces a large bulk string makes the decoder reserve
// nothing); a decoder that failed must hold nothing. The filler must end
// in a *LimitError or *ProtocolError instead of growing the buffer.
func checkMemory(t *testing.T, lim Limits, data, cuts []byte) {
	t.Helper()
	d := NewDecoder(lim)
	lim = d.Limits()
	check := func(err error) {
		t.Helper()
		if err != nil {
			if d.Buffered() != 0 || d.buf != nil {
				t.Fatalf("failed decoder (%v) holds %d bytes, buffer capacity %d", err, d.Buffered(), cap(d.buf))
			}
			return
		}
		if cap(d.buf) > poolCap(2*len(d.buf)) {
			t.Fatalf("decoder holds %d bytes in a buffer of %d", len(d.buf), cap(d.buf))
		}
		// Every element before spos ended within the reply's limit, and
		// those scanned announced no more values than it allows.
		if int64(d.spos) > lim.MaxReplyLen || d.values > lim.MaxReplyValues {
			t.Fatalf("decoder holds a reply of %d bytes and %d values, limits %d and %d",
				d.spos, d.values, lim.MaxReplyLen, lim.MaxReplyValues)
		}
		if !d.pending || d.spos == len(d.buf) {
			return
		}
		// The type byte, the line and its CRLF; or the type byte, the
		// length line, the bulk string and both CRLFs.
		elem, max := len(d.buf)-d.spos, 1+lim.lineMax(d.buf[d.spos])+2
		if d.need > 0 {
			max = 1 + maxHeaderLine + 2 + int(lim.MaxBulkLen) + 2
		}
		if elem > max {
			t.Fatalf("decoder holds %d bytes of an element (%q...), limit %d", elem, d.buf[d.spos:d.spos+1], max)
		}
	}
	emit := func(*Value) error { return nil }
	for _, c := range testkit.Chunks(data, cuts, 16) {
		err := d.Feed(c, emit)
		check(err)
		if err != nil {
			return
		}
	}
	n := max(lim.MaxLineLen, maxHeaderLine) + int(lim.MaxBulkLen) + maxHeaderLine + 8
	if n > 1<<16 {
		return // too much to feed each run: the table tests cover the defaults
	}
	for _, c := range testkit.Chunks(bytes.Repeat([]byte{'a'}, n), cuts, 16) {
		err := d.Feed(c, emit)
		check(err)
		if err != nil {
			var le *LimitError
			var pe *ProtocolError
			if !errors.As(err, &le) && !errors.As(err, &pe) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
	}
	t.Fatalf("%d bytes that end no element: no error, %d bytes held", n, d.Buffered())
}

// poolCap returns the capacity of the pooled buffer that holds n bytes
// (the pool's smallest size class of at least n), or 0 for none.
func poolCap(n int) int {
	if n == 0 {
		return 0
	}
	b := bufpool.Get(n)
	defer bufpool.Put(b)
	return cap(b)
}

// FuzzRoundTrip builds a value from fuzz input through the decoder and
// checks the encoder's output against it cut at every point, which
// exercises the incremental scanner on well-formed input far more often
// than random bytes would.
func FuzzRoundTrip(f *testing.F) {
	for i := range allTypes {
		f.Add(mustEncode(allTypes[i]))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var vals []Value
		new(Decoder).Feed(data, func(v *Value) error {
			vals = append(vals, v.Clone())
			return nil
		})
		if len(vals) == 0 {
			return
		}
		enc := mustEncode(vals...)
		want := outcome{vals: vals}
		d := new(Decoder)
		for s := range testkit.Splits(enc, testkit.SplitOptions{}) {
			d.Reset()
			if got := decode(d, s.Chunks); !got.same(want) {
				t.Fatalf("%q %s:\ngot\n%v\nwant\n%v", enc, s.Name, got, want)
			}
		}
	})
}
