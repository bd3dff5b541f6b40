package http2

import (
	"strings"
	"testing"
	"time"
)

// TestCreditOnlyOnConsumed checks that receive credit returns when, and
// only when, the application says it consumed the bytes, batched by half
// windows; so a reader that stops stops the server after one window.
func TestCreditOnlyOnConsumed(t *testing.T) {
	h := newHarness(t, Config{StreamWindow: 65536, ConnWindow: 131072, DisableBDP: true}).ready()
	s := h.open(getReq, true)
	h.sent()
	chunk := strings.Repeat("d", 16384)
	h.feed(h.srv.headers(1, false, ":status: 200"), data(1, false, chunk), data(1, false, chunk), data(1, false, chunk), data(1, false, chunk))
	h.expectSent() // nothing consumed: no credit, whatever arrived
	if s.recv.win != 0 || s.outstanding != 65536 {
		t.Fatalf("stream window %d, outstanding %d", s.recv.win, s.outstanding)
	}
	h.c.Consumed(s, 30000)
	h.expectSent() // below half the stream window
	h.c.Consumed(s, 3000)
	h.expectSent("WINDOW_UPDATE 1 +33000") // half the stream window; not yet half the connection's
	h.c.Consumed(s, 1<<20)                 // more than was delivered: capped at 32536
	h.expectSent("WINDOW_UPDATE 0 +65536")
	if s.outstanding != 0 || s.recv.unacked != 32536 || h.c.recv.unacked != 0 {
		t.Fatalf("outstanding %d, stream owed %d, connection owed %d", s.outstanding, s.recv.unacked, h.c.recv.unacked)
	}
	h.feed(data(1, false, chunk), data(1, false, chunk))
	h.c.Consumed(s, 2*16384)
	h.expectSent("WINDOW_UPDATE 1 +65304")
	// Bytes left unread when the stream ends go back to the connection.
	h.feed(data(1, false, chunk), data(1, true, chunk))
	h.expectSent("WINDOW_UPDATE 0 +65536")
	h.c.Consumed(s, 100) // after Closed: nothing
	h.expectSent()
}

// TestPaddingCredited checks that padding, which nobody reads, is credited
// at once.
func TestPaddingCredited(t *testing.T) {
	h := newHarness(t, Config{StreamWindow: 1000, ConnWindow: 65535, MaxConnWindow: 65535, DisableBDP: true}).ready()
	s := h.open(getReq, true)
	h.sent()
	h.feed(h.srv.headers(1, false, ":status: 200"), AppendDataPadded(nil, 1, false, []byte("abc"), 255),
		AppendDataPadded(nil, 1, false, []byte("de"), 255))
	h.expectEvents("s1 head 200 cl=-1 []", `s1 data "abc"`, `s1 data "de"`)
	// 2 x 256 bytes of padding: the stream's half window (500) is reached.
	h.expectSent("WINDOW_UPDATE 1 +512")
	if s.outstanding != 5 {
		t.Fatal(s.outstanding)
	}
}

// TestUploadFlowControl checks the send side: the server's windows bound
// what WriteData takes, a lowered INITIAL_WINDOW_SIZE can make a stream's
// window negative, and WindowOpen comes only when the stream may send.
func TestUploadFlowControl(t *testing.T) {
	h := newHarness(t, Config{DisableBDP: true}).ready()
	s := h.open(Request{Method: "PUT", Scheme: "https", Authority: "a", Path: "/", ContentLength: -1}, false)
	body := make([]byte, 100000)
	n, _ := h.c.WriteData(s, body, false)
	if n != 65535 || s.SendWindow() != 0 {
		t.Fatalf("took %d of the initial windows, window left %d", n, s.SendWindow())
	}
	got := h.sent()
	if strings.Join(got[1:], "|") != "DATA 1 16384 bytes|DATA 1 16384 bytes|DATA 1 16384 bytes|DATA 1 16383 bytes" {
		t.Fatalf("sent %q", got)
	}
	if n, _ := h.c.WriteData(s, body[n:], false); n != 0 {
		t.Fatal("wrote with no window")
	}
	// The connection's window opens, the stream's does not.
	h.feed(AppendWindowUpdate(nil, 0, 100000))
	h.expectEvents()
	// The server lowers the initial window: the stream's goes negative.
	h.feed(settings(Setting{SettingInitialWindowSize, 1000}))
	if s.send != 1000-65535 {
		t.Fatalf("stream window %d", s.send)
	}
	h.events()
	h.feed(AppendWindowUpdate(nil, 1, 64535))
	h.expectEvents() // back to 0: still nothing to send
	h.feed(AppendWindowUpdate(nil, 1, 10))
	h.expectEvents("s1 window open")
	if n, _ := h.c.WriteData(s, body, false); n != 10 {
		t.Fatalf("took %d with a window of 10", n)
	}
	// Raising the initial window wakes the stream too.
	h.feed(settings(Setting{SettingInitialWindowSize, 70000}))
	h.expectEvents("settings streams=4294967295 window=70000 frame=16384 list=0 table=4096", "s1 window open")
	if s.SendWindow() != 69000 {
		t.Fatalf("window %d", s.SendWindow())
	}
	// Ending the body with nothing left to send needs no window.
	h.feed(settings(Setting{SettingInitialWindowSize, 0}))
	h.sent()
	if n, err := h.c.WriteData(s, nil, true); n != 0 || err != nil || s.State() != StateHalfClosedLocal {
		t.Fatalf("end: %d %v %v", n, err, s.State())
	}
	h.expectSent(`DATA 1 END_STREAM ""`)
}

