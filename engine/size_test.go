package engine

import (
	"testing"
	"unsafe"
)

// sizeClass rounds n up to the Go runtime's small-object size class (the
// classes up to 512 bytes, from runtime/sizeclasses.go).
func sizeClass(n uintptr) uintptr {
	for _, c := range []uintptr{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352, 384, 416, 448, 480, 512} {
		if n <= c {
			return c
		}
	}
	return n
}

// TestDialStateSizeClass guards idle memory: a dialState lives only while
// dialing and a Conn for the connection's life. In one size class, a burst
// of dials interleaves them in the same spans, and once the dials are done
// the Conns' spans stay half empty: it showed as +260 bytes of heap per
// idle connection in the idle benchmark.
func TestDialStateSizeClass(t *testing.T) {
	conn, dial := sizeClass(unsafe.Sizeof(Conn{})), sizeClass(unsafe.Sizeof(dialState{}))
	if conn == dial {
		t.Fatalf("Conn (%d bytes) and dialState (%d bytes) share the %d-byte size class", unsafe.Sizeof(Conn{}), unsafe.Sizeof(dialState{}), conn)
	}
}

// TestConnSizeClass guards idle memory: every connection pays for a Conn
// for its whole life, and with pool.Conn on top it makes most of an idle
// HTTP connection's heap, which issue 7 wants under 512 bytes of RSS.
// Fields that only some connections use belong in connExtras, and the
// write queue's chunk list in queueSlots, pooled.
func TestConnSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); sizeClass(n) > 128 {
		t.Fatalf("Conn is %d bytes (%d-byte class): an idle connection should stay within 128", n, sizeClass(n))
	}
	if n := unsafe.Sizeof(peerAddr{}); n > 20 {
		t.Fatalf("peerAddr is %d bytes, want 20", n)
	}
}
