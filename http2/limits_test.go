package http2

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// TestFloods sends, for each kind of cheap frame, more than the budget
// allows at once, and checks that the connection ends with GOAWAY
// ENHANCE_YOUR_CALM while its output stays small.
func TestFloods(t *testing.T) {
	for _, c := range []struct {
		name  string
		frame func(p *peer, i int) []byte
		rule  error
	}{
		{"PING", func(p *peer, i int) []byte { return AppendPing(nil, false, [8]byte{byte(i)}) }, ErrFlood},
		{"PING ACK", func(p *peer, i int) []byte { return AppendPing(nil, true, [8]byte{byte(i)}) }, ErrFlood},
		{"SETTINGS", func(p *peer, i int) []byte { return settings() }, ErrFlood},
		{"SETTINGS ACK", func(p *peer, i int) []byte { return AppendSettingsAck(nil) }, ErrFlood},
		{"WINDOW_UPDATE", func(p *peer, i int) []byte { return AppendWindowUpdate(nil, 0, 1) }, ErrFlood},
		{"stream WINDOW_UPDATE", func(p *peer, i int) []byte { return AppendWindowUpdate(nil, 1, 1) }, ErrFlood},
		{"PRIORITY", func(p *peer, i int) []byte { return raw(FramePriority, 0, uint32(2*i+1), 0, 0, 0, 0, 1) }, ErrFlood},
		{"unknown type", func(p *peer, i int) []byte { return raw(0x42, 0, 0) }, ErrFlood},
		{"empty DATA", func(p *peer, i int) []byte { return data(1, false, "") }, ErrFlood},
		{"RST_STREAM on closed streams", func(p *peer, i int) []byte { return AppendRSTStream(nil, 3, ErrCodeCancel) }, ErrFlood},
		{"DATA on a closed stream", func(p *peer, i int) []byte { return data(3, false, "") }, ErrFlood},
		{"interim heads", func(p *peer, i int) []byte { return p.headers(5, false, ":status: 103") }, ErrFlood},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Config{DisableBDP: true}).ready()
			h.open(getReq, true)
			h.open(getReq, true)
			h.open(getReq, true)
			h.sent()
			h.feed(h.srv.headers(1, false, ":status: 200"), AppendRSTStream(nil, 3, ErrCodeInternal))
			var err error
			for i := 0; i < 5000 && err == nil; i++ {
				err = h.feedErr(c.frame(h.srv, i))
				if len(h.c.Pending()) > 20000 {
					t.Fatalf("output grew to %d bytes", len(h.c.Pending()))
				}
			}
			var ce *ConnError
			if !errors.As(err, &ce) || ce.Code != ErrCodeEnhanceYourCalm || !errors.Is(err, c.rule) {
				t.Fatalf("flood ended with %v", err)
			}
			got := h.sent()
			if got[len(got)-1] != "GOAWAY 0 last=0 ENHANCE_YOUR_CALM" {
				t.Fatalf("last frame %q", got[len(got)-1])
			}
			if h.rec.closed[1] != 1 || h.rec.errs[1] != err || h.rec.closed[5] != 1 || h.rec.errs[5] != err {
				t.Fatal("the open streams were not closed with the error")
			}
		})
	}
}

// TestFloodEndlessContinuation checks that a header block that never ends
// is cut off after a bounded number of frames.
func TestFloodEndlessContinuation(t *testing.T) {
	h := newHarness(t, Config{DisableBDP: true}).ready()
	h.open(getReq, true)
	in := cat(raw(FrameHeaders, 0, 1, 0x88), bytes.Repeat(raw(FrameContinuation, 0, 1), 10000))
	err := h.feedErr(in)
	if !errors.Is(err, ErrFlood) {
		t.Fatal(err)
	}
}

