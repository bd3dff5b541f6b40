package http2

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

// block is a stand-in header block: the Splitter does not decode it.
var block = []byte("0123456789abcdefghijklmnopqrstuvwxyz")

type splitCase struct {
	name string
	in   []byte
	want string // rendered frames, then "error: ..." if the input is bad
}

// validSplits has one case per frame type and per feature of the framing
// (padding, priority fields, CONTINUATION runs).
var validSplits = []splitCase{
	{"DATA", AppendData(nil, 1, false, []byte("hello")),
		`DATA stream=1 len=5 data="hello"`},
	{"DATA end", AppendData(nil, 3, true, nil),
		`DATA stream=3 len=0 flags=END_STREAM data=""`},
	{"DATA padded", AppendDataPadded(nil, 5, true, []byte("abc"), 4),
		`DATA stream=5 len=8 flags=END_STREAM|PADDED data="abc"`},
	{"DATA padded empty", AppendDataPadded(nil, 5, false, nil, 0),
		`DATA stream=5 len=1 flags=PADDED data=""`},
	{"HEADERS", AppendHeaders(nil, 1, true, block, 16384),
		`HEADERS stream=1 len=36 flags=END_STREAM|END_HEADERS data="` + string(block) + `"`},
	{"HEADERS split in CONTINUATIONs", AppendHeaders(nil, 7, false, bytes.Repeat(block, 1000), 16384),
		`HEADERS stream=7 len=36000 flags=END_HEADERS data="` + strings.Repeat(string(block), 1000) + `" conts=2`},
	{"HEADERS padded with priority",
		raw(FrameHeaders, FlagEndHeaders|FlagPadded|FlagPriority, 9, append(append([]byte{3, 0x80, 0, 0, 1, 15}, "frag"...), 0, 0, 0)...),
		`HEADERS stream=9 len=13 flags=END_HEADERS data="frag"`},
	{"HEADERS padded, then empty and padded CONTINUATIONs",
		cat(raw(FrameHeaders, FlagPadded|FlagEndStream, 1, 2, 'a', 'b', 0, 0),
			raw(FrameContinuation, 0, 1),
			raw(FrameContinuation, FlagEndHeaders, 1, 'c')),
		`HEADERS stream=1 len=6 flags=END_STREAM|END_HEADERS data="abc" conts=2`},
	{"PRIORITY", raw(FramePriority, 0, 3, 0, 0, 0, 1, 16),
		`PRIORITY stream=3 len=5 data="\x00\x00\x00\x01\x10"`},
	{"RST_STREAM", AppendRSTStream(nil, 3, ErrCodeCancel),
		`RST_STREAM stream=3 len=4 data="\x00\x00\x00\b"`},
	{"SETTINGS", AppendSettings(nil, Setting{SettingMaxFrameSize, 1 << 20}, Setting{SettingEnablePush, 0}),
		`SETTINGS stream=0 len=12 data="\x00\x05\x00\x10\x00\x00\x00\x02\x00\x00\x00\x00"`},
	{"SETTINGS empty", AppendSettings(nil), `SETTINGS stream=0 len=0 data=""`},
	{"SETTINGS ACK", AppendSettingsAck(nil), `SETTINGS stream=0 len=0 flags=ACK data=""`},
	{"PUSH_PROMISE", raw(FramePushPromise, FlagEndHeaders, 1, 0, 0, 0, 2, 'x'),
		`PUSH_PROMISE stream=1 len=5 flags=END_HEADERS data="\x00\x00\x00\x02x"`},
	{"PING", AppendPing(nil, false, [8]byte{1, 2, 3, 4, 5, 6, 7, 8}),
		`PING stream=0 len=8 data="\x01\x02\x03\x04\x05\x06\a\b"`},
	{"PING ACK", AppendPing(nil, true, [8]byte{'e', 'g', 'r', 'e', 's', 's', '!', '!'}),
		`PING stream=0 len=8 flags=ACK data="egress!!"`},
	{"GOAWAY", AppendGoAway(nil, 5, ErrCodeEnhanceYourCalm, []byte("calm")),
		`GOAWAY stream=0 len=12 data="\x00\x00\x00\x05\x00\x00\x00\vcalm"`},
	{"WINDOW_UPDATE", AppendWindowUpdate(nil, 0, 1<<20),
		`WINDOW_UPDATE stream=0 len=4 data="\x00\x10\x00\x00"`},
	{"unknown type with undefined flags and reserved bit", raw(0xfa, 0xff, 1<<31|3, 'x', 'y'),
		`UNKNOWN_FRAME_TYPE_250 stream=3 len=2 flags=0xff data="xy"`},
	{"several frames", cat(AppendSettings(nil), AppendHeaders(nil, 1, false, block, 16384),
		AppendData(nil, 1, false, []byte("body")), AppendData(nil, 1, true, nil)),
		"SETTINGS stream=0 len=0 data=\"\"\n" +
			`HEADERS stream=1 len=36 flags=END_HEADERS data="` + string(block) + "\"\n" +
			"DATA stream=1 len=4 data=\"body\"\n" +
			`DATA stream=1 len=0 flags=END_STREAM data=""`},
}

