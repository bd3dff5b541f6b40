package http2

import (
	"bytes"
	"strings"
	"testing"
)

// firstBlock returns the header block of the first HEADERS frame in out,
// the client's output (without the preface).
func firstBlock(t *testing.T, out []byte) []byte {
	t.Helper()
	var s Splitter
	for {
		f, n, err := s.Next(out)
		out = out[n:]
		if err != nil || f == nil {
			t.Fatalf("no HEADERS frame in the client's output (%v)", err)
		}
		if f.Type == FrameHeaders {
			return append([]byte(nil), f.Data...)
		}
	}
}

// TestCompactReleasesBetweenStreams: Compact drops the HPACK encoder, its
// name cache and the storage of the stream table and decoded fields of a
// connection with no stream open, and leaves a connection with one open
// alone. The next request starts with a new encoder whose first block
// empties the server's table (size 0, then the size the server allows),
// and decodes on the server's side to the same fields.
func TestCompactReleasesBetweenStreams(t *testing.T) {
	h := newHarness(t, Config{}).ready(Setting{SettingHeaderTableSize, 1000})
	req := Request{Method: "GET", Scheme: "https", Authority: "api.example.com", Path: "/items",
		Fields: []HeaderField{{"User-Agent", "egress-test"}, {"X-Custom-Name", "v"}}}
	want := "HEADERS 1 END_STREAM|END_HEADERS [:method=GET :scheme=https :authority=api.example.com :path=/items user-agent=egress-test x-custom-name=v]"

	s := h.open(req, true)
	h.expectSent(want)
	h.c.Compact() // a stream is open: nothing goes
	if h.c.enc.enc == nil || h.c.streams[s.ID()] != s {
		t.Fatal("Compact released the encoder or the stream table while a stream was open")
	}
	// Nor from inside a handler, even once the last stream closed.
	h.rec.on = func(event string, _ *Stream) {
		if strings.Contains(event, "closed") {
			h.c.Compact()
		}
	}
	h.feed(h.srv.response(1, 200, "ok"))
	h.rec.on = nil
	h.events()
	if h.c.enc.enc == nil || h.c.streams == nil {
		t.Fatal("Compact acted from inside a handler")
	}
	if len(h.c.dec.head.Fields) == 0 && cap(h.c.dec.head.Fields) == 0 || h.c.enc.lower == nil {
		t.Fatal("the test no longer shows what Compact releases: no decoded fields or name cache kept")
	}

	h.c.Compact()
	if h.c.enc.enc != nil || h.c.enc.lower != nil || h.c.streams != nil || h.c.dec.head.Fields != nil {
		t.Fatalf("after Compact: encoder %v, name cache %v, stream table %v, fields %v kept",
			h.c.enc.enc != nil, h.c.enc.lower != nil, h.c.streams != nil, h.c.dec.head.Fields != nil)
	}

	h.open(req, true)
	block := firstBlock(t, h.c.Pending())
	// 0x20: table size 0; 0x3f 0xc9 0x07: table size 1000 (31 + 969).
	if prefix := []byte{0x20, 0x3f, 0xc9, 0x07}; !bytes.HasPrefix(block, prefix) {
		t.Fatalf("the first block after Compact starts % x, want the table size updates % x", block[:min(len(block), 4)], prefix)
	}
	h.expectSent(strings.Replace(want, "HEADERS 1", "HEADERS 3", 1))
	h.feed(h.srv.response(3, 200, "ok"))

	// The new encoder indexes as the first did: the next block is shorter.
	h.open(req, true)
	if again := firstBlock(t, h.c.Pending()); len(again) >= len(block)-4 {
		t.Fatalf("the block after the first one is %d bytes, the first (without size updates) %d: nothing indexed", len(again), len(block)-4)
	}
	h.expectSent(strings.Replace(want, "HEADERS 1", "HEADERS 5", 1))
	h.feed(h.srv.response(5, 200, "ok"))
	h.expectEvents(
		"s3 head 200 cl=2 [content-length=2]", `s3 data "ok"`, "s3 closed <nil>",
		"s5 head 200 cl=2 [content-length=2]", `s5 data "ok"`, "s5 closed <nil>")
}
