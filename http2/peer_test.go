package http2

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2/hpack"
)

// peer is the server side of a scripted exchange. It builds the server's
// frames with the package's own encoders and an HPACK encoder of its own,
// and reads the client's frames back with a Splitter and an HPACK
// decoder.
type peer struct {
	enc   *serverEncoder
	dec   *hpack.Decoder
	split Splitter
}

func newPeer() *peer {
	return &peer{enc: newServerEncoder(), dec: hpack.NewDecoder(4096, nil), split: Splitter{MaxFrameSize: MaxMaxFrameSize, MaxHeaderBlock: 1 << 20}}
}

// headers is a HEADERS frame carrying "name: value" lines.
func (p *peer) headers(id uint32, end bool, lines ...string) []byte {
	return AppendHeaders(nil, id, end, p.enc.block(lines...), 16384)
}

// response is a complete response: a head and, if body is not empty, one
// DATA frame.
func (p *peer) response(id uint32, status int, body string) []byte {
	if body == "" {
		return p.headers(id, true, fmt.Sprintf(":status: %d", status))
	}
	return cat(p.headers(id, false, fmt.Sprintf(":status: %d", status), fmt.Sprintf("content-length: %d", len(body))),
		AppendData(nil, id, true, []byte(body)))
}

func data(id uint32, end bool, s string) []byte { return AppendData(nil, id, end, []byte(s)) }

// settings is the server preface with the settings given.
func settings(s ...Setting) []byte { return AppendSettings(nil, s...) }

// read renders the client's frames in out, decoding header blocks.
func (p *peer) read(t *testing.T, out []byte) []string {
	t.Helper()
	var frames []string
	if len(out) >= len(ClientPreface) && string(out[:len(ClientPreface)]) == ClientPreface {
		frames = append(frames, "PREFACE")
		out = out[len(ClientPreface):]
	}
	for {
		f, n, err := p.split.Next(out)
		out = out[n:]
		if err != nil {
			t.Fatalf("the client sent a bad frame: %v", err)
		}
		if f == nil {
			break
		}
		frames = append(frames, p.render(t, f))
	}
	if p.split.Pending() {
		t.Fatal("the client sent part of a frame")
	}
	return frames
}

func (p *peer) render(t *testing.T, f *Frame) string {
	t.Helper()
	h := f.FrameHeader
	s := fmt.Sprintf("%v %d", h.Type, h.StreamID)
	if fl := flagNames(h.Type, h.Flags); h.Flags != 0 {
		s += " " + fl
	}
	switch h.Type {
	case FrameHeaders:
		fs, err := p.dec.DecodeFull(f.Data)
		if err != nil {
			t.Fatalf("the client sent a bad header block: %v", err)
		}
		var l []string
		for _, f := range fs {
			l = append(l, f.Name+"="+f.Value)
		}
		s += " [" + strings.Join(l, " ") + "]"
	case FrameData:
		if len(f.Data) <= 32 {
			s += fmt.Sprintf(" %q", f.Data)
		} else {
			s += fmt.Sprintf(" %d bytes", len(f.Data))
		}
	case FrameSettings:
		for d := f.Data; len(d) >= 6; d = d[6:] {
			s += " " + Setting{SettingID(uint16(d[0])<<8 | uint16(d[1])), be32(d[2:])}.String()
		}
	case FrameWindowUpdate:
		s += fmt.Sprintf(" +%d", be32(f.Data))
	case FrameRSTStream:
		s += " " + ErrCode(be32(f.Data)).String()
	case FrameGoAway:
		s += fmt.Sprintf(" last=%d %v", be32(f.Data), ErrCode(be32(f.Data[4:])))
	case FramePing:
		s += fmt.Sprintf(" %q", f.Data)
	}
	return s
}

// recorder is a ConnHandler and a StreamHandler that logs every event, in
// a form that does not depend on how the input was split, and checks that
// each stream is closed exactly once.
type recorder struct {
	log    []string
	closed map[uint32]int
	errs   map[uint32]error
	// consume, when set, reports body bytes consumed as they arrive.
	consume bool
	conn    *Conn
	// on, when set, runs after an event is logged, for tests of handlers
	// that call back into the Conn.
	on func(event string, s *Stream)
}

func newRecorder() *recorder {
	return &recorder{closed: make(map[uint32]int), errs: make(map[uint32]error)}
}

