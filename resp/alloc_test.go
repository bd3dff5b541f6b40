package resp

import (
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

// TestDecodeAllocs pins the allocation profile of the driver's hot path:
// replies that are whole in the input, and replies cut across reads, cost
// no allocation once pools are warm.
func TestDecodeAllocs(t *testing.T) {
	skipAllocTest(t)
	var sink int
	emit := func(v *Value) error { sink += len(v.Str) + len(v.Elems); return nil }
	for _, tc := range []struct{ name, in string }{
		{"simple", "+OK\r\n"},
		{"integer", ":1\r\n"},
		{"bulk", "$5\r\nhello\r\n"},
		{"null", "$-1\r\n"},
		{"double", ",3.14159\r\n"},
		{"error", "-ERR wrong\r\n"},
		{"array", "*3\r\n$3\r\nfoo\r\n$-1\r\n:7\r\n"},
		{"hello map", replyCases[indexOfCase("hello 3")].in},
		{"pipeline", "+OK\r\n:1\r\n$5\r\nhello\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n"},
		{"big array", string(AppendCommand(nil, make([]string, 2000)...))},
	} {
		in := []byte(tc.in)
		d := new(Decoder)
		if a := testkit.AllocsPerOp(10, testkit.AllocBatch, func() {
			if err := d.Feed(in, emit); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("%s whole: %.2f allocs per Feed", tc.name, a)
		}
		half := len(in) / 2
		if a := testkit.AllocsPerOp(10, testkit.AllocBatch, func() {
			d.Feed(in[:half], emit)
			if err := d.Feed(in[half:], emit); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("%s split: %.2f allocs per reply", tc.name, a)
		}
	}
}

func TestEncodeAllocs(t *testing.T) {
	skipAllocTest(t)
	dst := make([]byte, 0, 256)
	if a := testkit.AllocsPerOp(10, testkit.AllocBatch, func() {
		dst = AppendCommand(dst[:0], "SET", "key", "value", "EX", "10")
		dst = AppendArrayLen(dst, 3)
		dst = AppendBulkString(dst, "INCRBY")
		dst = AppendBulk(dst, []byte("counter"))
		dst = AppendBulkInt(dst, -12345)
		dst = AppendBulkUint(dst, 7)
		dst = AppendBulkFloat(dst, 2.5)
	}); a != 0 {
		t.Errorf("encoding: %.2f allocs per round", a)
	}
	v := allTypes[len(allTypes)-3]
	if a := testkit.AllocsPerOp(10, testkit.AllocBatch, func() { dst, _ = AppendValue(dst[:0], &v) }); a != 0 {
		t.Errorf("AppendValue: %.2f allocs per value", a)
	}
}

func indexOfCase(name string) int {
	for i, tc := range replyCases {
		if tc.name == name {
			return i
		}
	}
	panic(name)
}

func BenchmarkDecodeSimple(b *testing.B) {
	in := []byte("+OK\r\n")
	d := new(Decoder)
	b.ReportAllocs()
	for b.Loop() {
		d.Feed(in, nopEmit)
	}
}

func BenchmarkDecodeHello(b *testing.B) {
	in := []byte(replyCases[indexOfCase("hello 3")].in)
	d := new(Decoder)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		d.Feed(in, nopEmit)
	}
}

func BenchmarkDecodeSplitBulk(b *testing.B) {
	in := AppendBulkString(nil, string(make([]byte, 4096)))
	d := new(Decoder)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		d.Feed(in[:1000], nopEmit)
		d.Feed(in[1000:], nopEmit)
	}
}

func BenchmarkAppendCommand(b *testing.B) {
	dst := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendCommand(dst[:0], "SET", "key:000123", "value")
	}
}

// raceEnabled is set by race_test.go when the race detector is on.
var raceEnabled bool

func skipAllocTest(t *testing.T) {
	t.Helper()
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts need -short off and no race detector")
	}
}
