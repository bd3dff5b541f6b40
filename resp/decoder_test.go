package resp

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

// replyCases are replies as real Redis servers send them.
var replyCases = []struct {
	name string
	in   string
	want Value
}{
	{"ok", "+OK\r\n", simple("OK")},
	{"pong", "+PONG\r\n", simple("PONG")},
	{"empty simple", "+\r\n", simple("")},
	{"error", "-ERR unknown command 'FOO', with args beginning with: \r\n",
		errVal("ERR unknown command 'FOO', with args beginning with: ")},
	{"moved", "-MOVED 3999 127.0.0.1:6381\r\n", errVal("MOVED 3999 127.0.0.1:6381")},
	{"integer", ":1\r\n", integer(1)},
	{"negative integer", ":-2\r\n", integer(-2)},
	{"min int64", ":-9223372036854775808\r\n", integer(math.MinInt64)},
	{"max int64", ":9223372036854775807\r\n", integer(math.MaxInt64)},
	{"bulk", "$5\r\nhello\r\n", bulk("hello")},
	{"empty bulk", "$0\r\n\r\n", bulk("")},
	{"binary bulk", "$6\r\n\r\n\x00\r\n\n\r\n", bulk("\r\n\x00\r\n\n")},
	{"null bulk", "$-1\r\n", nilBulk()},
	{"null array", "*-1\r\n", nilArray()},
	{"resp3 null", "_\r\n", null()},
	{"empty array", "*0\r\n", arr()},
	{"mget", "*3\r\n$3\r\nfoo\r\n$-1\r\n$3\r\nbar\r\n", arr(bulk("foo"), nilBulk(), bulk("bar"))},
	{"scan", "*2\r\n$1\r\n0\r\n*2\r\n$3\r\nfoo\r\n$3\r\nbar\r\n",
		arr(bulk("0"), arr(bulk("foo"), bulk("bar")))},
	{"exec with error inside", "*3\r\n+OK\r\n-ERR value is not an integer or out of range\r\n:2\r\n",
		arr(simple("OK"), errVal("ERR value is not an integer or out of range"), integer(2))},
	{"exec aborted", "*-1\r\n", nilArray()},
	{"hello 3", "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.2.4\r\n" +
		"$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:5\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n" +
		"$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n",
		mapOf(bulk("server"), bulk("redis"), bulk("version"), bulk("7.2.4"),
			bulk("proto"), integer(3), bulk("id"), integer(5), bulk("mode"), bulk("standalone"),
			bulk("role"), bulk("master"), bulk("modules"), arr())},
	{"hgetall resp3", "%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n",
		mapOf(bulk("a"), bulk("1"), bulk("b"), bulk("2"))},
	{"subscribe push", ">3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n",
		push(bulk("subscribe"), bulk("news"), integer(1))},
	{"message push", ">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n",
		push(bulk("message"), bulk("news"), bulk("hello"))},
	{"pmessage push", ">4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n",
		push(bulk("pmessage"), bulk("n*"), bulk("news"), bulk("hi"))},
	{"resp2 message", "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n",
		arr(bulk("message"), bulk("news"), bulk("hello"))},
	{"invalidate push", ">2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nfoo\r\n",
		push(bulk("invalidate"), arr(bulk("foo")))},
	{"set", "~3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", set(bulk("a"), bulk("b"), bulk("c"))},
	{"double", ",3.14\r\n", double(3.14)},
	{"double exponent", ",1.5e-07\r\n", double(1.5e-07)},
	{"double integral", ",10\r\n", double(10)},
	{"double inf", ",inf\r\n", double(math.Inf(1))},
	{"double -inf", ",-inf\r\n", double(math.Inf(-1))},
	{"double nan", ",nan\r\n", double(math.NaN())},
	{"true", "#t\r\n", boolean(true)},
	{"false", "#f\r\n", boolean(false)},
	{"big number", "(3492890328409238509324850943850943825024385\r\n", bignum("3492890328409238509324850943850943825024385")},
	{"negative big number", "(-12\r\n", bignum("-12")},
	{"blob error", "!21\r\nSYNTAX invalid syntax\r\n", blobErr("SYNTAX invalid syntax")},
	{"verbatim", "=15\r\ntxt:Some string\r\n", verbatim("txt", "Some string")},
	{"verbatim empty", "=4\r\nmkd:\r\n", verbatim("mkd", "")},
	{"attribute", "|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n",
		withAttrs(arr(integer(2039123), integer(9543892)),
			simple("key-popularity"), mapOf(bulk("a"), double(0.1923), bulk("b"), double(0.0012)))},
	{"attribute inside array", "*2\r\n|1\r\n+ttl\r\n:3600\r\n$1\r\na\r\n$1\r\nb\r\n",
		arr(withAttrs(bulk("a"), simple("ttl"), integer(3600)), bulk("b"))},
	{"attribute on map key", "%1\r\n|1\r\n+k\r\n+v\r\n+key\r\n:1\r\n",
		mapOf(withAttrs(simple("key"), simple("k"), simple("v")), integer(1))},
	{"empty attribute", "|0\r\n:7\r\n", withAttrs(integer(7))},
	{"attribute inside attribute", "|1\r\n|1\r\n+a\r\n+b\r\n+k\r\n+v\r\n:1\r\n",
		withAttrs(integer(1), withAttrs(simple("k"), simple("a"), simple("b")), simple("v"))},
	{"deep", "*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", arr(arr(arr(arr(integer(1)))))},
	{"null inside map", "%1\r\n+k\r\n_\r\n", mapOf(simple("k"), null())},
}