func (r *recorder) add(s *Stream, format string, args ...any) {
	e := fmt.Sprintf(format, args...)
	if s != nil {
		e = fmt.Sprintf("s%d ", s.ID()) + e
	}
	r.log = append(r.log, e)
	if r.on != nil {
		r.on(e, s)
	}
}

func (r *recorder) Settings(c *Conn, s PeerSettings) {
	r.add(nil, "settings streams=%d window=%d frame=%d list=%d table=%d", s.MaxConcurrentStreams,
		s.InitialWindowSize, s.MaxFrameSize, s.MaxHeaderListSize, s.HeaderTableSize)
}
func (r *recorder) PingAck(c *Conn, data [8]byte) { r.add(nil, "ping ack %q", data[:]) }
func (r *recorder) GoAway(c *Conn, e *GoAwayError) {
	r.add(nil, "goaway last=%d %v %q", e.LastStreamID, e.Code, e.Debug)
}

func (r *recorder) Head(s *Stream, h *ResponseHead) { r.add(s, "head %s", renderHead(h)) }
func (r *recorder) Data(s *Stream, p []byte) {
	r.add(s, "data %q", p)
	if r.consume {
		r.conn.Consumed(s, len(p))
	}
}
func (r *recorder) Trailers(s *Stream, h *ResponseHead) { r.add(s, "trailers %s", renderHead(h)) }
func (r *recorder) Closed(s *Stream, err error) {
	r.closed[s.ID()]++
	if r.closed[s.ID()] > 1 {
		r.log = append(r.log, fmt.Sprintf("s%d CLOSED AGAIN", s.ID()))
	}
	r.errs[s.ID()] = err
	r.add(s, "closed %s", errString(err))
}
func (r *recorder) WindowOpen(s *Stream) { r.add(s, "window open") }

func (r *recorder) String() string { return strings.Join(r.log, "\n") }

// fakeClock is a Config.Now that moves only when told.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// harness runs one client Conn against a scripted server.
type harness struct {
	t     *testing.T
	c     *Conn
	rec   *recorder
	srv   *peer
	clock *fakeClock
}

// newHarness starts a connection and reads its preface.
func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, c: new(Conn), rec: newRecorder(), srv: newPeer(), clock: &fakeClock{t: time.Unix(1e9, 0)}}
	if cfg.Now == nil {
		cfg.Now = h.clock.now
	}
	h.rec.conn = h.c
	h.c.Init(cfg, h.rec)
	h.sent()
	return h
}

// ready has the server send its SETTINGS (the ones given) and acknowledge
// ours, and clears the log.
func (h *harness) ready(s ...Setting) *harness {
	h.t.Helper()
	h.feed(settings(s...), AppendSettingsAck(nil))
	if got := h.sent(); len(got) != 1 || got[0] != "SETTINGS 0 ACK" {
		h.t.Fatalf("client answered the server's SETTINGS with %q", got)
	}
	h.rec.log = nil
	return h
}

// feed feeds the server's frames whole, failing the test on an error.
func (h *harness) feed(frames ...[]byte) {
	h.t.Helper()
	if err := h.c.Feed(cat(frames...)); err != nil {
		h.t.Fatalf("Feed: %v", err)
	}
}

// feedErr feeds the server's frames and returns Feed's error.
func (h *harness) feedErr(frames ...[]byte) error { return h.c.Feed(cat(frames...)) }

// sent returns the client's frames queued since the last call, and
// flushes them.
func (h *harness) sent() []string {
	h.t.Helper()
	out := h.srv.read(h.t, h.c.Pending())
	h.c.Flushed()
	return out
}

// events returns the events logged since the last call.
func (h *harness) events() string {
	s := h.rec.String()
	h.rec.log = nil
	return s
}

var getReq = Request{Method: "GET", Scheme: "https", Authority: "example.com", Path: "/"}

// open opens a stream, failing the test on an error.
func (h *harness) open(req Request, end bool) *Stream {
	h.t.Helper()
	s, err := h.c.OpenStream(h.rec, &req, end)
	if err != nil {
		h.t.Fatalf("OpenStream: %v", err)
	}
	return s
}

// expectSent checks the client's frames since the last call.
func (h *harness) expectSent(want ...string) {
	h.t.Helper()
	got := h.sent()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		h.t.Fatalf("client sent:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// expectEvents checks the events since the last call.
func (h *harness) expectEvents(want ...string) {
	h.t.Helper()
	if got := h.events(); got != strings.Join(want, "\n") {
		h.t.Fatalf("events:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}
