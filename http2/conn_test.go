package http2

import (
	"errors"
	"strings"
	"testing"
)

func TestConnPreface(t *testing.T) {
	c := new(Conn)
	c.Init(Config{}, nil)
	p := newPeer()
	got := strings.Join(p.read(t, c.Pending()), "\n")
	want := "PREFACE\n" +
		"SETTINGS 0 ENABLE_PUSH=0 INITIAL_WINDOW_SIZE=262144 MAX_FRAME_SIZE=16384 MAX_HEADER_LIST_SIZE=65536 HEADER_TABLE_SIZE=4096\n" +
		"WINDOW_UPDATE 0 +983041"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	c.Flushed()
	if c.Pending() != nil {
		t.Fatal("output held after Flushed")
	}

	// A connection window no larger than the initial one needs no
	// WINDOW_UPDATE.
	c.Init(Config{ConnWindow: 65535, StreamWindow: 1 << 20, MaxFrameSize: 1 << 20, MaxHeaderListSize: 1000, HeaderTableSize: 8192}, nil)
	got = strings.Join(newPeer().read(t, c.Pending()), "\n")
	want = "PREFACE\n" +
		"SETTINGS 0 ENABLE_PUSH=0 INITIAL_WINDOW_SIZE=1048576 MAX_FRAME_SIZE=1048576 MAX_HEADER_LIST_SIZE=1000 HEADER_TABLE_SIZE=8192"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestConnGet(t *testing.T) {
	h := newHarness(t, Config{})
	s := h.open(Request{Method: "GET", Scheme: "https", Authority: "example.com", Path: "/x",
		Fields: []HeaderField{{"Accept", "*/*"}}}, true)
	if s.ID() != 1 || s.State() != StateHalfClosedLocal {
		t.Fatalf("stream %d %v", s.ID(), s.State())
	}
	h.expectSent("HEADERS 1 END_STREAM|END_HEADERS [:method=GET :scheme=https :authority=example.com :path=/x accept=*/*]")
	h.feed(settings(Setting{SettingMaxConcurrentStreams, 250}), AppendSettingsAck(nil),
		h.srv.headers(1, false, ":status: 200", "content-type: text/plain", "content-length: 11"),
		data(1, false, "hello "), data(1, true, "world"))
	h.expectEvents(
		"settings streams=250 window=65535 frame=16384 list=0 table=4096",
		`s1 head 200 cl=11 [content-type=text/plain content-length=11]`,
		`s1 data "hello "`,
		`s1 data "world"`,
		"s1 closed <nil>")
	h.expectSent("SETTINGS 0 ACK")
	if h.c.Active() != 0 || h.c.Available() != 250 {
		t.Fatalf("active %d, available %d", h.c.Active(), h.c.Available())
	}
}

func TestConnPost(t *testing.T) {
	h := newHarness(t, Config{}).ready()
	s := h.open(Request{Method: "POST", Scheme: "https", Authority: "a", Path: "/up", ContentLength: 5}, false)
	if n, err := h.c.WriteData(s, []byte("hel"), false); n != 3 || err != nil {
		t.Fatalf("WriteData: %d %v", n, err)
	}
	if n, err := h.c.WriteData(s, []byte("lo"), true); n != 2 || err != nil {
		t.Fatalf("WriteData: %d %v", n, err)
	}
	if _, err := h.c.WriteData(s, []byte("x"), false); !errors.Is(err, ErrStreamDone) {
		t.Fatalf("WriteData after end: %v", err)
	}
	h.expectSent(
		"HEADERS 1 END_HEADERS [:method=POST :scheme=https :authority=a :path=/up content-length=5]",
		`DATA 1 "hel"`, `DATA 1 END_STREAM "lo"`)
	h.feed(h.srv.response(1, 201, ""))
	h.expectEvents("s1 head 201 cl=-1 []", "s1 closed <nil>")
}

func TestConnTrailers(t *testing.T) {
	h := newHarness(t, Config{}).ready()
	s := h.open(Request{Method: "POST", Scheme: "https", Authority: "a", Path: "/grpc", ContentLength: -1,
		Fields: []HeaderField{{"TE", "trailers"}}}, false)
	h.c.WriteData(s, []byte("req"), false)
	if err := h.c.WriteTrailers(s, []HeaderField{{"X-Checksum", "1"}}); err != nil {
		t.Fatal(err)
	}
	if err := h.c.WriteTrailers(s, nil); !errors.Is(err, ErrStreamDone) {
		t.Fatalf("second trailers: %v", err)
	}
	h.expectSent(
		"HEADERS 1 END_HEADERS [:method=POST :scheme=https :authority=a :path=/grpc te=trailers]",
		`DATA 1 "req"`,
		"HEADERS 1 END_STREAM|END_HEADERS [x-checksum=1]")
	h.feed(h.srv.headers(1, false, ":status: 200"), data(1, false, "resp"),
		h.srv.headers(1, true, "grpc-status: 0", "grpc-message: ok"))
	h.expectEvents("s1 head 200 cl=-1 []", `s1 data "resp"`,
		"s1 trailers 0 cl=-1 [grpc-status=0 grpc-message=ok]", "s1 closed <nil>")
}

func TestConnInterim(t *testing.T) {
	h := newHarness(t, Config{}).ready()
	s := h.open(Request{Method: "PUT", Scheme: "https", Authority: "a", Path: "/", ContentLength: 4,
		Fields: []HeaderField{{"Expect", "100-continue"}}}, false)
	h.sent()
	h.feed(h.srv.headers(1, false, ":status: 100"), h.srv.headers(1, false, ":status: 103", "link: </s.css>"))
	h.expectEvents("s1 head 100 cl=-1 []", "s1 head 103 cl=-1 [link=</s.css>]")
	h.c.WriteData(s, []byte("body"), true)
	h.feed(h.srv.response(1, 200, "ok"))
	h.expectEvents("s1 head 200 cl=2 [content-length=2]", `s1 data "ok"`, "s1 closed <nil>")
}

// TestConnEarlyResponse checks that a response completing while the
// request body is still being sent ends the exchange: RST_STREAM
// NO_ERROR, Closed with nil, and no more writes.
func TestConnEarlyResponse(t *testing.T) {
	h := newHarness(t, Config{}).ready()
	s := h.open(Request{Method: "POST", Scheme: "https", Authority: "a", Path: "/", ContentLength: 100}, false)
	h.c.WriteData(s, []byte("part"), false)
	h.sent()
	h.feed(h.srv.response(1, 413, "too big"))
	h.expectEvents("s1 head 413 cl=7 [content-length=7]", `s1 data "too big"`, "s1 closed <nil>")
	h.expectSent("RST_STREAM 1 NO_ERROR")
}

// TestConnMultiplex runs interleaved streams.
func TestConnMultiplex(t *testing.T) {
	h := newHarness(t, Config{}).ready()
	for range 3 {
		h.open(getReq, true)
	}
	h.sent()
	h.feed(h.srv.headers(5, false, ":status: 200"), h.srv.headers(1, false, ":status: 404"),
		data(5, false, "five"), data(1, true, "one"), h.srv.headers(3, true, ":status: 204"), data(5, true, ""))
	h.expectEvents("s5 head 200 cl=-1 []", "s1 head 404 cl=-1 []", `s5 data "five"`, `s1 data "one"`, "s1 closed <nil>",
		"s3 head 204 cl=-1 []", "s3 closed <nil>", "s5 closed <nil>")
}

func TestConnPing(t *testing.T) {
	h := newHarness(t, Config{}).ready()
	if err := h.c.Ping([8]byte{'h', 'e', 'a', 'l', 't', 'h', '0', '1'}); err != nil {
		t.Fatal(err)
	}
	h.expectSent(`PING 0 "health01"`)
	h.feed(AppendPing(nil, true, [8]byte{'h', 'e', 'a', 'l', 't', 'h', '0', '1'}), AppendPing(nil, false, [8]byte{'s', 'e', 'r', 'v', 'e', 'r', 'p', 'g'}))
	h.expectEvents(`ping ack "health01"`)
	h.expectSent(`PING 0 ACK "serverpg"`)
}

func TestConnSettingsApplied(t *testing.T) {
	h := newHarness(t, Config{}).ready(Setting{SettingMaxFrameSize, 20000}, Setting{SettingHeaderTableSize, 0},
		Setting{SettingMaxConcurrentStreams, 1}, Setting{0x99, 7}, Setting{SettingEnablePush, 1})
	if p := h.c.Peer(); p.MaxFrameSize != 20000 || p.HeaderTableSize != 0 || p.MaxConcurrentStreams != 1 {
		t.Fatalf("peer settings %+v", p)
	}
	s := h.open(Request{Method: "POST", Scheme: "https", Authority: "a", Path: "/", ContentLength: -1,
		Fields: []HeaderField{{"x-big", strings.Repeat("v", 30000)}}}, false)
	// The table size 0 makes the encoder announce an empty table, and
	// the block is framed at the server's MAX_FRAME_SIZE.
	got := h.sent()
	if len(got) != 1 || !strings.HasPrefix(got[0], "HEADERS 1 END_HEADERS [:method=POST") {
		t.Fatalf("sent %.200q", got)
	}
	if _, err := h.c.OpenStream(h.rec, &getReq, true); !errors.Is(err, ErrStreamLimit) {
		t.Fatalf("second stream: %v", err)
	}
	if h.c.CanOpen() {
		t.Fatal("CanOpen at the limit")
	}
	h.c.WriteData(s, make([]byte, 50000), true)
	got = h.sent()
	if strings.Join(got, "|") != "DATA 1 20000 bytes|DATA 1 20000 bytes|DATA 1 END_STREAM 10000 bytes" {
		t.Fatalf("DATA not framed at MAX_FRAME_SIZE: %q", got)
	}
}

// TestConnContinuationOut checks that a request head larger than the
// server's MAX_FRAME_SIZE goes out as HEADERS and CONTINUATIONs that the
// server reads back as one block.
func TestConnContinuationOut(t *testing.T) {
	h := newHarness(t, Config{}).ready()
	big := strings.Repeat("b", 40000)
	h.open(Request{Method: "GET", Scheme: "https", Authority: "a", Path: "/", Fields: []HeaderField{{"x-big", big}}}, true)
	want := "HEADERS 1 END_STREAM|END_HEADERS [:method=GET :scheme=https :authority=a :path=/ x-big=" + big + "]"
	h.expectSent(want)
}
