package egress

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

// A request waiting on a connection whose server allows no stream, when
// the client itself ends that connection (its idle check says GOAWAY, as
// no stream is open on it), goes elsewhere at once: it can never open on
// a connection that sent GOAWAY. It must not sit there until
// HTTP2Options.PingTimeout and fail with ErrNoStreams while the server,
// which need not close as soon as it reads the GOAWAY, keeps the
// connection open.
func TestH2ZeroStreamsClientGoAwayMovesParked(t *testing.T) {
	testkit.CheckLeaks(t)
	release := make(chan struct{})
	defer close(release)
	srv := newH2Server(t, func(p *h2Peer) {
		if p.N == 1 {
			if zeroThenRefuse(t, p) && noHeadersUntilGoAway(t, p) {
				<-release // a server slow to close after the GOAWAY
			}
			return
		}
		p.Settings()
		p.Serve(func(req *h2Frame) (int, string) {
			return 200, "served on a second connection"
		})
	})
	pc := poolConfig(0)
	pc.IdleTimeout = 100 * time.Millisecond
	tr, client := h2Client(t, Options{Pool: pc, HTTP2: HTTP2Options{
		ReadIdleTimeout: 100 * time.Millisecond,
		PingTimeout:     8 * time.Second,
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+srv.Addr()+"/moved", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("request: %v (%d dials); want it sent to another connection once the client said GOAWAY", err, tr.Stats().Pool.Dials)
	}
	defer resp.Body.Close()
	got := make([]byte, 64)
	n, _ := resp.Body.Read(got)
	if string(got[:n]) != "served on a second connection" {
		t.Fatalf("body %q", got[:n])
	}
}
