package http2

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestStreamErrors sends, for each rule a response can break, a server
// that breaks it on stream 1, and checks that stream 1 is reset with the
// right code and closed with a *StreamError naming the rule, while stream
// 3 on the same connection completes.
func TestStreamErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		req  Request
		// frames is the server's answer on stream 1, given a peer.
		frames func(p *peer) []byte
		code   ErrCode
		rule   error
	}{
		{"missing :status", getReq, func(p *peer) []byte { return p.headers(1, true, "x: 1") }, ErrCodeProtocol, ErrMissingStatus},
		{"duplicate :status", getReq, func(p *peer) []byte { return p.headers(1, true, ":status: 200", ":status: 200") }, ErrCodeProtocol, ErrDuplicateStatus},
		{"bad :status", getReq, func(p *peer) []byte { return p.headers(1, true, ":status: 20") }, ErrCodeProtocol, ErrBadStatus},
		{"101", getReq, func(p *peer) []byte { return p.headers(1, false, ":status: 101") }, ErrCodeProtocol, ErrSwitchingProtocols},
		{"uppercase name", getReq, func(p *peer) []byte { return p.headers(1, true, ":status: 200", "X-Up: 1") }, ErrCodeProtocol, ErrUppercaseName},
		{"pseudo after regular", getReq, func(p *peer) []byte { return p.headers(1, true, "x: 1", ":status: 200") }, ErrCodeProtocol, ErrPseudoAfterRegular},
		{"request pseudo-header", getReq, func(p *peer) []byte { return p.headers(1, true, ":status: 200", ":method: GET") }, ErrCodeProtocol, ErrUnknownPseudo},
		{"connection-specific", getReq, func(p *peer) []byte { return p.headers(1, true, ":status: 200", "connection: close") }, ErrCodeProtocol, ErrConnectionSpecific},
		{"transfer-encoding", getReq, func(p *peer) []byte { return p.headers(1, true, ":status: 200", "transfer-encoding: chunked") }, ErrCodeProtocol, ErrConnectionSpecific},
		{"CR in value", getReq, func(p *peer) []byte { return p.headers(1, true, ":status: 200", "x: a\rb") }, ErrCodeProtocol, ErrBadFieldValue},
		{"bad content-length", getReq, func(p *peer) []byte { return p.headers(1, true, ":status: 200", "content-length: x") }, ErrCodeProtocol, ErrBadContentLength},
		{"header list too large", getReq, func(p *peer) []byte {
			return p.headers(1, true, ":status: 200", "x: "+strings.Repeat("a", 40000), "y: "+strings.Repeat("a", 30000))
		}, ErrCodeProtocol, ErrHeaderListTooLarge},
		{"interim with END_STREAM", getReq, func(p *peer) []byte { return p.headers(1, true, ":status: 103") }, ErrCodeProtocol, ErrInterimEndStream},
		{"trailers without END_STREAM", getReq, func(p *peer) []byte {
			return cat(p.headers(1, false, ":status: 200"), p.headers(1, false, "x: 1"))
		}, ErrCodeProtocol, ErrTrailersNoEndStream},
		{"pseudo-header in trailers", getReq, func(p *peer) []byte {
			return cat(p.headers(1, false, ":status: 200"), p.headers(1, true, ":status: 200"))
		}, ErrCodeProtocol, ErrUnknownPseudo},
		{"DATA before the head", getReq, func(p *peer) []byte { return data(1, true, "x") }, ErrCodeProtocol, ErrDataBeforeHead},
		{"DATA after an interim head", getReq, func(p *peer) []byte {
			return cat(p.headers(1, false, ":status: 100"), data(1, true, "x"))
		}, ErrCodeProtocol, ErrDataBeforeHead},
		{"more DATA than content-length", getReq, func(p *peer) []byte {
			return cat(p.headers(1, false, ":status: 200", "content-length: 3"), data(1, false, "abcd"))
		}, ErrCodeProtocol, ErrContentLengthMismatch},
		{"less DATA than content-length", getReq, func(p *peer) []byte {
			return cat(p.headers(1, false, ":status: 200", "content-length: 5"), data(1, true, "abcd"))
		}, ErrCodeProtocol, ErrContentLengthMismatch},
		{"END_STREAM on a head announcing content", getReq, func(p *peer) []byte {
			return p.headers(1, true, ":status: 200", "content-length: 5")
		}, ErrCodeProtocol, ErrContentLengthMismatch},
		{"trailers before the content-length was reached", getReq, func(p *peer) []byte {
			return cat(p.headers(1, false, ":status: 200", "content-length: 5"), data(1, false, "ab"), p.headers(1, true, "x: 1"))
		}, ErrCodeProtocol, ErrContentLengthMismatch},
		{"DATA on a HEAD response", Request{Method: "HEAD", Scheme: "https", Authority: "a", Path: "/"}, func(p *peer) []byte {
			return cat(p.headers(1, false, ":status: 200", "content-length: 5"), data(1, true, "abcde"))
		}, ErrCodeProtocol, ErrContentLengthMismatch},
		{"DATA on a 204", getReq, func(p *peer) []byte {
			return cat(p.headers(1, false, ":status: 204"), data(1, true, "x"))
		}, ErrCodeProtocol, ErrContentLengthMismatch},
		{"DATA beyond the stream window", getReq, func(p *peer) []byte {
			return cat(p.headers(1, false, ":status: 200"), data(1, false, strings.Repeat("a", 16384)),
				data(1, false, strings.Repeat("a", 16384)), data(1, false, strings.Repeat("a", 1)))
		}, ErrCodeFlowControl, ErrFlowControl},
		{"WINDOW_UPDATE of 0 on the stream", getReq, func(p *peer) []byte { return AppendWindowUpdate(nil, 1, 0) }, ErrCodeProtocol, ErrZeroWindowUpdate},
		{"stream send window overflow", getReq, func(p *peer) []byte {
			return cat(AppendWindowUpdate(nil, 1, 1<<31-1-65535), AppendWindowUpdate(nil, 1, 1))
		}, ErrCodeFlowControl, ErrWindowOverflow},
		{"PRIORITY of 4 bytes", getReq, func(p *peer) []byte { return raw(FramePriority, 0, 1, 0, 0, 0, 0) }, ErrCodeFrameSize, ErrFrameSize},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Config{StreamWindow: 32768, DisableBDP: true}).ready()
			h.open(c.req, true)
			h.open(getReq, true)
			h.sent()
			h.feed(c.frames(h.srv))
			var se *StreamError
			err := h.rec.errs[1]
			if !errors.As(err, &se) || se.StreamID != 1 || se.Code != c.code || se.Remote || !errors.Is(err, c.rule) {
				t.Fatalf("stream 1 closed with %v, want a *StreamError %v wrapping %v\n%s", err, c.code, c.rule, h.events())
			}
			if errors.Is(err, ErrRefused) {
				t.Fatal("a protocol violation said to be retryable")
			}
			got := h.sent()
			if len(got) == 0 || got[len(got)-1] != "RST_STREAM 1 "+c.code.String() {
				t.Fatalf("client sent %q, want a RST_STREAM 1 %v", got, c.code)
			}
			// Frames still arriving for the stream are dropped quietly.
			h.feed(data(1, true, "late"))
			if got := h.sent(); len(got) != 0 && !strings.HasPrefix(got[0], "WINDOW_UPDATE") {
				t.Fatalf("late DATA answered with %q", got)
			}
			h.feed(h.srv.response(3, 200, "three"))
			if h.rec.errs[3] != nil || h.rec.closed[1] != 1 || h.rec.closed[3] != 1 || h.c.Err() != nil {
				t.Fatalf("stream 3: %v, conn: %v\n%s", h.rec.errs[3], h.c.Err(), h.events())
			}
		})
	}
}

