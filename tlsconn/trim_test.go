package tlsconn

import (
	"bytes"
	"crypto/tls"
	"testing"
	"time"
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
	c := dial(t, e, cl, localhostAddr(srv.Addr()), r)
	r.WaitOpen(t)
	if err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if got := r.WaitData(t, 5); string(got) != "hello" {
		t.Fatalf("echo %q", got)
	}
	got := bufferCaps(c)
	t.Logf("capacities %v", got)
	for i, n := range got {
		if n > trimAbove {
			t.Errorf("buffer %d keeps %d bytes of capacity after the handshake", i, n)
		}
	}
	c.Close()
	r.WaitClose(t)
}

// bufferCaps reads the capacities of crypto/tls's input buffers on c's
// loop, which owns them.
func bufferCaps(c *engine.Conn) []int {
	caps := make(chan []int, 1)
	c.Loop().Post(func() {
		tc := c.Layer().(*layer).tc
		var cs []int
		for _, off := range bufferOffsets {
			cs = append(cs, (*bytes.Buffer)(unsafe.Add(unsafe.Pointer(tc), off)).Cap())
		}
		caps <- cs
	})
	return <-caps
}

// TestCompactAfterLargeRecords: after a megabyte in full-size records the
// record buffer has grown to tens of kilobytes; Conn.Compact, which a pool
// calls when the connection goes idle, gives it back.
func TestCompactAfterLargeRecords(t *testing.T) {
	checkLeaks(t)
	big := make([]byte, 1<<20)
	srv := newGoTLSServer(t, serverTLS(), func(c *tls.Conn) {
		b := make([]byte, 1)
		if _, err := c.Read(b); err != nil {
			return
		}
		c.Write(big)
		if _, err := c.Read(b); err == nil {
			c.Write(bytes.ToUpper(b))
		}
		c.Read(b) // until the client closes
	})
	e := newEngine(t, engine.BackendAuto)
	cl := newClient(t, Config{})
	r := newResult()
	c := dial(t, e, cl, localhostAddr(srv.Addr()), r)
	r.WaitOpen(t)
	c.Write([]byte("x"))
	r.WaitData(t, len(big))
	if caps := bufferCaps(c); caps[0] <= 16<<10 {
		t.Fatalf("record buffer %d bytes after 1 MiB: the test no longer shows what Compact is for", caps[0])
	}
	c.Compact()
	deadline := time.Now().Add(5 * time.Second)
	for {
		caps := bufferCaps(c)
		if caps[0] <= trimAbove && caps[1] <= trimAbove {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("capacities %v after Compact", caps)
		}
		time.Sleep(time.Millisecond)
	}
	// The connection still works after its buffers went.
	c.Write([]byte("y"))
	if got := r.WaitData(t, len(big)+1); got[len(big)] != 'Y' {
		t.Fatalf("echo after Compact: %q", got[len(big):])
	}
	c.Close()
	r.WaitClose(t)
}

// TestReleaseBuffers: after a small echo the record buffer keeps the few
// hundred bytes Compact leaves; ReleaseBuffers, for a connection idle for
// a while, gives them back too, and the connection still works.
func TestReleaseBuffers(t *testing.T) {
	checkLeaks(t)
	srv := newGoTLSServer(t, serverTLS(), echoTLS)
	e := newEngine(t, engine.BackendAuto)
	cl := newClient(t, Config{})
	r := newResult()
	c := dial(t, e, cl, localhostAddr(srv.Addr()), r)
	r.WaitOpen(t)
	c.Write([]byte("hello"))
	r.WaitData(t, 5)
	if caps := bufferCaps(c); caps[0] == 0 {
		t.Fatalf("capacities %v after an echo: the test no longer shows what ReleaseBuffers is for", caps)
	}
	kept := make(chan int, 1)
	c.Loop().Post(func() { kept <- BufferBytes(c) })
	if n, caps := <-kept, bufferCaps(c); n != caps[0]+caps[1] {
		t.Fatalf("BufferBytes %d, capacities %v", n, caps)
	}
	released := make(chan struct{})
	c.Loop().Post(func() {
		ReleaseBuffers(c)
		close(released)
	})
	<-released
	if caps := bufferCaps(c); caps[0] != 0 || caps[1] != 0 {
		t.Fatalf("capacities %v after ReleaseBuffers, want none", caps)
	}
	got := make(chan int, 1)
	c.Loop().Post(func() { got <- BufferBytes(c) })
	if n := <-got; n != 0 {
		t.Fatalf("BufferBytes %d after ReleaseBuffers", n)
	}
	c.Write([]byte("again"))
	if got := r.WaitData(t, 10); string(got) != "helloagain" {
		t.Fatalf("echo after ReleaseBuffers: %q", got)
	}
	c.Close()
	r.WaitClose(t)
}
