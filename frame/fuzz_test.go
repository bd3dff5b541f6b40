package frame

import (
	"encoding/binary"
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

// FuzzLineDecoder feeds arbitrary input cut at arbitrary points to a line
// decoder and checks it against a one-shot reference splitter.
func FuzzLineDecoder(f *testing.F) {
	f.Add([]byte("a\nbb\n\nccc\n"), []byte{0, 3}, uint8(0), uint8(4))
	f.Add([]byte("+OK\r\n:1\r\n$5\r\nhello\r\n"), []byte{1}, uint8(1), uint8(10))
	f.Add([]byte("xabababab--"), []byte{2, 5, 1}, uint8(2), uint8(3))
	f.Add([]byte("12345\r\r\n123456\r\n"), []byte{4}, uint8(1), uint8(5))
	f.Fuzz(func(t *testing.T, data, cuts []byte, delimSel, max uint8) {
		delims := []string{"\n", "\r\n", "abab", "--END--", "aab"}
		delim := delims[int(delimSel)%len(delims)]
		limit := int(max)%64 + 1
		want := refLines(data, delim, limit)
		d, err := NewLineDecoder(delim, limit)
		if err != nil {
			t.Fatal(err)
		}
		for _, chunks := range [][][]byte{testkit.Whole(data), testkit.Chunks(data, cuts, 16), testkit.Bytewise(data)} {
			d.Reset()
			if got := feedChunks(d, chunks); !got.same(want) {
				t.Fatalf("delim %q max %d chunks %q:\ngot  %v\nwant %v", delim, limit, chunks, got, want)
			}
		}
		// Every emitted line must encode back to its own bytes.
		var enc []byte
		for _, l := range want.frames {
			if enc, err = AppendLine(enc, delim, []byte(l)); err != nil {
				t.Fatalf("AppendLine(%q): %v", l, err)
			}
		}
		if got := refLines(enc, delim, limit); !got.same(result{frames: want.frames}) {
			t.Fatalf("re-encoded lines decode to %v", got)
		}
	})
}

// FuzzLengthDecoder does the same for length-prefixed frames in every
// supported format.
func FuzzLengthDecoder(f *testing.F) {
	f.Add([]byte("\x00\x05hello\x00\x00\x00\x01!"), []byte{0, 2}, uint8(1), uint16(100))
	f.Add([]byte("\x02\x00\x00\x00hi\x01\x00\x00\x00x"), []byte{3}, uint8(2|4), uint16(100))
	f.Add([]byte("\x00\x00\x00\x06hi\x00\x00\x00\x03"), []byte{1}, uint8(2|8), uint16(10))
	f.Add([]byte("\x03abc\xff"), []byte{}, uint8(0), uint16(5))
	f.Fuzz(func(t *testing.T, data, cuts []byte, sel uint8, max uint16) {
		lf := LengthFormat{
			HeaderLen:      []int{1, 2, 4, 8}[sel&3],
			IncludesHeader: sel&8 != 0,
			MaxPayload:     int(max) + 1,
		}
		if sel&4 != 0 {
			lf.Order = binary.LittleEndian
		}
		want := refLength(data, lf)
		d, err := NewLengthDecoder(lf)
		if err != nil {
			t.Fatal(err)
		}
		for _, chunks := range [][][]byte{testkit.Whole(data), testkit.Chunks(data, cuts, 16), testkit.Bytewise(data)} {
			d.Reset()
			if got := feedChunks(d, chunks); !got.same(want) {
				t.Fatalf("%+v chunks %q:\ngot  %v\nwant %v", lf, chunks, got, want)
			}
		}
		var enc []byte
		for _, p := range want.frames {
			if enc, err = AppendLengthPrefixed(enc, lf, []byte(p)); err != nil {
				t.Fatalf("AppendLengthPrefixed(%q): %v", p, err)
			}
		}
		if got := refLength(enc, lf); !got.same(result{frames: want.frames}) {
			t.Fatalf("re-encoded frames decode to %v", got)
		}
	})
}
