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
	"testing"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/http2"
	"github.com/egress-go/egress/internal/testkit"
)

// HTTP/2 against servers that are hostile or merely unusual, beyond the
// fault tests of h2fault_test.go: what a server can make the client queue,
// and whether anything the client frames can be lost on the way out.

// h2HugeWindows is a server's opening: its SETTINGS with the largest
// stream window there is, and the connection window opened as far.
func h2HugeWindows(p *h2Peer) {
	p.Settings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: http2.MaxWindowSize})
	p.Write(http2.AppendWindowUpdate(nil, 0, http2.MaxWindowSize-http2.InitialWindowSize))
}

// h2SumServer answers each request, once it has ended, with the SHA-256
// of its body in hex. It grants no window: h2HugeWindows gave plenty.
func h2SumServer(p *h2Peer) {
	got := map[uint32]*bytes.Buffer{}
	for {
		f, err := p.Next(http2.FrameHeaders, http2.FrameData)
		if err != nil {
			return
		}
		b := got[f.StreamID]
		if b == nil {
			b = new(bytes.Buffer)
			got[f.StreamID] = b
		}
		if f.Type == http2.FrameData {
			b.Write(f.Data)
		}
		if f.ended() {
			sum := sha256.Sum256(b.Bytes())
			delete(got, f.StreamID)
			p.Respond(f.StreamID, 200, hex.EncodeToString(sum[:]))
		}
	}
}

// A server whose flow-control windows are far larger than the engine's
// write queue: the request body must still arrive whole. The client may
// frame no more than the connection's write queue takes, and must wait
// for it to drain rather than frame more: frames the queue refuses are
// not frames the server can do without (a request head lost from the
// middle of the HPACK state, a hole in a body).
func TestH2UploadLargerThanWriteQueue(t *testing.T) {
	cases := []struct {
		name     string
		limit    int  // the engine's WriteQueueLimit; 0: default (4 MiB)
		size     int  // the body
		exchange bool // sent with the Exchange API (a body known up front), or streamed by RoundTrip
	}{
		{"Exchange body, default queue", 0, 6 << 20, true},
		{"Exchange body, small queue", 64 << 10, 1 << 20, true},
		{"streamed body, small queue", 64 << 10, 4 << 20, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			testkit.CheckLeaks(t)
			srv := newH2Server(t, func(p *h2Peer) {
				h2HugeWindows(p)
				h2SumServer(p)
			})
			opts := Options{HTTP2: HTTP2Options{PriorKnowledge: true}}
			if tc.limit > 0 {
				e, err := engine.New(engine.Config{Loops: 1, WriteQueueLimit: tc.limit})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { e.Close() }) // after the transport's
				opts.Engine = e
			}
			tr := newTestTransport(t, opts)
			body := pattern(tc.size)
			sum := sha256.Sum256(body)
			want := hex.EncodeToString(sum[:])
			// A client that lost frames waits for an answer that cannot
			// come: the deadline turns that into a failure.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			url := "http://" + srv.Addr() + "/up"
			var got string
			var err error
			if tc.exchange {
				got, err = h2ExchangePost(tr, ctx, url, body)
			} else {
				got, err = h2Post(tr, ctx, url, body)
			}
			if err != nil || got != want {
				t.Fatalf("%d bytes uploaded: server's sum %q, %v; want %s", len(body), got, err, want)
			}
			if d := tr.Stats().Pool.Dials; d != 1 {
				t.Fatalf("%d dials, want one connection", d)
			}
		})
	}
}

// h2Post POSTs body with RoundTrip (streamed) and returns the response
// body.
func h2Post(tr *Transport, ctx context.Context, url string, body []byte) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// h2ExchangePost POSTs body with the Exchange API and returns the
// response body.
func h2ExchangePost(tr *Transport, ctx context.Context, url string, body []byte) (string, error) {
	var got bytes.Buffer
	done := make(chan error, 1)
	ex := &Exchange{Method: "POST", URL: url, Body: body, Context: ctx}
	ex.OnBody = func(ex *Exchange, p []byte) { got.Write(p) }
	ex.OnDone = func(ex *Exchange, err error) { done <- err }
	if err := tr.Send(ex); err != nil {
		return "", err
	}
	err := <-done
	return got.String(), err
}