// TestConnErrors checks, for each rule whose breach ends the connection,
// that Feed returns a *ConnError with the right code, a GOAWAY with it is
// queued, every open stream is closed with the error, and the Conn stays
// failed.
func TestConnErrors(t *testing.T) {
	hugeBlock := func(p *peer) []byte {
		return cat(raw(FrameHeaders, 0, 1, make([]byte, 16000)...), raw(FrameContinuation, 0, 1, make([]byte, 16000)...),
			raw(FrameContinuation, 0, 1, make([]byte, 16000)...), raw(FrameContinuation, 0, 1, make([]byte, 16000)...),
			raw(FrameContinuation, FlagEndHeaders, 1, make([]byte, 16000)...))
	}
	for _, c := range []struct {
		name    string
		noReady bool // the server's SETTINGS are part of frames
		frames  func(p *peer) []byte
		code    ErrCode
		rule    error
	}{
		{"preface not SETTINGS", true, func(p *peer) []byte { return AppendPing(nil, false, [8]byte{}) }, ErrCodeProtocol, ErrNoSettings},
		{"preface is a SETTINGS ACK", true, func(p *peer) []byte { return AppendSettingsAck(nil) }, ErrCodeProtocol, ErrNoSettings},
		{"not HTTP/2 at all", true, func(p *peer) []byte { return []byte("HTTP/1.1 400 Bad Request\r\n\r\n") }, ErrCodeFrameSize, ErrFrameSize},
		{"DATA on an idle stream", false, func(p *peer) []byte { return data(5, false, "x") }, ErrCodeProtocol, ErrIdleStream},
		{"DATA on an even stream", false, func(p *peer) []byte { return data(2, false, "x") }, ErrCodeProtocol, ErrIdleStream},
		{"HEADERS on an idle stream", false, func(p *peer) []byte { return p.headers(7, true, ":status: 200") }, ErrCodeProtocol, ErrIdleStream},
		{"RST_STREAM on an idle stream", false, func(p *peer) []byte { return AppendRSTStream(nil, 5, ErrCodeCancel) }, ErrCodeProtocol, ErrIdleStream},
		{"WINDOW_UPDATE on an idle stream", false, func(p *peer) []byte { return AppendWindowUpdate(nil, 5, 1) }, ErrCodeProtocol, ErrIdleStream},
		{"DATA on stream 0", false, func(p *peer) []byte { return data(0, false, "x") }, ErrCodeProtocol, ErrBadStreamID},
		{"PUSH_PROMISE", false, func(p *peer) []byte {
			return raw(FramePushPromise, FlagEndHeaders, 1, append([]byte{0, 0, 0, 2}, p.enc.block(":method: GET", ":path: /p")...)...)
		}, ErrCodeProtocol, ErrPushPromise},
		{"CONTINUATION alone", false, func(p *peer) []byte { return raw(FrameContinuation, FlagEndHeaders, 1, 0x88) }, ErrCodeProtocol, ErrContinuation},
		{"HEADERS then DATA", false, func(p *peer) []byte { return cat(raw(FrameHeaders, 0, 1, 0x88), data(1, true, "")) }, ErrCodeProtocol, ErrContinuation},
		{"frame above MAX_FRAME_SIZE", false, func(p *peer) []byte { return data(1, false, strings.Repeat("a", 16385)) }, ErrCodeFrameSize, ErrFrameSize},
		{"PING of 9", false, func(p *peer) []byte { return raw(FramePing, 0, 0, make([]byte, 9)...) }, ErrCodeFrameSize, ErrFrameSize},
		{"SETTINGS ACK with payload", false, func(p *peer) []byte { return raw(FrameSettings, FlagAck, 0, make([]byte, 6)...) }, ErrCodeFrameSize, ErrFrameSize},
		{"SETTINGS of 5", false, func(p *peer) []byte { return raw(FrameSettings, 0, 0, make([]byte, 5)...) }, ErrCodeFrameSize, ErrFrameSize},
		{"WINDOW_UPDATE of 3", false, func(p *peer) []byte { return raw(FrameWindowUpdate, 0, 0, 0, 0, 1) }, ErrCodeFrameSize, ErrFrameSize},
		{"RST_STREAM of 5", false, func(p *peer) []byte { return raw(FrameRSTStream, 0, 1, 0, 0, 0, 0, 8) }, ErrCodeFrameSize, ErrFrameSize},
		{"GOAWAY on a stream", false, func(p *peer) []byte { return raw(FrameGoAway, 0, 1, make([]byte, 8)...) }, ErrCodeProtocol, ErrBadStreamID},
		{"padding too long", false, func(p *peer) []byte {
			return cat(p.headers(1, false, ":status: 200"), raw(FrameData, FlagPadded, 1, 3, 'a', 0))
		}, ErrCodeProtocol, ErrPadding},
		{"ENABLE_PUSH 2", false, func(p *peer) []byte { return settings(Setting{SettingEnablePush, 2}) }, ErrCodeProtocol, ErrBadSetting},
		{"MAX_FRAME_SIZE too small", false, func(p *peer) []byte { return settings(Setting{SettingMaxFrameSize, 16383}) }, ErrCodeProtocol, ErrBadSetting},
		{"MAX_FRAME_SIZE too large", false, func(p *peer) []byte { return settings(Setting{SettingMaxFrameSize, 1 << 24}) }, ErrCodeProtocol, ErrBadSetting},
		{"INITIAL_WINDOW_SIZE too large", false, func(p *peer) []byte { return settings(Setting{SettingInitialWindowSize, 1 << 31}) }, ErrCodeFlowControl, ErrBadSetting},
		{"INITIAL_WINDOW_SIZE overflowing a stream", false, func(p *peer) []byte {
			return cat(AppendWindowUpdate(nil, 1, 1<<31-1-65535), settings(Setting{SettingInitialWindowSize, 65536}))
		}, ErrCodeFlowControl, ErrWindowOverflow},
		{"WINDOW_UPDATE of 0", false, func(p *peer) []byte { return AppendWindowUpdate(nil, 0, 0) }, ErrCodeProtocol, ErrZeroWindowUpdate},
		{"connection send window overflow", false, func(p *peer) []byte {
			return cat(AppendWindowUpdate(nil, 0, 1<<31-1-65535), AppendWindowUpdate(nil, 0, 1))
		}, ErrCodeFlowControl, ErrWindowOverflow},
		{"DATA beyond the connection window", false, func(p *peer) []byte {
			b := p.headers(1, false, ":status: 200")
			for range 5 {
				b = cat(b, data(1, false, strings.Repeat("a", 16384)))
			}
			return b
		}, ErrCodeFlowControl, ErrFlowControl},
		{"undecodable header block", false, func(p *peer) []byte { return raw(FrameHeaders, FlagEndHeaders|FlagEndStream, 1, 0xff, 0x80, 0x01) }, ErrCodeCompression, ErrCompression},
		{"header block too large", false, hugeBlock, ErrCodeEnhanceYourCalm, ErrHeaderBlockTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Windows at the protocol's minimum, so that 5 frames of 16 KiB
			// overrun the connection's.
			h := newHarness(t, Config{StreamWindow: 1 << 20, ConnWindow: 65535, MaxConnWindow: 65535, DisableBDP: true})
			if !c.noReady {
				h.ready()
			}
			s1 := h.open(getReq, true)
			h.open(getReq, true)
			if s1.ID() != 1 {
				t.Fatal(s1.ID())
			}
			h.sent()
			err := h.feedErr(c.frames(h.srv))
			var ce *ConnError
			if !errors.As(err, &ce) || ce.Code != c.code || !errors.Is(err, c.rule) {
				t.Fatalf("Feed returned %v, want a *ConnError %v wrapping %v", err, c.code, c.rule)
			}
			got := h.sent()
			if len(got) == 0 || !strings.HasPrefix(got[len(got)-1], "GOAWAY 0 last=0 "+c.code.String()) {
				t.Fatalf("client sent %q, want a GOAWAY %v", got, c.code)
			}
			for _, id := range []uint32{1, 3} {
				if h.rec.closed[id] != 1 || h.rec.errs[id] != err {
					t.Fatalf("stream %d closed %d times with %v", id, h.rec.closed[id], h.rec.errs[id])
				}
			}
			if err2 := h.feedErr(AppendPing(nil, false, [8]byte{})); err2 != err {
				t.Fatalf("Feed after the error: %v", err2)
			}
			if _, err := h.c.OpenStream(h.rec, &getReq, true); !errors.Is(err, ErrConnClosed) {
				t.Fatalf("OpenStream after the error: %v", err)
			}
			if !h.c.Done() || h.c.Available() != 0 || h.c.split.Pending() || h.c.split.buf != nil {
				t.Fatal("failed connection not done, or holding a buffer")
			}
		})
	}
}

