package redis

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/pool"
	"github.com/egress-go/egress/resp"
)

// maxKeptBuffer is the largest write buffer kept between flushes; a burst
// that grew one beyond it lets it go, so a quiet client holds little.
const maxKeptBuffer = 64 << 10

// link is one connection of a pipe, and its handler. Everything below
// "loop only" is touched only by the connection's loop goroutine.
type link struct {
	p           *pipe
	connectedFn func(*pool.Conn, error)
	flushFn     func()
	onValueFn   func(*resp.Value) error
	watchFn     func()
	sub         *PubSub // set for a pub/sub connection

	// Guarded by p.mu.
	pc       *pool.Conn
	ec       *engine.Conn
	closed   bool  // OnClose ran
	closeErr error // its reason
	released bool  // given back to the pool clean (dedicated)

	finished atomic.Bool  // the client's tracker was told
	detached atomic.Bool  // back in the pool: ignore what arrives
	pending  atomic.Int64 // commands in flight (dedicated pipes)

	// Loop only.
	dec      *resp.Decoder
	inflight ring   // repliers of written commands, oldest first
	out      []byte // taken from the pipe, not yet all queued on the socket
	off      int
	spare    []byte
	spareQ   []replier
	stalled  bool // the socket's write queue is full; OnWritten resumes

	// Loop only: the read-timeout watchdog (watch.go).
	timer *engine.Timer
	armed bool          // timer pending, or its function running
	down  bool          // closed: never arm again
	reads uint32        // OnData calls so far
	seen  uint32        // reads at the last tick
	quiet int           // ticks in a row that saw no data
	hold  time.Duration // a WAIT in flight: the read timeout is extended by its timeout
}

func newLink(p *pipe) *link {
	k := &link{p: p, dec: resp.NewDecoder(p.cl.opts.Limits)}
	k.connectedFn = k.connected
	k.flushFn = k.flush
	k.onValueFn = k.onValue
	k.watchFn = k.watch
	return k
}

// finish tells the client's tracker that this link is over, once.
func (k *link) finish() {
	if k.finished.CompareAndSwap(false, true) {
		k.p.cl.track.done()
	}
}

// connected receives the pool's answer to the dial of a shared pipe.
func (k *link) connected(pc *pool.Conn, err error) {
	p := k.p
	if err == nil {
		p.mu.Lock()
		if k.closed {
			// It closed between the handover and this callback.
			err = k.closeErr
			p.mu.Unlock()
			pc.Release(false)
		} else {
			k.pc, k.ec = pc, pc.Engine()
			p.mu.Unlock()
		}
	}
	if err != nil {
		k.finish()
		p.dialFailed(err)
		return
	}
	p.attach(k)
}

// flush moves the pipe's queued commands to the socket. Loop only.
func (k *link) flush() {
	p := k.p
	p.mu.Lock()
	p.posted = false
	if p.cur != k || k.out != nil || len(p.queue) == 0 {
		// Replaced, or stalled (the rest stays in p.buf, where it counts
		// against WriteBufferLimit), or nothing to do.
		p.mu.Unlock()
		return
	}
	buf, q := p.buf, p.queue
	p.buf, p.queue = k.spare, k.spareQ
	k.spare, k.spareQ = nil, nil
	hold := p.hold
	p.hold = 0
	if !p.shared {
		// Counted before the queue is seen empty, for Conn.Close.
		k.pending.Add(int64(len(q)))
	}
	p.mu.Unlock()
	for i, r := range q {
		k.inflight.push(r)
		q[i] = nil
	}
	k.spareQ = q[:0]
	k.hold = max(k.hold, hold)
	if k.watched() {
		k.arm()
	}
	k.out, k.off = buf, 0
	k.writeOut()
}

// writeOut hands k.out to the socket, in pieces that fit its write queue.
// A command may be split between pieces: the byte stream is what counts,
// and every command in out is already waiting for its reply. Loop only.
func (k *link) writeOut() {
	for k.off < len(k.out) {
		n := len(k.out) - k.off
		room := k.ec.WriteQueueRoom()
		room -= room/32 + 512 // TLS records are a little larger than their plaintext
		if n > room {
			n = room
		}
		if n <= 0 {
			k.stalled = true
			return
		}
		if err := k.ec.Write(k.out[k.off : k.off+n]); err != nil {
			if errors.Is(err, engine.ErrWriteQueueFull) {
				k.stalled = true
				return
			}
			k.ec.CloseWithError(err)
			return
		}
		k.off += n
	}
	k.stalled = false
	b := k.out[:0]
	if cap(b) > maxKeptBuffer {
		b = nil
	}
	k.spare, k.out, k.off = b, nil, 0
}

