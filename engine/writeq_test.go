package engine

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

// TestWriteQueueCountsBytesInFlight: every byte Write accepted is either
// reported written (BytesOut) or still queued (Queued), as seen from the
// loop, and what a connection holds unsent stays within its limit. The
// net backend hands the queue to a writer goroutine: those bytes are
// queued until it reports them, so a peer that stops reading cannot make
// the connection hold twice its limit while Stats (which h1conn and h2conn
// pace their uploads by) reports the queue empty.
func TestWriteQueueCountsBytesInFlight(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be Backend) {
		release := make(chan struct{})
		srv := testkit.NewServer(t, func(c net.Conn) { <-release; c.Close() }) // never reads
		defer close(release)
		e := newEngine(t, be, Config{})
		defer e.Close()
		const limit, size = 64 << 10, 16 << 10
		r := testkit.NewRecorder[*Conn]()
		c, _ := e.Dial(context.Background(), "tcp", srv.Addr(), r, &DialOptions{WriteQueueLimit: limit})
		r.WaitOpen(t)
		chunk := make([]byte, size)
		check := func(accepted int) {
			t.Helper()
			got := make(chan ConnStats, 1)
			if !c.Loop().Post(func() { got <- c.Stats() }) {
				t.Fatal("the loop refused a task")
			}
			var s ConnStats
			select {
			case s = <-got:
			case <-time.After(10 * time.Second):
				t.Fatal("the loop did not run a task")
			}
			if s.Queued+s.BytesOut != int64(accepted) || s.Queued > limit {
				t.Fatalf("accepted %d bytes; Stats say %d written and %d queued (limit %d)", accepted, s.BytesOut, s.Queued, limit)
			}
		}
		// The kernel's buffers fill within a few MiB; then the queue
		// fills and stays full: Write must keep refusing.
		accepted, full := 0, 0
		for i := 0; i < 1<<14 && full < 50; i++ {
			switch err := c.Write(chunk); err {
			case nil:
				accepted += size
				full = 0
			case ErrWriteQueueFull:
				full++
			default:
				t.Fatal("write:", err)
			}
			check(accepted)
		}
		if full < 50 {
			t.Fatalf("the queue never filled: %d bytes accepted", accepted)
		}
		c.Close()
		mustIs(t, r.WaitClose(t), ErrLocalClose)
	})
}
