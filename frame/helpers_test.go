package frame

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// result is what a decoder produced for a whole stream: copies of the
// frames it emitted and the first error it returned.
type result struct {
	frames []string
	err    error
}

func (r result) String() string {
	return fmt.Sprintf("frames %q err %v", r.frames, r.err)
}

// same reports whether two results agree: equal frames, and errors that are
// both nil or both match the same sentinel.
func (r result) same(o result) bool {
	if len(r.frames) != len(o.frames) {
		return false
	}
	for i := range r.frames {
		if r.frames[i] != o.frames[i] {
			return false
		}
	}
	return errKind(r.err) == errKind(o.err)
}

func errKind(err error) string {
	switch {
	case err == nil:
		return "nil"
	case errors.Is(err, ErrFrameTooLarge):
		return "too large"
	case errors.Is(err, ErrInvalidLength):
		return "invalid length"
	}
	return "other: " + err.Error()
}

// feedChunks feeds the chunks in order, stopping at the first error, and
// checks that a failed decoder keeps failing.
func feedChunks(d Decoder, chunks [][]byte) result {
	var r result
	emit := func(f []byte) error {
		r.frames = append(r.frames, string(f))
		return nil
	}
	for _, c := range chunks {
		// Hand the decoder a private copy and scribble over it afterwards,
		// so a decoder that keeps a reference to its input is caught.
		c = bytes.Clone(c)
		err := d.Feed(c, emit)
		for i := range c {
			c[i] = 0xAA
		}
		if err != nil {
			r.err = err
			if again := d.Feed([]byte("more"), emit); again != err {
				r.err = fmt.Errorf("error not sticky: %v then %v", err, again)
			}
			return r
		}
	}
	return r
}

// refLines splits data the way a LineDecoder must: the line ends at the
// first delimiter; a line longer than max fails as soon as max+len(delim)
// bytes have arrived without a delimiter.
func refLines(data []byte, delim string, max int) result {
	var r result
	for {
		i := bytes.Index(data, []byte(delim))
		if i < 0 {
			if len(data) >= max+len(delim) {
				r.err = ErrFrameTooLarge
			}
			return r
		}
		if i > max {
			r.err = ErrFrameTooLarge
			return r
		}
		r.frames = append(r.frames, string(data[:i]))
		data = data[i+len(delim):]
	}
}

// refLength splits data the way a LengthDecoder for f must.
func refLength(data []byte, f LengthFormat) result {
	f, _ = f.check()
	var r result
	for len(data) >= f.HeaderLen {
		n, err := f.decode(data)
		if err != nil {
			r.err = err
			return r
		}
		data = data[f.HeaderLen:]
		if uint64(len(data)) < n {
			return r
		}
		r.frames = append(r.frames, string(data[:n]))
		data = data[n:]
	}
	return r
}

// raceEnabled is set by race_test.go when the race detector is on.
var raceEnabled bool

func skipAllocTest(t *testing.T) {
	t.Helper()
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts need -short off and no race detector")
	}
}
