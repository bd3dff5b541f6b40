package tlsconn

import (
	"errors"
	"io"
	"sync"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/internal/bufpool"
)

// crypto/tls runs a handshake as straight-line code that reads and writes
// a net.Conn, and a failed read ends it for good, so it cannot be driven
// byte by byte from the loop. It runs instead on a worker goroutine (see
// pool.go) over a blocking read that the loop feeds: Input copies the
// bytes in, and the worker wakes. When it ends the loop takes over again
// and the goroutine is gone.

// Back-pressure while the handshake runs: a peer that sends faster than
// the worker reads (or sends junk) is paused rather than buffered.
const (
	hsPauseAt  = 64 << 10
	hsResumeAt = 16 << 10
)

// handshake is the state of one handshake in progress. The layer drops it
// when the handshake ends, so an established connection does not carry it.
type handshake struct {
	l        *layer
	deadline time.Time     // covers the wait for a worker too
	timer    *engine.Timer // loop timer for the same deadline
	h        *hsHandler    // stands in for the connection's handler
	wake     chan struct{} // capacity 1: buf, eof or err changed

	submitted bool // handed to the pool (loop only)

	mu     sync.Mutex
	buf    []byte // bytes read by the loop, not yet by crypto/tls (pooled)
	off    int    // bytes of buf already read
	eof    bool   // the peer closed: reads end with io.EOF after buf
	err    error  // the handshake was abandoned: reads fail at once
	paused bool   // reading was paused because buf was full
}

// feed hands bytes read by the loop to the worker. Loop only.
func (hs *handshake) feed(c *engine.Conn, raw []byte) {
	hs.mu.Lock()
	if hs.err != nil {
		hs.mu.Unlock()
		return
	}
	if hs.off > 0 {
		n := copy(hs.buf, hs.buf[hs.off:])
		hs.buf, hs.off = hs.buf[:n], 0
	}
	hs.buf = append(bufpool.Grow(hs.buf, len(raw)), raw...)
	if !hs.paused && len(hs.buf) >= hsPauseAt {
		// Under mu, so that the worker's ResumeRead cannot come first.
		hs.paused = true
		c.PauseRead()
	}
	hs.mu.Unlock()
	hs.signal()
	if !hs.submitted {
		hs.submitted = true
		hs.l.p.pool.submit(hs)
	}
}

// read is the worker's blocking read: it returns what the loop fed, or
// waits for more, until the handshake is abandoned or times out.
func (hs *handshake) read(p []byte) (int, error) {
	var t *time.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for {
		hs.mu.Lock()
		if err := hs.err; err != nil {
			hs.mu.Unlock()
			return 0, err
		}
		if hs.off < len(hs.buf) {
			n := copy(p, hs.buf[hs.off:])
			hs.off += n
			if hs.off == len(hs.buf) {
				hs.buf, hs.off = hs.buf[:0], 0
			}
			if hs.paused && len(hs.buf)-hs.off < hsResumeAt {
				hs.paused = false
				hs.l.conn.ResumeRead()
			}
			hs.mu.Unlock()
			return n, nil
		}
		if hs.eof {
			hs.mu.Unlock()
			return 0, io.EOF
		}
		hs.mu.Unlock()
		// The loop's timer closes the connection at the deadline; this one
		// frees the worker even if the loop is gone.
		if t == nil {
			d := time.Until(hs.deadline)
			if d <= 0 {
				return 0, ErrHandshakeTimeout
			}
			t = time.NewTimer(d)
		}
		select {
		case <-hs.wake:
		case <-t.C:
			return 0, ErrHandshakeTimeout
		}
	}
}

func (hs *handshake) signal() {
	select {
	case hs.wake <- struct{}{}:
	default:
	}
}

// abort makes the worker's reads fail with err from now on.
func (hs *handshake) abort(err error) {
	hs.mu.Lock()
	if hs.err == nil {
		hs.err = err
	}
	hs.mu.Unlock()
	hs.signal()
	if hs.timer != nil {
		hs.timer.Stop()
	}
}

func (hs *handshake) aborted() bool {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return hs.err != nil
}

// peerEOF records the peer's FIN: the worker reads what came before it,
// then io.EOF.
func (hs *handshake) peerEOF() {
	hs.mu.Lock()
	hs.eof = true
	hs.mu.Unlock()
	hs.signal()
}

// run performs the handshake on a worker goroutine and hands the result to
// the loop.
func (hs *handshake) run() {
	if hs.aborted() || !time.Now().Before(hs.deadline) {
		return // the loop closes (or has closed) the connection
	}
	l := hs.l
	err := l.tc.Handshake()
	// If the loop has stopped, the engine closed the connection already.
	l.conn.Loop().Post(func() { l.handshakeDone(hs, err) })
}

