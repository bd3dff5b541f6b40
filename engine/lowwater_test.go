//go:build linux

package engine

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

// onLoop runs f on l and waits for it.
func onLoop(t *testing.T, l *Loop, f func()) {
	t.Helper()
	ran := make(chan struct{})
	if !l.Post(func() { f(); close(ran) }) {
		t.Fatal("the loop refused a task")
	}
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("the loop did not run a task within 10 s")
	}
}

// zeroSender starts a loopback server that writes n zero bytes to its
// connection for each n sent on send, until the test ends.
func zeroSender(t *testing.T) (addr string, send chan<- int) {
	ch := make(chan int)
	srv := testkit.NewServer(t, func(c net.Conn) {
		for n := range ch {
			if _, err := c.Write(make([]byte, n)); err != nil {
				return
			}
		}
	})
	t.Cleanup(func() { close(ch) })
	return srv.Addr(), ch
}

// TestReadLowWater: with a mark set, bytes below it stay in the kernel
// (ReadQueued counts them, OnData sees none); reaching the mark, or
// lowering it, delivers them; a mark is capped below the receive buffer.
func TestReadLowWater(t *testing.T) {
	testkit.CheckLeaks(t)
	addr, send := zeroSender(t)
	e := newEngine(t, BackendPoll, Config{})
	defer e.Close()
	var got atomic.Int64
	arrived := make(chan struct{}, 16)
	opened := make(chan struct{})
	c, err := e.Dial(context.Background(), "tcp", addr, &HandlerFuncs{
		Open: func(*Conn) { close(opened) },
		Data: func(_ *Conn, b []byte) {
			got.Add(int64(len(b)))
			arrived <- struct{}{}
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-opened
	l := c.Loop()
	setMark := func(n int) (set int) {
		onLoop(t, l, func() {
			var err error
			if set, err = c.SetReadLowWater(n); err != nil {
				t.Errorf("SetReadLowWater(%d): %v", n, err)
			}
		})
		return set
	}
	queued := func() (n int) {
		onLoop(t, l, func() {
			var err error
			if n, err = c.ReadQueued(); err != nil {
				t.Errorf("ReadQueued: %v", err)
			}
		})
		return n
	}
	// waitQueued waits for the peer's bytes to reach the receive queue.
	waitQueued := func(want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for queued() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%d bytes queued, want %d", queued(), want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitGot := func(want int64) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for got.Load() < want {
			select {
			case <-arrived:
			case <-deadline:
				t.Fatalf("OnData delivered %d bytes, want %d", got.Load(), want)
			}
		}
	}

	if set := setMark(4096); set != 4096 {
		t.Fatalf("SetReadLowWater(4096) set %d", set)
	}
	send <- 1000
	waitQueued(1000)
	waitLoop(t, l)
	if n := got.Load(); n != 0 {
		t.Fatalf("OnData delivered %d bytes below a mark of 4096", n)
	}
	// Lowering the mark makes what is queued readable at once.
	if set := setMark(1); set != 1 {
		t.Fatalf("SetReadLowWater(1) set %d", set)
	}
	waitGot(1000)

	// Reaching the mark delivers.
	setMark(4096)
	send <- 3000
	waitQueued(3000)
	waitLoop(t, l)
	if n := got.Load(); n != 1000 {
		t.Fatalf("OnData delivered %d bytes, want the first 1000 only", n)
	}
	send <- 1096
	waitGot(5096)
	if n := queued(); n != 0 {
		t.Fatalf("%d bytes left queued after the mark was reached", n)
	}

	// A mark is never above a quarter of the receive buffer.
	if set := setMark(1 << 30); set <= 1 || set >= 1<<30 {
		t.Fatalf("SetReadLowWater(1 GiB) set %d, want a cap below it", set)
	}
	setMark(1)
}

// TestSmallReads: with SetSmallReads on, the loop reads at most 16 KiB at
// a time; off, bytes queued together come in one read.
func TestSmallReads(t *testing.T) {
	testkit.CheckLeaks(t)
	const burst = 100 << 10
	addr, send := zeroSender(t)
	e := newEngine(t, BackendPoll, Config{})
	defer e.Close()
	var got, largest atomic.Int64
	arrived := make(chan struct{}, 64)
	opened := make(chan struct{})
	c, err := e.Dial(context.Background(), "tcp", addr, &HandlerFuncs{
		Open: func(*Conn) { close(opened) },
		Data: func(_ *Conn, b []byte) {
			got.Add(int64(len(b)))
			if int64(len(b)) > largest.Load() {
				largest.Store(int64(len(b)))
			}
			select {
			case arrived <- struct{}{}:
			default:
			}
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-opened
	l := c.Loop()
	// burst queues 100 KiB while the loop is not reading, then lets it
	// read them.
	burstRead := func() {
		t.Helper()
		c.PauseRead()
		waitLoop(t, l)
		before := got.Load()
		send <- burst
		deadline := time.Now().Add(10 * time.Second)
		for {
			var n int
			onLoop(t, l, func() { n, _ = c.ReadQueued() })
			if n == burst {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d bytes queued, want %d", n, burst)
			}
			time.Sleep(time.Millisecond)
		}
		largest.Store(0)
		c.ResumeRead()
		timeout := time.After(10 * time.Second)
		for got.Load() < before+burst {
			select {
			case <-arrived:
			case <-timeout:
				t.Fatalf("OnData delivered %d of %d bytes", got.Load()-before, burst)
			}
		}
	}
	c.SetSmallReads(true)
	burstRead()
	if n := largest.Load(); n > smallRead {
		t.Fatalf("with small reads, a delivery of %d bytes", n)
	}
	c.SetSmallReads(false)
	burstRead()
	if n := largest.Load(); n <= smallRead {
		t.Fatalf("without small reads, 100 KiB queued came in reads of at most %d bytes", n)
	}
}
