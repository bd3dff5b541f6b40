package egress

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/egress-go/egress/http1"
	"github.com/egress-go/egress/internal/testkit"
)

// TestNotHTTPServerFailsAtOnce: a URL that points at a server of another
// protocol which speaks first (an SSH banner, then silence) fails as soon
// as the banner's line is in, with a malformed-status-line error, as
// net/http does, not when a timeout runs out (and with none set, never).
func TestNotHTTPServerFailsAtOnce(t *testing.T) {
	testkit.CheckLeaks(t)
	addr := testkit.NewServer(t, func(c net.Conn) {
		c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
		io.Copy(io.Discard, c) // then silence, until the client goes
	}).Addr()
	tr := newTestTransport(t, Options{})
	done := make(chan error, 1)
	go func() {
		_, err := tr.RoundTrip(mustRequest(t, "GET", "http://"+addr+"/"))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, http1.ErrBadStatusLine) {
			t.Fatalf("got %v, want an error wrapping http1.ErrBadStatusLine", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RoundTrip still waiting 10 s after the banner")
	}
}
