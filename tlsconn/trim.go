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
