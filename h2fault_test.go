package egress

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egress-go/egress/http2"
	"github.com/egress-go/egress/internal/testkit"
)

// HTTP/2 against servers that misbehave on purpose (h2peer_test.go's
// scripted server): GOAWAY and resets mid-flight, a burst refused before
// the server's SETTINGS, floods, huge header blocks, flow-control stalls,
// cancellation. Each test checks what the issue promises: unprocessed
// requests retried and answered, the rest failed with a typed error,
// memory bounded, no request left waiting, no leak.

// served is a request a scripted server answered, and on which connection.
type served struct {
	conn int
	path string
}

// A GOAWAY in the middle of a burst: the streams at or below its last
// stream id complete on the old connection, after those above it, which
// were not processed, have been retried on a new connection and
// answered; Stats counts the retries. The old connection closes only
// then, once the client has said GOAWAY too.
func TestH2GoAwayMidFlight(t *testing.T) {
	for _, abrupt := range []bool{false, true} {
		name := "graceful"
		if abrupt {
			// The server never answers the streams at or below the last
			// id and drops the connection: they failed on a reused
			// connection before any response byte, so they are retried as
			// well (DESIGN rule 6), and no request is lost.
			name = "abrupt"
		}
		t.Run(name, func(t *testing.T) {
			testkit.CheckLeaks(t)
			const burst = 6
			log := make(chan served, 4*burst)
			answer := func(p *h2Peer) func(req *h2Frame) (int, string) {
				return func(req *h2Frame) (int, string) {
					log <- served{p.N, req.Get(":path")}
					return 200, fmt.Sprintf("conn %d %s", p.N, req.Get(":path"))
				}
			}
			lastID := make(chan uint32, 1)
			// The new connection answers the retried requests while the old
			// one still has its streams.
			retried := make(chan struct{})
			clientGoAway := make(chan http2.ErrCode, 1)
			srv := newH2Server(t, func(p *h2Peer) {
				p.Settings()
				if p.N > 1 {
					n := 0
					p.Serve(func(req *h2Frame) (int, string) {
						if n++; n == burst/2 {
							close(retried)
						}
						return answer(p)(req)
					})
					return
				}
				// A first request, so that the key is known to multiplex and
				// the burst shares this connection.
				f, err := p.Request()
				if err != nil {
					t.Errorf("warm-up: %v", err)
					return
				}
				p.Respond(f.StreamID, 200, "warm")
				var reqs []*h2Frame
				for len(reqs) < burst {
					f, err := p.Request()
					if err != nil {
						t.Errorf("burst: %d requests, %v", len(reqs), err)
						return
					}
					reqs = append(reqs, f)
				}
				last := reqs[burst/2-1].StreamID
				lastID <- last
				p.GoAway(last, http2.ErrCodeNo)
				select {
				case <-retried:
				case <-time.After(h2PeerWait):
					t.Errorf("the requests above the GOAWAY were not retried")
					return
				}
				if abrupt {
					return
				}
				for _, r := range reqs[:burst/2] {
					status, body := answer(p)(r)
					p.Respond(r.StreamID, status, body)
				}
				// With its last stream done, the client says GOAWAY and
				// closes; read until then.
				if code, ok := p.GoAwayCode(); ok {
					clientGoAway <- code
				}
				p.Next()
			})
			tr, client := h2Client(t, Options{})
			base := "http://" + srv.Addr()
			if _, body, err := getBody(client, base+"/warm"); err != nil || body != "warm" {
				t.Fatalf("warm-up: %q, %v", body, err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, burst)
			for i := range burst {
				wg.Add(1)
				go func() {
					defer wg.Done()
					path := fmt.Sprintf("/r%d", i)
					resp, body, err := getBody(client, base+path)
					switch {
					case err != nil:
						errs <- fmt.Errorf("%s: %w", path, err)
					case resp.StatusCode != 200 || !strings.HasSuffix(body, " "+path):
						errs <- fmt.Errorf("%s: %d %q", path, resp.StatusCode, body)
					}
				}()
			}
			waitGroup(t, &wg, "every request of the burst to end")
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if t.Failed() {
				return
			}
			recv(t, lastID, "the GOAWAY")
			if !abrupt {
				if code := recv(t, clientGoAway, "the client's GOAWAY"); code != http2.ErrCodeNo {
					t.Errorf("client's GOAWAY %v, want NO_ERROR", code)
				}
			}
			perConn := map[int]int{}
			for range burst {
				perConn[recv(t, log, "the server's log").conn]++
			}
			if len(log) != 0 {
				t.Errorf("%d requests answered twice", len(log))
			}
			// Only the requests above the GOAWAY are unprocessed.
			wantOld, wantRetries, unprocessed := burst/2, int64(burst/2), int64(burst/2)
			if abrupt {
				wantOld, wantRetries = 0, burst
			}
			if perConn[1] != wantOld || perConn[2] != burst-wantOld {
				t.Errorf("answered per connection %v: want %d of the burst on the first, %d on the second", perConn, wantOld, burst-wantOld)
			}
			st := tr.Stats()
			if st.GoAways != 1 || st.StreamResets != 0 {
				t.Errorf("stats: %d GOAWAYs, %d stream resets counted; want 1, 0", st.GoAways, st.StreamResets)
			}
			if st.Retries != wantRetries || st.Unprocessed != unprocessed || st.Failures != 0 || st.Pool.Dials != 2 {
				t.Errorf("stats: %d retries (%d unprocessed), %d failures, %d dials; want %d (%d), 0, 2",
					st.Retries, st.Unprocessed, st.Failures, st.Pool.Dials, wantRetries, unprocessed)
			}
			testkit.WaitFor(t, "every stream given back", func() bool { return tr.Stats().Pool.StreamsInUse == 0 })
		})
	}
}

// RST_STREAM REFUSED_STREAM means the server did not process the request:
// it is retried, and succeeds.
func TestH2RefusedStreamRetried(t *testing.T) {
	testkit.CheckLeaks(t)
	var refused []uint32
	srv := newH2Server(t, func(p *h2Peer) {
		p.Settings()
		f, err := p.Request()
		if err != nil {
			t.Errorf("request: %v", err)
			return
		}
		refused = append(refused, f.StreamID)
		p.Reset(f.StreamID, http2.ErrCodeRefusedStream)
		p.Serve(func(req *h2Frame) (int, string) { return 200, "second try " + req.Get(":path") })
	})
	tr, client := h2Client(t, Options{})
	resp, body, err := getBody(client, "http://"+srv.Addr()+"/once")
	if err != nil || resp.StatusCode != 200 || body != "second try /once" {
		t.Fatalf("refused request: %v, %q", err, body)
	}
	if st := tr.Stats(); st.Retries != 1 || st.Unprocessed != 1 || st.Failures != 0 || st.StreamResets != 1 {
		t.Fatalf("stats: %d retries (%d unprocessed), %d failures; want 1 (1), 0", st.Retries, st.Unprocessed, st.Failures)
	}
}

// Any other RST_STREAM code fails the request with a typed error naming
// the code; the connection and its other streams carry on, and the
// request is not replayed (the server may have processed it).
func TestH2ResetStream(t *testing.T) {
	for _, code := range []http2.ErrCode{http2.ErrCodeInternal, http2.ErrCodeCancel, http2.ErrCodeEnhanceYourCalm} {
		t.Run(code.String(), func(t *testing.T) {
			testkit.CheckLeaks(t)
			holding := make(chan struct{})
			var resets atomic.Int32
			srv := newH2Server(t, func(p *h2Peer) {
				p.Settings()
				var held uint32
				for {
					f, err := p.Request()
					if err != nil {
						return
					}
					switch path := f.Get(":path"); path {
					case "/hold":
						held = f.StreamID
						close(holding)
					case "/reset":
						resets.Add(1)
						p.Reset(f.StreamID, code)
						// The stream opened before carries on.
						if held != 0 {
							p.Respond(held, 200, "held")
							held = 0
						}
					default:
						p.Respond(f.StreamID, 200, "ok "+path)
					}
				}
			})
			tr, client := h2Client(t, Options{})
			base := "http://" + srv.Addr()
			type result struct {
				body string
				err  error
			}
			held := make(chan result, 1)
			go func() {
				_, body, err := getBody(client, base+"/hold")
				held <- result{body, err}
			}()
			<-holding
			_, _, err := getBody(client, base+"/reset")
			se, ok := isStreamError(err)
			if !ok || se.Code != code || !se.Remote || !errors.Is(err, http2.ErrStreamReset) || errors.Is(err, http2.ErrRefused) {
				t.Fatalf("reset stream: %v; want a *http2.StreamError %v from the server", err, code)
			}
			if r := recv(t, held, "the held request"); r.err != nil || r.body != "held" {
				t.Fatalf("the stream beside the reset one: %q, %v", r.body, r.err)
			}
			if _, body, err := getBody(client, base+"/after"); err != nil || body != "ok /after" {
				t.Fatalf("after the reset: %q, %v", body, err)
			}
			st := tr.Stats()
			if st.StreamResets != 1 || st.GoAways != 0 {
				t.Fatalf("stats: %d stream resets, %d GOAWAYs counted; want 1, 0", st.StreamResets, st.GoAways)
			}
			if st.Pool.Dials != 1 || resets.Load() != 1 || st.Retries != 0 || st.Failures != 1 {
				t.Fatalf("%d dials, %d resets seen by the server, %d retries; want one connection and no replay", st.Pool.Dials, resets.Load(), st.Retries)
			}
		})
	}
}

// Requests sent before the server's SETTINGS arrive go out under the
// assumed limit of 100 streams; a server whose limit is lower refuses the
// excess with REFUSED_STREAM, and those requests are retried, within the
// limit, and succeed.
func TestH2BurstBeforeSettingsRefused(t *testing.T) {
	testkit.CheckLeaks(t)
	const burst, limit = 10, 2
	var maxOpen atomic.Int32
	srv := newH2Server(t, func(p *h2Peer) {
		// Hold back SETTINGS until the whole burst is in.
		var first []*h2Frame
		for len(first) < burst {
			f, err := p.Request()
			if err != nil {
				t.Errorf("burst: %d requests, %v", len(first), err)
				return
			}
			first = append(first, f)
		}
		p.Settings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: limit})
		for i, f := range first {
			if i < limit {
				p.Respond(f.StreamID, 200, "first "+f.Get(":path"))
			} else {
				p.Reset(f.StreamID, http2.ErrCodeRefusedStream)
			}
		}
		// From here the client knows the limit: it must keep to it. The
		// streams open are those whose HEADERS came and which were not
		// answered; answer in pairs to let two be open at once.
		var open []*h2Frame
		for {
			f, err := p.Next(http2.FrameHeaders, http2.FrameRSTStream)
			if err != nil {
				return
			}
			if f.Type == http2.FrameRSTStream {
				continue
			}
			open = append(open, f)
			if int32(len(open)) > maxOpen.Load() {
				maxOpen.Store(int32(len(open)))
			}
			if len(open) > limit {
				t.Errorf("%d streams open over a limit of %d", len(open), limit)
				p.Reset(f.StreamID, http2.ErrCodeRefusedStream)
				open = open[:len(open)-1]
				continue
			}
			if len(open) == limit || f.Get(":path") == "/last" {
				for _, o := range open {
					p.Respond(o.StreamID, 200, "retried "+o.Get(":path"))
				}
				open = open[:0]
			}
		}
	})
	tr, client := h2Client(t, Options{Pool: poolConfig(1)})
	base := "http://" + srv.Addr()
	var wg sync.WaitGroup
	errs := make(chan error, burst)
	for i := range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := fmt.Sprintf("/b%d", i)
			_, body, err := getBody(client, base+path)
			if err != nil || !strings.HasSuffix(body, " "+path) {
				errs <- fmt.Errorf("%s: %q, %v", path, body, err)
			}
		}()
	}
	waitGroup(t, &wg, "the burst")
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// An odd number of retries would leave one waiting for its pair.
	if _, body, err := getBody(client, base+"/last"); err != nil || body != "retried /last" {
		t.Fatalf("after the burst: %q, %v", body, err)
	}
	st := tr.Stats()
	if st.Retries != burst-limit || st.Unprocessed != burst-limit || st.Failures != 0 || st.Pool.Dials != 1 {
		t.Fatalf("stats: %d retries (%d unprocessed), %d failures, %d dials; want %d (all), 0, 1", st.Retries, st.Unprocessed, st.Failures, st.Pool.Dials, burst-limit)
	}
	if m := maxOpen.Load(); m != limit {
		t.Fatalf("at most %d retried streams open at once, want the limit %d", m, limit)
	}
}

