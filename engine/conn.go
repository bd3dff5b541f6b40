package engine

import (
	"cmp"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

type addrPort = netip.AddrPort

// Connection states, owned by the loop.
const (
	stateNew uint8 = iota
	stateDialing
	stateOpen
	stateClosed
)

// Conn.ops bits: pending operations requested from any goroutine and
// carried out on the loop (see Loop.schedule), and two flags that share
// the word to keep Conn small.
const (
	opFlush uint32 = 1 << iota
	opClose
	opCloseWrite
	opResume
	opCompact

	opMask uint32 = 1<<iota - 1

	flagPaused  uint32 = 1 << 8  // PauseRead: read no more until ResumeRead
	flagClosing uint32 = 1 << 9  // Close was called, or the connection closed
	flagLeased  uint32 = 1 << 10 // a ReadLease holds the read side; the loop reads nothing
	flagDirect  uint32 = 1 << 11 // open on the poll backend: a writer may write the socket itself (WriteDirect)
	flagSmall   uint32 = 1 << 12 // SetSmallReads: the loop reads at most smallRead bytes at a time
)

// Conn is one engine connection. Its methods are safe for concurrent use;
// its Handler's callbacks run on its loop.
//
// Every idle connection pays for a Conn, so its size is a headline number
// (see TestConnSizeClass): what only some connections use (a layer, an
// idle timeout, a value, a close reason) lives in connExtras, allocated on
// first use, and what only a dial uses in dialState, dropped once open.
type Conn struct {
	loop *Loop

	// h is read on every callback and replaced rarely (accept, a tunnel
	// handing over): an atomic pointer keeps the reads lock-free.
	h     atomic.Pointer[handlerRef]
	hInit handlerRef // the first handler's box, written once before the Conn is shared

	// mu guards the write queue, wclosed, rawClosed, and the layer and
	// close reason in the extras.
	mu sync.Mutex
	wq writeQueue

	// x is set once, by whoever first needs it (see extras), and never
	// cleared: a loaded pointer stays valid for the connection's life.
	x    atomic.Pointer[connExtras]
	dial *dialState // while dialing; loop only after the Conn is shared, but for RemoteAddr (see remoteAddrPort)

	bytesIn  atomic.Int64
	bytesOut atomic.Int64
	ops      atomic.Uint32 // pending ops (opMask) and flags, set from any goroutine

	// Owned by the loop, except fd (see sockFD).
	fd     int32
	gen    uint32
	remote peerAddr // set once connected (under mu) or accepted (a dial in progress has dial.cur)
	state  uint8

	wclosed   bool // guarded by mu: no more writes (Close or CloseWrite was called, or closed)
	rawClosed bool // guarded by mu: the socket takes no more bytes (closed); layers may write until then

	waitWritable bool // a write hit EAGAIN; flush again when writable
	shutPending  bool // CloseWrite once the queue drains
	peerShut     bool // read EOF seen with a HalfCloseHandler
	inReadyq     bool
	ready        bool // OnOpen has been called
}

// connExtras holds what a plain TCP connection, idle in a pool, does not
// need, so that such a connection does not pay for it.
type connExtras struct {
	closeErr error // guarded by Conn.mu: reason given to CloseWithError
	layer    Layer // written with Conn.mu held and on the loop; read under either
	value    any   // loop, or before the Conn is shared
	idle     idleState
	nc       *netConn   // BackendNet only; loop only
	limit    int        // DialOptions.WriteQueueLimit; set before the Conn is shared
	lease    *ReadLease // loop only: the read side's holder while leased

	// sending is what a BackendNet writer goroutine took from the queue
	// and has not reported yet; guarded by Conn.mu. It still counts as
	// queued: against the limit, and in Stats.
	sending int
}

// extras returns c's extras, allocating them on first use. It is safe
// from any goroutine; the fields have their own rules (see connExtras).
func (c *Conn) extras() *connExtras {
	if x := c.x.Load(); x != nil {
		return x
	}
	x := new(connExtras)
	if c.x.CompareAndSwap(nil, x) {
		return x
	}
	return c.x.Load()
}

// layer returns c's layer, or nil. On the loop, or with c.mu held.
func (c *Conn) layer() Layer {
	if x := c.x.Load(); x != nil {
		return x.layer
	}
	return nil
}

// idleState is the idle-timeout bookkeeping. Loop only.
type idleState struct {
	timeout    time.Duration // 0: none
	timer      *Timer
	lastActive int64 // loop clock of the last read or write
}

// peerAddr is a netip.AddrPort in 20 bytes rather than 32: the engine
// never connects to a scoped IPv6 address, so there is no zone to keep.
type peerAddr struct {
	ip   [16]byte
	port uint16
	fam  uint8 // 0 none, 4 or 6
}

func makePeerAddr(ap addrPort) peerAddr {
	a := ap.Addr()
	switch {
	case !a.IsValid():
		return peerAddr{}
	case a.Is4():
		return peerAddr{ip: a.As16(), port: ap.Port(), fam: 4}
	}
	return peerAddr{ip: a.As16(), port: ap.Port(), fam: 6}
}

func (p peerAddr) addrPort() addrPort {
	switch p.fam {
	case 4:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(p.ip[12:])), p.port)
	case 6:
		return netip.AddrPortFrom(netip.AddrFrom16(p.ip), p.port)
	}
	return addrPort{}
}

