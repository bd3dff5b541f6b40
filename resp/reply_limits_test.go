package resp

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

// replyLimitCase is a stream, the limits it is decoded with, and what must
// come of it however it is cut: nvals values, then the error want (nil: no
// error).
type replyLimitCase struct {
	name  string
	in    string
	lim   Limits
	nvals int
	want  *LimitError
}

// checkReplyLimitCases decodes each case whole, byte by byte, cut at every
// offset and (for short input) at every pair of offsets, and checks that
// every cut gives the values and the error the case wants, and that a
// failed decoder holds nothing.
func checkReplyLimitCases(t *testing.T, cases []replyLimitCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			for s := range testkit.Splits(in, testkit.SplitOptions{Pairs: len(in) <= 40}) {
				d := NewDecoder(tc.lim)
				got := decode(d, s.Chunks)
				if len(got.vals) != tc.nvals {
					t.Fatalf("%s: %d values, want %d:\n%v", s.Name, len(got.vals), tc.nvals, got)
				}
				if tc.want == nil {
					if got.err != nil || got.buffered != 0 {
						t.Fatalf("%s: got\n%v\nwant no error and nothing held", s.Name, got)
					}
					continue
				}
				var le *LimitError
				if !errors.As(got.err, &le) || *le != *tc.want || !errors.Is(got.err, ErrLimit) {
					t.Fatalf("%s: got %v, want %v", s.Name, got.err, tc.want)
				}
				if d.Buffered() != 0 || d.buf != nil || len(d.arena.chunks) != 0 {
					t.Fatalf("%s: failed decoder holds %d bytes, %d chunks", s.Name, d.Buffered(), len(d.arena.chunks))
				}
			}
		})
	}
}

// TestReplyLenLimit checks MaxReplyLen: a reply of exactly the limit is
// accepted, one byte more is refused, wherever that byte is; a header
// that announces more than the limit can hold is refused before its body
// (none is sent here); and the limit is per reply, not per Feed.
func TestReplyLenLimit(t *testing.T) {
	over := func(got, max int64) *LimitError { return &LimitError{"reply length", got, max} }
	lim := func(n int64) Limits { return Limits{MaxReplyLen: n} }
	const pair = "*2\r\n$3\r\nabc\r\n$3\r\ndef\r\n" // 22 bytes
	checkReplyLimitCases(t, []replyLimitCase{
		{"bulk at limit", "$3\r\nabc\r\n", lim(9), 1, nil},
		{"bulk one over", "$3\r\nabc\r\n", lim(8), 0, over(9, 8)},
		{"array at limit", pair, lim(22), 1, nil},
		{"array one over", pair, lim(21), 0, over(22, 21)},
		{"line at limit", "*2\r\n+OK\r\n+OK\r\n", lim(14), 1, nil},
		{"line one over", "*2\r\n+OK\r\n+OK\r\n", lim(13), 0, over(14, 13)},
		{"header line over", "*2\r\n", lim(3), 0, over(4, 3)},
		{"attribute at limit", "|1\r\n+a\r\n+b\r\n:1\r\n", lim(16), 1, nil},
		{"attribute one over", "|1\r\n+a\r\n+b\r\n:1\r\n", lim(15), 0, over(16, 15)},
		// Headers alone: the body that would pass the limit is not awaited.
		{"bulk header only", "$100\r\n", lim(50), 0, over(108, 50)},
		{"nested bulk header only", "*2\r\n$1\r\na\r\n$40\r\n", lim(50), 0, over(58, 50)},
		{"count at limit", "*2\r\n_\r\n_\r\n", lim(10), 1, nil},
		{"count one over", "*2\r\n", lim(9), 0, over(10, 9)},
		{"array header only", "*100\r\n", lim(50), 0, over(306, 50)},
		{"map header only", "%2\r\n", lim(12), 0, over(16, 12)},
		{"huge count", "*16777216\r\n", lim(1 << 20), 0, over(11+3<<24, 1<<20)},
		// Each reply on its own: a pipelined stream is not one reply.
		{"replies each at limit", "+OK\r\n+OK\r\n+OK\r\n", lim(5), 3, nil},
		{"second reply over", "+OK\r\n+LONGER\r\n+OK\r\n", lim(5), 1, over(9, 5)},
		{"arrays each at limit", pair + pair, lim(22), 2, nil},
	})
}