// TestClosedStreams checks frames on streams that are closed: after our
// RST_STREAM they are dropped (they crossed it) and their bytes credited
// to the connection; after the server's RST_STREAM they are a stream
// error of type STREAM_CLOSED (RFC 9113 §5.1). After the server's
// END_STREAM they end the connection: TestFramesAfterEndStream.
func TestClosedStreams(t *testing.T) {
	h := newHarness(t, Config{ConnWindow: 65535, MaxConnWindow: 65535, DisableBDP: true}).ready()
	s1 := h.open(getReq, true)
	h.open(getReq, true)
	h.open(getReq, true)
	h.sent()
	h.feed(h.srv.headers(1, false, ":status: 200"), data(1, false, "abc"))
	h.c.Reset(s1, ErrCodeCancel)
	h.expectEvents("s1 head 200 cl=-1 []", `s1 data "abc"`, "s1 closed StreamError{1, CANCEL, remote=false, http2: stream reset by the client}")
	h.expectSent("RST_STREAM 1 CANCEL")
	if h.c.recv.unacked != 3 {
		t.Fatalf("the unread bytes of the reset stream were not credited: %d", h.c.recv.unacked)
	}
	// Late frames of the stream we reset: dropped, credited.
	h.feed(data(1, false, strings.Repeat("x", 16384)), data(1, false, strings.Repeat("x", 16384)),
		h.srv.headers(1, true, "trailer: 1"), AppendWindowUpdate(nil, 1, 5), AppendRSTStream(nil, 1, ErrCodeNo))
	h.expectEvents()
	h.expectSent("WINDOW_UPDATE 0 +32771")

	// After END_STREAM, frames that may trail it are tolerated.
	h.feed(h.srv.response(3, 200, ""), AppendWindowUpdate(nil, 3, 5), AppendRSTStream(nil, 3, ErrCodeNo))
	h.expectEvents("s3 head 200 cl=-1 []", "s3 closed <nil>")
	h.expectSent()
	// After the server's RST_STREAM.
	h.feed(AppendRSTStream(nil, 5, ErrCodeInternal), h.srv.headers(5, true, ":status: 200"))
	h.expectEvents("s5 closed StreamError{5, INTERNAL_ERROR, remote=true, http2: stream reset by the server}")
	h.expectSent("RST_STREAM 5 STREAM_CLOSED")
	if h.c.Err() != nil {
		t.Fatal(h.c.Err())
	}
}

