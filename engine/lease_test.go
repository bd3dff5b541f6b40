//go:build linux || darwin || freebsd

package engine

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
	"golang.org/x/sys/unix"
)

// leaser is a handler that asks for the read side after its first
// delivery and records what it was given before the lease took over.
type leaser struct {
	mu        sync.Mutex
	before    []byte // delivered by the loop
	after     int    // bytes delivered after Granted (must stay 0)
	lease     *ReadLease
	granted   chan *ReadLease
	inData    atomic.Bool
	grantedIn atomic.Bool // Granted ran during an OnData
	closed    chan error
	leaseOnce bool
}

func newLeaser() *leaser {
	return &leaser{granted: make(chan *ReadLease, 1), closed: make(chan error, 1)}
}

func (h *leaser) OnOpen(*Conn)               {}
func (h *leaser) OnWritten(*Conn, int)       {}
func (h *leaser) OnClose(_ *Conn, err error) { h.closed <- err }

func (h *leaser) OnData(c *Conn, b []byte) {
	h.inData.Store(true)
	defer h.inData.Store(false)
	h.mu.Lock()
	if h.lease != nil && h.lease.granted {
		h.after += len(b)
	} else {
		h.before = append(h.before, b...)
	}
	h.mu.Unlock()
	if !h.leaseOnce {
		h.leaseOnce = true
		h.lease = c.LeaseRead(h)
	}
}

func (h *leaser) Granted(rl *ReadLease) {
	h.grantedIn.Store(h.inData.Load())
	h.granted <- rl
}

// pattern is n bytes that reveal any loss, duplication or reordering.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7 / 3)
	}
	return b
}

// TestLeaseReadsInOrder: after the first delivery the holder reads the
// rest itself, in small and large reads; every byte arrives once, in
// order, and the loop delivers nothing once the lease is granted.
func TestLeaseReadsInOrder(t *testing.T) {
	testkit.CheckLeaks(t)
	const total = 8 << 20
	want := pattern(total)
	srv := testkit.NewServer(t, func(c net.Conn) {
		c.Write(want[:100]) // the first delivery, alone
		time.Sleep(20 * time.Millisecond)
		c.Write(want[100:])
		c.Close()
	})
	e := newEngine(t, BackendPoll, Config{})
	defer e.Close()
	h := newLeaser()
	if _, err := e.Dial(context.Background(), "tcp", srv.Addr(), h, nil); err != nil {
		t.Fatal(err)
	}
	rl := <-h.granted
	if h.grantedIn.Load() {
		t.Fatal("Granted ran inside OnData: the delivery that asked was not over")
	}
	h.mu.Lock()
	got := append([]byte(nil), h.before...)
	h.mu.Unlock()
	sizes := []int{1, 7, 4096, 1 << 20}
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
		t.Fatalf("got %d bytes, want %d; equal prefix %d", len(got), len(want), commonPrefix(got, want))
	}
	h.mu.Lock()
	after := h.after
	h.mu.Unlock()
	if after != 0 {
		t.Fatalf("the loop delivered %d bytes while the lease was held", after)
	}
	if st := h.lease.c.Stats(); st.BytesIn != total {
		t.Fatalf("BytesIn %d, want %d", st.BytesIn, total)
	}
	h.lease.c.Close()
	mustIs(t, <-h.closed, ErrLocalClose)
}

func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// TestLeaseReadWokenByClose: a holder blocked in Read returns at once with
// the close reason when another goroutine closes the connection.
func TestLeaseReadWokenByClose(t *testing.T) {
	testkit.CheckLeaks(t)
	hold := make(chan struct{})
	srv := testkit.NewServer(t, func(c net.Conn) {
		c.Write([]byte("x"))
		<-hold
		c.Close()
	})
	defer close(hold)
	e := newEngine(t, BackendPoll, Config{})
	defer e.Close()
	h := newLeaser()
	c, err := e.Dial(context.Background(), "tcp", srv.Addr(), h, nil)
	if err != nil {
		t.Fatal(err)
	}
	rl := <-h.granted
	done := make(chan error, 1)
	go func() {
		_, err := rl.Read(make([]byte, 10))
		done <- err
	}()
	reason := errors.New("reader gives up")
	select {
	case err := <-done:
		t.Fatalf("Read returned %v before anything was sent or closed", err)
	case <-time.After(50 * time.Millisecond):
	}
	c.CloseWithError(reason)
	select {
	case err := <-done:
		mustIs(t, err, reason)
	case <-time.After(10 * time.Second):
		t.Fatal("a blocked Read was not woken by the close")
	}
	mustIs(t, <-h.closed, reason)
	if _, err := rl.Read(make([]byte, 1)); !errors.Is(err, reason) {
		t.Fatalf("Read after close: %v", err)
	}
}

// TestLeaseReturn: once the lease is returned the loop reads again,
// including bytes that arrived while it was held and nobody read them.
func TestLeaseReturn(t *testing.T) {
	testkit.CheckLeaks(t)
	step := make(chan struct{})
	srv := testkit.NewServer(t, func(c net.Conn) {
		c.Write([]byte("head"))
		<-step
		c.Write([]byte("tail"))
		<-step
		c.Close()
	})
	e := newEngine(t, BackendPoll, Config{})
	defer e.Close()
	h := newLeaser()
	c, err := e.Dial(context.Background(), "tcp", srv.Addr(), h, nil)
	if err != nil {
		t.Fatal(err)
	}
	rl := <-h.granted
	step <- struct{}{}
	// "tail" is in the socket now; the loop must not deliver it.
	testkit.WaitFor(t, "tail in the socket", func() bool { return socketHas(c) })
	waitLoop(t, c.Loop())
	h.mu.Lock()
	if string(h.before) != "head" || h.after != 0 {
		t.Fatalf("delivered while leased: before %q, after %d", h.before, h.after)
	}
	h.lease = nil // count what follows as before
	h.mu.Unlock()
	if !c.Loop().Post(rl.Return) {
		t.Fatal("Post failed")
	}
	testkit.WaitFor(t, "tail delivered by the loop", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return string(h.before) == "headtail"
	})
	close(step)
	mustIs(t, <-h.closed, ErrPeerClosed)
}

// socketHas reports whether c's socket has unread bytes (MSG_PEEK).
func socketHas(c *Conn) bool {
	var b [1]byte
	n, _, err := unix.Recvfrom(c.sockFD(), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	return err == nil && n > 0
}

// TestLeaseRefusedOnNetBackend: the portable backend has no descriptor to
// hand out, so the handler keeps its deliveries.
func TestLeaseRefusedOnNetBackend(t *testing.T) {
	testkit.CheckLeaks(t)
	srv := testkit.NewServer(t, func(c net.Conn) {
		c.Write([]byte("ab"))
		c.Close()
	})
	e := newEngine(t, BackendNet, Config{})
	defer e.Close()
	h := newLeaser()
	if _, err := e.Dial(context.Background(), "tcp", srv.Addr(), h, nil); err != nil {
		t.Fatal(err)
	}
	mustIs(t, <-h.closed, ErrPeerClosed)
	if h.lease != nil {
		t.Fatal("LeaseRead succeeded on the net backend")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if string(h.before) != "ab" {
		t.Fatalf("delivered %q", h.before)
	}
}
