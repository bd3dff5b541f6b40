package tlsconn

import (
	"crypto/tls"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/internal/bufpool"
)

// Layer states. The loop moves a layer forward; Write reads the state from
// any goroutine, so changes happen under layer.mu.
const (
	stateHandshake uint8 = iota // plaintext writes wait in pending
	stateOpen                   // plaintext goes through tls.Conn.Write
	stateClosed                 // nothing more is written
)

// maxRecordIn bounds the ciphertext crypto/tls may hold back from one
// Input to the next: one incomplete record (header, 16 KiB of plaintext,
// the TLS 1.3 expansion allowance). The plaintext one Input yields is at
// most that plus the new bytes, which sizes the buffer it is decrypted into.
const maxRecordIn = 5 + 16384 + 256

// params are the settings shared by every connection of a Client or of a
// server.
type params struct {
	server      bool
	timeout     time.Duration
	requireALPN bool
	pool        *pool
}

// layer is the engine.Layer of one TLS connection. Its tls.Conn reads and
// writes through the layer's wire (see wire.go).
//
// Once the handshake is done, an idle layer holds this struct and the
// tls.Conn, and no buffer of its own: ciphertext is decrypted straight out
// of the loop's read buffer into a pooled buffer that goes back after the
// read.
type layer struct {
	p    *params
	cfg  *tls.Config
	conn *engine.Conn // set by Start
	tc   *tls.Conn    // set by Start

	mu          sync.Mutex
	state       uint8
	established bool                 // the handshake succeeded (State may be asked)
	pending     []byte               // plaintext written before the handshake finished (pooled)
	closeWrite  bool                 // CloseWrite came during the handshake: close_notify follows pending
	proto       string               // negotiated ALPN protocol
	shared      *tls.ConnectionState // made by the first SharedState

	// Loop only.
	hs  *handshake // non-nil while the handshake runs; see wire.Read
	src []byte     // event mode: the unread part of the current Input

	// leased is the socket while a lease holder reads (ReadLeased); its
	// goroutine alone touches it, while the loop feeds the layer nothing.
	leased      io.Reader
	closeNotify bool // the peer's close_notify was read

	rawClosed atomic.Bool // the socket refused bytes: the connection is closed

	// wmu orders writers once the session is up, so that directOut, read
	// by the wire within tls.Conn.Write, belongs to the write that set it.
	// A close_notify that crypto/tls sends meanwhile may see it too: it
	// then goes out directly, which keeps the order all the same (a
	// direct write happens only with nothing queued).
	wmu       sync.Mutex
	directOut atomic.Bool // the write in progress came from WriteDirect
}

// Start is called on the loop once the socket is connected. It creates
// the tls.Conn and hands the handshake to a worker; OnOpen waits for it.
func (l *layer) Start(c *engine.Conn) {
	l.conn = c
	if l.p.server {
		l.tc = tls.Server((*wire)(l), l.cfg)
	} else {
		l.tc = tls.Client((*wire)(l), l.cfg)
	}
	hs := &handshake{l: l, wake: make(chan struct{}, 1), deadline: time.Now().Add(l.p.timeout)}
	l.hs = hs
	hs.wrapHandler(c)
	hs.timer = c.AfterFunc(l.p.timeout, l.handshakeTimedOut)
	if !l.p.server {
		// The client speaks first: its worker starts now. A server's
		// starts when the ClientHello arrives (see handshake.feed), so
		// that a connection that sends nothing holds no goroutine.
		hs.submitted = true
		l.p.pool.submit(hs)
	}
}

// Input is called on the loop with bytes read from the socket. During the
// handshake they are copied for the worker; afterwards they are decrypted
// at once and the plaintext goes to the handler in one OnData.
func (l *layer) Input(c *engine.Conn, raw []byte) error {
	if hs := l.hs; hs != nil {
		hs.feed(c, raw)
		return nil
	}
	if l.state == stateClosed {
		return nil // closing: what the peer still sends is of no use
	}
	l.src = raw
	l.readAll(c)
	l.src = nil
	return nil
}

// readAll decrypts every complete record from l.src and what crypto/tls
// kept of earlier input, and delivers the plaintext; it closes the
// connection when the input ends the session. Loop only.
func (l *layer) readAll(c *engine.Conn) {
	buf := bufpool.Get(len(l.src) + maxRecordIn)
	defer func() { bufpool.Put(buf) }()
	for {
		if len(buf) == cap(buf) {
			c.Deliver(buf)
			buf = buf[:0]
		}
		n, err := l.tc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == nil {
			continue
		}
		c.Deliver(buf)
		switch err {
		case errWouldBlock:
			// The rest of a record, if any, waits in crypto/tls.
		case io.EOF:
			// close_notify. Closing locally lets Close answer with ours.
			l.closeNotify = true
			c.CloseWithError(ErrCloseNotify)
		default:
			// A fatal alert, received or sent. The one crypto/tls queued
			// goes out with the close; no close_notify follows it.
			l.setClosed()
			c.CloseWithError(classifyRead(err))
		}
		return
	}
}

