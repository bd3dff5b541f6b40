package tlsconn

import (
	"bytes"
	"crypto/tls"
	"reflect"
	"unsafe"

	"github.com/egress-go/egress/engine"
)

// crypto/tls keeps two buffers for a connection's whole life: rawInput,
// the ciphertext of records not yet decrypted, and hand, the bytes of
// handshake messages not yet parsed. Both grow to the largest record and
// message they have held, and the handshake's are the largest a typical
// connection ever sees: the server's flight with its certificate chain,
// and with post-quantum key exchange a ServerHello of over a kilobyte.
// Once the handshake is over both are empty, yet together they keep about
// 3 KB per connection, which for an idle connection is most of what it
// costs beyond crypto/tls's unavoidable cipher state.
//
// crypto/tls has no API to let them go, so trimBuffers finds the two
// fields by name and type once, at start-up, and drops their storage when
// they are empty: a zero bytes.Buffer is what crypto/tls starts with, and
// it grows one again when a record arrives. If a Go release renames or
// retypes the fields, trimming is off (trimSupported reports it, and a
// test fails so that we notice); nothing else changes.
var bufferOffsets = func() []uintptr {
	t := reflect.TypeFor[tls.Conn]()
	bt := reflect.TypeFor[bytes.Buffer]()
	var offs []uintptr
	for _, name := range []string{"rawInput", "hand"} {
		f, ok := t.FieldByName(name)
		if !ok || f.Type != bt || len(f.Index) != 1 {
			return nil
		}
		offs = append(offs, f.Offset)
	}
	return offs
}()

// trimSupported reports whether trimBuffers can reach crypto/tls's buffers
// in this Go release.
func trimSupported() bool { return bufferOffsets != nil }

// trimAbove is the capacity below which an empty buffer is kept after the
// handshake: one small record and bytes.MinRead, which every later read
// would grow it back to.
const trimAbove = 1024

// compactAbove is the same for Compact, which a pool calls after every
// response: higher, so that a client fetching responses of a few
// kilobytes does not allocate its record buffer anew for each one.
const compactAbove = 4096

// Compact releases crypto/tls's input buffers when they are empty: the
// engine calls it on the loop when the connection goes idle (see
// engine.Conn.Compact), so that a connection that once received large
// records does not keep a record buffer of tens of kilobytes while it
// waits in a pool.
func (l *layer) Compact(c *engine.Conn) {
	if l.hs == nil && l.state == stateOpen {
		trimBuffers(l.tc, compactAbove)
	}
}

// ReleaseBuffers gives back crypto/tls's input buffers of c when they are
// empty, whatever their size, where Compact keeps small ones (which a
// connection in steady use would otherwise allocate again for every
// response). It is for a connection that has had nothing to do for a
// while, such as an HTTP/2 connection with no stream open: its next
// record costs one allocation, and meanwhile it keeps no buffer. Loop
// only, and not while a read lease is held. A connection without TLS, or
// whose handshake has not finished, is left alone.
func ReleaseBuffers(c *engine.Conn) {
	if l, ok := c.Layer().(*layer); ok && l.hs == nil && l.state == stateOpen {
		trimBuffers(l.tc, 0)
	}
}

// BufferBytes returns the capacity that crypto/tls's input buffers of c
// keep, 0 once released, or 0 for a connection without TLS: a figure of
// idle memory, for tests and diagnostics. Loop only.
func BufferBytes(c *engine.Conn) int {
	l, ok := c.Layer().(*layer)
	if !ok || bufferOffsets == nil {
		return 0
	}
	n := 0
	for _, off := range bufferOffsets {
		n += (*bytes.Buffer)(unsafe.Add(unsafe.Pointer(l.tc), off)).Cap()
	}
	return n
}

// trimBuffers releases tc's empty record and handshake buffers of more
// than above bytes. It must run where nothing else uses tc's input side:
// on the loop, in event mode, between reads (writes use other state and
// may run meanwhile).
func trimBuffers(tc *tls.Conn, above int) {
	base := unsafe.Pointer(tc)
	for _, off := range bufferOffsets {
		b := (*bytes.Buffer)(unsafe.Add(base, off))
		if b.Len() == 0 && b.Cap() > above {
			*b = bytes.Buffer{}
		}
	}
}
