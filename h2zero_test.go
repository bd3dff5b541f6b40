package egress

import (
	"bytes"
	"context"
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

// A server that advertises SETTINGS_MAX_CONCURRENT_STREAMS 0 (RFC 9113
// allows it for a while) makes a request wait on the connection it got a
// slot of, not dial connection after connection. These scripts hold back
// their SETTINGS until the request's HEADERS are in, as a server whose
// SETTINGS cross the client's first request does, and refuse that
// request (REFUSED_STREAM): the client learns of the 0 from a refusal.

// zeroThenRefuse runs the common start of those scripts: it reads the
// first request, advertises 0, refuses the request, and reads up to the
// client's acknowledgement of that SETTINGS. It reports false if the
// connection ended first. A request head after that acknowledgement
// breaks the limit and fails the test.
func zeroThenRefuse(t *testing.T, p *h2Peer) bool {
	f, err := p.Request()
	if err != nil {
		t.Errorf("h2 peer %d: first request: %v", p.N, err)
		return false
	}
	p.Settings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 0})
	p.Reset(f.StreamID, http2.ErrCodeRefusedStream)
	for {
		f, err := p.Read()
		if err != nil {
			return false
		}
		if f.Type == http2.FrameSettings && f.Flags.Has(http2.FlagAck) {
			return true
		}
	}
}

// noHeadersUntilGoAway reads until the client's GOAWAY, failing the test
// on a request head: the limit is still 0.
func noHeadersUntilGoAway(t *testing.T, p *h2Peer) (goAway bool) {
	for {
		f, err := p.Read()
		if err != nil {
			return false
		}
		switch f.Type {
		case http2.FrameHeaders:
			t.Errorf("h2 peer %d: request head on stream %d while the limit is 0", p.N, f.StreamID)
		case http2.FrameGoAway:
			return true
		}
	}
}

// Raised later: the refused request waits on its connection and goes
// again there once a SETTINGS allows streams; one dial in all. A request
// without a body goes again in place; one with a body is rewound
// (GetBody) and replayed through the pool, which finds the room there.
func TestH2ZeroStreamsRaised(t *testing.T) {
	for _, body := range []string{"", "upload"} {
		name := "GET"
		if body != "" {
			name = "POST"
		}
		t.Run(name, func(t *testing.T) {
			testkit.CheckLeaks(t)
			var served atomic.Int32
			srv := newH2Server(t, func(p *h2Peer) {
				if !zeroThenRefuse(t, p) {
					return
				}
				// The client read the 0 and the refusal before this
				// SETTINGS: its request is waiting by now.
				p.Settings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100})
				p.Serve(func(req *h2Frame) (int, string) {
					served.Add(1)
					return 200, req.Get(":method") + " allowed on " + req.Get(":path")
				})
			})
			tr, client := h2Client(t, Options{})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var rb io.Reader
			if body != "" {
				rb = strings.NewReader(body)
			}
			req, _ := http.NewRequestWithContext(ctx, name, "http://"+srv.Addr()+"/wait", rb)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("request: %v (%d dials)", err, tr.Stats().Pool.Dials)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			st := tr.Stats()
			if string(got) != name+" allowed on /wait" || st.Pool.Dials != 1 || served.Load() != 1 || st.Retries != 1 || st.Unprocessed != 1 || st.Failures != 0 {
				t.Fatalf("%q; %d dials, %d served, %d retries (%d unprocessed), %d failures; want 1, 1, 1 (1), 0",
					got, st.Pool.Dials, served.Load(), st.Retries, st.Unprocessed, st.Failures)
			}
			// The connection carries on as any other.
			if _, body, err := getBody(client, "http://"+srv.Addr()+"/next"); err != nil || body != "GET allowed on /next" {
				t.Fatalf("next request: %q, %v", body, err)
			}
			if d := tr.Stats().Pool.Dials; d != 1 {
				t.Fatalf("%d dials after a second request, want 1", d)
			}
		})
	}
}

