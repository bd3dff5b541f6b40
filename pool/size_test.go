package pool

import (
	"testing"
	"unsafe"
)

// TestConnSize guards idle memory: every pooled connection pays for a Conn
// for its whole life, on top of its engine.Conn, and issue 7 wants an idle
// HTTP connection under 512 bytes of RSS. 128 bytes is a size class of
// its own: a request, which lives only while dialing or waiting, must not
// share it, or a burst of dials would leave the Conns' spans half empty
// once the requests are gone.
func TestConnSize(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 128 {
		t.Fatalf("Conn is %d bytes: an idle connection should stay within the 128-byte size class", n)
	}
	if n := unsafe.Sizeof(request{}); n > 112 && n <= 128 {
		t.Fatalf("request is %d bytes: in the 128-byte size class it would share spans with Conn", n)
	}
}