// OnOpen is not called for a connection handed over by the pool (it is
// open already); a layer started later would, and there is none.
func (k *link) OnOpen(*engine.Conn) {}

// OnData decodes replies and hands each to the oldest waiting command.
func (k *link) OnData(c *engine.Conn, data []byte) {
	k.reads++ // a sign of life, for the watchdog
	if err := k.dec.Feed(data, k.onValueFn); err != nil && !k.detached.Load() {
		c.CloseWithError(err)
	}
}

var errDetached = errors.New("redis: connection released")

func (k *link) onValue(v *resp.Value) error {
	if k.detached.Load() {
		return errDetached
	}
	if k.sub != nil && k.sub.event(k, v) {
		return nil
	}
	if v.Type == resp.Push {
		// Out-of-band data (client-side caching invalidations, say) that
		// nothing here asked for.
		return nil
	}
	if k.inflight.n == 0 {
		return ErrUnexpectedReply
	}
	r := k.inflight.pop()
	if !k.p.shared {
		k.pending.Add(-1)
	}
	if k.inflight.n == 0 {
		k.hold = 0 // a WAIT or blocking command that extended the read timeout has answered
	}
	var err error
	if v.Type == resp.SimpleError || v.Type == resp.BlobError {
		err = v.Err()
	}
	r.reply(v, err)
	return nil
}

// OnWritten resumes a flush that the socket's write queue held up.
func (k *link) OnWritten(*engine.Conn, int) {
	if k.stalled {
		k.writeOut()
		if !k.stalled {
			k.flush()
		}
	}
}

// OnClose fails the commands in flight with a *ConnError that says they
// may have run, gives the connection back to the pool (to be forgotten),
// and lets a shared pipe redial and a PubSub reconnect.
func (k *link) OnClose(c *engine.Conn, err error) {
	p := k.p
	p.mu.Lock()
	k.closed, k.closeErr = true, err
	pc, released := k.pc, k.released
	redial, q := p.linkClosedLocked(k)
	p.mu.Unlock()
	k.disarm()
	k.dec.Reset()
	if pc == nil {
		return // not handed over yet: connected sees closed and cleans up
	}
	if !released {
		pc.Release(false)
	}
	if k.inflight.n > 0 {
		cerr := &ConnError{Addr: p.cl.opts.Addr, Sent: true, Err: err}
		for k.inflight.n > 0 {
			k.inflight.pop().reply(nil, cerr)
		}
	}
	k.out, k.spare, k.spareQ = nil, nil, nil
	if len(q) > 0 {
		failAll(q, &ConnError{Addr: p.cl.opts.Addr, Err: err})
	}
	if k.sub != nil {
		// After every command on k has failed, so that the PubSub has
		// taken back its (un)subscriptions before it reconnects.
		k.sub.lost(k, err)
	}
	k.finish()
	if redial {
		p.dial()
	}
}

// ring is a FIFO of repliers in a power-of-two circular buffer, so a
// connection in steady state queues and matches replies without
// allocating.
type ring struct {
	buf  []replier
	head int
	n    int
}

func (r *ring) push(x replier) {
	if r.n == len(r.buf) {
		r.grow()
	}
	r.buf[(r.head+r.n)&(len(r.buf)-1)] = x
	r.n++
}

func (r *ring) pop() replier {
	x := r.buf[r.head]
	r.buf[r.head] = nil
	r.head = (r.head + 1) & (len(r.buf) - 1)
	r.n--
	return x
}

func (r *ring) peek() replier {
	if r.n == 0 {
		return nil
	}
	return r.buf[r.head]
}

func (r *ring) grow() {
	nb := make([]replier, max(16, 2*len(r.buf)))
	for i := 0; i < r.n; i++ {
		nb[i] = r.buf[(r.head+i)&(len(r.buf)-1)]
	}
	r.buf, r.head = nb, 0
}