// A server that stops reading while requests keep coming: once the
// engine's write queue refuses a frame, the connection closes and every
// request on it fails with an error naming the full queue (or, retried on
// a new connection, succeeds there). The frames are not dropped while the
// connection carries on, which would leave requests waiting for answers
// to heads the server never got, and the server's HPACK table out of step
// with ours.
func TestH2WriteQueueFullClosesConnection(t *testing.T) {
	testkit.CheckLeaks(t)
	release := make(chan struct{})
	srv := newH2Server(t, func(p *h2Peer) {
		p.Settings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 1000})
		if p.N > 1 {
			p.Serve(func(*h2Frame) (int, string) { return 200, "later" })
			return
		}
		// A first request, so that the client knows the connection
		// multiplexes and sends the burst on it.
		if f, err := p.Request(); err == nil {
			p.Respond(f.StreamID, 200, "warm")
		}
		<-release // and read nothing meanwhile
	})
	defer close(release)
	e, err := engine.New(engine.Config{Loops: 1, WriteQueueLimit: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	tr := newTestTransport(t, Options{Engine: e, HTTP2: HTTP2Options{PriorKnowledge: true}})
	client := &http.Client{Transport: tr}
	if _, body, err := getBody(client, "http://"+srv.Addr()+"/warm"); err != nil || body != "warm" {
		t.Fatalf("warm-up: %q, %v", body, err)
	}
	// Heads of 24 KiB, each different (too large for the HPACK table):
	// 48 of them are far more than the queue and the sockets' buffers
	// hold.
	const n = 48
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := make(chan error, n)
	for i := range n {
		go func() {
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+srv.Addr()+"/", nil)
			req.Header.Set("X-Big", strings.Repeat(string(rune('a'+i%26)), 24<<10-i))
			resp, err := client.Do(req)
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != "later" {
					err = fmt.Errorf("answered %q", b)
				}
			}
			errs <- err
		}()
	}
	full := 0
	for range n {
		err := recv(t, errs, "a request to end")
		switch {
		case err == nil:
		case errors.Is(err, engine.ErrWriteQueueFull):
			full++
		default:
			t.Errorf("request: %v; want %v, or an answer from a later connection", err, engine.ErrWriteQueueFull)
		}
	}
	if full == 0 {
		t.Fatalf("no request failed with %v", engine.ErrWriteQueueFull)
	}
}

// A connection ending gracefully (GOAWAY both ways, no stream left) waits
// a bounded time for the server to close its side: a server that keeps
// sending frames instead, a PING every so often, does not keep it open.
// The wait is the health check's PingTimeout.
func TestH2GracefulCloseBounded(t *testing.T) {
	testkit.CheckLeaks(t)
	closed := make(chan error, 1)
	srv := newH2Server(t, func(p *h2Peer) {
		p.Settings()
		f, err := p.Request()
		if err != nil {
			t.Errorf("request: %v", err)
			return
		}
		p.Respond(f.StreamID, 200, "last")
		p.GoAway(f.StreamID, http2.ErrCodeNo)
		if _, ok := p.GoAwayCode(); !ok {
			t.Errorf("the client closed without its GOAWAY")
			return
		}
		// The client said GOAWAY and closed its side: keep it busy. The
		// writes fail once it has closed the connection.
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case <-tick.C:
				if err := p.Write(http2.AppendPing(nil, false, [8]byte{1})); err != nil {
					closed <- nil
					return
				}
			case <-deadline:
				closed <- errors.New("the client kept the connection open for 5 s")
				return
			}
		}
	})
	tr, client := h2Client(t, Options{HTTP2: HTTP2Options{PingTimeout: 100 * time.Millisecond}})
	if _, body, err := getBody(client, "http://"+srv.Addr()+"/"); err != nil || body != "last" {
		t.Fatalf("request: %q, %v", body, err)
	}
	if err := recv(t, closed, "the client to close"); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the connection to be released", func() bool { return tr.Stats().Pool.Open == 0 })
}

