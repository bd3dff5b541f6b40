package frame

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/egress-go/egress/internal/bufpool"
	"github.com/egress-go/egress/internal/testkit"
)

// FuzzLineDecoder feeds arbitrary input cut at arbitrary points to a line
// decoder and checks it against a one-shot reference splitter, and that
// hostile input costs no more than a line's worth of memory (see
// checkLineMemory).
func FuzzLineDecoder(f *testing.F) {
	f.Add([]byte("a\nbb\n\nccc\n"), []byte{0, 3}, uint8(0), uint8(4))
	f.Add([]byte("+OK\r\n:1\r\n$5\r\nhello\r\n"), []byte{1}, uint8(1), uint8(10))
	f.Add([]byte("xabababab--"), []byte{2, 5, 1}, uint8(2), uint8(3))
	f.Add([]byte("12345\r\r\n123456\r\n"), []byte{4}, uint8(1), uint8(5))
	f.Add([]byte("a line that never ends"), []byte{7, 200}, uint8(1), uint8(40))
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
		checkLineMemory(t, d, data, cuts)
	})
}

// FuzzLengthDecoder does the same for length-prefixed frames in every
// supported format (see checkLengthMemory for hostile input).
func FuzzLengthDecoder(f *testing.F) {
	f.Add([]byte("\x00\x05hello\x00\x00\x00\x01!"), []byte{0, 2}, uint8(1), uint16(100))
	f.Add([]byte("\x02\x00\x00\x00hi\x01\x00\x00\x00x"), []byte{3}, uint8(2|4), uint16(100))
	f.Add([]byte("\x00\x00\x00\x06hi\x00\x00\x00\x03"), []byte{1}, uint8(2|8), uint16(10))
	f.Add([]byte("\x03abc\xff"), []byte{}, uint8(0), uint16(5))
	// A frame announced at nearly the limit, of which two bytes come.
	f.Add([]byte("\x00\x00\xff\xf0ab"), []byte{0, 1, 255}, uint8(2), uint16(65535))
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
		checkLengthMemory(t, d, data, cuts)
	})
}

// Hostile input must cost bounded memory: a line or a frame is held only
// up to the decoder's limit, in a pooled buffer that grows with the bytes
// that actually came (a peer that merely announces a large frame makes
// the decoder reserve nothing), and input past the limit ends in a
// *FrameTooLargeError that gives the buffer back, instead of growing it.

// checkLineMemory feeds d data cut as cuts says, then filler that holds no
// delimiter, as much as a line can hold plus its delimiter. After every
// Feed the decoder must hold fewer bytes than that within a bounded buffer
// (see checkHeld), and the filler must end in a *FrameTooLargeError.
func checkLineMemory(t *testing.T, d *LineDecoder, data, cuts []byte) {
	t.Helper()
	d.Reset()
	limit := d.MaxLength() + len(d.Delimiter())
	filler := bytes.Repeat([]byte{'z'}, limit) // no delimiter holds a z
	inFiller, err := feedHostile(d, data, cuts, filler, 16, func(err error) {
		checkHeld(t, err, d.Buffered(), limit, d.buf)
	})
	var tooLarge *FrameTooLargeError
	switch {
	case !inFiller:
		return // data failed on its own, and checkHeld saw the buffer go
	case err == nil:
		t.Fatalf("%d bytes without a delimiter (max %d): no error, %d bytes held", limit, d.MaxLength(), d.Buffered())
	case !errors.As(err, &tooLarge):
		t.Fatalf("over-long line: %v, want a *FrameTooLargeError", err)
	}
}

// checkLengthMemory feeds d data cut as cuts says, then 0xff bytes: enough
// to finish any frame begun and to announce one of the largest length the
// prefix can hold. After every Feed the decoder must hold fewer bytes than
// the largest frame it accepts within a bounded buffer (see checkHeld);
// and if that largest announcement is over MaxPayload, the filler must end
// in a *FrameTooLargeError.
func checkLengthMemory(t *testing.T, d *LengthDecoder, data, cuts []byte) {
	t.Helper()
	d.Reset()
	f := d.Format()
	limit := max(f.MaxPayload, f.HeaderLen)
	filler := bytes.Repeat([]byte{0xff}, f.MaxPayload+2*f.HeaderLen)
	inFiller, err := feedHostile(d, data, cuts, filler, 256, func(err error) {
		checkHeld(t, err, d.Buffered(), limit, d.buf)
	})
	announced := uint64(math.MaxUint64)
	if f.HeaderLen < 8 {
		announced = 1<<(8*f.HeaderLen) - 1
	}
	if f.IncludesHeader {
		announced -= uint64(f.HeaderLen)
	}
	var tooLarge *FrameTooLargeError
	switch {
	case !inFiller || announced <= uint64(f.MaxPayload) && err == nil:
		return
	case err == nil:
		t.Fatalf("frames announced at %d bytes (max %d): no error, %d bytes held", announced, f.MaxPayload, d.Buffered())
	case announced > uint64(f.MaxPayload) && !errors.As(err, &tooLarge):
		t.Fatalf("frame over the limit: %v, want a *FrameTooLargeError", err)
	case !errors.Is(err, ErrFrameTooLarge) && !errors.Is(err, ErrInvalidLength):
		t.Fatalf("untyped error %T: %v", err, err)
	}
}

// feedHostile feeds d data cut as cuts says (pieces of up to 16 bytes),
// then filler cut the same way into pieces of up to maxPiece bytes,
// calling check after every Feed. It stops at the first error, which it
// returns, and reports whether it had reached the filler.
func feedHostile(d Decoder, data, cuts, filler []byte, maxPiece int, check func(error)) (inFiller bool, err error) {
	emit := func([]byte) error { return nil }
	for _, c := range testkit.Chunks(data, cuts, 16) {
		err := d.Feed(c, emit)
		check(err)
		if err != nil {
			return false, err
		}
	}
	for _, c := range testkit.Chunks(filler, cuts, maxPiece) {
		err := d.Feed(c, emit)
		check(err)
		if err != nil {
			return true, err
		}
	}
	return true, nil
}

// checkHeld requires a decoder that failed (err set) to hold nothing, and
// one that did not to hold fewer than limit bytes, in buf, whose capacity
// is at most the pool's size class for twice its length: the buffer
// doubles as bytes arrive and never reserves ahead of them.
func checkHeld(t *testing.T, err error, held, limit int, buf []byte) {
	t.Helper()
	switch {
	case err != nil && (held != 0 || buf != nil):
		t.Fatalf("failed decoder (%v) holds %d bytes, buffer capacity %d", err, held, cap(buf))
	case held >= limit:
		t.Fatalf("decoder holds %d bytes, limit %d", held, limit)
	case cap(buf) > poolCap(2*len(buf)):
		t.Fatalf("decoder holds %d bytes in a buffer of %d", len(buf), cap(buf))
	}
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