func TestDecodeReplies(t *testing.T) {
	for _, tc := range replyCases {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			got := decode(new(Decoder), testkit.Whole(in))
			want := outcome{vals: []Value{tc.want}}
			if !got.same(want) {
				t.Fatalf("got\n%v\nwant\n%v", got, want)
			}
		})
	}
}

// TestDecodeSplits checks that every cut of each reply into two or three
// pieces, and byte-at-a-time feeding, give what one Feed gives.
func TestDecodeSplits(t *testing.T) {
	for _, tc := range replyCases {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			d := new(Decoder)
			want := decode(d, testkit.Whole(in))
			for s := range testkit.Splits(in, testkit.SplitOptions{Pairs: true}) {
				d.Reset()
				if got := decode(d, s.Chunks); !got.same(want) {
					t.Fatalf("%s %q: got\n%v\nwant\n%v", s.Name, s.Chunks, got, want)
				}
			}
		})
	}
}

// TestDecodeStream feeds all replies as one pipelined stream, cut at every
// point, and checks that a partial reply at the end is held, not lost.
func TestDecodeStream(t *testing.T) {
	var in []byte
	var want outcome
	for _, tc := range replyCases {
		in = append(in, tc.in...)
		want.vals = append(want.vals, tc.want)
	}
	d := new(Decoder)
	if got := decode(d, testkit.Whole(in)); !got.same(want) {
		t.Fatalf("whole stream: got\n%v", got)
	}
	for s := range testkit.Splits(in, testkit.SplitOptions{}) {
		d.Reset()
		if got := decode(d, s.Chunks); !got.same(want) {
			t.Fatalf("%s: got\n%v", s.Name, got)
		}
	}
	// Without its last byte the final reply stays buffered.
	d.Reset()
	got := decode(d, testkit.Whole(in[:len(in)-1]))
	if len(got.vals) != len(want.vals)-1 || got.err != nil || got.buffered == 0 {
		t.Fatalf("truncated stream: %d values, err %v, buffered %d", len(got.vals), got.err, got.buffered)
	}
}