// A flood of cheap frames ends the connection with GOAWAY
// ENHANCE_YOUR_CALM, the request fails with a typed error, and the flood
// costs no memory to speak of.
func TestH2Flood(t *testing.T) {
	// Enough that answering or keeping each frame would cost megabytes.
	const n = 200000
	floods := []struct {
		name   string
		frame  func(dst []byte, id uint32) []byte
		inBody bool // the flood comes after the response head
	}{
		{"empty DATA", func(dst []byte, id uint32) []byte { return http2.AppendData(dst, id, false, nil) }, true},
		{"PING", func(dst []byte, id uint32) []byte { return http2.AppendPing(dst, false, [8]byte{1}) }, false},
		{"SETTINGS", func(dst []byte, id uint32) []byte { return http2.AppendSettings(dst) }, false},
		{"WINDOW_UPDATE", func(dst []byte, id uint32) []byte { return http2.AppendWindowUpdate(dst, 0, 1) }, false},
		{"PRIORITY", func(dst []byte, id uint32) []byte {
			dst = http2.AppendFrameHeader(dst, http2.FrameHeader{Length: 5, Type: http2.FramePriority, StreamID: id})
			return append(dst, 0, 0, 0, 0, 16)
		}, true},
	}
	for _, fl := range floods {
		t.Run(fl.name, func(t *testing.T) {
			testkit.CheckLeaks(t)
			var flood []byte
			for range n {
				flood = fl.frame(flood, 1)
			}
			goAway := make(chan http2.ErrCode, 1)
			srv := newH2Server(t, func(p *h2Peer) {
				p.Settings()
				f, err := p.Request()
				if err != nil {
					t.Errorf("request: %v", err)
					return
				}
				if fl.inBody {
					p.Headers(f.StreamID, false, ":status", "200")
				}
				p.Go(func() { p.Write(flood) })
				if code, ok := p.GoAwayCode(); ok {
					goAway <- code
				}
				close(goAway)
			})
			_, client := h2Client(t, Options{})
			base := heapInuse(true)
			resp, err := client.Get("http://" + srv.Addr() + "/")
			if err == nil {
				if !fl.inBody {
					t.Errorf("got a response head before the flood")
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			grew := int64(heapInuse(false)) - int64(base)
			var ce *http2.ConnError
			if !errors.As(err, &ce) || ce.Code != http2.ErrCodeEnhanceYourCalm || !errors.Is(err, http2.ErrFlood) && !errors.Is(err, http2.ErrControlBacklog) {
				t.Fatalf("flood: %v; want a *http2.ConnError ENHANCE_YOUR_CALM for a flood", err)
			}
			if code, ok := <-goAway; !ok || code != http2.ErrCodeEnhanceYourCalm {
				t.Fatalf("the server read GOAWAY %v (%v), want ENHANCE_YOUR_CALM", code, ok)
			}
			t.Logf("%v; heap grew by %d KiB", err, grew>>10)
			if grew > 4<<20 {
				t.Fatalf("a flood of %d frames (%d KiB) grew the heap by %d KiB", n, len(flood)>>10, grew>>10)
			}
		})
	}
}

// Huge header blocks: a block past the limit before decoding ends the
// connection (ENHANCE_YOUR_CALM); a small block that decodes into a list
// past the limit (one large field indexed and repeated) fails only its
// stream. Both with a typed error and bounded memory.
func TestH2HugeHeaderBlock(t *testing.T) {
	big := strings.Repeat("v", 4000)
	cases := []struct {
		name string
		// build makes the frames to send, before the heap is measured;
		// or send sends them.
		build func(id uint32) []byte
		send  func(p *h2Peer, id uint32)
		// conn: the connection ends with GOAWAY ENHANCE_YOUR_CALM;
		// otherwise the stream is reset and the connection carries on.
		conn bool
		want error
	}{
		{"CONTINUATION flood", func(id uint32) []byte {
			var b []byte
			b = http2.AppendFrameHeader(b, http2.FrameHeader{Length: 1, Type: http2.FrameHeaders, StreamID: id})
			b = append(b, 0x88)                                            // :status 200
			chunk := bytes.Repeat([]byte{0x40, 0x01, 'x', 0x01, 'y'}, 200) // literal x: y, 1000 bytes
			for range 16 << 10 {                                           // 16 MiB in all
				b = http2.AppendFrameHeader(b, http2.FrameHeader{Length: uint32(len(chunk)), Type: http2.FrameContinuation, StreamID: id})
				b = append(b, chunk...)
			}
			return b
		}, nil, true, http2.ErrHeaderBlockTooLarge},
		{"empty CONTINUATIONs", func(id uint32) []byte {
			var b []byte
			b = http2.AppendFrameHeader(b, http2.FrameHeader{Length: 1, Type: http2.FrameHeaders, StreamID: id})
			b = append(b, 0x88)
			for range 100000 {
				b = http2.AppendFrameHeader(b, http2.FrameHeader{Type: http2.FrameContinuation, StreamID: id})
			}
			return b
		}, nil, true, http2.ErrFlood},
		{"header list over the limit", nil, func(p *h2Peer, id uint32) {
			kv := []string{":status", "200"}
			for range 20 {
				kv = append(kv, "x-big", big) // indexed after the first: ~80 KiB decoded from ~4 KiB
			}
			p.Headers(id, true, kv...)
		}, false, http2.ErrHeaderListTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			testkit.CheckLeaks(t)
			goAway := make(chan http2.ErrCode, 1)
			resets := make(chan http2.ErrCode, 10)
			var pre []byte
			if tc.build != nil {
				pre = tc.build(1) // the first stream of the connection
			}
			srv := newH2Server(t, func(p *h2Peer) {
				p.Settings()
				for {
					f, err := p.Next(http2.FrameHeaders, http2.FrameRSTStream, http2.FrameGoAway)
					if err != nil {
						close(goAway)
						return
					}
					switch {
					case f.Type == http2.FrameRSTStream:
						resets <- f.Code()
					case f.Type == http2.FrameGoAway:
						goAway <- f.Code()
						close(goAway)
						return
					case f.Get(":path") == "/huge" && tc.build != nil:
						if f.StreamID != 1 {
							t.Errorf("/huge on stream %d, want 1", f.StreamID)
						}
						p.Go(func() { p.Write(pre) })
					case f.Get(":path") == "/huge":
						tc.send(p, f.StreamID)
					default:
						p.Respond(f.StreamID, 200, "fine")
					}
				}
			})
			tr, client := h2Client(t, Options{})
			url := "http://" + srv.Addr()
			base := heapInuse(true)
			_, _, err := getBody(client, url+"/huge")
			grew := int64(heapInuse(false)) - int64(base)
			t.Logf("%v; heap grew by %d KiB", err, grew>>10)
			if !errors.Is(err, tc.want) {
				t.Fatalf("huge header block: %v; want %v", err, tc.want)
			}
			if grew > 4<<20 {
				t.Fatalf("the header block grew the heap by %d KiB", grew>>10)
			}
			if tc.conn {
				var ce *http2.ConnError
				if !errors.As(err, &ce) || ce.Code != http2.ErrCodeEnhanceYourCalm {
					t.Fatalf("%v: want a *http2.ConnError ENHANCE_YOUR_CALM", err)
				}
				if code, ok := <-goAway; !ok || code != http2.ErrCodeEnhanceYourCalm {
					t.Fatalf("the server read GOAWAY %v (%v), want ENHANCE_YOUR_CALM", code, ok)
				}
				return
			}
			if se, ok := isStreamError(err); !ok || se.Remote || se.Code != http2.ErrCodeProtocol {
				t.Fatalf("%v: want a *http2.StreamError PROTOCOL_ERROR sent by the client", err)
			}
			// The block was decoded whole, so HPACK stays in step and the
			// connection serves the next request.
			if _, body, err := getBody(client, url+"/next"); err != nil || body != "fine" {
				t.Fatalf("after the reset: %q, %v", body, err)
			}
			if d := tr.Stats().Pool.Dials; d != 1 {
				t.Fatalf("%d dials: the connection did not survive a stream error", d)
			}
			if len(resets) != 1 || <-resets != http2.ErrCodeProtocol {
				t.Fatalf("the server saw %d resets, want one PROTOCOL_ERROR", len(resets)+1)
			}
		})
	}
}

// Downloads whose readers stop stall only their own streams: another
// stream of the same connection downloads several MiB meanwhile. With
// three of four streams stalled, each holding its window unread, the
// fourth can receive only a quarter of the connection window, and its
// credit must come back all the same.
func TestH2SlowReaderStallsOnlyItsStream(t *testing.T) {
	testkit.CheckLeaks(t)
	url := newH2CServer(t, h2Handler())
	// The windows grow with the bandwidth-delay estimate, but not past a
	// body, so that a stalled stream really is stalled.
	tr, client := h2Client(t, Options{HTTP2: HTTP2Options{Config: http2.Config{MaxStreamWindow: 1 << 20}}})
	const size, stalled = 8 << 20, 3
	var bodies []io.ReadCloser
	defer func() {
		for _, b := range bodies {
			b.Close()
		}
	}()
	for range stalled {
		resp, err := client.Get(fmt.Sprintf("%s/size?n=%d", url, size))
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, resp.Body)
		if _, err := io.ReadFull(resp.Body, make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
		// Not read any further: its window fills, and its writer on the
		// server blocks.
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/size?n=%d", url, size), nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(body, pattern(size)) {
		t.Fatalf("the stream beside %d stalled ones: %d bytes of %d, %v", stalled, len(body), size, err)
	}
	if st := tr.Stats().Pool; st.Dials != 1 || st.StreamsInUse != stalled {
		t.Fatalf("%d dials, %d streams in use; want every stream on one connection, the stalled ones still open", st.Dials, st.StreamsInUse)
	}
	// A stalled stream resumes when read, and is whole.
	rest, err := io.ReadAll(bodies[0])
	if err != nil || !bytes.Equal(rest, pattern(size)[100:]) {
		t.Fatalf("a stalled stream: %d more bytes, %v", len(rest), err)
	}
}

// Windows of any size work with the blocking API's body reader, which
// reports what it consumed in batches: a stream window smaller than the
// body buffer, and a body buffer larger than the stream window.
func TestH2WindowSizes(t *testing.T) {
	testkit.CheckLeaks(t)
	url := newH2CServer(t, h2Handler())
	for _, tc := range []struct {
		name   string
		window uint32
		buffer int
	}{
		{"16 KiB stream window", 16 << 10, 0},
		{"20000-byte stream window", 20000, 0},
		{"1 MiB body buffer", 0, 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testkit.CheckLeaks(t)
			_, client := h2Client(t, Options{BodyWindow: tc.buffer, HTTP2: HTTP2Options{Config: http2.Config{StreamWindow: tc.window, DisableBDP: true}}})
			const size = 1 << 20
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/size?n=%d", url, size), nil)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || !bytes.Equal(body, pattern(size)) {
				t.Fatalf("%d bytes of %d, %v", len(body), size, err)
			}
		})
	}
}

