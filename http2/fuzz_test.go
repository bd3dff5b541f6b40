package http2

import (
	"errors"
	"strings"
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

// maxFuzzInput bounds the inputs the fuzz targets look at: larger ones
// find nothing new and make minimizing slow.
const maxFuzzInput = 8192

// checkConnErr requires err to be nil or a *ConnError with a known code
// and a sentinel, as every error the Splitter and the Conn return must be.
func checkConnErr(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ce *ConnError
	if !errors.As(err, &ce) || ce.Err == nil || ce.Code > ErrCodeHTTP11Required {
		t.Fatalf("untyped error %T: %v", err, err)
	}
}

// FuzzSplitter checks, for any input cut any way, that the Splitter does
// not panic, hands on the same frames and error as for the whole input,
// returns only typed errors, and buffers no more than one frame.
func FuzzSplitter(f *testing.F) {
	for _, c := range append(append([]splitCase(nil), validSplits...), invalidSplits...) {
		if len(c.in) <= maxFuzzInput {
			f.Add(c.in, []byte{3, 200, 17})
		}
	}
	f.Fuzz(func(t *testing.T, data, sizes []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		s := Splitter{MaxHeaderBlock: 4096}
		want := splitChunks(&s, testkit.Whole(data))
		s.Reset()
		got := splitChunks(&s, testkit.Chunks(data, sizes, 64))
		if got != want {
			t.Fatalf("split by %v:\n got %s\nwant %s", sizes, got, want)
		}
		// Typed errors, and memory bounded by one frame.
		s.Reset()
		for _, c := range testkit.Chunks(data, sizes, 512) {
			for {
				f, n, err := s.Next(c)
				c = c[n:]
				checkConnErr(t, err)
				if cap(s.buf) > 1<<17 || cap(s.block) > 1<<17 {
					t.Fatalf("buffers of %d and %d bytes", cap(s.buf), cap(s.block))
				}
				if err != nil || f == nil {
					break
				}
				if f.Type == FrameHeaders && len(f.Data) > 4096 {
					t.Fatalf("a header block of %d bytes passed a limit of 4096", len(f.Data))
				}
			}
		}
	})
}

// FuzzHeaderDecode checks, for any header block, that decoding does not
// panic, that a block HPACK cannot decode is a COMPRESSION_ERROR, and that
// a head accepted follows the rules of RFC 9113 §8.
func FuzzHeaderDecode(f *testing.F) {
	enc := newServerEncoder()
	f.Add(enc.block(":status: 200", "content-type: text/plain", "content-length: 5"), false)
	f.Add(enc.block(":status: 200", "content-type: text/plain", "content-length: 5"), false)
	f.Add(enc.block(":status: 103", "link: </a>"), false)
	f.Add(enc.block("grpc-status: 0", "grpc-message: ok"), true)
	f.Add(enc.block(":status: 200", "Upper: x", "connection: close"), false)
	f.Add([]byte{0x3f, 0xe1, 0x1f, 0x82}, false)
	f.Add([]byte{0x40, 0x81, 0xff, 0x01, 'a'}, false)
	f.Fuzz(func(t *testing.T, block []byte, trailers bool) {
		if len(block) > maxFuzzInput {
			return
		}
		d := newDecoder(2048)
		for range 2 { // twice: the second block sees the table the first left
			cerr, rule, seen := d.decode(block, trailers)
			if cerr != nil {
				var ce *ConnError
				if !errors.As(cerr, &ce) || ce.Code != ErrCodeCompression {
					t.Fatalf("decoding error %v", cerr)
				}
				return
			}
			if rule != nil {
				if len(seen) > maxSeen {
					t.Fatalf("quoted %d bytes", len(seen))
				}
				continue
			}
			h := &d.head
			if !trailers && (h.Status < 100 || h.Status > 599) || trailers && h.Status != 0 {
				t.Fatalf("status %d accepted", h.Status)
			}
			size := 0
			for _, f := range h.Fields {
				size += fieldSize(f.Name, f.Value)
				if checkResponseName(f.Name) != nil || !validValue(f.Value) {
					t.Fatalf("field %q: %q accepted", f.Name, f.Value)
				}
			}
			if size > 2048 {
				t.Fatalf("a list of %d bytes passed a limit of 2048", size)
			}
		}
	})
}

// fuzzStream is the stream handler of FuzzConn: it consumes bodies and
// counts Closed calls.
type fuzzStream struct {
	c      *Conn
	log    []string
	closed map[uint32]int
}

func (f *fuzzStream) Head(s *Stream, h *ResponseHead) { f.log = append(f.log, "head "+renderHead(h)) }
func (f *fuzzStream) Data(s *Stream, p []byte) {
	f.log = append(f.log, "data "+itoa(len(p)))
	f.c.Consumed(s, len(p))
}
func (f *fuzzStream) Trailers(s *Stream, h *ResponseHead) {
	f.log = append(f.log, "trailers "+renderHead(h))
}
func (f *fuzzStream) Closed(s *Stream, err error) {
	f.closed[s.ID()]++
	f.log = append(f.log, "closed "+itoa(int(s.ID()))+" "+errString(err))
}
func (f *fuzzStream) WindowOpen(s *Stream) {
	f.log = append(f.log, "window open "+itoa(int(s.ID())))
	f.c.WriteData(s, []byte("more"), true)
}

// runFuzzConn plays server bytes, cut into chunks, against a Conn with
// three streams open (the second uploading), and renders what happened.
func runFuzzConn(t *testing.T, chunks [][]byte) (string, *fuzzStream) {
	c := new(Conn)
	c.Init(Config{MaxHeaderListSize: 4096, StreamWindow: 65535, ConnWindow: 65535, MaxControlFrames: 200, Now: (&fakeClock{}).now}, nil)
	h := &fuzzStream{c: c, closed: make(map[uint32]int)}
	c.OpenStream(h, &getReq, true)
	s, _ := c.OpenStream(h, &Request{Method: "POST", Scheme: "https", Authority: "a", Path: "/", ContentLength: -1}, false)
	c.OpenStream(h, &getReq, true)
	c.WriteData(s, make([]byte, 70000), false)
	c.Flushed()
	var errs []string
	maxOut := 0
	for _, ch := range chunks {
		err := c.Feed(ch)
		checkConnErr(t, err)
		maxOut = max(maxOut, len(c.Pending()))
		if err != nil {
			errs = append(errs, errString(err))
			break
		}
	}
	if maxOut > 64<<10 {
		t.Fatalf("output grew to %d bytes", maxOut)
	}
	out := len(c.Pending())
	c.Close(nil)
	for _, id := range []uint32{1, 3, 5} {
		if h.closed[id] != 1 {
			t.Fatalf("stream %d closed %d times", id, h.closed[id])
		}
	}
	if len(h.closed) != 3 {
		t.Fatalf("Closed for streams never opened: %v", h.closed)
	}
	return strings.Join(h.log, "\n") + "\nout " + itoa(out) + "\nerrors " + strings.Join(errs, ","), h
}

// FuzzConn checks the connection state machine against any server bytes
// after a valid preface: it never panics, returns only typed errors,
// keeps its output bounded, closes every stream it opened exactly once
// (Close ends the ones still open), and behaves the same whatever the
// input's cuts.
func FuzzConn(f *testing.F) {
	for _, x := range exchanges {
		f.Add(x.server(newPeer())[len(settings()):], []byte{5, 100, 2})
	}
	p := newPeer()
	f.Add(cat(p.response(1, 200, "ok"), p.response(3, 204, ""), p.response(5, 404, "nope")), []byte{})
	f.Add(cat(AppendWindowUpdate(nil, 0, 10000), AppendWindowUpdate(nil, 3, 10000), p.headers(3, false, ":status: 200")), []byte{1})
	f.Add(cat(AppendGoAway(nil, 1, ErrCodeNo, nil), p.response(1, 200, "x")), []byte{7})
	f.Fuzz(func(t *testing.T, data, sizes []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		in := cat(settings(), data)
		want, _ := runFuzzConn(t, testkit.Whole(in))
		if got, _ := runFuzzConn(t, testkit.Chunks(in, sizes, 128)); got != want {
			t.Fatalf("split by %v:\n got %s\nwant %s", sizes, got, want)
		}
	})
}
