package http2

import (
	"strings"
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

// exchange is a scripted exchange: the client opens three streams and
// sends a body on the second, then the server's bytes arrive.
type exchange struct {
	name   string
	server func(p *peer) []byte
}

var exchanges = []exchange{
	{"everything", func(p *peer) []byte {
		blk := p.enc.block(":status: 200", "content-type: text/plain", "x-long: "+strings.Repeat("l", 40))
		return cat(
			settings(Setting{SettingMaxConcurrentStreams, 50}, Setting{SettingInitialWindowSize, 100000}),
			AppendSettingsAck(nil),
			AppendPing(nil, false, [8]byte{'p', 'i', 'n', 'g', 0, 1, 2, 3}),
			// Stream 1: a head in a HEADERS and two CONTINUATIONs, padded
			// DATA, an empty DATA ending it.
			raw(FrameHeaders, FlagPadded, 1, append(append([]byte{2}, blk[:10]...), 0, 0)...),
			raw(FrameContinuation, 0, 1, blk[10:20]...),
			raw(FrameContinuation, FlagEndHeaders, 1, blk[20:]...),
			AppendDataPadded(nil, 1, false, []byte("padded body"), 9),
			raw(FramePriority, 0, 1, 0, 0, 0, 0, 7),
			data(1, true, ""),
			// Stream 3: 100 Continue, windows, a head, DATA, trailers.
			p.headers(3, false, ":status: 100"),
			AppendWindowUpdate(nil, 0, 5000),
			AppendWindowUpdate(nil, 3, 5000),
			p.headers(3, false, ":status: 200", "content-length: 6"),
			data(3, false, "upl"),
			raw(0xee, 0x3, 3, 'x', 'y'),
			data(3, false, "oad"),
			p.headers(3, true, "checksum: 42"),
			// Stream 5: refused; then GOAWAY.
			AppendRSTStream(nil, 5, ErrCodeRefusedStream),
			AppendPing(nil, true, [8]byte{'c', 'l', 'i', 'e', 'n', 't', 'p', 'g'}),
			AppendGoAway(nil, 3, ErrCodeNo, []byte("bye")),
		)
	}},
	{"stream errors", func(p *peer) []byte {
		return cat(settings(),
			p.headers(1, false, ":status: 200", "Upper: x"),
			data(1, true, "late"),
			p.headers(3, false, ":status: 200", "content-length: 2"),
			data(3, false, "abc"),
			p.headers(5, true, ":status: 204"),
		)
	}},
	{"connection error mid-way", func(p *peer) []byte {
		return cat(settings(),
			p.response(1, 200, "one"),
			data(7, false, "idle"),
			p.response(3, 200, "three"),
		)
	}},
	{"flow-control error", func(p *peer) []byte {
		return cat(settings(), p.headers(1, false, ":status: 200"),
			data(1, false, strings.Repeat("a", 16384)), data(1, false, strings.Repeat("a", 16384)),
			data(1, false, strings.Repeat("a", 2)))
	}},
}

// runExchange plays x with the server's bytes cut into chunks and renders
// everything the client did: events, frames sent, errors.
func runExchange(t *testing.T, server []byte, chunks [][]byte) string {
	h := newHarness(t, Config{StreamWindow: 32768, DisableBDP: true})
	h.open(getReq, true)
	s := h.open(Request{Method: "POST", Scheme: "https", Authority: "a", Path: "/", ContentLength: -1}, false)
	h.open(getReq, true)
	// More than the connection's initial window: blocked until the
	// server's WINDOW_UPDATE.
	h.c.WriteData(s, make([]byte, 70000), false)
	h.c.Ping([8]byte{'c', 'l', 'i', 'e', 'n', 't', 'p', 'g'})
	h.rec.on = func(e string, st *Stream) {
		if e == "s3 window open" {
			h.c.WriteData(st, []byte("load"), true)
		}
	}
	var errs []string
	for _, c := range chunks {
		in := append([]byte(nil), c...)
		if err := h.c.Feed(in); err != nil {
			errs = append(errs, errString(err))
			break
		}
		for i := range in {
			in[i] = '#'
		}
	}
	return "events:\n" + h.events() + "\nsent:\n" + strings.Join(h.sent(), "\n") + "\nerrors: " + strings.Join(errs, ", ")
}

// TestConnSplitEquivalence plays each exchange with the server's bytes
// whole and cut every way testkit knows, and requires the same events,
// the same frames sent and the same error.
func TestConnSplitEquivalence(t *testing.T) {
	for _, x := range exchanges {
		server := x.server(newPeer())
		want := runExchange(t, server, testkit.Whole(server))
		if testing.Verbose() {
			t.Logf("%s:\n%s", x.name, want)
		}
		for sp := range testkit.Splits(server, testkit.SplitOptions{MaxEvery: 1024, Random: 100, Seed: uint64(len(server))}) {
			for _, chunks := range [][][]byte{sp.Chunks, testkit.WithEmptyReads(sp.Chunks)} {
				if got := runExchange(t, server, chunks); got != want {
					t.Fatalf("%s, %s:\n got %s\nwant %s", x.name, sp.Name, got, want)
				}
			}
		}
	}
}

// TestConnExchangeEvents pins what the "everything" exchange produces, so
// that the split test above compares against the right thing.
func TestConnExchangeEvents(t *testing.T) {
	server := exchanges[0].server(newPeer())
	got := runExchange(t, server, testkit.Whole(server))
	want := `events:
settings streams=50 window=100000 frame=16384 list=0 table=4096
s1 head 200 cl=-1 [content-type=text/plain x-long=llllllllllllllllllllllllllllllllllllllll]
s1 data "padded body"
s1 closed <nil>
s3 head 100 cl=-1 []
s3 window open
s3 head 200 cl=6 [content-length=6]
s3 data "upl"
s3 data "oad"
s3 trailers 0 cl=-1 [checksum=42]
s3 closed <nil>
s5 closed StreamError{5, REFUSED_STREAM, remote=true, http2: request not processed by the server; safe to retry}
ping ack "clientpg"
goaway last=3 NO_ERROR "bye"
sent:
HEADERS 1 END_STREAM|END_HEADERS [:method=GET :scheme=https :authority=example.com :path=/]
HEADERS 3 END_HEADERS [:method=POST :scheme=https :authority=a :path=/]
HEADERS 5 END_STREAM|END_HEADERS [:method=GET :scheme=https :authority=example.com :path=/]
DATA 3 16384 bytes
DATA 3 16384 bytes
DATA 3 16384 bytes
DATA 3 16383 bytes
PING 0 "clientpg"
SETTINGS 0 ACK
PING 0 ACK "ping\x00\x01\x02\x03"
DATA 3 END_STREAM "load"
errors: `
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