// An upload the server grants no window stalls only itself: another
// upload on the same connection completes meanwhile, and the stalled one
// resumes when WINDOW_UPDATE opens its window, and arrives whole.
func TestH2UploadStallsOnlyItsStream(t *testing.T) {
	testkit.CheckLeaks(t)
	const window = 16 << 10
	stalledAt := make(chan int, 1)
	srv := newH2Server(t, func(p *h2Peer) {
		// Streams get 16 KiB of window; the connection, plenty.
		p.Settings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: window})
		p.Write(http2.AppendWindowUpdate(nil, 0, 64<<20))
		heads := map[uint32]*h2Frame{}
		got := map[uint32][]byte{}
		var stall uint32
		opened := false
		for {
			f, err := p.Read()
			if err != nil {
				return
			}
			switch f.Type {
			case http2.FrameHeaders:
				heads[f.StreamID] = f
				if f.Get(":path") == "/open" {
					// Open the stalled upload's window, all at once.
					opened = true
					p.Write(http2.AppendWindowUpdate(nil, stall, 8<<20))
				}
			case http2.FrameData:
				id := f.StreamID
				got[id] = append(got[id], f.Data...)
				if heads[id].Get(":path") != "/stall" {
					p.Write(http2.AppendWindowUpdate(nil, id, f.Length))
				} else if !opened {
					stall = id
					if len(got[id]) > window {
						t.Errorf("the client sent %d bytes in a window of %d", len(got[id]), window)
					} else if len(got[id]) == window {
						stalledAt <- window
					}
				}
			}
			if f.ended() {
				sum := sha256.Sum256(got[f.StreamID])
				p.Respond(f.StreamID, 200, hex.EncodeToString(sum[:]))
			}
		}
	})
	tr, client := h2Client(t, Options{})
	base := "http://" + srv.Addr()
	post := func(path string, body []byte) (string, error) {
		resp, err := client.Post(base+path, "application/octet-stream", bytes.NewReader(body))
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	sumOf := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	// A first request, so that the client has the server's SETTINGS:
	// before them it may send 65535 bytes, the protocol's initial window.
	if _, body, err := getBody(client, base+"/warm"); err != nil || body != sumOf(nil) {
		t.Fatalf("warm-up: %q, %v", body, err)
	}
	big := pattern(1<<20 + 3)
	type result struct {
		sum string
		err error
	}
	bigDone := make(chan result, 1)
	go func() {
		s, err := post("/stall", big)
		bigDone <- result{s, err}
	}()
	recv(t, stalledAt, "the upload to use up its window")
	small := pattern(10 << 10)
	if s, err := post("/small", small); err != nil || s != sumOf(small) {
		t.Fatalf("upload beside the stalled one: %q, %v", s, err)
	}
	select {
	case r := <-bigDone:
		t.Fatalf("the stalled upload ended without a window: %+v", r)
	default:
	}
	if _, body, err := getBody(client, base+"/open"); err != nil || body != sumOf(nil) {
		t.Fatalf("open: %q, %v", body, err)
	}
	if r := recv(t, bigDone, "the stalled upload to finish"); r.err != nil || r.sum != sumOf(big) {
		t.Fatalf("the stalled upload: %q, %v; want the sum of %d bytes", r.sum, r.err, len(big))
	}
	if st := tr.Stats().Pool; st.Dials != 1 {
		t.Fatalf("%d dials, want one connection", st.Dials)
	}
}