// TestWaitRoom: a caller whose output is full frames less than it has,
// and the stream waits like one cut short by flow control; Wake gives
// WindowOpen to the waiting streams whose windows are open, once each,
// and to no stream that no longer sends.
func TestWaitRoom(t *testing.T) {
	h := newHarness(t, Config{DisableBDP: true}).ready()
	put := Request{Method: "PUT", Scheme: "https", Authority: "a", Path: "/", ContentLength: -1}
	s1, s3 := h.open(put, false), h.open(put, false)
	h.sent()
	if h.c.Waiting() {
		t.Fatal("waiting before any stream waits")
	}
	h.c.Wake()
	h.expectEvents()
	h.c.WaitRoom(s1)
	h.c.WaitRoom(s1) // listed once
	h.c.WaitRoom(s3)
	if !h.c.Waiting() {
		t.Fatal("not waiting with two streams waiting")
	}
	h.c.Wake()
	h.expectEvents("s1 window open", "s3 window open")
	if h.c.Waiting() {
		t.Fatal("still waiting after the wake")
	}
	h.c.Wake()
	h.expectEvents()
	// With no window left, a waiting stream waits for the server.
	if n, _ := h.c.WriteData(s1, make([]byte, 65535), false); n != 65535 {
		t.Fatalf("took %d of the initial windows", n)
	}
	h.sent()
	h.c.WaitRoom(s3)
	h.c.Wake()
	h.expectEvents()
	h.feed(AppendWindowUpdate(nil, 0, 100))
	h.expectEvents("s3 window open")
	// A stream that ended its request or closed is not listed.
	h.c.WriteData(s3, nil, true)
	h.sent()
	h.c.WaitRoom(s3)
	h.c.Reset(s1, ErrCodeCancel)
	h.c.WaitRoom(s1)
	h.events()
	h.c.Wake()
	h.expectEvents()
}

// TestConnWindowFollowsStreams checks that the connection window grows
// with the streams open, so that stalled readers cannot use it all up.
func TestConnWindowFollowsStreams(t *testing.T) {
	h := newHarness(t, Config{StreamWindow: 300000, ConnWindow: 1 << 20, MaxConnWindow: 2 << 20, DisableBDP: true}).ready()
	var got []string
	for range 8 {
		h.open(getReq, true)
		for _, f := range h.sent() {
			if strings.HasPrefix(f, "WINDOW_UPDATE") {
				got = append(got, f)
			}
		}
	}
	// 4 x 300000 passes 1 MiB; 7 x 300000 passes the 2 MiB cap.
	if strings.Join(got, "|") != "WINDOW_UPDATE 0 +151424|WINDOW_UPDATE 0 +300000|WINDOW_UPDATE 0 +300000|WINDOW_UPDATE 0 +297152" {
		t.Fatalf("got %q", got)
	}
	if h.c.recv.target != 2<<20 {
		t.Fatal(h.c.recv.target)
	}
}

// TestConnCreditWithStalledStream checks that a stream whose reader
// stopped, holding its whole window unread, does not stall another: the
// connection credit for what the other stream's reader consumes goes back
// although it never adds up to half the connection window (a body reader
// reports what it took in batches, so some bytes always stay unreported),
// because the server can send nothing more until it does.
func TestConnCreditWithStalledStream(t *testing.T) {
	h := newHarness(t, Config{StreamWindow: 65536, ConnWindow: 65536, DisableBDP: true}).ready()
	h.open(getReq, true)
	s3 := h.open(getReq, true)
	if got := h.sent(); got[len(got)-1] != "WINDOW_UPDATE 0 +65536" {
		t.Fatalf("opening two streams of 64 KiB sent %q, want the connection window grown to 128 KiB", got)
	}
	chunk := strings.Repeat("d", 16384)
	h.feed(h.srv.headers(1, false, ":status: 200"), h.srv.headers(3, false, ":status: 200"))
	for range 4 {
		h.feed(data(1, false, chunk), data(3, false, chunk))
	}
	if h.c.recv.win != 0 {
		t.Fatalf("connection window %d after both stream windows were used", h.c.recv.win)
	}
	// Stream 1's reader has stopped. Stream 3's reads on, but reports
	// what it took only in batches, so up to a batch stays unreported; the
	// server sends stream 3 whatever the windows allow.
	const batch = 10000
	got, reported := 65536, 0
	for round := 0; got < 1<<20; round++ {
		for got-reported >= batch {
			h.c.Consumed(s3, batch)
			reported += batch
		}
		h.sent()
		n := int(min(h.c.recv.win, s3.recv.win, 16384))
		if n == 0 || round == 1000 {
			t.Fatalf("stream 3 stalled after %d bytes: connection window %d (%d owed), stream window %d (%d owed)",
				got, h.c.recv.win, h.c.recv.unacked, s3.recv.win, s3.recv.unacked)
		}
		h.feed(data(3, false, strings.Repeat("e", n)))
		got += n
	}
}

