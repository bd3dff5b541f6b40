package tlsconn

import (
	"crypto/tls"
	"io"
	"testing"

	"github.com/egress-go/egress/engine"
)

// TestCloseWriteSendsCloseNotify: CloseWrite on a TLS connection ends our
// data with close_notify, which an engine server reads as a clean close
// (ErrCloseNotify) rather than a truncation; made during the handshake,
// it waits for the writes held for it.
func TestCloseWriteSendsCloseNotify(t *testing.T) {
	for _, early := range []bool{false, true} {
		name := "after-handshake"
		if early {
			name = "during-handshake"
		}
		t.Run(name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, be engine.Backend) {
				e := newEngine(t, be)
				srv := newResult()
				addr := newEngineServer(t, e, serverTLS(), func(*engine.Conn) engine.Handler { return srv })
				cl := newClient(t, Config{})
				r := newResult()
				c := dial(t, e, cl, localhostAddr(addr), r)
				if !early {
					r.WaitOpen(t)
				}
				if err := c.Write([]byte("hello")); err != nil {
					t.Fatal(err)
				}
				if err := c.CloseWrite(); err != nil {
					t.Fatal(err)
				}
				if err := c.Write([]byte("more")); err == nil {
					t.Fatal("Write after CloseWrite succeeded")
				}
				err := srv.WaitClose(t)
				mustIs(t, err, ErrCloseNotify)
				if got := string(srv.Bytes()); got != "hello" {
					t.Fatalf("server read %q", got)
				}
				c.Close()
				r.WaitClose(t)
			})
		})
	}
}

// TestCloseWriteThenRead: after CloseWrite the connection still reads
// what the peer sends back, the half-close that protocols ending a request
// with EOF rely on.
func TestCloseWriteThenRead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be engine.Backend) {
		srv := newGoTLSServer(t, serverTLS(), func(c *tls.Conn) {
			b, err := io.ReadAll(c) // to our close_notify
			if err != nil {
				return
			}
			c.Write(append([]byte("got "), b...))
			c.Close()
		})
		e := newEngine(t, be)
		cl := newClient(t, Config{})
		r := newResult()
		c := dial(t, e, cl, localhostAddr(srv.Addr()), r)
		c.Write([]byte("request"))
		c.CloseWrite() // before the handshake has finished, most likely
		if got := string(r.WaitData(t, len("got request"))); got != "got request" {
			t.Fatalf("got %q", got)
		}
		mustIs(t, r.WaitClose(t), ErrCloseNotify)
	})
}