var malformedCases = []struct {
	name, in string
	problem  string // ProtocolError.Problem, or "" for a LimitError
}{
	{"unknown type", "?foo\r\n", "unknown type byte"},
	{"http response", "HTTP/1.1 400 Bad Request\r\n", "unknown type byte"},
	{"bare lf", "+OK\n", "line not ended by CRLF"},
	{"bare lf in header", "$5\nhello\r\n", "line not ended by CRLF"},
	{"cr inside line", "+O\rK\r\n", "CR inside a line"},
	{"empty integer", ":\r\n", "invalid integer"},
	{"bad integer", ":12a\r\n", "invalid integer"},
	{"plus integer", ":+1\r\n", "invalid integer"},
	{"integer overflow", ":9223372036854775808\r\n", "invalid integer"},
	{"integer underflow", ":-9223372036854775809\r\n", "invalid integer"},
	{"bulk length -2", "$-2\r\n", "invalid bulk string length"},
	{"bulk length junk", "$x\r\n", "invalid bulk string length"},
	{"streamed bulk", "$?\r\n;4\r\nHell\r\n;0\r\n", "invalid bulk string length"},
	{"bulk too long for length", "$3\r\nabcd\r\n", "bulk string not followed by CRLF"},
	{"bulk too short for length", "$5\r\nabc\r\n+OK\r\n", "bulk string not followed by CRLF"},
	{"null blob error", "!-1\r\n", "invalid blob error length"},
	{"null verbatim", "=-1\r\n", "invalid verbatim string length"},
	{"short verbatim", "=3\r\ntxt\r\n", "verbatim string without a format"},
	{"verbatim without colon", "=5\r\ntxtab\r\n", "verbatim string without a format"},
	{"array length -2", "*-2\r\n", "invalid array length"},
	{"null map", "%-1\r\n", "invalid map length"},
	{"null set", "~-1\r\n", "invalid set length"},
	{"streamed array", "*?\r\n:1\r\n.\r\n", "invalid array length"},
	{"bad boolean", "#x\r\n", "invalid boolean"},
	{"long boolean", "#tt\r\n", "invalid boolean"},
	{"bad null", "_x\r\n", "invalid null"},
	{"bad double", ",abc\r\n", "invalid double"},
	{"hex double", ",0x10\r\n", "invalid double"},
	{"infinity spelled out", ",Infinity\r\n", "invalid double"},
	{"empty double", ",\r\n", "invalid double"},
	{"double of signs", ",+-.\r\n", "invalid double"},
	{"bad big number", "(12a\r\n", "invalid big number"},
	{"empty big number", "(\r\n", "invalid big number"},
	{"attribute after attribute", "|1\r\n+a\r\n+b\r\n|0\r\n:1\r\n", "attribute followed by attribute"},
	{"bad element", "*2\r\n:1\r\n:x\r\n", "invalid integer"},
	{"crlf between replies", "+OK\r\n\r\n", "unknown type byte"},
	{"long header", "*" + strings.Repeat("1", 40) + "\r\n", ""},
}

func TestDecodeMalformed(t *testing.T) {
	for _, tc := range malformedCases {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			d := new(Decoder)
			got := decode(d, testkit.Whole(in))
			var pe *ProtocolError
			if tc.problem == "" {
				if !errors.Is(got.err, ErrLimit) {
					t.Fatalf("got %v, want a limit error", got.err)
				}
			} else if !errors.As(got.err, &pe) || pe.Problem != tc.problem || !errors.Is(got.err, ErrProtocol) {
				t.Fatalf("got %v, want protocol error %q", got.err, tc.problem)
			}
			if d.Buffered() != 0 {
				t.Fatalf("failed decoder holds %d bytes", d.Buffered())
			}
			for _, chunks := range [][][]byte{testkit.Bytewise(in), testkit.SplitAt(in, len(in)/2)} {
				d.Reset()
				if other := decode(d, chunks); !other.same(got) {
					t.Fatalf("chunks %q: got\n%v\nwant\n%v", chunks, other, got)
				}
			}
		})
	}
}

func TestProtocolErrorMessage(t *testing.T) {
	err := new(Decoder).Feed([]byte("$abc\r\n"), func(*Value) error { return nil })
	const want = `resp: protocol error: invalid bulk string length in "$abc\r\n"`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	long := "-" + strings.Repeat("x", 100) + "\n"
	err = new(Decoder).Feed([]byte(long), func(*Value) error { return nil })
	if err == nil || !strings.HasSuffix(err.Error(), `xxx"...`) || len(err.Error()) > 100 {
		t.Fatalf("long input: %v", err)
	}
}