// TestBDPGrowth feeds a download over a link whose round trip the fake
// clock sets, and checks that the windows double when a sample nears the
// window, and not past the cap.
func TestBDPGrowth(t *testing.T) {
	h := newHarness(t, Config{StreamWindow: 65536, ConnWindow: 1 << 20, MaxStreamWindow: 200000}).ready()
	h.rec.consume = true
	h.open(getReq, true)
	h.sent()
	h.feed(h.srv.headers(1, false, ":status: 200"))
	chunk := strings.Repeat("z", 16000)
	round := func(frames int) []string {
		// The first DATA starts a sample with a PING; the rest arrive
		// within one round trip of 10 ms.
		for range frames {
			h.feed(data(1, false, chunk))
		}
		sent := h.sent()
		h.clock.advance(10 * time.Millisecond)
		h.feed(AppendPing(nil, true, bdpPing))
		return append(sent, h.sent()...)
	}
	has := func(frames []string, f string) bool {
		for _, g := range frames {
			if g == f {
				return true
			}
		}
		return false
	}
	// 2 frames: 32000 bytes, under 2/3 of the window: no growth.
	got := round(2)
	if !has(got, `PING 0 "egress\xbdp"`) || has(got, "SETTINGS 0 INITIAL_WINDOW_SIZE=64000") {
		t.Fatalf("round 1 sent %q", got)
	}
	// 3 frames: 48000, above 2/3 of 65536: the window doubles the sample.
	got = round(3)
	if !has(got, "SETTINGS 0 INITIAL_WINDOW_SIZE=96000") {
		t.Fatalf("round 2 sent %q", got)
	}
	if h.c.streamWindow != 96000 || h.c.streams[1].recv.target != 96000 {
		t.Fatal(h.c.streamWindow)
	}
	// 6 frames: 96000, the window again: doubles, to the cap.
	got = round(6)
	if !has(got, "SETTINGS 0 INITIAL_WINDOW_SIZE=192000") {
		t.Fatalf("round 3 sent %q", got)
	}
	if got = round(6); has(got, "SETTINGS 0 INITIAL_WINDOW_SIZE=192000") || strings.Contains(strings.Join(got, " "), "SETTINGS") {
		t.Fatalf("grew on a sample under 2/3 of the window: %q", got)
	}
	got = round(9)
	if !has(got, "SETTINGS 0 INITIAL_WINDOW_SIZE=200000") {
		t.Fatalf("round 4 sent %q", got)
	}
	// At the cap, no more samples.
	if got = round(6); has(got, `PING 0 "egress\xbdp"`) {
		t.Fatalf("sampling past the cap: %q", got)
	}
}

// TestBDPNoSampleForSmallBodies checks that a response that fits in any
// window starts no sample.
func TestBDPNoSampleForSmallBodies(t *testing.T) {
	h := newHarness(t, Config{}).ready()
	h.open(getReq, true)
	h.sent()
	h.feed(h.srv.headers(1, false, ":status: 200", "content-length: 10"), data(1, false, "01234"), data(1, true, "56789"))
	h.expectSent()
}

func TestBDPEstimatorSlowerLink(t *testing.T) {
	var b bdpEstimator
	b.init(65536, 1<<24)
	now := time.Unix(0, 0)
	clock := func() time.Time { return now }
	// A sample near the window, then one as large but slower: the second
	// shows less bandwidth than the best, so no growth.
	b.data(50000, true, clock)
	now = now.Add(10 * time.Millisecond)
	if w := b.ack(now); w != 100000 {
		t.Fatalf("first sample: %d", w)
	}
	b.data(70000, true, clock)
	now = now.Add(100 * time.Millisecond)
	if w := b.ack(now); w != 0 {
		t.Fatalf("slower sample grew the window to %d", w)
	}
	if b.ack(now) != 0 {
		t.Fatal("ack without a sample")
	}
}

func TestRecvFlow(t *testing.T) {
	var f recvFlow
	f.init(100)
	if !f.take(60) || f.take(41) || !f.take(40) || f.take(1) {
		t.Fatal("take")
	}
	if f.credit(49) != 0 || f.credit(1) != 50 || f.win != 50 {
		t.Fatal("credit")
	}
	f.grow(100)
	if f.win != 150 || f.target != 200 {
		t.Fatal("grow")
	}
	w := int64(MaxWindowSize - 1)
	if !addWindow(&w, 1) || addWindow(&w, 1) || w != MaxWindowSize {
		t.Fatal("addWindow")
	}
	w = -100
	if !addWindow(&w, 50) || w != -50 {
		t.Fatal("negative window")
	}
}