// A server that never opens a window for the request body, and answers
// PINGs (so the health check finds it alive): the upload waits, and the
// caller's context ends it, at once and cleanly: RoundTrip returns the
// context's error, the server sees RST_STREAM CANCEL, and the
// connection serves the next request.
func TestH2ZeroWindowUploadCancelled(t *testing.T) {
	testkit.CheckLeaks(t)
	rsts := make(chan http2.ErrCode, 1)
	srv := newH2Server(t, func(p *h2Peer) {
		p.Settings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
		for {
			f, err := p.Next(http2.FrameHeaders, http2.FrameRSTStream)
			if err != nil {
				return
			}
			if f.Type == http2.FrameRSTStream {
				rsts <- f.Code()
				continue
			}
			if f.ended() {
				p.Respond(f.StreamID, 200, "next")
			}
		}
	})
	_, client := h2Client(t, Options{})
	base := "http://" + srv.Addr()
	// The server's SETTINGS first, so that the upload has no window.
	if _, body, err := getBody(client, base+"/warm"); err != nil || body != "next" {
		t.Fatalf("warm-up: %q, %v", body, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	body := &blockedReader{started: make(chan struct{})}
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/up", body)
	req.ContentLength = 1 << 20
	done := make(chan error, 1)
	go func() {
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	recv(t, body.started, "the upload to start")
	cancel()
	if err := recv(t, done, "the cancelled upload to return"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled upload: %v, want context.Canceled", err)
	}
	if code := recv(t, rsts, "the server to see RST_STREAM"); code != http2.ErrCodeCancel {
		t.Fatalf("server saw RST_STREAM %v, want CANCEL", code)
	}
	if _, body, err := getBody(client, base+"/next"); err != nil || body != "next" {
		t.Fatalf("after the cancel: %q, %v", body, err)
	}
}

// blockedReader is an endless request body of zeros; started is closed
// at its first Read.
type blockedReader struct {
	started chan struct{}
	once    bool
}

func (r *blockedReader) Read(p []byte) (int, error) {
	if !r.once {
		r.once = true
		close(r.started)
	}
	clear(p)
	return len(p), nil
}

// A server that answers a request and then says it did not process it
// (RST_STREAM REFUSED_STREAM, or a GOAWAY whose last stream id is below
// it): the head and body bytes were delivered already, so the request is
// not sent again, which would deliver a second response into the same
// exchange. It fails with the server's error.
func TestH2RefusedAfterHeadNotRetried(t *testing.T) {
	for _, how := range []string{"RST_STREAM", "GOAWAY"} {
		t.Run(how, func(t *testing.T) {
			testkit.CheckLeaks(t)
			srv := newH2Server(t, func(p *h2Peer) {
				p.Settings()
				if p.N == 1 {
					f, err := p.Request()
					if err != nil {
						t.Errorf("request: %v", err)
						return
					}
					p.Headers(f.StreamID, false, ":status", "200")
					p.Data(f.StreamID, false, []byte("first "))
					if how == "RST_STREAM" {
						p.Reset(f.StreamID, http2.ErrCodeRefusedStream)
					} else {
						p.GoAway(0, http2.ErrCodeNo)
					}
				}
				p.Serve(func(*h2Frame) (int, string) { return 200, "second" })
			})
			tr := newTestTransport(t, Options{HTTP2: HTTP2Options{PriorKnowledge: true}})
			var heads int
			var got bytes.Buffer
			done := make(chan error, 1)
			ex := &Exchange{URL: "http://" + srv.Addr() + "/"}
			ex.OnHead = func(*Exchange) { heads++ }
			ex.OnBody = func(_ *Exchange, p []byte) { got.Write(p) }
			ex.OnDone = func(_ *Exchange, err error) { done <- err }
			if err := tr.Send(ex); err != nil {
				t.Fatal(err)
			}
			err := recv(t, done, "the exchange to end")
			if heads != 1 || got.String() != "first " {
				t.Fatalf("%d heads and body %q delivered (%v): the request was sent again after its response had begun", heads, got.String(), err)
			}
			if err == nil {
				t.Fatal("the exchange ended without an error")
			}
			if st := tr.Stats(); st.Retries != 0 {
				t.Fatalf("%d retries counted, want 0", st.Retries)
			}
		})
	}
}

// A server that answers before reading the request body, ending its
// response while the body is still being sent (an endless one here): the
// response arrives whole, the upload stops (RST_STREAM NO_ERROR tells
// the server), no goroutine is left pumping, and the connection serves
// the next request.
func TestH2ResponseEndsUpload(t *testing.T) {
	testkit.CheckLeaks(t)
	rsts := make(chan http2.ErrCode, 1)
	srv := newH2Server(t, func(p *h2Peer) {
		p.Settings()
		for {
			f, err := p.Next(http2.FrameHeaders, http2.FrameRSTStream)
			if err != nil {
				return
			}
			switch {
			case f.Type == http2.FrameRSTStream:
				rsts <- f.Code()
			case f.Get(":path") == "/up":
				p.Respond(f.StreamID, 200, "enough")
			case f.ended():
				p.Respond(f.StreamID, 200, "next")
			}
		}
	})
	_, client := h2Client(t, Options{})
	base := "http://" + srv.Addr()
	body := &blockedReader{started: make(chan struct{})}
	req, _ := http.NewRequest("POST", base+"/up", body)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(b) != "enough" {
		t.Fatalf("response: %q, %v", b, err)
	}
	if code := recv(t, rsts, "the server to see RST_STREAM"); code != http2.ErrCodeNo {
		t.Fatalf("server saw RST_STREAM %v, want NO_ERROR", code)
	}
	if _, body, err := getBody(client, base+"/next"); err != nil || body != "next" {
		t.Fatalf("after the upload: %q, %v", body, err)
	}
}

// A server that floods PINGs and never reads our acknowledgements: they
// are not queued without bound, nor dropped (leaving PINGs unanswered on
// a connection that carries on): once the write queue is full, the
// connection closes and its request fails naming the full queue. The
// flood budget is raised so that the queue, not the budget, is what
// gives out.
func TestH2PingAcksNotRead(t *testing.T) {
	testkit.CheckLeaks(t)
	srv := newH2Server(t, func(p *h2Peer) {
		p.Settings()
		if _, err := p.Request(); err != nil {
			t.Errorf("request: %v", err)
			return
		}
		var flood []byte
		for range 50000 { // 850 KB of PINGs, 1.2 MB of acknowledgements
			flood = http2.AppendPing(flood, false, [8]byte{1})
		}
		p.Write(flood) // and read nothing more
	})
	e, err := engine.New(engine.Config{Loops: 1, WriteQueueLimit: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	cfg := http2.Config{MaxControlFrames: 1 << 20, MaxQueuedControlFrames: 1 << 20}
	_, client := h2Client(t, Options{Engine: e, HTTP2: HTTP2Options{Config: cfg}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+srv.Addr()+"/", nil)
	resp, err := client.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	if !errors.Is(err, engine.ErrWriteQueueFull) {
		t.Fatalf("request: %v; want %v", err, engine.ErrWriteQueueFull)
	}
}