// TestControlBacklog checks that acknowledgements owed to the server stop
// at MaxQueuedControlFrames while the output is not flushed, and that
// flushing lets the next ones through.
func TestControlBacklog(t *testing.T) {
	h := newHarness(t, Config{MaxControlFrames: 1 << 20, MaxQueuedControlFrames: 50}).ready()
	ping := AppendPing(nil, false, [8]byte{})
	for range 10 {
		h.feed(bytes.Repeat(ping, 50))
		if got := h.sent(); len(got) != 50 {
			t.Fatalf("%d acknowledgements", len(got))
		}
	}
	err := h.feedErr(bytes.Repeat(ping, 51))
	var ce *ConnError
	if !errors.As(err, &ce) || ce.Code != ErrCodeEnhanceYourCalm || !errors.Is(err, ErrControlBacklog) {
		t.Fatal(err)
	}
}

// TestFloodBudgetRefills checks that the budget refills with time, so a
// server pinging now and then for hours is fine, and that the client's
// own traffic earns the control frames it provokes.
func TestFloodBudgetRefills(t *testing.T) {
	h := newHarness(t, Config{MaxControlFrames: 100, ControlFrameRate: 10, DisableBDP: true}).ready()
	ping := AppendPing(nil, false, [8]byte{})
	// The bucket holds 100, minus the 2 SETTINGS frames of ready().
	h.feed(bytes.Repeat(ping, 98))
	h.sent()
	h.clock.advance(2 * time.Second) // 20 more
	h.feed(bytes.Repeat(ping, 20))
	h.sent()
	// Hours of a ping a minute.
	for range 300 {
		h.clock.advance(time.Minute)
		h.feed(ping)
		h.sent()
	}
	if err := h.feedErr(bytes.Repeat(ping, 101)); !errors.Is(err, ErrFlood) {
		t.Fatalf("a burst above the bucket: %v", err)
	}

	// An upload answered by two WINDOW_UPDATEs per DATA frame never
	// empties the bucket.
	h = newHarness(t, Config{MaxControlFrames: 100, ControlFrameRate: 1, DisableBDP: true}).ready()
	s := h.open(Request{Method: "PUT", Scheme: "https", Authority: "a", Path: "/", ContentLength: -1}, false)
	chunk := make([]byte, 1000)
	for range 2000 {
		if n, _ := h.c.WriteData(s, chunk, false); n != 1000 {
			t.Fatal("blocked")
		}
		h.feed(AppendWindowUpdate(nil, 0, 1000), AppendWindowUpdate(nil, 1, 1000))
		h.sent()
	}
}

// TestConfigDefaults checks the documented defaults and clamps.
func TestConfigDefaults(t *testing.T) {
	r := (&Config{}).resolve()
	if r.maxFrameSize != 16384 || r.maxHeaderListSize != 65536 || r.maxHeaderBlockBytes != 65536 ||
		r.headerTableSize != 4096 || r.streamWindow != 256<<10 || r.connWindow != 1<<20 ||
		r.maxStreamWindow != 16<<20 || r.maxConnWindow != 64<<20 || !r.bdp || r.now == nil ||
		r.maxControlFrames != 1000 || r.controlFrameRate != 100 || r.maxQueuedControl != 1000 {
		t.Fatalf("defaults: %+v", r)
	}
	r = (&Config{MaxFrameSize: 1, StreamWindow: 1 << 31, ConnWindow: 1 << 31, MaxStreamWindow: 10, MaxConnWindow: 10, MaxControlFrames: -5}).resolve()
	if r.maxFrameSize != 16384 || r.streamWindow != MaxWindowSize || r.connWindow != MaxWindowSize ||
		r.maxStreamWindow != MaxWindowSize || r.maxConnWindow != MaxWindowSize || r.maxControlFrames != 1000 {
		t.Fatalf("clamps: %+v", r)
	}
	if r := (&Config{MaxFrameSize: 1 << 30}).resolve(); r.maxFrameSize != MaxMaxFrameSize {
		t.Fatal(r.maxFrameSize)
	}
	if r := (&Config{MaxHeaderListSize: 100}).resolve(); r.maxHeaderBlockBytes != 100 {
		t.Fatal(r.maxHeaderBlockBytes)
	}
}
