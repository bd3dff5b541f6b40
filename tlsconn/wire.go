package tlsconn

import (
	"net"
	"time"
)

// wire is a layer seen from crypto/tls: the net.Conn that a tls.Conn reads
// ciphertext from and writes ciphertext to. It is the same memory as the
// layer, under another method set, so the adapter costs nothing per
// connection.
//
// Reads work in three modes. During the handshake a worker goroutine reads
// and blocks until the loop feeds it bytes (handshake.read). Afterwards
// the loop reads, within Input, from the bytes of that Input only, and
// when they run out returns errWouldBlock, which crypto/tls treats as
// temporary: the partial record stays in its buffer for the next Input.
// While a lease holder reads (ReadLeased), it reads the socket itself and
// blocks there.
//
// Writes never fail and never block: each record is copied into the
// engine connection's write queue.
type wire layer

// Read implements net.Conn for crypto/tls.
//
// l.hs is written only on the loop and only while no worker reads: set in
// Start before the handshake is queued, cleared in handshakeDone after the
// worker has finished.
func (w *wire) Read(p []byte) (int, error) {
	l := (*layer)(w)
	if hs := l.hs; hs != nil {
		return hs.read(p)
	}
	if l.leased != nil {
		return l.leased.Read(p)
	}
	if len(l.src) == 0 {
		return 0, errWouldBlock // never (0, nil): bytes.Buffer.ReadFrom would spin
	}
	n := copy(p, l.src)
	l.src = l.src[n:]
	return n, nil
}

// Write implements net.Conn for crypto/tls. It reports success even when
// the connection has closed, because an error would poison the tls.Conn
// for good; the layer's Write reports the closed connection instead.
func (w *wire) Write(p []byte) (int, error) {
	l := (*layer)(w)
	var err error
	if l.directOut.Load() {
		err = l.conn.WriteRawDirect(p)
	} else {
		err = l.conn.WriteRaw(p)
	}
	if err != nil {
		l.rawClosed.Store(true)
	}
	return len(p), nil
}

// Close does nothing: the engine owns the socket. crypto/tls calls it
// only from tls.Conn.Close and from a cancelled HandshakeContext, neither
// of which this package uses.
func (w *wire) Close() error { return nil }

// LocalAddr returns a placeholder: the engine's answer would read the
// socket descriptor, which the loop owns, and crypto/tls does not ask.
func (w *wire) LocalAddr() net.Addr { return unknownAddr }

// RemoteAddr returns the peer's address; crypto/tls uses it as the
// session-cache key when there is no server name.
func (w *wire) RemoteAddr() net.Addr { return (*layer)(w).conn.RemoteAddr() }

// SetDeadline, SetReadDeadline and SetWriteDeadline do nothing: nothing
// blocks but the handshake, which has its own timeout. crypto/tls sets a
// write deadline around close_notify; it is ignored.
func (w *wire) SetDeadline(time.Time) error      { return nil }
func (w *wire) SetReadDeadline(time.Time) error  { return nil }
func (w *wire) SetWriteDeadline(time.Time) error { return nil }

var unknownAddr net.Addr = &net.TCPAddr{}