// Raised to 1 with two requests refused: they go one after the other on
// the one connection, the second when the first's stream ends; neither
// dials another connection.
func TestH2ZeroStreamsRaisedToOne(t *testing.T) {
	testkit.CheckLeaks(t)
	firstIn := make(chan struct{}, 1)
	srv := newH2Server(t, func(p *h2Peer) {
		if p.N > 1 {
			t.Errorf("connection %d dialed", p.N)
			return
		}
		var first []*h2Frame
		for len(first) < 2 {
			f, err := p.Request()
			if err != nil {
				t.Errorf("the two requests: %d, %v", len(first), err)
				return
			}
			first = append(first, f)
			firstIn <- struct{}{}
		}
		p.Settings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 0})
		for _, f := range first {
			p.Reset(f.StreamID, http2.ErrCodeRefusedStream)
		}
		for {
			f, err := p.Read()
			if err != nil {
				return
			}
			if f.Type == http2.FrameHeaders {
				t.Errorf("request head on stream %d while the limit is 0", f.StreamID)
			}
			if f.Type == http2.FrameSettings && f.Flags.Has(http2.FlagAck) {
				break
			}
		}
		p.Settings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 1})
		// Serve answers each request as it comes: a second head before
		// the first's answer would be over the limit.
		p.Serve(func(req *h2Frame) (int, string) { return 200, "one at a time " + req.Get(":path") })
	})
	tr, client := h2Client(t, Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, path := range []string{"/a", "/b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, body, err := getBody(client, "http://"+srv.Addr()+path); err != nil || body != "one at a time "+path {
				errs <- fmt.Errorf("%s: %q, %v", path, body, err)
			}
		}()
		// The second takes a stream of the first's connection, which
		// allows 100 until the server's SETTINGS say otherwise.
		recv(t, firstIn, "the request's HEADERS at the server")
	}
	waitGroup(t, &wg, "the two requests")
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := tr.Stats(); st.Pool.Dials != 1 || st.Retries != 2 || st.Failures != 0 {
		t.Fatalf("%d dials, %d retries, %d failures; want 1, 2, 0", st.Pool.Dials, st.Retries, st.Failures)
	}
}

