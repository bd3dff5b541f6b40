package frame

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

var (
	be2  = LengthFormat{HeaderLen: 2}
	le4  = LengthFormat{HeaderLen: 4, Order: binary.LittleEndian}
	be8  = LengthFormat{HeaderLen: 8, Order: binary.BigEndian}
	one  = LengthFormat{HeaderLen: 1}
	incl = LengthFormat{HeaderLen: 4, IncludesHeader: true}
)

var lengthCases = []struct {
	name string
	f    LengthFormat
	in   string
	want []string
	err  error
}{
	{"empty input", be2, "", nil, nil},
	{"one byte prefix", one, "\x03abc\x00\x01z", []string{"abc", "", "z"}, nil},
	{"big endian 2", be2, "\x00\x05hello\x00\x00\x00\x01!", []string{"hello", "", "!"}, nil},
	{"little endian 4", le4, "\x02\x00\x00\x00hi\x01\x00\x00\x00x", []string{"hi", "x"}, nil},
	{"big endian 8", be8, "\x00\x00\x00\x00\x00\x00\x00\x03abc", []string{"abc"}, nil},
	{"partial header kept", be2, "\x00\x01a\x00", []string{"a"}, nil},
	{"partial payload kept", be2, "\x00\x05hel", nil, nil},
	{"includes header", incl, "\x00\x00\x00\x06hi\x00\x00\x00\x04", []string{"hi", ""}, nil},
	{"includes header too small", incl, "\x00\x00\x00\x03", nil, ErrInvalidLength},
	{"too large", LengthFormat{HeaderLen: 2, MaxPayload: 4}, "\x00\x04abcd\x00\x05", []string{"abcd"}, ErrFrameTooLarge},
	{"too large with header counted", LengthFormat{HeaderLen: 1, IncludesHeader: true, MaxPayload: 2}, "\x03ab\x04", []string{"ab"}, ErrFrameTooLarge},
	{"huge 8 byte", be8, "\xff\xff\xff\xff\xff\xff\xff\xff", nil, ErrFrameTooLarge},
}

func TestLengthDecoderTable(t *testing.T) {
	for _, tc := range lengthCases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewLengthDecoder(tc.f)
			if err != nil {
				t.Fatal(err)
			}
			got := feedChunks(d, [][]byte{[]byte(tc.in)})
			want := result{frames: tc.want, err: tc.err}
			if !got.same(want) {
				t.Fatalf("got %v, want %v", got, want)
			}
			if ref := refLength([]byte(tc.in), tc.f); !ref.same(want) {
				t.Fatalf("reference disagrees with table: %v", ref)
			}
		})
	}
}

func TestLengthDecoderSplits(t *testing.T) {
	for _, tc := range lengthCases {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			d, _ := NewLengthDecoder(tc.f)
			whole := feedChunks(d, [][]byte{in})
			for s := range testkit.Splits(in, testkit.SplitOptions{Pairs: true}) {
				d.Reset()
				if got := feedChunks(d, s.Chunks); !got.same(whole) {
					t.Fatalf("%s %q: got %v, want %v", s.Name, s.Chunks, got, whole)
				}
			}
		})
	}
}

func TestLengthDecoderTooLargeError(t *testing.T) {
	d, _ := NewLengthDecoder(LengthFormat{HeaderLen: 4, MaxPayload: 1000})
	// Only the header arrives: the frame must be refused before its body.
	err := d.Feed([]byte{0, 0, 0x10, 0}, nopEmit)
	var tl *FrameTooLargeError
	if !errors.As(err, &tl) || tl.Size != 4096 || tl.Max != 1000 {
		t.Fatalf("got %v", err)
	}
	if err.Error() != "frame: frame of 4096 bytes exceeds the maximum of 1000" {
		t.Fatalf("message %q", err)
	}
	d, _ = NewLengthDecoder(be8)
	err = d.Feed(bytes.Repeat([]byte{0xff}, 8), nopEmit)
	if !errors.As(err, &tl) || tl.Size != math.MaxUint64 {
		t.Fatalf("8-byte: got %v", err)
	}
}

func TestLengthDecoderBufferReleased(t *testing.T) {
	d, _ := NewLengthDecoder(be2)
	var got []string
	emit := func(p []byte) error { got = append(got, string(p)); return nil }
	for _, chunk := range []string{"\x00", "\x05he", "ll", "o\x00"} {
		if err := d.Feed([]byte(chunk), emit); err != nil {
			t.Fatal(err)
		}
	}
	// "\x00" of the next header is pending; the payload buffer is gone.
	if len(got) != 1 || got[0] != "hello" || d.Buffered() != 1 || d.buf != nil {
		t.Fatalf("got %q, Buffered %d, buf held %v", got, d.Buffered(), d.buf != nil)
	}
	d.Feed([]byte("\x01"), emit)
	if d.Buffered() != 0 {
		t.Fatalf("Buffered %d after a bare header", d.Buffered())
	}
	d.Feed([]byte("x"), emit)
	if d.Buffered() != 0 || d.inBody {
		t.Fatal("frame completed but state kept")
	}
	d.Feed([]byte("\x00\x09abc"), emit)
	d.Reset()
	if d.Buffered() != 0 || d.buf != nil {
		t.Fatal("Reset kept the buffer")
	}
}