func (c *Conn) paused() bool  { return c.ops.Load()&flagPaused != 0 }
func (c *Conn) closing() bool { return c.ops.Load()&flagClosing != 0 }

// sockFD reads the descriptor from any goroutine; the loop writes it
// with setFD. (Reads on the loop itself use c.fd directly.)
func (c *Conn) sockFD() int { return int(atomic.LoadInt32(&c.fd)) }

func (c *Conn) setFD(fd int) { atomic.StoreInt32(&c.fd, int32(fd)) }

func newConn(l *Loop, h Handler) *Conn {
	c := &Conn{loop: l, fd: -1}
	c.hInit.h = h
	c.h.Store(&c.hInit) // no allocation of its own: SetHandler, rarely called, makes new boxes
	return c
}

// queuedLocked returns the bytes written to c and not yet handed to the
// kernel: the queue's, and those a net backend writer holds. c.mu held.
func (c *Conn) queuedLocked() int {
	if x := c.x.Load(); x != nil {
		return c.wq.n + x.sending
	}
	return c.wq.n
}

// writeLimit returns the connection's write-queue limit in bytes.
func (c *Conn) writeLimit() int {
	if x := c.x.Load(); x != nil && x.limit > 0 {
		return x.limit
	}
	return c.loop.e.cfg.WriteQueueLimit
}

// handlerRef boxes a Handler for the atomic pointer.
type handlerRef struct{ h Handler }

// Loop returns the loop that runs the connection's callbacks.
func (c *Conn) Loop() *Loop { return c.loop }

// Handler returns the connection's current handler.
func (c *Conn) Handler() Handler { return c.h.Load().h }

// SetHandler replaces the handler that receives the connection's events
// from the next callback on. It may be called from any goroutine, which is
// what a pool does when it hands an idle connection to a new user.
func (c *Conn) SetHandler(h Handler) { c.h.Store(&handlerRef{h}) }

// Value returns the value stored with SetValue or DialOptions.Value.
func (c *Conn) Value() any {
	if x := c.x.Load(); x != nil {
		return x.value
	}
	return nil
}

// SetValue stores a value with the connection for its handler's use. Call
// it from the loop or before the connection is shared.
func (c *Conn) SetValue(v any) {
	if v == nil && c.x.Load() == nil {
		return
	}
	c.extras().value = v
}

// RemoteAddr returns the peer's address (the one being tried while
// dialing, none before the name is resolved). It may be called from any
// goroutine, and keeps the address after the connection has closed.
func (c *Conn) RemoteAddr() net.Addr {
	c.mu.Lock()
	ap := c.remoteAddrPort()
	c.mu.Unlock()
	return net.TCPAddrFromAddrPort(ap)
}

// remoteAddrPort is RemoteAddr's address; on the loop, or with c.mu held
// (the loop changes c.dial and c.remote under it).
func (c *Conn) remoteAddrPort() addrPort {
	if d := c.dial; d != nil {
		return d.cur
	}
	return c.remote.addrPort()
}

// LocalAddr returns the local address of an established connection, and
// an empty one once it has closed (the address is read from the socket,
// not kept). It may be called from any goroutine.
func (c *Conn) LocalAddr() net.Addr {
	return net.TCPAddrFromAddrPort(c.loop.be.localAddr(c))
}

// ConnStats are a connection's counters.
type ConnStats struct {
	BytesIn  int64 // read from the socket
	BytesOut int64 // handed to the kernel
	Queued   int64 // waiting in the write queue
}

