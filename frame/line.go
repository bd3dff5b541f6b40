package frame

import (
	"bytes"
	"fmt"
)

// DefaultMaxLineLength is the line limit used when NewLineDecoder is given
// a maximum of zero or less.
const DefaultMaxLineLength = 64 << 10

// LineDecoder splits a stream into lines ended by a delimiter. Emitted
// lines do not include the delimiter. Only the configured delimiter ends a
// line: with "\n", a preceding "\r" stays part of the line, and with "\r\n",
// a lone "\n" or "\r" is ordinary line content.
//
// The zero value is not usable; create decoders with NewLineDecoder.
type LineDecoder struct {
	delim  string
	delimB []byte // delim as a slice, converted once for bytes.Index
	max    int

	// buf holds the start of a line whose delimiter has not arrived yet.
	// It never contains a whole delimiter, and it is nil between lines.
	buf []byte
	err error
}

// NewLineDecoder returns a decoder for lines ended by delim, which may be
// any non-empty byte string such as "\n" or "\r\n". A line longer than
// maxLen bytes (not counting the delimiter) fails with a
// *FrameTooLargeError; maxLen <= 0 selects DefaultMaxLineLength.
func NewLineDecoder(delim string, maxLen int) (*LineDecoder, error) {
	if delim == "" {
		return nil, fmt.Errorf("%w: empty line delimiter", ErrInvalidFormat)
	}
	if maxLen <= 0 {
		maxLen = DefaultMaxLineLength
	}
	return &LineDecoder{delim: delim, delimB: []byte(delim), max: maxLen}, nil
}

// Delimiter returns the delimiter that ends each line.
func (d *LineDecoder) Delimiter() string { return d.delim }

// MaxLength returns the longest line the decoder accepts.
func (d *LineDecoder) MaxLength() int { return d.max }

// Buffered returns the number of bytes held for a line that has not been
// completed by its delimiter yet.
func (d *LineDecoder) Buffered() int { return len(d.buf) }

// Reset discards a partial line, returns its buffer to the pool and clears
// a sticky error, so the decoder can start on a new stream.
func (d *LineDecoder) Reset() {
	release(d.buf)
	d.buf = nil
	d.err = nil
}

// Feed consumes data and calls emit with each complete line, in order,
// without its delimiter. The line slice is valid only until emit returns.
// Lines that lie whole inside data are passed without copying; a trailing
// partial line is kept in a pooled buffer until a later Feed completes it.
//
// If emit returns an error, Feed stops and returns it. That error, or a
// *FrameTooLargeError for an over-long line, is sticky: every later Feed
// returns it without looking at its input, until Reset.
func (d *LineDecoder) Feed(data []byte, emit func(line []byte) error) error {
	if d.err != nil {
		return d.err
	}
	if d.buf != nil {
		rest, done, err := d.feedBuffered(data, emit)
		if err != nil || !done {
			return d.fail(err)
		}
		data = rest
	}
	// A line may be at most max bytes, so its delimiter, if it has one,
	// starts within the first max+len(delim) bytes. Bounding the search
	// finds an over-long line at once instead of after scanning all of data.
	window := d.max + len(d.delim)
	for len(data) > 0 {
		i := d.index(data[:min(len(data), window)])
		if i < 0 {
			if len(data) >= window {
				return d.fail(d.tooLarge())
			}
			d.buf = appendBounded(nil, data, 0)
			return nil
		}
		if err := emit(data[:i]); err != nil {
			return d.fail(err)
		}
		data = data[i+len(d.delim):]
	}
	return nil
}

// feedBuffered continues the partial line in d.buf with data. When the
// line completes it is emitted and done is true, with rest the part of data
// after its delimiter; otherwise all of data went into the buffer.
func (d *LineDecoder) feedBuffered(data []byte, emit func([]byte) error) (rest []byte, done bool, err error) {
	// The delimiter may straddle the buffer and data. The buffer holds no
	// whole delimiter, so the earliest possible occurrence starts within
	// its last len(delim)-1 bytes; the longest matching suffix wins.
	for k := min(len(d.delim)-1, len(d.buf)); k > 0; k-- {
		if string(d.buf[len(d.buf)-k:]) != d.delim[:k] {
			continue
		}
		need := d.delim[k:]
		if len(data) < len(need) {
			if string(data) == need[:len(data)] {
				// Still possibly a delimiter; no shorter overlap can
				// complete with fewer bytes, so just wait for more.
				return nil, false, d.buffer(data)
			}
			continue
		}
		if string(data[:len(need)]) != need {
			continue
		}
		line := d.buf[:len(d.buf)-k]
		if len(line) > d.max {
			return nil, false, d.tooLarge()
		}
		return data[len(need):], true, d.emitBuffered(line, emit)
	}

	// Otherwise the delimiter, if any, lies inside data. The line already
	// has len(d.buf) bytes, which shrinks the window it may end in.
	window := d.max - len(d.buf) + len(d.delim)
	i := d.index(data[:min(len(data), window)])
	if i < 0 {
		if len(data) >= window {
			return nil, false, d.tooLarge()
		}
		return nil, false, d.buffer(data)
	}
	d.buf = appendBounded(d.buf, data[:i], 0)
	return data[i+len(d.delim):], true, d.emitBuffered(d.buf, emit)
}

// emitBuffered passes line, which lives in d.buf, to emit and then returns
// the buffer to the pool: between lines the decoder holds no memory.
func (d *LineDecoder) emitBuffered(line []byte, emit func([]byte) error) error {
	err := emit(line)
	release(d.buf)
	d.buf = nil
	return err
}

// buffer appends data, which holds no delimiter, to the partial line and
// checks that the line can still fit: with the delimiter not yet seen, at
// most its first len(delim)-1 bytes can already be in the buffer.
func (d *LineDecoder) buffer(data []byte) error {
	d.buf = appendBounded(d.buf, data, 0)
	if len(d.buf) >= d.max+len(d.delim) {
		return d.tooLarge()
	}
	return nil
}

// index returns the offset of the first delimiter in b, or -1.
func (d *LineDecoder) index(b []byte) int {
	if len(d.delim) == 1 {
		return bytes.IndexByte(b, d.delim[0])
	}
	return bytes.Index(b, d.delimB)
}

// tooLarge returns the error for a line known to exceed the maximum.
func (d *LineDecoder) tooLarge() error {
	return &FrameTooLargeError{Size: uint64(d.max) + 1, Max: d.max}
}

// fail makes err sticky and drops the partial line. It is a no-op for nil.
func (d *LineDecoder) fail(err error) error {
	if err == nil {
		return nil
	}
	release(d.buf)
	d.buf = nil
	d.err = err
	return err
}

// AppendLine appends line followed by delim to dst. It fails with
// ErrDelimiterInLine, leaving dst unchanged, if the result would not decode
// back to line: when delim occurs in line, or when the end of line and the
// start of delim together form an earlier delimiter.
func AppendLine(dst []byte, delim string, line []byte) ([]byte, error) {
	if delim == "" {
		return dst, fmt.Errorf("%w: empty line delimiter", ErrInvalidFormat)
	}
	start := len(dst)
	dst = append(dst, line...)
	dst = append(dst, delim...)
	if bytes.Index(dst[start:], []byte(delim)) != len(line) {
		return dst[:start], ErrDelimiterInLine
	}
	return dst, nil
}