// Cancelling a request mid-body, by its context or by closing the body,
// resets the stream (RST_STREAM CANCEL, which the server sees) and gives
// the stream back at once: by the time the RST_STREAM is on the wire,
// the pool has it. The connection serves the next request.
func TestH2CancelResetsStream(t *testing.T) {
	for _, how := range []string{"context", "close"} {
		t.Run(how, func(t *testing.T) {
			testkit.CheckLeaks(t)
			type rst struct {
				id   uint32
				code http2.ErrCode
			}
			rsts := make(chan rst, 1)
			srv := newH2Server(t, func(p *h2Peer) {
				p.Settings()
				f, err := p.Request()
				if err != nil {
					t.Errorf("request: %v", err)
					return
				}
				p.Headers(f.StreamID, false, ":status", "200")
				p.Data(f.StreamID, false, []byte("first"))
				r, err := p.Next(http2.FrameRSTStream)
				if err != nil {
					t.Errorf("waiting for RST_STREAM: %v", err)
					return
				}
				rsts <- rst{r.StreamID, r.Code()}
				p.Serve(func(req *h2Frame) (int, string) { return 200, "after" })
			})
			tr, client := h2Client(t, Options{})
			base := "http://" + srv.Addr()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", base+"/body", nil)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 5)
			if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "first" {
				t.Fatalf("first bytes %q, %v", buf, err)
			}
			if st := tr.Stats().Pool; st.StreamsInUse != 1 {
				t.Fatalf("%d streams in use mid-body, want 1", st.StreamsInUse)
			}
			if how == "context" {
				cancel()
				if _, err := io.ReadAll(resp.Body); !errors.Is(err, context.Canceled) {
					t.Fatalf("read after cancel: %v, want context.Canceled", err)
				}
				resp.Body.Close()
			} else {
				resp.Body.Close()
			}
			r := recv(t, rsts, "the server to see RST_STREAM")
			if r.id != 1 || r.code != http2.ErrCodeCancel {
				t.Fatalf("server saw RST_STREAM stream %d %v, want stream 1 CANCEL", r.id, r.code)
			}
			if st := tr.Stats().Pool; st.StreamsInUse != 0 {
				t.Fatalf("%d streams in use once the RST_STREAM was sent, want 0", st.StreamsInUse)
			}
			if _, body, err := getBody(client, base+"/next"); err != nil || body != "after" {
				t.Fatalf("after the cancel: %q, %v", body, err)
			}
			if st := tr.Stats().Pool; st.Dials != 1 {
				t.Fatalf("%d dials: a cancelled stream cost the connection", st.Dials)
			}
		})
	}
}