// TestFramesAfterEndStream checks that DATA or HEADERS on a stream the
// server ended with END_STREAM is a connection error of type
// STREAM_CLOSED (h2spec client 5.1/8 and 5.1/9: nothing of ours can have
// crossed them), while the same frames on a stream we reset, ended by a
// response that cut our upload short, are dropped.
func TestFramesAfterEndStream(t *testing.T) {
	for _, c := range []struct {
		name string
		late func(p *peer) []byte
	}{
		{"DATA", func(p *peer) []byte { return data(1, true, "late") }},
		{"empty DATA", func(p *peer) []byte { return data(1, true, "") }},
		{"HEADERS", func(p *peer) []byte { return p.headers(1, true, ":status: 200") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Config{DisableBDP: true}).ready()
			h.open(getReq, true)
			h.open(getReq, true)
			h.sent()
			h.feed(h.srv.headers(1, true, ":status: 200"))
			h.expectEvents("s1 head 200 cl=-1 []", "s1 closed <nil>")
			err := h.feedErr(c.late(h.srv))
			var ce *ConnError
			if !errors.As(err, &ce) || ce.Code != ErrCodeStreamClosed || !errors.Is(err, ErrStreamClosed) {
				t.Fatalf("Feed returned %v, want a *ConnError STREAM_CLOSED", err)
			}
			if got := h.sent(); len(got) == 0 || !strings.HasPrefix(got[len(got)-1], "GOAWAY 0 last=0 STREAM_CLOSED") {
				t.Fatalf("client sent %q, want a GOAWAY STREAM_CLOSED", got)
			}
			if h.rec.errs[3] != err {
				t.Fatalf("stream 3 closed with %v", h.rec.errs[3])
			}
		})
	}

	// The server ends its response while we still send the request: we
	// reset the stream (NO_ERROR), so what follows crossed that.
	h := newHarness(t, Config{DisableBDP: true}).ready()
	h.open(Request{Method: "POST", Scheme: "https", Authority: "example.com", Path: "/"}, false)
	h.sent()
	h.feed(h.srv.headers(1, true, ":status: 200"))
	h.expectSent("RST_STREAM 1 NO_ERROR")
	h.feed(data(1, true, "late"), h.srv.headers(1, true, ":status: 200"))
	if h.c.Err() != nil {
		t.Fatalf("frames crossing our RST_STREAM ended the connection: %v", h.c.Err())
	}
	// Ids share their bits 512 streams apart: stream 1025, reset by the
	// server, is not taken for stream 1, which the server ended.
	h2 := newHarness(t, Config{DisableBDP: true}).ready()
	for id := uint32(1); id < 1025; id += 2 {
		h2.open(getReq, true)
		h2.feed(h2.srv.headers(id, true, ":status: 200"))
	}
	if s := h2.open(getReq, true); s.ID() != 1025 {
		t.Fatal(s.ID())
	}
	h2.feed(AppendRSTStream(nil, 1025, ErrCodeInternal))
	h2.sent()
	h2.feed(data(1025, true, "late"))
	h2.expectSent("RST_STREAM 1025 STREAM_CLOSED")
	if h2.c.Err() != nil {
		t.Fatal(h2.c.Err())
	}
}

