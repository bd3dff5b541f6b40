//go:build linux || darwin || freebsd

package engine

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync/atomic"
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

// TestWriteDirect: with nothing queued, WriteDirect's bytes reach the
// socket before it returns (no OnWritten, Stats counts them); behind a
// queue that the peer is not draining, they wait their turn, and the
// peer reads everything in the order written.
func TestWriteDirect(t *testing.T) {
	testkit.CheckLeaks(t)
	const big = 16 << 20
	got := make(chan []byte, 1)
	release := make(chan struct{})
	srv := testkit.NewServer(t, func(c net.Conn) {
		head := make([]byte, 5)
		if _, err := io.ReadFull(c, head); err != nil {
			return
		}
		<-release
		rest, _ := io.ReadAll(c)
		got <- append(head, rest...)
	})
	e := newEngine(t, BackendPoll, Config{})
	defer e.Close()
	var written atomic.Int64
	opened := make(chan struct{})
	c, err := e.Dial(context.Background(), "tcp", srv.Addr(), &HandlerFuncs{
		Open:    func(*Conn) { close(opened) },
		Written: func(_ *Conn, n int) { written.Add(int64(n)) },
	}, &DialOptions{WriteQueueLimit: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	<-opened
	if err := c.WriteDirect([]byte("first")); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.BytesOut != 5 || st.Queued != 0 {
		t.Fatalf("after a direct write to an empty socket: %+v, want 5 bytes out and none queued", st)
	}
	waitLoop(t, c.Loop())
	if n := written.Load(); n != 0 {
		t.Fatalf("OnWritten reported %d bytes of a direct write", n)
	}
	// The peer reads no more: a big write fills the socket and queues.
	payload := bytes.Repeat([]byte("0123456789abcdef"), big/16)
	if err := c.Write(payload); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "a queue behind a full socket", func() bool { return c.Stats().Queued > 0 })
	if err := c.WriteDirect([]byte("last")); err != nil {
		t.Fatal(err)
	}
	close(release)
	testkit.WaitFor(t, "queue drained", func() bool { return c.Stats().Queued == 0 })
	c.CloseWrite()
	b := <-got
	want := append(append([]byte("first"), payload...), "last"...)
	if !bytes.Equal(b, want) {
		t.Fatalf("peer read %d bytes, want %d in order (ends %q)", len(b), len(want), b[max(0, len(b)-8):])
	}
	c.Close()
}

// TestWriteDirectKeepsOrder: bytes queued by Write and not yet flushed go
// out before a later WriteDirect's, even when the socket has room.
func TestWriteDirectKeepsOrder(t *testing.T) {
	testkit.CheckLeaks(t)
	got := make(chan []byte, 1)
	srv := testkit.NewServer(t, func(c net.Conn) {
		b, _ := io.ReadAll(c)
		got <- b
	})
	e := newEngine(t, BackendPoll, Config{})
	defer e.Close()
	opened := make(chan struct{})
	c, err := e.Dial(context.Background(), "tcp", srv.Addr(), &HandlerFuncs{Open: func(*Conn) { close(opened) }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-opened
	done := make(chan error, 1)
	// On the loop, the queued bytes are flushed only after the task: the
	// direct write finds them queued.
	c.Loop().Post(func() {
		c.Write([]byte("queued,"))
		done <- c.WriteDirect([]byte("direct"))
	})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c.CloseWrite()
	if b := <-got; string(b) != "queued,direct" {
		t.Fatalf("peer read %q", b)
	}
	c.Close()
}
