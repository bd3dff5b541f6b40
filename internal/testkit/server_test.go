package testkit

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestServerEchoesAndCounts(t *testing.T) {
	CheckLeaks(t)
	srv := NewServer(t, Echo)
	for i := range 3 {
		c := dial(t, srv.Addr())
		if _, err := c.Write([]byte("ping\n")); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "ping\n" {
			t.Fatalf("echo %q, %v", line, err)
		}
		if srv.Accepted() != i+1 {
			t.Fatalf("accepted %d, want %d", srv.Accepted(), i+1)
		}
		c.Close()
		WaitFor(t, "the handler to return", func() bool { return srv.Finished() == i+1 })
	}
	if len(srv.Conns()) != 0 {
		t.Fatalf("%d connections live after every handler returned", len(srv.Conns()))
	}
	if srv.Port() == 0 {
		t.Fatal("no port")
	}
}

// TestServerCloseUnblocksHandlers: Close closes live connections, so a
// handler blocked reading returns, and waits for every handler.
func TestServerCloseUnblocksHandlers(t *testing.T) {
	CheckLeaks(t)
	unblocked, returned := make(chan error, 2), make(chan struct{}, 2)
	hold := make(chan struct{})
	release := sync.OnceFunc(func() { close(hold) })
	defer release() // before the cleanups, should the test fail
	srv := NewServer(t, func(c net.Conn) {
		_, err := c.Read(make([]byte, 1))
		unblocked <- err
		<-hold
		returned <- struct{}{}
	})
	dial(t, srv.Addr())
	dial(t, srv.Addr())
	WaitFor(t, "two connections", func() bool { return len(srv.Conns()) == 2 })
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	for range 2 {
		select {
		case err := <-unblocked:
			if err == nil {
				t.Fatal("a read on a closed connection succeeded")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Close left a handler blocked in Read")
		}
	}
	select {
	case <-closed:
		t.Fatal("Close returned while its handlers still ran")
	case <-time.After(50 * time.Millisecond): // time for an early return to show
	}
	release()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return after its handlers")
	}
	if len(returned) != 2 {
		t.Fatalf("Close returned with %d of 2 handlers done", len(returned))
	}
	srv.Close() // again: nothing
	if c, err := net.DialTimeout("tcp", srv.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatal("a closed server accepted")
	}
}

func TestServerCloseConnsKeepsListening(t *testing.T) {
	CheckLeaks(t)
	srv := NewServer(t, nil) // silent
	c := dial(t, srv.Addr())
	WaitFor(t, "the connection", func() bool { return len(srv.Conns()) == 1 })
	srv.CloseConns()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read from a connection the server closed: %v", err)
	}
	WaitFor(t, "the handler to return", func() bool { return srv.Finished() == 1 })
	dial(t, srv.Addr())
	WaitFor(t, "a second connection", func() bool { return srv.Accepted() == 2 && len(srv.Conns()) == 1 })
}

func TestClosedAddr(t *testing.T) {
	CheckLeaks(t)
	if c, err := net.DialTimeout("tcp", ClosedAddr(t), 5*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("dial to ClosedAddr: %v", err)
	}
}