// TestPriorityFrameSize checks a PRIORITY frame of a length other than 5
// (RFC 9113 §6.3): a stream error of type FRAME_SIZE_ERROR on an open
// stream (TestStreamErrors) and on a closed one (h2spec client 6.3/2:
// the response ended, then the bad PRIORITY), dropped on a stream we
// reset, and a connection error on an idle stream, which may not be
// reset.
func TestPriorityFrameSize(t *testing.T) {
	h := newHarness(t, Config{DisableBDP: true}).ready()
	s1 := h.open(getReq, true)
	h.open(getReq, true)
	h.sent()
	h.feed(h.srv.headers(3, true, ":status: 200"))
	h.feed(raw(FramePriority, 0, 3, 0x80, 0, 0, 1))
	h.expectSent("RST_STREAM 3 FRAME_SIZE_ERROR")
	h.c.Reset(s1, ErrCodeCancel)
	h.sent()
	h.feed(raw(FramePriority, 0, 1, 0x80, 0, 0, 1))
	h.expectSent()
	if h.c.Err() != nil {
		t.Fatal(h.c.Err())
	}
	err := h.feedErr(raw(FramePriority, 0, 9, 0x80, 0, 0, 1))
	var ce *ConnError
	if !errors.As(err, &ce) || ce.Code != ErrCodeFrameSize || !errors.Is(err, ErrFrameSize) {
		t.Fatalf("bad PRIORITY on an idle stream: %v, want a *ConnError FRAME_SIZE_ERROR", err)
	}
}