// TestLengthDecoderLargeFrameGrowth checks that an announced frame is not
// reserved up front and that one arriving in many pieces is not copied
// quadratically: the buffer only ever doubles.
func TestLengthDecoderLargeFrameGrowth(t *testing.T) {
	const size = 4 << 20
	d, _ := NewLengthDecoder(LengthFormat{HeaderLen: 4})
	hdr, _ := AppendLengthHeader(nil, d.Format(), size)
	d.Feed(hdr, nopEmit)
	if d.Buffered() != 0 || cap(d.buf) != 0 {
		t.Fatalf("header alone reserved %d bytes", cap(d.buf))
	}
	chunk := bytes.Repeat([]byte("z"), 16<<10)
	moves, lastCap := 0, 0
	var got int
	for sent := 0; sent < size; sent += len(chunk) {
		d.Feed(chunk, func(p []byte) error { got = len(p); return nil })
		if cap(d.buf) != lastCap {
			moves++
			lastCap = cap(d.buf)
		}
	}
	if got != size || d.Buffered() != 0 {
		t.Fatalf("got frame of %d, buffered %d", got, d.Buffered())
	}
	if moves > 12 {
		t.Fatalf("buffer moved %d times for %d chunks", moves, size/len(chunk))
	}
}

func TestLengthDecoderAllocs(t *testing.T) {
	skipAllocTest(t)
	d, _ := NewLengthDecoder(be2)
	in := []byte("\x00\x05hello\x00\x03abc\x00\x00")
	n := 0
	emit := func(p []byte) error { n += len(p); return nil }
	if a := testkit.AllocsPerOp(10, testkit.AllocBatch, func() { d.Feed(in, emit) }); a != 0 {
		t.Fatalf("whole frames: %.2f allocs per Feed", a)
	}
	if a := testkit.AllocsPerOp(10, testkit.AllocBatch, func() {
		d.Feed(in[:1], emit)
		d.Feed(in[1:4], emit)
		d.Feed(in[4:], emit)
	}); a != 0 {
		t.Fatalf("split frames: %.2f allocs per round", a)
	}
	dst := make([]byte, 0, 64)
	if a := testkit.AllocsPerOp(10, testkit.AllocBatch, func() {
		dst, _ = AppendLengthPrefixed(dst[:0], le4, in)
	}); a != 0 {
		t.Fatalf("AppendLengthPrefixed: %.2f allocs per frame", a)
	}
}

func TestLengthDecoderEmitError(t *testing.T) {
	d, _ := NewLengthDecoder(one)
	stop := errors.New("stop")
	emit := func(p []byte) error {
		if string(p) == "b" {
			return stop
		}
		return nil
	}
	if err := d.Feed([]byte("\x01a\x01"), emit); err != nil {
		t.Fatal(err)
	}
	if err := d.Feed([]byte("b\x01c"), emit); err != stop {
		t.Fatalf("got %v", err)
	}
	if err := d.Feed([]byte("\x01c"), emit); err != stop {
		t.Fatalf("not sticky: %v", err)
	}
}

func TestLengthFormatInvalid(t *testing.T) {
	for _, n := range []int{0, 3, 5, 16, -1} {
		if _, err := NewLengthDecoder(LengthFormat{HeaderLen: n}); !errors.Is(err, ErrInvalidFormat) {
			t.Errorf("HeaderLen %d: %v", n, err)
		}
		if _, err := AppendLengthPrefixed(nil, LengthFormat{HeaderLen: n}, nil); !errors.Is(err, ErrInvalidFormat) {
			t.Errorf("append HeaderLen %d: %v", n, err)
		}
	}
}

func TestAppendLengthPrefixed(t *testing.T) {
	for _, f := range []LengthFormat{one, be2, le4, be8, incl,
		{HeaderLen: 2, Order: binary.LittleEndian, IncludesHeader: true}} {
		var stream []byte
		payloads := []string{"", "a", "hello world", string(bytes.Repeat([]byte("q"), 200))}
		for _, p := range payloads {
			var err error
			if stream, err = AppendLengthPrefixed(stream, f, []byte(p)); err != nil {
				t.Fatalf("%+v: %v", f, err)
			}
		}
		d, _ := NewLengthDecoder(f)
		r := feedChunks(d, [][]byte{stream})
		if !r.same(result{frames: payloads}) {
			t.Errorf("%+v: round trip gave %v", f, r)
		}
	}
	if _, err := AppendLengthPrefixed(nil, one, make([]byte, 256)); !errors.Is(err, ErrInvalidLength) {
		t.Errorf("256 bytes in a 1-byte prefix: %v", err)
	}
	if _, err := AppendLengthPrefixed(nil, LengthFormat{HeaderLen: 1, IncludesHeader: true}, make([]byte, 255)); !errors.Is(err, ErrInvalidLength) {
		t.Errorf("255+1 bytes in a 1-byte prefix: %v", err)
	}
	if b, err := AppendLengthHeader([]byte("x"), le4, 258); err != nil || string(b) != "x\x02\x01\x00\x00" {
		t.Errorf("AppendLengthHeader = %q, %v", b, err)
	}
	if _, err := AppendLengthHeader(nil, be2, -1); !errors.Is(err, ErrInvalidLength) {
		t.Errorf("negative length: %v", err)
	}
}
