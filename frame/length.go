package frame

import (
	"encoding/binary"
	"fmt"
	"math"
)

// DefaultMaxPayload is the payload limit used when LengthFormat.MaxPayload
// is zero or less.
const DefaultMaxPayload = 16 << 20

// LengthFormat describes a framing where each payload is preceded by its
// length, an unsigned integer of fixed size.
type LengthFormat struct {
	// HeaderLen is the size of the length prefix in bytes: 1, 2, 4 or 8.
	HeaderLen int
	// Order is the byte order of the prefix; nil means big-endian (network
	// order). It is not consulted for 1-byte prefixes.
	Order binary.ByteOrder
	// IncludesHeader is set when the prefix counts its own bytes as well as
	// the payload's, as in some wire formats; then a prefix smaller than
	// HeaderLen is invalid.
	IncludesHeader bool
	// MaxPayload bounds the payload length the decoder accepts, excluding
	// the header; zero or less means DefaultMaxPayload. Encoders ignore it.
	MaxPayload int
}

// check validates f and returns it with defaults filled in.
func (f LengthFormat) check() (LengthFormat, error) {
	switch f.HeaderLen {
	case 1, 2, 4, 8:
	default:
		return f, fmt.Errorf("%w: length prefix of %d bytes (want 1, 2, 4 or 8)", ErrInvalidFormat, f.HeaderLen)
	}
	if f.Order == nil {
		f.Order = binary.BigEndian
	}
	if f.MaxPayload <= 0 {
		f.MaxPayload = DefaultMaxPayload
	}
	return f, nil
}

// decode reads the prefix at the start of h and returns the payload length
// it declares, saturating at math.MaxUint64 when that cannot be computed.
func (f *LengthFormat) decode(h []byte) (uint64, error) {
	var n uint64
	switch f.HeaderLen {
	case 1:
		n = uint64(h[0])
	case 2:
		n = uint64(f.Order.Uint16(h))
	case 4:
		n = uint64(f.Order.Uint32(h))
	default:
		n = f.Order.Uint64(h)
	}
	if f.IncludesHeader {
		if n < uint64(f.HeaderLen) {
			return 0, fmt.Errorf("%w: length %d is smaller than its %d-byte header", ErrInvalidLength, n, f.HeaderLen)
		}
		n -= uint64(f.HeaderLen)
	}
	if n > uint64(f.MaxPayload) {
		return 0, &FrameTooLargeError{Size: n, Max: f.MaxPayload}
	}
	return n, nil
}

// LengthDecoder splits a stream into length-prefixed frames and emits their
// payloads, without the prefix.
//
// The zero value is not usable; create decoders with NewLengthDecoder.
type LengthDecoder struct {
	f LengthFormat

	hdr  [8]byte // a prefix split across Feeds collects here
	nhdr int     // bytes in hdr; 0 between frames
	// While a payload is incomplete, want is its length and buf holds the
	// bytes received so far. buf is nil between frames.
	want   int
	buf    []byte
	inBody bool
	err    error
}

// NewLengthDecoder returns a decoder for format f. It fails with
// ErrInvalidFormat if f.HeaderLen is not 1, 2, 4 or 8.
func NewLengthDecoder(f LengthFormat) (*LengthDecoder, error) {
	f, err := f.check()
	if err != nil {
		return nil, err
	}
	return &LengthDecoder{f: f}, nil
}

// Format returns the decoder's format, with defaults filled in.
func (d *LengthDecoder) Format() LengthFormat { return d.f }

// Buffered returns the number of bytes held for a frame that is not complete
// yet: a partial prefix, or the payload bytes received so far.
func (d *LengthDecoder) Buffered() int { return d.nhdr + len(d.buf) }

// Reset discards a partial frame, returns its buffer to the pool and clears
// a sticky error, so the decoder can start on a new stream.
func (d *LengthDecoder) Reset() {
	release(d.buf)
	*d = LengthDecoder{f: d.f}
}