// invalidSplits covers each rule the Splitter enforces, each after a
// valid frame so that frames before the error are shown to be handed on.
var invalidSplits = []splitCase{
	{"frame above MAX_FRAME_SIZE", cat(AppendSettingsAck(nil), raw(FrameData, 0, 1, make([]byte, 16385)...)),
		"SETTINGS stream=0 len=0 flags=ACK data=\"\"\nerror: ConnError{FRAME_SIZE_ERROR, http2: bad frame size}"},
	{"DATA on stream 0", raw(FrameData, 0, 0, 'x'),
		"error: ConnError{PROTOCOL_ERROR, http2: frame on the wrong stream}"},
	{"HEADERS on stream 0", AppendHeaders(nil, 0, false, block, 16384),
		"error: ConnError{PROTOCOL_ERROR, http2: frame on the wrong stream}"},
	{"PRIORITY on stream 0", raw(FramePriority, 0, 0, 0, 0, 0, 1, 16),
		"error: ConnError{PROTOCOL_ERROR, http2: frame on the wrong stream}"},
	{"RST_STREAM on stream 0", AppendRSTStream(nil, 0, ErrCodeCancel),
		"error: ConnError{PROTOCOL_ERROR, http2: frame on the wrong stream}"},
	{"SETTINGS on a stream", raw(FrameSettings, 0, 1),
		"error: ConnError{PROTOCOL_ERROR, http2: frame on the wrong stream}"},
	{"PING on a stream", raw(FramePing, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0),
		"error: ConnError{PROTOCOL_ERROR, http2: frame on the wrong stream}"},
	{"GOAWAY on a stream", raw(FrameGoAway, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0),
		"error: ConnError{PROTOCOL_ERROR, http2: frame on the wrong stream}"},
	{"PING of 7", raw(FramePing, 0, 0, 0, 0, 0, 0, 0, 0, 0),
		"error: ConnError{FRAME_SIZE_ERROR, http2: bad frame size}"},
	{"WINDOW_UPDATE of 5", raw(FrameWindowUpdate, 0, 0, 0, 0, 0, 1, 0),
		"error: ConnError{FRAME_SIZE_ERROR, http2: bad frame size}"},
	{"RST_STREAM of 3", raw(FrameRSTStream, 0, 1, 0, 0, 8),
		"error: ConnError{FRAME_SIZE_ERROR, http2: bad frame size}"},
	{"SETTINGS of 7", raw(FrameSettings, 0, 0, 0, 1, 0, 0, 0, 0, 0),
		"error: ConnError{FRAME_SIZE_ERROR, http2: bad frame size}"},
	{"SETTINGS ACK with payload", raw(FrameSettings, FlagAck, 0, 0, 1, 0, 0, 0, 0),
		"error: ConnError{FRAME_SIZE_ERROR, http2: bad frame size}"},
	{"GOAWAY of 7", raw(FrameGoAway, 0, 0, 0, 0, 0, 0, 0, 0, 0),
		"error: ConnError{FRAME_SIZE_ERROR, http2: bad frame size}"},
	{"DATA pad length = payload", raw(FrameData, FlagPadded, 1, 4, 0, 0, 0),
		"error: ConnError{PROTOCOL_ERROR, http2: padding longer than the frame}"},
	{"DATA padded without pad length", raw(FrameData, FlagPadded, 1),
		"error: ConnError{PROTOCOL_ERROR, http2: padding longer than the frame}"},
	{"HEADERS pad length too long", raw(FrameHeaders, FlagPadded|FlagEndHeaders, 1, 5, 'a', 0, 0),
		"error: ConnError{PROTOCOL_ERROR, http2: padding longer than the frame}"},
	{"HEADERS priority cut short", raw(FrameHeaders, FlagPriority|FlagEndHeaders, 1, 0, 0, 0),
		"error: ConnError{FRAME_SIZE_ERROR, http2: bad frame size}"},
	{"CONTINUATION alone", raw(FrameContinuation, FlagEndHeaders, 1, 'a'),
		"error: ConnError{PROTOCOL_ERROR, http2: broken HEADERS/CONTINUATION sequence}"},
	{"CONTINUATION after END_HEADERS", cat(AppendHeaders(nil, 1, false, block, 16384), raw(FrameContinuation, FlagEndHeaders, 1, 'a')),
		`HEADERS stream=1 len=36 flags=END_HEADERS data="` + string(block) + "\"\n" +
			"error: ConnError{PROTOCOL_ERROR, http2: broken HEADERS/CONTINUATION sequence}"},
	{"DATA inside a block", cat(raw(FrameHeaders, 0, 1, 'a'), AppendData(nil, 1, false, nil)),
		"error: ConnError{PROTOCOL_ERROR, http2: broken HEADERS/CONTINUATION sequence}"},
	{"PRIORITY inside a block", cat(raw(FrameHeaders, 0, 1, 'a'), raw(FramePriority, 0, 1, 0, 0, 0, 0, 1)),
		"error: ConnError{PROTOCOL_ERROR, http2: broken HEADERS/CONTINUATION sequence}"},
	{"CONTINUATION on another stream", cat(raw(FrameHeaders, 0, 1, 'a'), raw(FrameContinuation, FlagEndHeaders, 3, 'b')),
		"error: ConnError{PROTOCOL_ERROR, http2: broken HEADERS/CONTINUATION sequence}"},
	{"header block above the limit", cat(raw(FrameHeaders, 0, 1, make([]byte, 16000)...),
		raw(FrameContinuation, 0, 1, make([]byte, 16000)...),
		raw(FrameContinuation, 0, 1, make([]byte, 16000)...),
		raw(FrameContinuation, 0, 1, make([]byte, 16000)...),
		raw(FrameContinuation, FlagEndHeaders, 1, make([]byte, 2000)...)),
		"error: ConnError{ENHANCE_YOUR_CALM, http2: header block too large}"},
	{"endless empty CONTINUATIONs", cat(raw(FrameHeaders, 0, 1, 'a'), bytes.Repeat(raw(FrameContinuation, 0, 1), 200)),
		"error: ConnError{ENHANCE_YOUR_CALM, http2: flood of control frames}"},
}

