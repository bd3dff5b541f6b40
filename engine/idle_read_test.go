package engine

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

// TestIdleTimeoutCountsReads: bytes that arrive keep a connection alive.
// The loop reads them after sleeping; were they stamped with the time the
// loop went to sleep (an old bug of the poll backend), a server sending a
// byte every gap, with gap between half the timeout and the timeout, would
// see the connection closed one timeout after its first byte.
func TestIdleTimeoutCountsReads(t *testing.T) {
	const idle, gap, sends = 2 * time.Second, 1200 * time.Millisecond, 3
	forEachBackend(t, func(t *testing.T, be Backend) {
		srv := testkit.NewServer(t, func(c net.Conn) {
			for range sends {
				time.Sleep(gap) // the server's pace is what is tested
				if _, err := c.Write([]byte("x")); err != nil {
					return
				}
			}
			c.Read(make([]byte, 1)) // until the client closes
		})
		e := newEngine(t, be, Config{Loops: 1})
		defer e.Close()
		rec := testkit.NewRecorder[*Conn]()
		if _, err := e.Dial(context.Background(), "tcp", srv.Addr(), rec, &DialOptions{IdleTimeout: idle}); err != nil {
			t.Fatal(err)
		}
		rec.WaitOpen(t)
		deadline := time.After(sends*gap + 10*time.Second)
		for got := 0; got < sends; {
			select {
			case <-rec.Closed():
				t.Fatalf("closed (%v) after %d of %d bytes sent %v apart, with an idle timeout of %v", rec.Err(), got, sends, gap, idle)
			case <-deadline:
				t.Fatal("the bytes did not arrive")
			case <-time.After(10 * time.Millisecond):
				if _, ok := rec.Take(1); ok {
					got++
				}
			}
		}
		last := time.Now()
		mustIs(t, rec.WaitClose(t), ErrIdleTimeout)
		if d := time.Since(last); d < idle/2 {
			t.Fatalf("closed %v after the last byte, with an idle timeout of %v", d, idle)
		}
	})
}
