package http2

import (
	"errors"
	"fmt"
	"strings"
)

// raceEnabled is set by race_test.go when the race detector is on.
var raceEnabled bool

// raw builds a frame by hand, for the frames a client never sends and for
// malformed ones.
func raw(t FrameType, fl Flags, stream uint32, payload ...byte) []byte {
	b := AppendFrameHeader(nil, FrameHeader{Length: uint32(len(payload)), Type: t, Flags: fl, StreamID: stream})
	return append(b, payload...)
}

// cat joins frames into one input.
func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// renderFrame renders what a Splitter handed on, in a form that does not
// depend on how the input was split.
func renderFrame(f *Frame) string {
	s := f.FrameHeader.String() + fmt.Sprintf(" data=%q", f.Data)
	if f.Continuations > 0 {
		s += fmt.Sprintf(" conts=%d", f.Continuations)
	}
	return s
}

// splitChunks feeds chunks to s as an event loop would and renders every
// frame, then the error if any. Each chunk is copied into a scratch buffer
// overwritten after Next has seen it, so a frame whose Data outlives its
// documented lifetime shows up as garbage: frames are rendered at once.
func splitChunks(s *Splitter, chunks [][]byte) string {
	var out []string
	for _, c := range chunks {
		in := append([]byte(nil), c...)
		scratch := in
		for {
			f, n, err := s.Next(in)
			if n < 0 || n > len(in) {
				return strings.Join(append(out, fmt.Sprintf("BAD n=%d of %d", n, len(in))), "\n")
			}
			in = in[n:]
			if err != nil {
				return strings.Join(append(out, "error: "+errString(err)), "\n")
			}
			if f == nil {
				if len(in) != 0 {
					out = append(out, fmt.Sprintf("BAD: no frame with %d bytes unconsumed", len(in)))
				}
				break
			}
			out = append(out, renderFrame(f))
		}
		for i := range scratch {
			scratch[i] = '#'
		}
	}
	if s.Pending() {
		out = append(out, "pending")
	}
	return strings.Join(out, "\n")
}

// errString renders an error with its type and, for the package's typed
// errors, the fields that matter, leaving out the excerpts of what was
// seen, which may depend on how input was split.
func errString(err error) string {
	var ce *ConnError
	var se *StreamError
	var ge *GoAwayError
	switch {
	case err == nil:
		return "<nil>"
	case errors.As(err, &ce):
		return fmt.Sprintf("ConnError{%v, %v}", ce.Code, ce.Err)
	case errors.As(err, &se):
		return fmt.Sprintf("StreamError{%d, %v, remote=%v, %v}", se.StreamID, se.Code, se.Remote, se.Err)
	case errors.As(err, &ge):
		return fmt.Sprintf("GoAwayError{last=%d, %v, %q, stream=%d}", ge.LastStreamID, ge.Code, ge.Debug, ge.StreamID)
	}
	return fmt.Sprintf("%T(%v)", err, err)
}
