package egress

import (
	"sync/atomic"
	"testing"
)

// overfullCarrier is a carrier whose queue is past its bound (sendRoom
// negative) the first time it is asked, and has room after: one write
// may take a queue past its bound (a chunk's framing, TLS's record
// overhead, HTTP/2's queue of maxUpload plus one write).
type overfullCarrier struct {
	carrier // only sendRoom is called
	rt      *roundTrip
	asked   atomic.Int32
}

func (c *overfullCarrier) sendRoom() int {
	if c.asked.Add(1) == 1 {
		// The queue drains: the loop's OnWritten wakes the sender, once
		// it waits (waitRoom holds rt.mu while it asks).
		go c.rt.wake()
		return -20
	}
	return 1 << 20
}

// TestReviewRequestQueuePastBound: a request body sender that finds the
// connection's queue past its bound waits for room, as for a full queue.
// It took the negative room for an exchange that had ended and stopped
// sending, silently: the upload hung until a timeout, a few times in a
// hundred for a 24 MiB chunked upload over TLS (TestUploadQueueBounded),
// where a 32 KiB piece, framed and sealed, passes the 64 KiB bound.
func TestReviewRequestQueuePastBound(t *testing.T) {
	rt := new(roundTrip)
	rt.cond.L = &rt.mu
	c := &overfullCarrier{rt: rt}
	rt.x.cur = c
	if got := rt.waitRoom(32<<10, false); got != roomOK {
		t.Fatalf("waitRoom = %d, want roomOK (%d) once the queue drained; roomGone is %d", got, roomOK, roomGone)
	}
	if n := c.asked.Load(); n != 2 {
		t.Fatalf("the room was asked %d times, want 2", n)
	}
}