// Feed consumes data and calls emit with the payload of each complete frame,
// in order. The payload slice is valid only until emit returns. Frames that
// lie whole inside data are passed without copying; the payload of a frame
// that is still arriving is collected in a pooled buffer, which goes back to
// the pool once the frame is emitted.
//
// A prefix that declares more than MaxPayload bytes fails with a
// *FrameTooLargeError as soon as the prefix is read, before any of the
// payload is buffered. If emit returns an error, Feed stops and returns it.
// Errors are sticky: every later Feed returns the same error until Reset.
func (d *LengthDecoder) Feed(data []byte, emit func(payload []byte) error) error {
	if d.err != nil {
		return d.err
	}
	if d.nhdr > 0 || d.inBody {
		rest, done, err := d.feedPartial(data, emit)
		if err != nil || !done {
			return d.fail(err)
		}
		data = rest
	}
	hl := d.f.HeaderLen
	for len(data) > 0 {
		if len(data) < hl {
			d.nhdr = copy(d.hdr[:], data)
			return nil
		}
		n, err := d.f.decode(data)
		if err != nil {
			return d.fail(err)
		}
		data = data[hl:]
		if uint64(len(data)) < n {
			d.startBody(int(n), data)
			return nil
		}
		if err := emit(data[:n:n]); err != nil {
			return d.fail(err)
		}
		data = data[n:]
	}
	return nil
}

// feedPartial continues a frame begun by an earlier Feed. When the frame
// completes it is emitted and done is true, with rest the remaining input.
func (d *LengthDecoder) feedPartial(data []byte, emit func([]byte) error) (rest []byte, done bool, err error) {
	if !d.inBody {
		c := copy(d.hdr[d.nhdr:d.f.HeaderLen], data)
		d.nhdr += c
		data = data[c:]
		if d.nhdr < d.f.HeaderLen {
			return nil, false, nil
		}
		d.nhdr = 0
		n, err := d.f.decode(d.hdr[:])
		if err != nil {
			return nil, false, err
		}
		if uint64(len(data)) >= n {
			// The payload is whole in data after all: no copy needed.
			return data[n:], true, emit(data[:n:n])
		}
		d.startBody(int(n), data)
		return nil, false, nil
	}
	c := min(d.want-len(d.buf), len(data))
	d.buf = appendBounded(d.buf, data[:c], d.want)
	if len(d.buf) < d.want {
		return nil, false, nil
	}
	err = emit(d.buf)
	release(d.buf)
	d.buf, d.inBody = nil, false
	return data[c:], true, err
}

// startBody records a payload of n bytes of which part has arrived.
func (d *LengthDecoder) startBody(n int, part []byte) {
	d.want, d.inBody = n, true
	d.buf = appendBounded(nil, part, n)
}

// fail makes err sticky and drops any partial frame. It is a no-op for nil.
func (d *LengthDecoder) fail(err error) error {
	if err == nil {
		return nil
	}
	release(d.buf)
	d.buf, d.inBody, d.nhdr = nil, false, 0
	d.err = err
	return err
}

// AppendLengthHeader appends the length prefix for a payload of n bytes to
// dst, for callers that send the payload separately. It fails if f is
// invalid or n does not fit in the prefix.
func AppendLengthHeader(dst []byte, f LengthFormat, n int) ([]byte, error) {
	f, err := f.check()
	if err != nil {
		return dst, err
	}
	if n < 0 {
		return dst, fmt.Errorf("%w: negative payload length %d", ErrInvalidLength, n)
	}
	v := uint64(n)
	if f.IncludesHeader {
		v += uint64(f.HeaderLen)
	}
	var limit uint64 = math.MaxUint64
	if f.HeaderLen < 8 {
		limit = 1<<(8*f.HeaderLen) - 1
	}
	if v > limit {
		return dst, fmt.Errorf("%w: payload of %d bytes does not fit a %d-byte length prefix", ErrInvalidLength, n, f.HeaderLen)
	}
	// Grow dst and write in place: a scratch array passed to the ByteOrder
	// interface would escape and cost an allocation per frame.
	start := len(dst)
	dst = append(dst, zeros[:f.HeaderLen]...)
	h := dst[start:]
	switch f.HeaderLen {
	case 1:
		h[0] = byte(v)
	case 2:
		f.Order.PutUint16(h, uint16(v))
	case 4:
		f.Order.PutUint32(h, uint32(v))
	default:
		f.Order.PutUint64(h, v)
	}
	return dst, nil
}

var zeros [8]byte

// AppendLengthPrefixed appends payload, preceded by its length prefix in
// format f, to dst. It fails if f is invalid or the payload is too long for
// the prefix; MaxPayload is not checked, as it limits what we accept.
func AppendLengthPrefixed(dst []byte, f LengthFormat, payload []byte) ([]byte, error) {
	dst, err := AppendLengthHeader(dst, f, len(payload))
	if err != nil {
		return dst, err
	}
	return append(dst, payload...), nil
}
