package resp

import (
	"errors"
	"math"
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

// allTypes holds at least one value of every type, nested in every way.
var allTypes = []Value{
	simple("OK"), simple(""),
	errVal("ERR something"), blobErr("SYNTAX\r\nbad"), blobErr(""),
	bulk("hello"), bulk(""), bulk("\x00\r\n\xff"), nilBulk(),
	integer(0), integer(-1), integer(math.MaxInt64), integer(math.MinInt64),
	double(0), double(-1.5), double(1e300), double(5e-324), double(math.Copysign(0, -1)),
	double(math.Inf(1)), double(math.Inf(-1)), double(math.NaN()),
	boolean(true), boolean(false),
	bignum("0"), bignum("-123456789012345678901234567890"),
	verbatim("txt", "Some string"), verbatim("mkd", "# title\r\n"), verbatim("txt", ""),
	null(), nilArray(), arr(), set(), push(), mapOf(),
	arr(bulk("a"), integer(1), arr(null(), nilBulk()), mapOf(simple("k"), set(boolean(true)))),
	mapOf(bulk("server"), bulk("redis"), bulk("proto"), integer(3)),
	push(bulk("message"), bulk("chan"), bulk("payload")),
	withAttrs(arr(integer(1), integer(2)), simple("key-popularity"), mapOf(bulk("a"), double(0.25))),
	withAttrs(integer(7)),
	arr(withAttrs(bulk("x"), simple("ttl"), integer(3600)), withAttrs(nilBulk(), null(), null())),
	withAttrs(integer(1), withAttrs(simple("k"), simple("a"), simple("b")), simple("v")),
}

func TestRoundTrip(t *testing.T) {
	for i := range allTypes {
		v := &allTypes[i]
		enc, err := AppendValue(nil, v)
		if err != nil {
			t.Fatalf("AppendValue(%v): %v", v, err)
		}
		got := decode(new(Decoder), testkit.Whole(enc))
		if got.err != nil || len(got.vals) != 1 || !equal(&got.vals[0], v) || got.buffered != 0 {
			t.Fatalf("%v encoded as %q decodes to\n%v", v, enc, got)
		}
	}
	// All of them as one stream, cut at every point.
	stream := mustEncode(allTypes...)
	want := outcome{vals: allTypes}
	d := new(Decoder)
	for s := range testkit.Splits(stream, testkit.SplitOptions{}) {
		d.Reset()
		if got := decode(d, s.Chunks); !got.same(want) {
			t.Fatalf("%s:\n%v", s.Name, got)
		}
	}
}

func TestAppendValueInvalid(t *testing.T) {
	for _, v := range []Value{
		simple("a\r\nb"), simple("a\nb"), errVal("x\ry"),
		bignum("12x"), bignum(""), bignum("+1"),
		{Type: Map, Elems: []Value{integer(1)}},
		{Type: Integer, Attrs: []Value{integer(1)}},
		{Type: Attribute},
		{Type: 'X'},
		{},
		arr(integer(1), simple("bad\n")),
	} {
		dst := []byte("keep")
		got, err := AppendValue(dst, &v)
		if !errors.Is(err, ErrInvalidValue) || string(got) != "keep" {
			t.Errorf("AppendValue(%v) = %q, %v", &v, got, err)
		}
	}
}

func TestAppendCommand(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{string(AppendCommand(nil, "PING")), "*1\r\n$4\r\nPING\r\n"},
		{string(AppendCommand([]byte("x"), "SET", "k", "")), "x*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"},
		{string(AppendCommand(nil)), "*0\r\n"},
		{string(AppendCommandBytes(nil, []byte("GET"), []byte("a\r\nb"))), "*2\r\n$3\r\nGET\r\n$4\r\na\r\nb\r\n"},
		{string(AppendBulkInt(nil, -42)), "$3\r\n-42\r\n"},
		{string(AppendBulkInt(nil, math.MinInt64)), "$20\r\n-9223372036854775808\r\n"},
		{string(AppendBulkUint(nil, math.MaxUint64)), "$20\r\n18446744073709551615\r\n"},
		{string(AppendBulkFloat(nil, 1.5)), "$3\r\n1.5\r\n"},
		{string(AppendBulkFloat(nil, math.Inf(1))), "$3\r\ninf\r\n"},
		{string(AppendBulkFloat(nil, math.Inf(-1))), "$4\r\n-inf\r\n"},
		{string(AppendBulkFloat(nil, 1e21)), "$5\r\n1e+21\r\n"},
		{string(AppendArrayLen(nil, 2)), "*2\r\n"},
		{string(AppendBulkString(nil, "hi")), "$2\r\nhi\r\n"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	// A command decodes as an array of bulk strings.
	got := decode(new(Decoder), testkit.Whole(AppendCommand(nil, "HSET", "h", "f", "v")))
	want := arr(bulk("HSET"), bulk("h"), bulk("f"), bulk("v"))
	if got.err != nil || len(got.vals) != 1 || !equal(&got.vals[0], &want) {
		t.Fatalf("decoded command: %v", got)
	}
}