// handshakeDone takes the worker's result on the loop and switches the
// connection to event mode. Loop only.
func (l *layer) handshakeDone(hs *handshake, err error) {
	c := l.conn
	l.hs = nil // the worker is finished: from here on the loop reads
	hs.timer.Stop()
	hs.restoreHandler(c)
	hs.mu.Lock()
	abandoned, eof, paused := hs.err != nil, hs.eof, hs.paused
	buf, off := hs.buf, hs.off
	hs.buf = nil
	hs.mu.Unlock()
	defer bufpool.Put(buf)
	if abandoned || l.state == stateClosed {
		return // timed out or closed meanwhile: the reason is given already
	}
	if err != nil {
		if errors.Is(err, ErrHandshakeTimeout) {
			err = &HandshakeError{ServerName: l.serverName(), Err: ErrHandshakeTimeout}
		} else {
			err = classifyHandshake(err, l.serverName())
		}
		l.fail(err)
		return
	}
	proto := l.tc.ConnectionState().NegotiatedProtocol
	if l.p.requireALPN && proto == "" {
		l.fail(&HandshakeError{ServerName: l.serverName(), Err: ErrALPNMismatch})
		return
	}
	if paused {
		c.ResumeRead()
	}
	// Writes made during the handshake go first, before OnOpen's: the
	// state changes under mu, so no Write can slip in between.
	l.mu.Lock()
	l.state, l.established, l.proto = stateOpen, true, proto
	p := l.pending
	l.pending = nil
	if len(p) > 0 {
		l.tc.Write(p) // cannot fail: see wire.Write
	}
	if l.closeWrite {
		l.tc.CloseWrite() // after the held writes; LayerReady lets the FIN go
	}
	l.mu.Unlock()
	bufpool.Put(p)
	c.LayerReady()
	// Records that came with the end of the handshake (application data,
	// TLS 1.3 session tickets) are in crypto/tls's buffer or in buf: read
	// them now, since no new Input may come to prompt it.
	l.src = buf[off:]
	l.readAll(c)
	l.src = nil
	trimBuffers(l.tc, trimAbove) // the handshake's buffers are of no more use
	if eof && l.state == stateOpen && !l.closeNotify {
		c.CloseWithError(ErrTruncated)
	}
}

// handshakeTimedOut runs on the loop at the handshake deadline.
func (l *layer) handshakeTimedOut() {
	hs := l.hs
	if hs == nil || l.state != stateHandshake {
		return
	}
	hs.abort(ErrHandshakeTimeout)
	l.fail(&HandshakeError{ServerName: l.serverName(), Err: ErrHandshakeTimeout})
}

// connClosed runs on the loop when the connection closed during the
// handshake, for whatever reason: the worker must not wait any longer.
func (l *layer) connClosed(err error) {
	l.setClosed()
	if hs := l.hs; hs != nil {
		hs.abort(err)
	}
}

// Closed implements engine.LayerCloser. The engine calls it whatever
// handler is in place, so a worker blocked in a handshake read is freed
// at once even when the stand-in below was replaced by SetHandler before
// OnOpen, and the connection closed for a reason of its own (idle
// timeout, reset) rather than through Close. Loop only.
func (l *layer) Closed(c *engine.Conn, err error) {
	if l.hs != nil {
		l.connClosed(err)
	}
}

// hsHandler stands in for the connection's handler during the handshake.
// Its OnClose reports a close during the handshake (reset, idle timeout)
// as a *HandshakeError; the worker is freed by Closed above, which runs
// first. It also implements
// HalfCloseHandler, so that the peer's FIN does not close the connection
// before the worker has read the alert that may have come with it.
type hsHandler struct {
	hs *handshake
	h  engine.Handler
}

func (hs *handshake) wrapHandler(c *engine.Conn) {
	hs.h = &hsHandler{hs: hs, h: c.Handler()}
	c.SetHandler(hs.h)
}

// restoreHandler puts the connection's own handler back, unless someone
// replaced the stand-in meanwhile.
func (hs *handshake) restoreHandler(c *engine.Conn) {
	if w := hs.h; w != nil {
		if c.Handler() == engine.Handler(w) {
			c.SetHandler(w.h)
		}
		hs.h = nil
	}
}

// OnOpen and OnData pass through; the engine makes neither call before the
// layer is ready, and the real handler is back by then.
func (w *hsHandler) OnOpen(c *engine.Conn)              { w.h.OnOpen(c) }
func (w *hsHandler) OnData(c *engine.Conn, data []byte) { w.h.OnData(c, data) }

// OnWritten drops progress reports for handshake records: the handler has
// written nothing yet.
func (w *hsHandler) OnWritten(*engine.Conn, int) {}

// OnClose says that the handshake failed when the connection broke
// during it: a reset or an idle timeout is a *HandshakeError wrapping the
// engine's reason. A close that this side asked for (Close, engine
// shutdown) is reported as it is.
func (w *hsHandler) OnClose(c *engine.Conn, err error) {
	l := w.hs.l
	l.connClosed(err)
	w.hs.restoreHandler(c)
	var he *HandshakeError
	if !errors.As(err, &he) && !errors.Is(err, engine.ErrLocalClose) && !errors.Is(err, engine.ErrEngineClosed) {
		err = &HandshakeError{ServerName: l.serverName(), Err: err}
	}
	w.h.OnClose(c, err)
}

// OnPeerCloseWrite: see InputEOF. Reading stops; the worker finishes with
// what it has and the loop closes the connection with the outcome.
func (w *hsHandler) OnPeerCloseWrite(*engine.Conn) {}
