package egress

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

// TestContextEndsTLSHandshake: a request's context bounds its connection's
// whole opening, not only the TCP connect. A server that accepts and never
// answers the ClientHello held a request whose deadline had passed, or
// that was cancelled, for the whole TLS handshake timeout.
func TestContextEndsTLSHandshake(t *testing.T) {
	testkit.CheckLeaks(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c // held open, silent
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for c := range accepted {
			c.Close()
		}
	})
	tr := newTestTransport(t, Options{TLSHandshakeTimeout: time.Minute})
	url := "https://" + ln.Addr().String() + "/"

	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 200*time.Millisecond)
		}, context.DeadlineExceeded},
		{"cancel", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(200*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
			start := time.Now()
			_, err := tr.RoundTrip(req)
			took := time.Since(start)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want an error wrapping %v", err, tc.want)
			}
			// The handshake timeout is a minute: anything near the
			// context's 200 ms shows the context ended the dial.
			if took > 10*time.Second {
				t.Fatalf("returned after %v, want soon after the context's 200 ms", took)
			}
		})
	}
	// Both dials were closed, not left to their handshake timeout.
	deadline := time.Now().Add(10 * time.Second)
	for tr.Stats().Pool.Open+tr.Stats().Pool.Dialing > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("connections still open or dialing: %+v", tr.Stats().Pool)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestContextEndAfterDialKeepsConnection: once the connection is open,
// the end of the context it was dialed under is no business of the pool's:
// the connection, idle again after the response, stays open for the next
// request.
func TestContextEndAfterDialKeepsConnection(t *testing.T) {
	testkit.CheckLeaks(t)
	srv := newBenchServer(t)
	tr := newTestTransport(t, Options{})
	get := func(ctx context.Context) {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	ctx, cancel := context.WithCancel(context.Background())
	get(ctx)
	cancel()
	// A close would follow the cancel at once (a goroutine, then the
	// loop); give it well over that, then check the connection is idle
	// and serves the next request.
	time.Sleep(200 * time.Millisecond)
	if s := tr.Stats().Pool; s.Open != 1 || s.Idle != 1 {
		t.Fatalf("after the first request's context ended: %+v, want its connection open and idle", s)
	}
	get(context.Background())
	if s := tr.Stats().Pool; s.Dials != 1 {
		t.Fatalf("%d dials, want 1: the second request should reuse the first's connection", s.Dials)
	}
}