func TestDecodeLimits(t *testing.T) {
	lim := Limits{MaxBulkLen: 10, MaxAggregateLen: 4, MaxDepth: 2, MaxLineLen: 8}
	cases := []struct {
		name, in string
		want     LimitError // zero: no error
	}{
		{"bulk at limit", "$10\r\n0123456789\r\n", LimitError{}},
		{"bulk over limit", "$11\r\n", LimitError{"bulk length", 11, 10}},
		{"blob error over limit", "!11\r\n", LimitError{"bulk length", 11, 10}},
		{"verbatim over limit", "=11\r\n", LimitError{"bulk length", 11, 10}},
		{"array at limit", "*4\r\n:1\r\n:2\r\n:3\r\n:4\r\n", LimitError{}},
		{"array over limit", "*5\r\n", LimitError{"aggregate length", 5, 4}},
		{"set over limit", "~5\r\n", LimitError{"aggregate length", 5, 4}},
		{"push over limit", ">5\r\n", LimitError{"aggregate length", 5, 4}},
		{"map at limit", "%2\r\n:1\r\n:2\r\n:3\r\n:4\r\n", LimitError{}},
		{"map over limit", "%3\r\n", LimitError{"aggregate length", 6, 4}},
		{"attribute over limit", "|3\r\n", LimitError{"aggregate length", 6, 4}},
		{"huge map", "%9223372036854775807\r\n", LimitError{"aggregate length", math.MaxInt64, 4}},
		{"depth at limit", "*1\r\n*1\r\n:1\r\n", LimitError{}},
		{"depth over limit", "*1\r\n*1\r\n*1\r\n", LimitError{"nesting depth", 3, 2}},
		{"empty array over depth", "*1\r\n*1\r\n*0\r\n", LimitError{"nesting depth", 3, 2}},
		{"attribute counts for depth", "*1\r\n|1\r\n*0\r\n", LimitError{"nesting depth", 3, 2}},
		{"null array does not nest", "*1\r\n*1\r\n*-1\r\n", LimitError{}},
		{"line at limit", "+12345678\r\n", LimitError{}},
		{"line over limit", "+123456789\r\n", LimitError{"line length", 9, 8}},
		{"line over limit without end", "-1234567890", LimitError{"line length", 9, 8}},
		{"header line over limit", ":" + strings.Repeat("1", 34), LimitError{"line length", 33, 32}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			for _, chunks := range [][][]byte{testkit.Whole(in), testkit.Bytewise(in)} {
				got := decode(NewDecoder(lim), chunks)
				if tc.want == (LimitError{}) {
					if got.err != nil || len(got.vals) != 1 {
						t.Fatalf("got %v", got)
					}
					continue
				}
				var le *LimitError
				if !errors.As(got.err, &le) || *le != tc.want || !errors.Is(got.err, ErrLimit) {
					t.Fatalf("got %v, want %v", got.err, &tc.want)
				}
			}
		})
	}
}

func TestLimitsDefaults(t *testing.T) {
	var d Decoder
	l := d.Limits()
	if l.MaxBulkLen != 512<<20 || l.MaxAggregateLen != DefaultMaxAggregateLen ||
		l.MaxDepth != DefaultMaxDepth || l.MaxLineLen != DefaultMaxLineLen {
		t.Fatalf("defaults %+v", l)
	}
	if l := NewDecoder(Limits{MaxDepth: 3, MaxBulkLen: -1}).Limits(); l.MaxDepth != 3 || l.MaxBulkLen != DefaultMaxBulkLen {
		t.Fatalf("partial limits %+v", l)
	}
}

// TestDeepNesting checks that the default depth limit stops a reply that
// would otherwise recurse without bound, whole or byte at a time.
func TestDeepNesting(t *testing.T) {
	in := bytes.Repeat([]byte("*1\r\n"), 100000)
	for _, chunks := range [][][]byte{testkit.Whole(in), testkit.Chunks(in, []byte{7}, 24)} {
		got := decode(new(Decoder), chunks)
		var le *LimitError
		if !errors.As(got.err, &le) || le.Limit != "nesting depth" || le.Got != DefaultMaxDepth+1 {
			t.Fatalf("got %v", got.err)
		}
	}
}

// TestHugeCountNoReservation checks that an announced count reserves
// nothing before the elements arrive.
func TestHugeCountNoReservation(t *testing.T) {
	d := new(Decoder)
	if err := d.Feed([]byte("*16000000\r\n:1\r\n"), nopEmit); err != nil {
		t.Fatal(err)
	}
	if len(d.arena.chunks) != 0 || d.Buffered() > 512 {
		t.Fatalf("holding %d chunks, %d bytes", len(d.arena.chunks), d.Buffered())
	}
}