// Never raised: the request fails with ErrNoStreams once it has waited
// PingTimeout, well within its deadline and after one dial; the
// connection, useless, says GOAWAY and closes, and nothing is left open.
func TestH2ZeroStreamsNeverRaised(t *testing.T) {
	testkit.CheckLeaks(t)
	var goAways atomic.Int32
	srv := newH2Server(t, func(p *h2Peer) {
		if zeroThenRefuse(t, p) && noHeadersUntilGoAway(t, p) {
			goAways.Add(1)
		}
	})
	const wait = 300 * time.Millisecond
	tr, client := h2Client(t, Options{HTTP2: HTTP2Options{PingTimeout: wait}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+srv.Addr()+"/never", nil)
	start := time.Now()
	resp, err := client.Do(req)
	took := time.Since(start)
	if err == nil {
		resp.Body.Close()
		t.Fatal("request succeeded on a server that allows no streams")
	}
	if !errors.Is(err, ErrNoStreams) {
		t.Fatalf("error %v, want ErrNoStreams (%d dials)", err, tr.Stats().Pool.Dials)
	}
	if took < wait || ctx.Err() != nil {
		t.Fatalf("failed after %v: want it to wait %v, and to end before its deadline", took, wait)
	}
	if st := tr.Stats(); st.Pool.Dials > 2 || st.Failures != 1 {
		t.Fatalf("%d dials, %d failures; want at most 2, 1", st.Pool.Dials, st.Failures)
	}
	testkit.WaitFor(t, "the connection closed", func() bool {
		st := tr.Stats().Pool
		return st.Open == 0 && st.StreamsInUse == 0
	})
	testkit.WaitFor(t, "the server's GOAWAY from the client", func() bool { return goAways.Load() == 1 })
}

// A request whose context ends while it waits fails with the context's
// error, and the connection it waited on, which no one else holds, does
// not stay open counting against the pool's limit.
func TestH2ZeroStreamsContextEnds(t *testing.T) {
	testkit.CheckLeaks(t)
	var goAways atomic.Int32
	srv := newH2Server(t, func(p *h2Peer) {
		if zeroThenRefuse(t, p) && noHeadersUntilGoAway(t, p) {
			goAways.Add(1)
		}
	})
	tr, client := h2Client(t, Options{Pool: poolConfig(1), HTTP2: HTTP2Options{PingTimeout: time.Minute}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+srv.Addr()+"/cancelled", nil)
	errc := make(chan error, 1)
	go func() {
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	// Waiting: the server refused it, and it holds its stream slot.
	testkit.WaitFor(t, "the request refused and waiting", func() bool {
		st := tr.Stats()
		return st.StreamResets == 1 && st.Pool.StreamsInUse == 1
	})
	cancel()
	if err := recv(t, errc, "the cancelled request"); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	// The client's GOAWAY, not the server's read deadline, ends it.
	testkit.WaitFor(t, "the server's GOAWAY from the client", func() bool { return goAways.Load() == 1 })
	testkit.WaitFor(t, "the connection closed", func() bool { return tr.Stats().Pool.Open == 0 })
	if st := tr.Stats(); st.Pool.Dials != 1 {
		t.Fatalf("%d dials, want 1", st.Pool.Dials)
	}
}

// The non-blocking API: an Exchange with a body known up front goes
// again in place, body and all, once the limit rises, or hears
// ErrNoStreams in OnDone if it never does.
func TestH2ZeroStreamsExchange(t *testing.T) {
	for _, raise := range []bool{true, false} {
		t.Run(fmt.Sprint("raise=", raise), func(t *testing.T) {
			testkit.CheckLeaks(t)
			bodies := make(chan string, 2)
			srv := newH2Server(t, func(p *h2Peer) {
				if !zeroThenRefuse(t, p) {
					return
				}
				if !raise {
					noHeadersUntilGoAway(t, p)
					return
				}
				p.Settings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100})
				var got []byte
				for {
					f, err := p.Read()
					if err != nil {
						return
					}
					if f.Type == http2.FrameData && f.StreamID > 1 {
						got = append(got, f.Data...)
						if f.ended() {
							bodies <- string(got)
							p.Respond(f.StreamID, 200, "stored")
						}
					}
				}
			})
			tr := newTestTransport(t, Options{HTTP2: HTTP2Options{PriorKnowledge: true, PingTimeout: 300 * time.Millisecond}})
			var got bytes.Buffer
			done := make(chan error, 1)
			ex := &Exchange{Method: "PUT", URL: "http://" + srv.Addr() + "/x", Body: []byte("known up front")}
			ex.OnBody = func(ex *Exchange, p []byte) { got.Write(p) }
			ex.OnDone = func(ex *Exchange, err error) { done <- err }
			if err := tr.Send(ex); err != nil {
				t.Fatal(err)
			}
			err := recv(t, done, "the exchange")
			st := tr.Stats()
			if !raise {
				if !errors.Is(err, ErrNoStreams) || st.Pool.Dials != 1 {
					t.Fatalf("%v after %d dials; want ErrNoStreams after 1", err, st.Pool.Dials)
				}
				testkit.WaitFor(t, "the connection closed", func() bool { return tr.Stats().Pool.Open == 0 })
				return
			}
			if err != nil || got.String() != "stored" || st.Pool.Dials != 1 || st.Retries != 1 {
				t.Fatalf("%v, %q, %d dials, %d retries; want stored, 1, 1", err, got.String(), st.Pool.Dials, st.Retries)
			}
			if b := recv(t, bodies, "the body"); b != "known up front" {
				t.Fatalf("server got body %q", b)
			}
		})
	}
}

// TestH2ZeroStreamsTransportClosed: a request waiting on a connection at
// a limit of 0 fails as every request in flight does when the Transport
// closes: with ErrTransportClosed.
func TestH2ZeroStreamsTransportClosed(t *testing.T) {
	testkit.CheckLeaks(t)
	srv := newH2Server(t, func(p *h2Peer) {
		if zeroThenRefuse(t, p) {
			noHeadersUntilGoAway(t, p)
		}
	})
	tr, client := h2Client(t, Options{Pool: poolConfig(1), HTTP2: HTTP2Options{PingTimeout: time.Minute}})
	req, _ := http.NewRequest("GET", "http://"+srv.Addr()+"/closed", nil)
	errc := make(chan error, 1)
	go func() {
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	testkit.WaitFor(t, "the request refused and waiting", func() bool {
		st := tr.Stats()
		return st.StreamResets == 1 && st.Pool.StreamsInUse == 1
	})
	tr.Close()
	if err := recv(t, errc, "the waiting request"); !errors.Is(err, ErrTransportClosed) {
		t.Fatalf("error %v, want ErrTransportClosed", err)
	}
}