// TestRefusedAndGoAway checks the two ways a server says it did not
// process a request, both retryable, and that streams below a GOAWAY's
// last stream id complete.
func TestRefusedAndGoAway(t *testing.T) {
	h := newHarness(t, Config{DisableBDP: true}).ready()
	for range 5 {
		h.open(getReq, true)
	}
	h.sent()
	h.feed(AppendRSTStream(nil, 1, ErrCodeRefusedStream))
	err := h.rec.errs[1]
	var se *StreamError
	if !errors.As(err, &se) || !se.Remote || se.Code != ErrCodeRefusedStream || !errors.Is(err, ErrRefused) {
		t.Fatalf("REFUSED_STREAM closed the stream with %v", err)
	}

	h.feed(AppendGoAway(nil, 5, ErrCodeNo, []byte("restart")))
	if !h.c.GoingAway() || h.c.CanOpen() {
		t.Fatal("not going away")
	}
	for _, id := range []uint32{7, 9} {
		err := h.rec.errs[id]
		var ge *GoAwayError
		if !errors.As(err, &ge) || ge.StreamID != id || ge.LastStreamID != 5 || !ge.Unprocessed(id) || !errors.Is(err, ErrRefused) {
			t.Fatalf("stream %d above the GOAWAY closed with %v", id, err)
		}
	}
	if h.rec.closed[3] != 0 || h.rec.closed[5] != 0 {
		t.Fatal("streams below the GOAWAY closed")
	}
	if _, err := h.c.OpenStream(h.rec, &getReq, true); !errors.Is(err, ErrGoingAway) {
		t.Fatalf("OpenStream after GOAWAY: %v", err)
	}
	// A second GOAWAY may lower the last stream id, not raise it.
	h.feed(AppendGoAway(nil, 7, ErrCodeNo, nil))
	if h.rec.closed[5] != 0 {
		t.Fatal("a raised GOAWAY closed stream 5")
	}
	h.feed(h.srv.response(3, 200, "ok"))
	if h.c.Done() {
		t.Fatal("done with stream 5 open")
	}
	h.feed(h.srv.response(5, 200, "ok"))
	if h.rec.errs[3] != nil || h.rec.errs[5] != nil || !h.c.Done() {
		t.Fatalf("streams below the GOAWAY: %v %v, done %v", h.rec.errs[3], h.rec.errs[5], h.c.Done())
	}
	if !strings.Contains(h.events(), `goaway last=5 NO_ERROR "restart"`) {
		t.Fatal("GoAway handler not called")
	}
	ge := &GoAwayError{LastStreamID: 5, StreamID: 3}
	if errors.Is(ge, ErrRefused) {
		t.Fatal("a processed stream said to be retryable")
	}
}