// ReadLeased decrypts into p what raw, the socket read by the holder of
// the connection's read lease, yields: crypto/tls reads whole records
// from it and copies their plaintext into p, so the bytes pass through no
// buffer of ours. It implements engine.LayerReader. io.EOF is the end of
// the peer's data (close_notify, or a FIN between records: crypto/tls does
// not tell them apart here, and neither matters to a reader that knows its
// message's length).
func (l *layer) ReadLeased(c *engine.Conn, p []byte, raw io.Reader) (int, error) {
	l.leased = raw
	n, err := l.tc.Read(p)
	l.leased = nil
	if err == nil || err == io.EOF || errors.Is(err, engine.ErrWouldBlock) {
		return n, err
	}
	return n, classifyRead(err)
}

// InputEOF is called on the loop when the peer closes TCP.
func (l *layer) InputEOF(c *engine.Conn) error {
	if hs := l.hs; hs != nil {
		if !hs.submitted {
			return &HandshakeError{ServerName: l.serverName(), Err: engine.ErrPeerClosed}
		}
		// Let the worker read what came before the FIN (an alert saying
		// why, perhaps); it reports the result. See hsHandler.
		hs.peerEOF()
		return nil
	}
	if l.closeNotify {
		return ErrCloseNotify
	}
	if l.state == stateClosed {
		return nil
	}
	return ErrTruncated
}

// Write encrypts p into the connection's write queue. It runs on any
// goroutine. Before the handshake finishes, p waits in the layer, within
// the write-queue limit, and goes out right after it.
func (l *layer) Write(c *engine.Conn, p []byte) error {
	if len(p) == 0 {
		return nil
	}
	l.mu.Lock()
	switch l.state {
	case stateHandshake:
		if len(l.pending)+len(p) > c.WriteQueueRoom() {
			l.mu.Unlock()
			return engine.ErrWriteQueueFull
		}
		l.pending = append(bufpool.Grow(l.pending, len(p)), p...)
		l.mu.Unlock()
		return nil
	case stateClosed:
		l.mu.Unlock()
		return engine.ErrClosed
	}
	l.mu.Unlock()
	return l.seal(c, p, false)
}

// WriteDirect is Write for engine.Conn.WriteDirect: the records go to the
// socket from the caller's goroutine when nothing is queued ahead of them
// (engine.Conn.WriteRawDirect), rather than through the write queue. It
// implements engine.LayerDirectWriter.
func (l *layer) WriteDirect(c *engine.Conn, p []byte) error {
	l.mu.Lock()
	open := l.state == stateOpen
	l.mu.Unlock()
	if !open || len(p) == 0 {
		return l.Write(c, p)
	}
	return l.seal(c, p, true)
}

// seal encrypts p through crypto/tls into the connection, directly or
// through its write queue. Once the handshake is done.
func (l *layer) seal(c *engine.Conn, p []byte, direct bool) error {
	// crypto/tls cannot take a record back, so the room is checked first,
	// for the ciphertext p becomes.
	if c.WriteQueueRoom() < sealedSize(len(p)) {
		return engine.ErrWriteQueueFull
	}
	l.wmu.Lock()
	l.directOut.Store(direct)
	_, err := l.tc.Write(p)
	l.directOut.Store(false)
	l.wmu.Unlock()
	if err != nil {
		// Only a close_notify already sent (Close racing with this Write)
		// makes crypto/tls refuse: the wire never fails a write.
		return engine.ErrClosed
	}
	if l.rawClosed.Load() {
		return engine.ErrClosed
	}
	return nil
}

// sealedSize bounds the ciphertext for n bytes of plaintext: crypto/tls
// starts with records of about one TCP segment and adds at most a header,
// a tag or MAC, and padding to each.
func sealedSize(n int) int { return n + (n/1024+1)*80 }

// Close is called on the loop before a local close: close_notify is queued
// when the session is up, and a handshake in progress is abandoned.
func (l *layer) Close(c *engine.Conn) {
	prev := l.setClosed()
	if hs := l.hs; hs != nil {
		hs.abort(engine.ErrLocalClose)
	}
	if prev == stateOpen {
		l.tc.CloseWrite() // queues close_notify through the wire
	}
}

// CloseWrite queues close_notify ahead of the engine's FIN, so that the
// peer reads a clean end of our data rather than a truncation, as
// tls.Conn.CloseWrite does. Any goroutine. During the handshake it is sent
// after the writes held for it (see handshakeDone); the engine holds the
// FIN until then.
func (l *layer) CloseWrite(c *engine.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch l.state {
	case stateHandshake:
		l.closeWrite = true
	case stateOpen:
		l.tc.CloseWrite() // queues close_notify through the wire
	}
}

// setClosed moves the layer to stateClosed, dropping writes that waited
// for the handshake, and returns the previous state.
func (l *layer) setClosed() uint8 {
	l.mu.Lock()
	prev := l.state
	l.state = stateClosed
	p := l.pending
	l.pending = nil
	l.mu.Unlock()
	bufpool.Put(p)
	return prev
}

// fail closes the connection for a handshake failure. Loop only.
func (l *layer) fail(err error) {
	l.setClosed()
	l.conn.CloseWithError(err)
}

func (l *layer) serverName() string {
	if l.p.server {
		return ""
	}
	return l.cfg.ServerName
}