// TestReplyValuesLimit checks MaxReplyValues: the elements of all the
// aggregates of one reply count together, at exactly the limit the reply
// is accepted, one value more is refused at the header that announces it,
// before any element of it is sent.
func TestReplyValuesLimit(t *testing.T) {
	over := func(got, max int64) *LimitError { return &LimitError{"reply values", got, max} }
	lim := func(n int64) Limits { return Limits{MaxReplyValues: n} }
	const nested = "*2\r\n*2\r\n:1\r\n:2\r\n:3\r\n"     // 2 + 2 values
	const attr = "|1\r\n+a\r\n+b\r\n*2\r\n:1\r\n:2\r\n" // 2 + 2 values
	checkReplyLimitCases(t, []replyLimitCase{
		{"nested at limit", nested, lim(4), 1, nil},
		{"nested one over", nested, lim(3), 0, over(4, 3)},
		{"header only", "*2\r\n*3\r\n", lim(4), 0, over(5, 4)},
		{"map header only", "%1\r\n%2\r\n", lim(5), 0, over(6, 5)},
		{"attribute at limit", attr, lim(4), 1, nil},
		{"attribute one over", attr, lim(3), 0, over(4, 3)},
		{"empty and null aggregates add nothing", "*3\r\n*0\r\n*-1\r\n%0\r\n", lim(3), 1, nil},
		{"replies each at limit", "*2\r\n:1\r\n:2\r\n*2\r\n:3\r\n:4\r\n", lim(2), 2, nil},
		{"second reply over", "*2\r\n:1\r\n:2\r\n*3\r\n", lim(2), 1, over(3, 2)},
		// With the default limits: three arrays of the largest size, nested,
		// are refused at the third header, and nothing was reserved for
		// the first two.
		{"default limit", strings.Repeat("*16777216\r\n", 3), Limits{}, 0, over(3<<24, DefaultMaxReplyValues)},
	})
}

// TestReplyLimitDefaults checks the defaults of the whole-reply limits and
// that they follow the per-element limits they must admit.
func TestReplyLimitDefaults(t *testing.T) {
	for _, tc := range []struct {
		in             Limits
		bytes, nvalues int64
	}{
		{Limits{}, 1 << 30, 1 << 25},
		{Limits{MaxBulkLen: 1 << 30, MaxAggregateLen: 1 << 25}, 2 << 30, 2 << 25},
		{Limits{MaxBulkLen: 16, MaxAggregateLen: 4}, 1 << 30, 1 << 25},
		{Limits{MaxBulkLen: math.MaxInt64, MaxAggregateLen: math.MaxInt64}, math.MaxInt64, math.MaxInt64},
		{Limits{MaxReplyLen: 100, MaxReplyValues: 7}, 100, 7},
		{Limits{MaxReplyLen: -1, MaxReplyValues: -1}, 1 << 30, 1 << 25},
	} {
		l := NewDecoder(tc.in).Limits()
		if l.MaxReplyLen != tc.bytes || l.MaxReplyValues != tc.nvalues {
			t.Errorf("limits %+v: MaxReplyLen %d, MaxReplyValues %d; want %d, %d",
				tc.in, l.MaxReplyLen, l.MaxReplyValues, tc.bytes, tc.nvalues)
		}
	}
	var d Decoder
	if l := d.Limits(); l.MaxReplyLen != DefaultMaxReplyLen || l.MaxReplyValues != DefaultMaxReplyValues {
		t.Errorf("zero Decoder: %+v", l)
	}
	// A reply may hold a bulk string of the largest size and more beside
	// it, as the default's doc says: its header is accepted (the body, a
	// test cannot afford).
	if err := d.Feed([]byte("*3\r\n+more\r\n$536870912\r\n"), nopEmit); err != nil {
		t.Errorf("a reply holding a bulk string of DefaultMaxBulkLen: %v", err)
	}
}

// TestReplyLenBoundsMemory feeds a hostile server's endless reply, an
// array announcing a million elements followed by element after element,
// in reads of 16 KB: the decoder must refuse it once it passes
// MaxReplyLen, having held no more than the limit and one line in a
// buffer no larger, instead of buffering all that comes.
func TestReplyLenBoundsMemory(t *testing.T) {
	const limit = 3 << 20 // above the largest pooled buffer: capacities are exact
	lim := Limits{MaxReplyLen: limit, MaxLineLen: 4096}
	for _, tc := range []struct{ name, elem string }{
		{"bulk strings", "$1000\r\n" + strings.Repeat("b", 1000) + "\r\n"},
		{"lines", "+" + strings.Repeat("s", 1000) + "\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(lim)
			held := limit + 1 + lim.MaxLineLen + 2
			read := bytes.Repeat([]byte(tc.elem), 16) // whole elements: the stream goes on
			stream := append([]byte("*1000000\r\n"), read...)
			var fed int
			for fed < 4*limit {
				err := d.Feed(stream, nopEmit)
				fed += len(stream)
				if err != nil {
					var le *LimitError
					if !errors.As(err, &le) || le.Limit != "reply length" || le.Max != limit {
						t.Fatalf("after %d bytes: %v, want the reply length limit", fed, err)
					}
					if fed > limit+2*len(read) || d.Buffered() != 0 || d.buf != nil {
						t.Fatalf("refused after %d bytes, then holding %d", fed, d.Buffered())
					}
					return
				}
				if d.Buffered() > held || cap(d.buf) > held {
					t.Fatalf("after %d bytes: holding %d bytes in a buffer of %d, limit %d and a line", fed, d.Buffered(), cap(d.buf), limit)
				}
				stream = read
			}
			t.Fatalf("%d bytes of one reply accepted (MaxReplyLen %d); holding %d", fed, limit, d.Buffered())
		})
	}
}