// Stats returns the connection's counters.
func (c *Conn) Stats() ConnStats {
	c.mu.Lock()
	q := c.queuedLocked()
	c.mu.Unlock()
	return ConnStats{BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(), Queued: int64(q)}
}

// Write queues a copy of b and returns without blocking; the loop sends it
// as soon as the socket takes it, coalescing queued writes into one system
// call. Writes made while dialing go out once connected. It fails with
// ErrWriteQueueFull, queuing nothing, when the connection's write-queue
// limit would be passed, and with ErrClosed after Close or CloseWrite.
func (c *Conn) Write(b []byte) error { return c.write(b, false) }

// write is Write, or WriteDirect when direct is set.
func (c *Conn) write(b []byte, direct bool) error {
	if len(b) == 0 {
		return nil
	}
	c.mu.Lock()
	if l := c.layer(); l != nil {
		closed := c.wclosed
		c.mu.Unlock()
		if closed {
			return ErrClosed
		}
		if dw, ok := l.(LayerDirectWriter); ok && direct {
			return dw.WriteDirect(c, b)
		}
		return l.Write(c, b)
	}
	return c.enqueueLocked(b, false, direct)
}

// SendUrgent queues b to be sent as TCP urgent (out-of-band) data, in order
// with normal writes. Only the last byte is urgent in TCP's sense. The net
// backend does not support it.
func (c *Conn) SendUrgent(b []byte) error {
	if c.loop.e.backend != BackendPoll {
		return ErrNotSupported
	}
	return c.enqueue(b, true)
}

func (c *Conn) enqueue(b []byte, oob bool) error {
	if len(b) == 0 {
		return nil
	}
	c.mu.Lock()
	return c.enqueueLocked(b, oob, false)
}

// enqueueLocked queues b, or with direct writes what the socket takes of
// it first (writeDirectLocked); it is called with c.mu held and releases
// it.
func (c *Conn) enqueueLocked(b []byte, oob, direct bool) error {
	if c.wclosed {
		c.mu.Unlock()
		return ErrClosed
	}
	if c.queuedLocked()+len(b) > c.writeLimit() {
		c.mu.Unlock()
		return ErrWriteQueueFull
	}
	if direct {
		return c.writeDirectLocked(b)
	}
	return c.pushLocked(b, oob)
}

// pushLocked queues b for the loop to send. Called with c.mu held;
// releases it.
func (c *Conn) pushLocked(b []byte, oob bool) error {
	c.wq.push(b, oob)
	c.mu.Unlock()
	c.loop.ctr.queued.Add(int64(len(b)))
	c.loop.schedule(c, opFlush)
	return nil
}

// Close closes the connection: queued bytes that the socket takes at once
// are sent, the rest are dropped, and OnClose follows with ErrLocalClose.
// No callback other than OnClose runs after Close returns, except one
// already running. Close is idempotent.
func (c *Conn) Close() error { return c.CloseWithError(nil) }

// CloseWithError closes the connection like Close, with err as the reason
// OnClose reports (nil means ErrLocalClose). Protocol layers use it to
// say why they gave up on a connection.
func (c *Conn) CloseWithError(err error) error {
	c.mu.Lock()
	c.wclosed = true
	if err != nil {
		if x := c.extras(); x.closeErr == nil {
			x.closeErr = err
		}
	}
	c.mu.Unlock()
	if c.ops.Or(flagClosing)&flagClosing == 0 {
		c.loop.schedule(c, opClose)
	}
	return nil
}

// CloseWrite shuts down the sending side once every queued byte is sent
// (TCP FIN); reading goes on. Later writes fail with ErrClosed. A layer
// that implements LayerCloseWriter queues its farewell first (TLS
// close_notify), and the FIN waits until the layer is ready.
func (c *Conn) CloseWrite() error {
	c.mu.Lock()
	if c.wclosed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.wclosed = true
	l := c.layer()
	c.mu.Unlock()
	if lw, ok := l.(LayerCloseWriter); ok {
		lw.CloseWrite(c)
	}
	c.loop.schedule(c, opCloseWrite)
	return nil
}

// smallRead is the most the loop reads at a time from a connection with
// SetSmallReads on: a response head with a small body, in one read.
const smallRead = 16 << 10

