package engine

import (
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// A ReadLease hands a connection's read side to one goroutine for a
// while: the loop stops reading the socket, and the lease holder reads
// from it with Read, straight into its own buffer. This is how a blocking
// reader (an HTTP/1.1 response body behind io.Reader) gets its bytes
// without an intermediate copy, and how back-pressure becomes exact:
// nothing is read that the holder did not ask for.
//
// The engine stays the owner of the descriptor. No second poller and no
// goroutine is involved: when Read finds the socket empty it waits for the
// loop, which forwards the connection's readiness events to it instead of
// reading, and wakes it when the connection closes (a timer, a Close from
// any goroutine), so that a blocked Read ends at once with the reason.
//
// The holder of a lease never calls the connection's handler and never
// touches the loop's state; it gives the lease back through the loop
// (Return), after which the loop reads again, what arrived meanwhile
// included.
type ReadLease struct {
	c      *Conn
	holder LeaseHolder
	wake   chan struct{} // readiness or close; one token is enough

	// mu is held across each read system call, and by the loop before it
	// closes the socket, so that a read never meets a descriptor number
	// that has been closed and reused.
	mu     sync.Mutex
	closed bool  // under mu: the connection closed
	err    error // under mu: why

	granted  bool         // loop: Granted was called
	lastRead atomic.Int64 // engine clock of the holder's last read, for idle timeouts
}

// LeaseHolder hears that a lease it asked for is its own.
type LeaseHolder interface {
	// Granted runs on the loop once the callback that asked for the lease
	// (and any delivery of the same read, such as further TLS records) has
	// returned: from then on the loop calls the handler with no data, and
	// the holder may Read.
	Granted(rl *ReadLease)
}

// LayerReader is implemented by layers whose decoded stream can be read
// by a lease holder. ReadLeased decodes into p what raw yields, blocking
// while raw does. It runs on the holder's goroutine while the loop feeds
// the layer nothing.
type LayerReader interface {
	ReadLeased(c *Conn, p []byte, raw io.Reader) (int, error)
}

// LeaseRead asks for c's read side on behalf of holder and returns the
// lease, or nil when this connection cannot be read outside its loop: the
// net backend, a layer that is not a LayerReader, a connection that is not
// open or already leased. The loop reads nothing more from the socket;
// holder.Granted follows once the current delivery is over. Loop only,
// typically from OnData.
func (c *Conn) LeaseRead(holder LeaseHolder) *ReadLease {
	if c.state != stateOpen || c.ops.Load()&(flagLeased|flagClosing) != 0 {
		return nil
	}
	if c.loop.e.backend != BackendPoll {
		return nil
	}
	x := c.extras()
	if x.layer != nil {
		if _, ok := x.layer.(LayerReader); !ok {
			return nil
		}
	}
	rl := &ReadLease{c: c, holder: holder, wake: make(chan struct{}, 1)}
	x.lease = rl
	c.ops.Or(flagLeased)
	if c.loop.reading != c {
		// Not within the loop's read of this connection, so no readiness
		// event will hand it over; but a layer may be delivering outside
		// one (TLS bytes that came with the handshake), and may touch its
		// state once the callback returns. The grant waits for the loop's
		// next turn.
		c.loop.Post(func() {
			if x.lease == rl && c.state == stateOpen {
				rl.grant()
			}
		})
	}
	return rl
}

// grant hands the lease over. Loop only.
func (rl *ReadLease) grant() {
	if rl.granted {
		return
	}
	rl.granted = true
	rl.lastRead.Store(rl.c.loop.e.now())
	rl.holder.Granted(rl)
}

// signal wakes the holder: the socket may be readable, or it closed. It
// never blocks. Loop only.
func (rl *ReadLease) signal() {
	select {
	case rl.wake <- struct{}{}:
	default:
	}
}

// closeWith marks the lease closed with the connection's close reason and
// wakes the holder. Loop only, before the socket is closed.
func (rl *ReadLease) closeWith(err error) {
	rl.mu.Lock()
	rl.closed, rl.err = true, err
	rl.mu.Unlock()
	rl.signal()
}

// Read reads into p what the connection's layer decodes (TLS) or the
// socket holds, waiting for the loop to report readiness when there is
// nothing yet. It returns io.EOF when the peer closed its side, and the
// close reason (ErrLocalClose, ErrIdleTimeout, ...) once the connection
// closed. Only the holder calls Read, from one goroutine at a time, after
// Granted.
func (rl *ReadLease) Read(p []byte) (int, error) {
	if x := rl.c.x.Load(); x != nil {
		if lr, ok := x.layer.(LayerReader); ok {
			return lr.ReadLeased(rl.c, p, rawLease{rl: rl})
		}
	}
	return rl.readRaw(p, false)
}

// ReadNow is Read without waiting: when nothing can be read at once it
// returns ErrWouldBlock. A holder asks it, once its message has ended, to
// learn whether the peer sent more than the message (a connection that
// must not be reused) or closed its side.
func (rl *ReadLease) ReadNow(p []byte) (int, error) {
	raw := rawLease{rl: rl, now: true}
	if x := rl.c.x.Load(); x != nil {
		if lr, ok := x.layer.(LayerReader); ok {
			return lr.ReadLeased(rl.c, p, raw)
		}
	}
	return raw.Read(p)
}

// ErrWouldBlock is ReadNow's answer when nothing can be read at once. It
// is a temporary net.Error, so that a layer's decoder (crypto/tls) keeps
// its state and reports it as it is.
var ErrWouldBlock error = &timeoutError{"egress: nothing to read now"}

// rawLease reads the socket itself for a layer; now: without waiting.
type rawLease struct {
	rl  *ReadLease
	now bool
}

func (r rawLease) Read(p []byte) (int, error) { return r.rl.readRaw(p, r.now) }

// Return gives the read side back to the loop, which reads again at once
// (bytes or an end of stream may have arrived meanwhile). The holder must
// not call Read any more. Loop only.
func (rl *ReadLease) Return() {
	c := rl.c
	x := c.x.Load()
	if x == nil || x.lease != rl {
		return
	}
	x.lease = nil
	c.ops.And(^flagLeased)
	if c.state == stateOpen {
		c.loop.schedule(c, opResume)
	}
}

// leased is what the loop does with a readiness event on a leased
// connection: wake the holder, or hand the lease over if a read of this
// connection just asked for it. Loop only.
func (c *Conn) leased() {
	if rl := c.x.Load().lease; rl != nil {
		if !rl.granted {
			rl.grant()
			return
		}
		rl.signal()
	}
}

// Idle is how long ago the holder last read something (or was granted
// the lease): while it holds the read side, the loop sees no bytes, so a
// timer that watches for a stalled peer asks here. Any goroutine.
func (rl *ReadLease) Idle() time.Duration {
	last := rl.lastRead.Load()
	if last == 0 {
		return 0 // not granted yet: the loop is still delivering
	}
	return time.Duration(rl.c.loop.e.now() - last)
}