// TestStreamLimitBeforeSettings checks that until the server's SETTINGS
// arrive, 100 streams may open; the server refuses those above its real
// limit, retryably.
func TestStreamLimitBeforeSettings(t *testing.T) {
	h := newHarness(t, Config{DisableBDP: true})
	for range 100 {
		h.open(getReq, true)
	}
	if _, err := h.c.OpenStream(h.rec, &getReq, true); !errors.Is(err, ErrStreamLimit) {
		t.Fatalf("101st stream: %v", err)
	}
	h.feed(settings(Setting{SettingMaxConcurrentStreams, 10}))
	if h.c.Available() != 0 {
		t.Fatal(h.c.Available())
	}
	var refused []byte
	for id := uint32(21); id < 200; id += 2 {
		refused = cat(refused, AppendRSTStream(nil, id, ErrCodeRefusedStream))
	}
	h.feed(refused)
	for id := uint32(21); id < 200; id += 2 {
		if !errors.Is(h.rec.errs[id], ErrRefused) {
			t.Fatalf("stream %d: %v", id, h.rec.errs[id])
		}
	}
	if h.c.Active() != 10 || h.c.Available() != 0 {
		t.Fatalf("active %d", h.c.Active())
	}
}

// TestShutdownAndClose checks our own GOAWAY and closing from outside.
func TestShutdownAndClose(t *testing.T) {
	h := newHarness(t, Config{DisableBDP: true}).ready()
	h.open(getReq, true)
	h.open(getReq, true)
	h.c.Shutdown()
	h.c.Shutdown()
	got := h.sent()
	if got[len(got)-1] != "GOAWAY 0 last=0 NO_ERROR" || strings.Count(strings.Join(got, "\n"), "GOAWAY") != 1 {
		t.Fatalf("sent %q", got)
	}
	if _, err := h.c.OpenStream(h.rec, &getReq, true); !errors.Is(err, ErrGoingAway) {
		t.Fatal(err)
	}
	h.feed(h.srv.response(1, 200, ""))
	cause := errors.New("socket gone")
	h.c.Close(cause)
	if h.rec.errs[1] != nil || h.rec.errs[3] != cause || h.c.Err() != cause || h.c.Pending() != nil {
		t.Fatalf("%v %v %v", h.rec.errs[1], h.rec.errs[3], h.c.Err())
	}
	if err := h.feedErr(data(3, true, "x")); err != cause {
		t.Fatal(err)
	}
	// Init makes the Conn ready for a new connection.
	h.c.Init(Config{}, h.rec)
	if h.c.Err() != nil || h.c.Active() != 0 || h.c.Available() != 100 {
		t.Fatal("Init did not reset the Conn")
	}
	if got := h.sent(); got[0] != "PREFACE" {
		t.Fatal(got)
	}
}