// SetSmallReads, on, makes the loop read at most 16 KiB at a time from c
// rather than a whole buffer. It is for a connection whose next message
// will likely be read by a lease holder (LeaseRead) once its first bytes
// are parsed: what the loop reads ahead of the lease it must hand over as
// a copy, and a read of the loop's whole buffer would take a large body's
// first 256 KiB that way. Any goroutine; a call that changes nothing
// costs a load, so a caller may make it for every message.
func (c *Conn) SetSmallReads(on bool) {
	if (c.ops.Load()&flagSmall != 0) == on {
		return
	}
	if on {
		c.ops.Or(flagSmall)
	} else {
		c.ops.And(^flagSmall)
	}
}

// PauseRead stops reading from the socket: back-pressure, so the kernel's
// receive window closes and the peer stops sending. OnData may still run
// once if a read is in progress.
func (c *Conn) PauseRead() { c.ops.Or(flagPaused) }

// ResumeRead undoes PauseRead.
func (c *Conn) ResumeRead() {
	if c.ops.And(^flagPaused)&flagPaused != 0 {
		c.loop.schedule(c, opResume)
	}
}

// SetIdleTimeout closes the connection with ErrIdleTimeout once nothing has
// been read or written for d; 0 turns the timeout off.
func (c *Conn) SetIdleTimeout(d time.Duration) {
	c.loop.post(func() { c.setIdleTimeout(d) })
}

func (c *Conn) setIdleTimeout(d time.Duration) {
	x := c.x.Load()
	if x == nil {
		if d <= 0 {
			return
		}
		x = c.extras()
		x.idle.lastActive = c.loop.now
	}
	x.idle.timeout = d
	if c.state == stateOpen {
		c.armIdle(x)
	}
}

// AfterFunc runs f on the connection's loop after d.
func (c *Conn) AfterFunc(d time.Duration, f func()) *Timer { return c.loop.AfterFunc(d, f) }

// handler reads the handler for a callback.
func (c *Conn) handler() Handler { return c.h.Load().h }

// runOps carries out the ops requested since the last call. Loop only.
func (c *Conn) runOps() {
	ops := c.ops.And(^opMask) & opMask
	if c.state == stateClosed {
		return
	}
	if ops&opClose != 0 {
		var reason error
		x := c.x.Load()
		if x != nil {
			c.mu.Lock()
			reason = x.closeErr
			c.mu.Unlock()
		}
		if reason == nil {
			reason = ErrLocalClose
		}
		if c.state == stateOpen {
			if x != nil && x.layer != nil {
				x.layer.Close(c)
			}
			c.loop.be.flush(c) // best effort, never blocks
		}
		c.closeWith(reason)
		return
	}
	if c.state != stateOpen {
		// Dialing: open flushes what was queued meanwhile, and then
		// shuts the sending side down if CloseWrite asked for it. The
		// ops are cleared now, so that request must be kept here.
		if ops&opCloseWrite != 0 {
			c.shutPending = true
		}
		return
	}
	if ops&opCloseWrite != 0 {
		c.shutPending = true
	}
	if ops&(opFlush|opCloseWrite) != 0 {
		c.loop.be.flush(c)
		if c.state != stateOpen {
			return
		}
	}
	if ops&opResume != 0 {
		c.loop.be.resumeRead(c)
	}
	if ops&opCompact != 0 {
		if x := c.x.Load(); x != nil {
			if lc, ok := x.layer.(LayerCompacter); ok {
				lc.Compact(c)
			}
		}
	}
}

// deliver hands data read from the socket to the handler. Loop only.
func (c *Conn) deliver(data []byte) {
	n := int64(len(data))
	c.bytesIn.Add(n)
	c.loop.ctr.bytesIn.Add(n)
	if x := c.x.Load(); x != nil {
		x.idle.lastActive = c.loop.now
		if x.layer != nil {
			if err := x.layer.Input(c, data); err != nil {
				c.closeWith(err)
			}
			return
		}
	}
	c.handler().OnData(c, data)
}

// written accounts for n bytes the kernel took. Loop only.
func (c *Conn) written(n int) {
	c.bytesOut.Add(int64(n))
	c.loop.ctr.bytesOut.Add(int64(n))
	c.loop.ctr.queued.Add(-int64(n))
	if x := c.x.Load(); x != nil {
		x.idle.lastActive = c.loop.now
	}
	c.handler().OnWritten(c, n)
}

// afterFlush runs after the queue drained: a pending CloseWrite goes out,
// unless a layer is still setting up (a TLS handshake must not see a FIN;
// LayerReady flushes again).
func (c *Conn) afterFlush() {
	if c.shutPending && c.ready {
		c.shutPending = false
		if err := c.loop.be.shutdownWrite(c); err != nil {
			c.closeWith(err)
		}
	}
}

