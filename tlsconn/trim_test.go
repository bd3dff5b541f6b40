package tlsconn

import (
	"bytes"
	"testing"
	"unsafe"

	"github.com/egress-go/egress/engine"
)

// TestTrimSupported fails when a Go release moves crypto/tls's buffers out
// of trimBuffers' reach, so that the lost saving is noticed.
func TestTrimSupported(t *testing.T) {
	if !trimSupported() {
		t.Fatal("crypto/tls.Conn has no rawInput and hand bytes.Buffer fields in this Go release: idle connections keep their handshake buffers")
	}
}

// TestHandshakeBuffersReleased checks what an idle connection keeps of
// crypto/tls's input buffers after a full handshake (certificate chain,
// Go's default key exchange) and one small echo: no more than a small
// record needs, where untrimmed they keep the handshake's largest flight.
func TestHandshakeBuffersReleased(t *testing.T) {
	checkLeaks(t)
	srv := newGoTLSServer(t, serverTLS(), echoTLS)
	e := newEngine(t, engine.BackendAuto)
	cl := newClient(t, Config{})
	r := newResult()
	c := dial(t, e, cl, localhostAddr(srv.addr()), r)
	r.waitOpen(t)
	if err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if got := r.waitData(t, 5); string(got) != "hello" {
		t.Fatalf("echo %q", got)
	}
	caps := make(chan []int, 1)
	c.Loop().Post(func() { // the loop owns the input side
		tc := c.Layer().(*layer).tc
		var cs []int
		for _, off := range bufferOffsets {
			cs = append(cs, (*bytes.Buffer)(unsafe.Add(unsafe.Pointer(tc), off)).Cap())
		}
		caps <- cs
	})
	got := <-caps
	t.Logf("capacities %v", got)
	for i, n := range got {
		if n > trimAbove {
			t.Errorf("buffer %d keeps %d bytes of capacity after the handshake", i, n)
		}
	}
	c.Close()
	r.waitClose(t)
}
