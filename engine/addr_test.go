//go:build linux || darwin || freebsd

package engine

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
	"golang.org/x/sys/unix"
)

// TestLocalAddrNeverAnotherSocket: a LocalAddr racing Close must not read
// the address of another socket that was given the closed descriptor's
// number. The hook stops LocalAddr between picking the descriptor and
// reading its address, from before Close or from inside it (a layer's
// Closed runs after the connection is marked closed and before its socket
// is closed); meanwhile the connection is closed and the number taken by
// a new socket, unless LocalAddr holds the close off until it is done
// (then the hook gives up waiting after a bound).
func TestLocalAddrNeverAnotherSocket(t *testing.T) {
	for _, during := range []bool{false, true} {
		name := "before-close"
		if during {
			name = "during-close"
		}
		t.Run(name, func(t *testing.T) {
			testkit.CheckLeaks(t)
			srv := testkit.NewServer(t, testkit.Echo)
			e := newEngine(t, BackendPoll, Config{Loops: 1})
			defer e.Close()
			inHook, reused := make(chan struct{}), make(chan struct{})
			got := make(chan string, 1)
			lookup := func(c *Conn) {
				go func() { got <- c.LocalAddr().String() }()
				<-inHook
			}
			var o DialOptions
			if during {
				o.Layer = &closedLayer{closed: lookup}
			}
			r := testkit.NewRecorder[*Conn]()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := e.Dial(ctx, "tcp", srv.Addr(), r, &o)
			if err != nil {
				t.Fatal(err)
			}
			r.WaitOpen(t)
			want := c.LocalAddr().String()
			fd := c.sockFD()

			testHookLocalAddr = func() {
				close(inHook)
				select {
				case <-reused:
				case <-time.After(time.Second):
				}
			}
			defer func() { testHookLocalAddr = nil }()
			if !during {
				lookup(c)
			}
			c.Close()
			// Once the descriptor is closed (at once without the fix; with
			// it, not before LocalAddr is done), take its number with new
			// sockets, lower free numbers first; each has an address of
			// its own.
			var lns []net.Listener
			defer func() {
				for _, ln := range lns {
					ln.Close()
				}
			}()
			var a string
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
				select {
				case a = <-got:
				default:
				}
				if a != "" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("LocalAddr never returned")
				}
				if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != unix.EBADF {
					continue // still open
				}
				for taken := false; !taken; {
					if len(lns) == 256 {
						t.Fatalf("descriptor %d was not reused by 256 new sockets", fd)
					}
					ln, err := net.Listen("tcp", "127.0.0.1:0")
					if err != nil {
						t.Fatal(err)
					}
					lns = append(lns, ln)
					rc, err := ln.(*net.TCPListener).SyscallConn()
					if err != nil {
						t.Fatal(err)
					}
					rc.Control(func(n uintptr) { taken = int(n) == fd })
				}
				close(reused)
				a = <-got
				break
			}
			r.WaitClose(t)
			if a != want && a != (&net.TCPAddr{}).String() {
				t.Fatalf("LocalAddr racing Close read %s, another socket's address (the connection's was %s)", a, want)
			}
		})
	}
}

// closedLayer passes bytes through and runs closed from its Closed.
type closedLayer struct{ closed func(c *Conn) }

func (l *closedLayer) Start(c *Conn)                   { c.LayerReady() }
func (l *closedLayer) Input(c *Conn, raw []byte) error { c.Deliver(raw); return nil }
func (l *closedLayer) InputEOF(*Conn) error            { return nil }
func (l *closedLayer) Write(c *Conn, p []byte) error   { return c.WriteRaw(p) }
func (l *closedLayer) Close(*Conn)                     {}
func (l *closedLayer) Closed(c *Conn, _ error)         { l.closed(c) }

// TestRemoteAddrWhileDialing: RemoteAddr from the dialing goroutine while
// the loop connects (a data race for the race detector, and a torn address
// without it) gives no address or the one being tried.
func TestRemoteAddrWhileDialing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be Backend) {
		srv := testkit.NewServer(t, testkit.Echo)
		e := newEngine(t, be, Config{Loops: 1})
		defer e.Close()
		none := (&net.TCPAddr{}).String()
		for i := 0; i < 20; i++ {
			r := testkit.NewRecorder[*Conn]()
			c, err := e.Dial(context.Background(), "tcp", srv.Addr(), r, nil)
			if err != nil {
				t.Fatal(err)
			}
			for j := 0; j < 100 && !r.Opened(); j++ {
				if a := c.RemoteAddr().String(); a != srv.Addr() && a != none {
					t.Fatalf("RemoteAddr while dialing %s: %s", srv.Addr(), a)
				}
			}
			r.WaitOpen(t)
			c.Close()
			r.WaitClose(t)
			if a := c.RemoteAddr().String(); a != srv.Addr() {
				t.Fatalf("RemoteAddr after close %s, want %s", a, srv.Addr())
			}
		}
	})
}