func TestSplitFrames(t *testing.T) {
	var s Splitter
	for _, c := range append(append([]splitCase(nil), validSplits...), invalidSplits...) {
		s.Reset()
		if got := splitChunks(&s, testkit.Whole(c.in)); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

// TestSplitEquivalence cuts every case every way testkit knows and
// requires the same frames and error as from the whole input.
func TestSplitEquivalence(t *testing.T) {
	var s Splitter
	for _, c := range append(append([]splitCase(nil), validSplits...), invalidSplits...) {
		for sp := range testkit.Splits(c.in, testkit.SplitOptions{MaxEvery: 2048, Random: 50, Seed: uint64(len(c.in))}) {
			for _, chunks := range [][][]byte{sp.Chunks, testkit.WithEmptyReads(sp.Chunks)} {
				s.Reset()
				if got := splitChunks(&s, chunks); got != c.want {
					t.Fatalf("%s, %s:\n got %s\nwant %s", c.name, sp.Name, got, c.want)
				}
			}
		}
	}
}

// TestSplitIncomplete checks that input ending inside a frame or a header
// block leaves it pending, and hands nothing on.
func TestSplitIncomplete(t *testing.T) {
	var s Splitter
	for _, in := range [][]byte{
		AppendData(nil, 1, false, []byte("hello"))[:4],
		AppendData(nil, 1, false, []byte("hello"))[:12],
		raw(FrameHeaders, 0, 1, 'a'),
		cat(raw(FrameHeaders, 0, 1, 'a'), raw(FrameContinuation, 0, 1, 'b')),
	} {
		s.Reset()
		if got := splitChunks(&s, testkit.Whole(in)); got != "pending" {
			t.Errorf("%q: got %s", in, got)
		}
	}
}

// TestSplitMemory checks the rules on pooled memory: nothing is held
// between whole frames, an incomplete frame's buffer goes back at the call
// after it is handed on, and an oversized frame is refused from its
// header, before anything is buffered.
func TestSplitMemory(t *testing.T) {
	var s Splitter
	in := cat(AppendData(nil, 1, false, []byte("hello")), AppendPing(nil, false, [8]byte{}))
	splitChunks(&s, testkit.Whole(in))
	if s.buf != nil || s.held != heldNone || s.block != nil {
		t.Fatal("whole frames left a buffer held")
	}

	// A frame cut in two is buffered, handed on from the buffer, and the
	// buffer released at the next call.
	f, n, err := s.Next(in[:12])
	if f != nil || n != 12 || err != nil || s.buf == nil {
		t.Fatalf("first part: %v %d %v, buffered %v", f, n, err, s.buf != nil)
	}
	f, n, err = s.Next(in[12:])
	if f == nil || string(f.Data) != "hello" || err != nil || s.held != heldBuf || s.buf == nil {
		t.Fatalf("second part: %v %d %v", f, n, err)
	}
	if f, _, _ = s.Next(in[12+n:]); f == nil || f.Type != FramePing || s.held != heldNone || s.buf != nil {
		t.Fatalf("buffer not released after the frame was handed on (held %v, buf %v)", s.held, s.buf != nil)
	}

	// A frame header announcing 16 MiB is refused at once.
	s.Reset()
	hdr := AppendFrameHeader(nil, FrameHeader{Length: 1<<24 - 1, Type: FrameData, StreamID: 1})
	_, _, err = s.Next(append(hdr, 'x'))
	if !errors.Is(err, ErrFrameSize) || s.buf != nil {
		t.Fatalf("oversized frame: %v, buffered %v", err, s.buf != nil)
	}

	// A header block joined from several frames lives in one pooled
	// buffer, released after it is handed on.
	s.Reset()
	run := cat(raw(FrameHeaders, 0, 1, 'a'), raw(FrameContinuation, FlagEndHeaders, 1, 'b'))
	if f, _, _ = s.Next(run); f == nil || string(f.Data) != "ab" || s.held != heldBlock || s.block == nil {
		t.Fatalf("block: %v", f)
	}
	if f, _, _ = s.Next(nil); f != nil || s.held != heldNone || s.block != nil {
		t.Fatal("block buffer not released")
	}
}

// TestSplitErrorsSticky checks that a Splitter, once failed, keeps
// returning its error and consumes nothing, until Reset.
func TestSplitErrorsSticky(t *testing.T) {
	var s Splitter
	_, _, err := s.Next(raw(FrameData, 0, 0, 'x'))
	if !errors.Is(err, ErrBadStreamID) {
		t.Fatalf("got %v", err)
	}
	if f, n, err2 := s.Next(AppendSettings(nil)); f != nil || n != 0 || err2 != err {
		t.Fatalf("after error: %v %d %v", f, n, err2)
	}
	s.Reset()
	if f, _, err := s.Next(AppendSettings(nil)); f == nil || err != nil {
		t.Fatalf("after Reset: %v %v", f, err)
	}
}

// TestSplitMaxFrameSize checks that a larger MaxFrameSize is honoured.
func TestSplitMaxFrameSize(t *testing.T) {
	s := Splitter{MaxFrameSize: 1 << 20}
	big := AppendData(nil, 1, true, make([]byte, 1<<20))
	if got := splitChunks(&s, testkit.SplitAt(big, 100, 70000)); !strings.HasPrefix(got, "DATA stream=1 len=1048576 flags=END_STREAM") {
		t.Fatalf("got %.80s", got)
	}
	if got := splitChunks(&s, testkit.Whole(raw(FrameData, 0, 1, make([]byte, 1<<20+1)...))); !strings.Contains(got, "FRAME_SIZE_ERROR") {
		t.Fatalf("got %.80s", got)
	}
}
