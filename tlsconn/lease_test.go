//go:build linux || darwin || freebsd

package tlsconn

import (
	"bytes"
	"crypto/tls"
	"io"
	"sync"
	"testing"

	"github.com/egress-go/egress/engine"
)

// leaseTaker asks for its connection's read side on the first delivery
// and counts what the loop delivers once the lease is granted.
type leaseTaker struct {
	mu      sync.Mutex
	before  []byte
	after   int
	granted bool
	asked   bool
	lease   chan *engine.ReadLease
	closed  chan error
}

func (h *leaseTaker) OnOpen(c *engine.Conn)       { c.Write([]byte("go")) }
func (h *leaseTaker) OnWritten(*engine.Conn, int) {}
func (h *leaseTaker) OnClose(_ *engine.Conn, err error) {
	h.closed <- err
}
func (h *leaseTaker) OnData(c *engine.Conn, b []byte) {
	h.mu.Lock()
	if h.granted {
		h.after += len(b)
	} else {
		h.before = append(h.before, b...)
	}
	h.mu.Unlock()
	if !h.asked {
		h.asked = true
		if c.LeaseRead(h) == nil {
			h.lease <- nil
		}
	}
}
func (h *leaseTaker) Granted(rl *engine.ReadLease) {
	h.mu.Lock()
	h.granted = true
	h.mu.Unlock()
	h.lease <- rl
}

// TestReadLeasedDecryptsInOrder: a lease holder reads the rest of a TLS
// stream itself, through crypto/tls, in reads of every size: each byte
// once, in order, and the loop delivers nothing more; close_notify ends
// it with io.EOF.
func TestReadLeasedDecryptsInOrder(t *testing.T) {
	checkLeaks(t)
	const total = 4 << 20
	want := make([]byte, total)
	for i := range want {
		want[i] = byte(i*5/3 + i>>12)
	}
	srv := newGoTLSServer(t, serverTLS(), func(c *tls.Conn) {
		var b [2]byte
		if _, err := io.ReadFull(c, b[:]); err != nil {
			return
		}
		c.Write(want[:1000])
		c.Write(want[1000:])
		c.Close()
	})
	e := newEngine(t, engine.BackendPoll)
	cl := newClient(t, Config{})
	h := &leaseTaker{lease: make(chan *engine.ReadLease, 1), closed: make(chan error, 1)}
	c, err := cl.Dial(t.Context(), e, "tcp", localhostAddr(srv.Addr()), h, nil)
	if err != nil {
		t.Fatal(err)
	}
	rl := <-h.lease
	if rl == nil {
		t.Fatal("LeaseRead refused a TLS connection")
	}
	h.mu.Lock()
	got := append([]byte(nil), h.before...)
	h.mu.Unlock()
	sizes := []int{1, 100, 16 << 10, 1 << 20, 3}
	for i := 0; ; i++ {
		buf := make([]byte, sizes[i%len(sizes)])
		n, err := rl.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Read after %d bytes: %v", len(got), err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, want %d", len(got), len(want))
	}
	h.mu.Lock()
	after := h.after
	h.mu.Unlock()
	if after != 0 {
		t.Fatalf("the loop delivered %d bytes while the lease was held", after)
	}
	c.Close()
	<-h.closed
}

// TestWriteDirectTLS: records written with WriteDirect, interleaved with
// ordinary writes from another goroutine's turn, reach the peer whole and
// in order.
func TestWriteDirectTLS(t *testing.T) {
	checkLeaks(t)
	got := make(chan []byte, 1)
	srv := newGoTLSServer(t, serverTLS(), func(c *tls.Conn) {
		b, _ := io.ReadAll(c)
		got <- b
	})
	e := newEngine(t, engine.BackendPoll)
	cl := newClient(t, Config{})
	r := newResult()
	c := dial(t, e, cl, localhostAddr(srv.Addr()), r)
	r.WaitOpen(t)
	var want []byte
	for i := 0; i < 200; i++ {
		p := bytes.Repeat([]byte{byte('a' + i%26)}, 1+i*97)
		want = append(want, p...)
		write := c.Write
		if i%2 == 0 {
			write = c.WriteDirect
		}
		if err := write(p); err != nil {
			t.Fatal(err)
		}
	}
	c.CloseWrite()
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("peer read %d bytes, want %d in order", len(b), len(want))
	}
	c.Close()
}