func TestEmitError(t *testing.T) {
	stop := errors.New("stop")
	var n int
	emit := func(v *Value) error {
		n++
		if v.Type == Integer && v.Int == 2 {
			return stop
		}
		return nil
	}
	d := new(Decoder)
	if err := d.Feed([]byte(":1\r\n:"), emit); err != nil {
		t.Fatal(err)
	}
	if err := d.Feed([]byte("2\r\n:3\r\n"), emit); err != stop {
		t.Fatalf("got %v", err)
	}
	if err := d.Feed([]byte(":4\r\n"), emit); err != stop || n != 2 || d.Buffered() != 0 {
		t.Fatalf("after emit error: %v, %d emitted, %d buffered", err, n, d.Buffered())
	}
	d.Reset()
	if err := d.Feed([]byte(":5\r\n"), emit); err != nil {
		t.Fatalf("after Reset: %v", err)
	}
}

func TestBufferReleased(t *testing.T) {
	d := new(Decoder)
	var got []string
	emit := func(v *Value) error { got = append(got, v.String()); return nil }
	for _, piece := range []string{"*2\r\n$5\r\nhel", "lo\r\n", "$5\r\nworld\r", "\n+O"} {
		if err := d.Feed([]byte(piece), emit); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 1 || d.Buffered() != 2 {
		t.Fatalf("got %q, buffered %d", got, d.Buffered())
	}
	d.Feed([]byte("K\r\n"), emit)
	if len(got) != 2 || d.Buffered() != 0 || d.buf != nil || len(d.arena.chunks) != 0 {
		t.Fatalf("after the reply: got %q, buffered %d, buf %v, chunks %d",
			got, d.Buffered(), d.buf != nil, len(d.arena.chunks))
	}
	d.Feed([]byte("$100\r\nabc"), emit)
	d.Reset()
	if d.Buffered() != 0 || d.buf != nil {
		t.Fatal("Reset kept the buffer")
	}
}

func TestZeroCopy(t *testing.T) {
	in := []byte("*2\r\n$5\r\nhello\r\n+OK\r\n")
	var p0, p1 *byte
	new(Decoder).Feed(in, func(v *Value) error {
		p0, p1 = &v.Elems[0].Str[0], &v.Elems[1].Str[0]
		return nil
	})
	if p0 != &in[8] || p1 != &in[16] {
		t.Fatal("strings of a whole reply were copied")
	}
}

// TestLargeBulkInPieces checks that a large bulk string arriving in small
// pieces is neither reserved up front nor copied over and over.
func TestLargeBulkInPieces(t *testing.T) {
	const size = 8 << 20
	d := new(Decoder)
	header := []byte("$8388608\r\n")
	if err := d.Feed(header, nopEmit); err != nil {
		t.Fatal(err)
	}
	if cap(d.buf) > 4096 {
		t.Fatalf("header alone reserved %d bytes", cap(d.buf))
	}
	chunk := bytes.Repeat([]byte("x"), 16<<10)
	moves, lastCap, got := 0, cap(d.buf), 0
	emit := func(v *Value) error {
		if v.Type == BulkString {
			got = len(v.Str)
		}
		return nil
	}
	for sent := 0; sent < size; sent += len(chunk) {
		if err := d.Feed(chunk, emit); err != nil {
			t.Fatal(err)
		}
		if cap(d.buf) != lastCap {
			moves++
			lastCap = cap(d.buf)
		}
	}
	if err := d.Feed([]byte("\r\n:1\r\n"), emit); err != nil {
		t.Fatal(err)
	}
	if got != size {
		t.Fatalf("bulk of %d bytes", got)
	}
	if moves > 16 || d.Buffered() != 0 {
		t.Fatalf("buffer moved %d times; %d bytes left", moves, d.Buffered())
	}
}

// TestByteAtATimeLinear feeds large replies one byte at a time. A decoder
// that re-examined the buffered bytes on each Feed would take minutes.
func TestByteAtATimeLinear(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	var in []byte
	in = AppendBulkString(in, big)
	in = append(in, "+"+strings.Repeat("y", 60000)+"\r\n"...)
	in = append(in, "*20000\r\n"+strings.Repeat(":1\r\n", 20000)...)
	d := new(Decoder)
	var n int
	emit := func(*Value) error { n++; return nil }
	for i := range in {
		if err := d.Feed(in[i:i+1], emit); err != nil {
			t.Fatal(err)
		}
	}
	if n != 3 || d.Buffered() != 0 {
		t.Fatalf("%d values, %d bytes buffered", n, d.Buffered())
	}
}

func nopEmit(*Value) error { return nil }