// TestHandlersReenter has handlers call back into the Conn: reset their
// own stream from Data, open a stream from Closed, close the connection
// from Head.
func TestHandlersReenter(t *testing.T) {
	h := newHarness(t, Config{DisableBDP: true}).ready()
	var opened *Stream
	h.rec.on = func(e string, s *Stream) {
		switch {
		case e == `s1 data "a"`:
			h.c.Reset(s, ErrCodeCancel)
			// Closed has run; s is not recycled before Feed returns.
			if s.ID() != 1 || s.State() != StateClosed {
				t.Errorf("stream after Reset from its handler: %d %v", s.ID(), s.State())
			}
		case e == "s3 closed <nil>":
			var err error
			if opened, err = h.c.OpenStream(h.rec, &getReq, true); err != nil {
				t.Errorf("OpenStream from Closed: %v", err)
			}
		case strings.HasPrefix(e, "s5 head"):
			h.c.Close(errors.New("enough"))
		}
	}
	h.open(getReq, true)
	h.open(getReq, true)
	h.sent()
	h.feed(h.srv.headers(1, false, ":status: 200"), data(1, false, "a"), data(1, true, "b"), h.srv.response(3, 200, ""))
	h.expectEvents("s1 head 200 cl=-1 []", `s1 data "a"`, "s1 closed StreamError{1, CANCEL, remote=false, http2: stream reset by the client}",
		"s3 head 200 cl=-1 []", "s3 closed <nil>")
	if opened == nil || opened.ID() != 5 || opened.State() != StateHalfClosedLocal {
		t.Fatal("stream opened from Closed is not usable")
	}
	err := h.feedErr(h.srv.response(5, 200, "x"), h.srv.response(3, 200, ""))
	if err == nil || err.Error() != "enough" {
		t.Fatalf("Feed after Close from a handler: %v", err)
	}
	h.expectEvents("s5 head 200 cl=1 [content-length=1]", "s5 closed *errors.errorString(enough)")
}

// TestUnknownAndIgnored checks that unknown frame types, PRIORITY (on any
// stream, idle ones included), undefined flags and unknown settings are
// ignored.
func TestUnknownAndIgnored(t *testing.T) {
	h := newHarness(t, Config{DisableBDP: true}).ready()
	h.open(getReq, true)
	h.sent()
	h.feed(raw(0xbb, 0xff, 0, 1, 2, 3), raw(0xbb, 0, 99, 1), raw(FramePriority, 0, 1, 0, 0, 0, 3, 10),
		raw(FramePriority, 0, 41, 0, 0, 0, 3, 10), settings(Setting{0xf0f0, 1}), raw(FramePing, 0xfe, 0, bytes.Repeat([]byte{'p'}, 8)...),
		h.srv.response(1, 200, "ok"))
	h.expectEvents("settings streams=4294967295 window=65535 frame=16384 list=0 table=4096",
		"s1 head 200 cl=2 [content-length=2]", `s1 data "ok"`, "s1 closed <nil>")
	h.expectSent("SETTINGS 0 ACK", `PING 0 ACK "pppppppp"`)
}