// peerEOF handles the peer's FIN. Loop only.
func (c *Conn) peerEOF() {
	if l := c.layer(); l != nil {
		if err := l.InputEOF(c); err != nil {
			c.closeWith(err)
			return
		}
	}
	if hc, ok := c.handler().(HalfCloseHandler); ok {
		if !c.peerShut {
			c.peerShut = true
			hc.OnPeerCloseWrite(c)
		}
		return
	}
	c.closeWith(ErrPeerClosed)
}

// open marks an established connection, dialed or accepted, and tells its
// handler. Loop only.
func (c *Conn) open() {
	l := c.loop
	c.state = stateOpen
	l.ctr.open.Add(1)
	if l.e.backend == BackendPoll {
		c.ops.Or(flagDirect)
	}
	var layer Layer
	if x := c.x.Load(); x != nil {
		x.idle.lastActive = l.now
		if x.idle.timeout > 0 {
			c.armIdle(x)
		}
		layer = x.layer
	}
	if layer != nil {
		layer.Start(c) // OnOpen waits for LayerReady
	} else {
		c.ready = true
		c.handler().OnOpen(c)
	}
	if c.state == stateOpen && c.ops.Load()&opMask == 0 {
		// Writes queued while dialing, or from OnOpen, go out now,
		// followed by a CloseWrite made meanwhile.
		c.mu.Lock()
		pending := c.wq.n > 0
		c.mu.Unlock()
		if pending || c.shutPending {
			l.be.flush(c)
		}
	}
}

// armIdle starts (or stops, for a zero timeout) the idle timer. Rather
// than moving the timer on every read and write, the timer fires at the
// earliest possible deadline and checks when the connection was last
// active.
func (c *Conn) armIdle(x *connExtras) {
	s := &x.idle
	if s.timeout <= 0 {
		if s.timer != nil {
			s.timer.Stop()
		}
		return
	}
	if s.timer == nil {
		s.timer = c.loop.AfterFunc(s.timeout, c.checkIdle)
		return
	}
	s.timer.Reset(s.timeout)
}

func (c *Conn) checkIdle() {
	s := &c.x.Load().idle
	if c.state != stateOpen || s.timeout <= 0 {
		return
	}
	if rl := c.x.Load().lease; rl != nil {
		// The lease holder's reads keep the connection alive too.
		s.lastActive = max(s.lastActive, rl.lastRead.Load())
	}
	idle := time.Duration(c.loop.now - s.lastActive)
	if idle >= s.timeout {
		c.closeWith(ErrIdleTimeout)
		return
	}
	s.timer.Reset(s.timeout - idle)
}

// closeWith closes the connection for reason err and calls OnClose, once.
// Loop only.
func (c *Conn) closeWith(err error) {
	if c.state == stateClosed {
		return
	}
	l := c.loop
	prev := c.state
	c.state = stateClosed
	c.ops.Or(flagClosing)
	c.mu.Lock()
	c.wclosed, c.rawClosed = true, true
	dropped := c.wq.n
	c.mu.Unlock()
	if dropped > 0 {
		l.ctr.queued.Add(-int64(dropped))
	}
	x := c.x.Load()
	if x != nil && x.idle.timer != nil {
		x.idle.timer.Stop()
	}
	switch prev {
	case stateDialing:
		c.dial.finish()
		l.removeDialing(c)
		l.ctr.dialing.Add(-1)
	case stateOpen:
		l.ctr.open.Add(-1)
	}
	if x != nil {
		if lc, ok := x.layer.(LayerCloser); ok {
			lc.Closed(c, err)
		}
		if x.lease != nil {
			// Wake a blocked lease holder, and keep it off the
			// descriptor before it is closed.
			x.lease.closeWith(cmp.Or(err, ErrLocalClose))
		}
	}
	l.be.closeSocket(c) // the net backend may still send what is queued
	c.mu.Lock()
	c.wq.release()
	c.mu.Unlock()
	l.ctr.closed.Add(1)
	c.handler().OnClose(c, err)
}

// closeAll closes every connection of the loop (shutdown). Loop only.
func (l *Loop) closeAll(err error) {
	if pb, ok := l.be.(interface{ allConns() []*Conn }); ok {
		for _, c := range pb.allConns() {
			c.closeWith(err)
		}
	}
}
