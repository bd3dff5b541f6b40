package egress

import (
	"testing"
	"unsafe"
)

// TestH2ConnSizeClass guards idle memory: an HTTP/2 connection keeps its
// h2conn, with the protocol's state embedded, for its whole life. It fit
// the 704-byte size class where it took 1,152 bytes before the protocol's
// rarely used state moved out of line (see http2's TestConnSize).
func TestH2ConnSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(h2conn{}); n > 704 {
		t.Fatalf("h2conn is %d bytes: past the 704-byte size class, each idle HTTP/2 connection costs 64 bytes more", n)
	}
}
