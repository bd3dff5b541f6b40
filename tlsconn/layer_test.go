package tlsconn

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/internal/testkit"
)

var backends = []engine.Backend{engine.BackendPoll, engine.BackendNet}

func forEachBackend(t *testing.T, f func(t *testing.T, be engine.Backend)) {
	for _, be := range backends {
		t.Run(be.String(), func(t *testing.T) {
			checkLeaks(t)
			f(t, be)
		})
	}
}

// TestEchoGoServer exchanges data with a crypto/tls server, verifying the
// certificate for the dial host name, and closes with close_notify.
func TestEchoGoServer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be engine.Backend) {
		gotEOF := make(chan error, 1)
		srv := newGoTLSServer(t, serverTLS(), func(c *tls.Conn) {
			buf := make([]byte, 5)
			io.ReadFull(c, buf)
			c.Write(bytes.ToUpper(buf))
			_, err := c.Read(buf) // our close_notify reads as io.EOF
			gotEOF <- err
		})
		e := newEngine(t, be)
		cl := newClient(t, Config{})
		r := newResult()
		c := dial(t, e, cl, localhostAddr(srv.Addr()), r)
		r.WaitOpen(t)
		if err := c.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		if got := r.WaitData(t, 5); string(got) != "HELLO" {
			t.Fatalf("got %q", got)
		}
		st, ok := State(c)
		if !ok || st.Version != tls.VersionTLS13 || st.ServerName != "localhost" || len(st.PeerCertificates) == 0 {
			t.Fatalf("state %v: version %x, server name %q", ok, st.Version, st.ServerName)
		}
		c.Close()
		mustIs(t, r.WaitClose(t), engine.ErrLocalClose)
		if err := <-gotEOF; err != io.EOF {
			t.Fatalf("server read %v, want io.EOF (close_notify)", err)
		}
	})
}

// TestEchoEngineServer runs both ends on engines, moves a megabyte each
// way (records split across reads at every size), and writes before the
// handshake has finished.
func TestEchoEngineServer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be engine.Backend) {
		e := newEngine(t, be)
		addr := newEngineServer(t, e, serverTLS(), echoHandler)
		cl := newClient(t, Config{})
		payload := make([]byte, 1<<20)
		rand.Read(payload)
		r := newResult()
		c := dialServerName(t, e, cl, addr, "localhost", r)
		// Queued before the connection is even up; sent after the
		// handshake, in order.
		for off := 0; off < len(payload); off += 100 << 10 {
			if err := c.Write(payload[off:min(off+100<<10, len(payload))]); err != nil {
				t.Fatal(err)
			}
		}
		r.WaitOpen(t)
		if got := r.WaitData(t, len(payload)); !bytes.Equal(got, payload) {
			t.Fatalf("echo differs (%d bytes)", len(got))
		}
		c.Close()
		mustIs(t, r.WaitClose(t), engine.ErrLocalClose)
	})
}

// TestIPAddressVerified dials an IP literal: no SNI is sent and the
// certificate's IP addresses are what is checked.
func TestIPAddressVerified(t *testing.T) {
	checkLeaks(t)
	sni := make(chan string, 1)
	cfg := serverTLS()
	cfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		sni <- h.ServerName
		return nil, nil
	}
	e := newEngine(t, engine.BackendPoll)
	addr := newEngineServer(t, e, cfg, echoHandler)
	cl := newClient(t, Config{})
	r := newResult()
	c := dial(t, e, cl, addr, r)
	r.WaitOpen(t)
	if s := <-sni; s != "" {
		t.Fatalf("SNI %q sent for an IP address", s)
	}
	c.Close()
	r.WaitClose(t)
}

// TestPeerCloseNotify: the server ends the session properly, then
// abruptly; each is reported as such.
func TestPeerCloseNotify(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be engine.Backend) {
		srv := newGoTLSServer(t, serverTLS(), func(c *tls.Conn) {
			c.Write([]byte("bye"))
			c.Close() // close_notify, then FIN
		})
		e := newEngine(t, be)
		cl := newClient(t, Config{})
		r := newResult()
		dialServerName(t, e, cl, srv.Addr(), "localhost", r)
		r.WaitOpen(t)
		err := r.WaitClose(t)
		mustIs(t, err, ErrCloseNotify)
		mustIs(t, err, engine.ErrPeerClosed)
		if got := string(r.Bytes()); got != "bye" {
			t.Fatalf("got %q before close_notify", got)
		}
	})
}

func TestPeerCloseTruncated(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be engine.Backend) {
		raw := make(chan net.Conn, 1)
		srv := testkit.NewServer(t, func(c net.Conn) {
			tc := tls.Server(c, serverTLS())
			if tc.Handshake() == nil {
				tc.Write([]byte("partial"))
			}
			c.Close() // TCP close, no close_notify
			raw <- c
		})
		e := newEngine(t, be)
		cl := newClient(t, Config{})
		r := newResult()
		dialServerName(t, e, cl, srv.Addr(), "localhost", r)
		r.WaitOpen(t)
		err := r.WaitClose(t)
		mustIs(t, err, ErrTruncated)
		if errors.Is(err, engine.ErrPeerClosed) {
			t.Fatal("a truncated session must not look like a clean close")
		}
		if got := string(r.Bytes()); got != "partial" {
			t.Fatalf("got %q", got)
		}
		<-raw
	})
}

// TestPeerClosesDuringHandshake: a server that reads the ClientHello and
// hangs up (FIN), or resets, is reported as a handshake failure, not as a
// clean close.
func TestPeerClosesDuringHandshake(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be engine.Backend) {
		for _, reset := range []bool{false, true} {
			srv := testkit.NewServer(t, func(c net.Conn) {
				if reset {
					c.Read(make([]byte, 100)) // the handshake has begun
					c.(*net.TCPConn).SetLinger(0)
				} else {
					// Read the whole ClientHello (one record: a 5-byte
					// header with its length), so that the close is a FIN.
					c.SetReadDeadline(time.Now().Add(10 * time.Second))
					hdr := make([]byte, 5)
					if _, err := io.ReadFull(c, hdr); err == nil {
						io.CopyN(io.Discard, c, int64(hdr[3])<<8|int64(hdr[4]))
					}
				}
				c.Close()
			})
			e := newEngine(t, be)
			cl := newClient(t, Config{})
			r := newResult()
			dialServerName(t, e, cl, srv.Addr(), "localhost", r)
			err := r.WaitClose(t)
			want := engine.ErrPeerClosed
			if reset {
				want = engine.ErrReset
			}
			var he *HandshakeError
			if !errors.As(err, &he) || !errors.Is(err, want) {
				t.Fatalf("reset %v: close reason %v (%T)", reset, err, err)
			}
			if r.Opened() {
				t.Fatal("OnOpen ran")
			}
		}
	})
}

// TestNotTLS: a server that answers with something else fails the
// handshake with crypto/tls's own words.
func TestNotTLS(t *testing.T) {
	checkLeaks(t)
	srv := testkit.NewServer(t, func(c net.Conn) {
		c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
		io.Copy(io.Discard, c)
	})
	e := newEngine(t, engine.BackendPoll)
	cl := newClient(t, Config{})
	r := newResult()
	dialServerName(t, e, cl, srv.Addr(), "localhost", r)
	err := r.WaitClose(t)
	var he *HandshakeError
	if !errors.As(err, &he) {
		t.Fatalf("close reason %v (%T)", err, err)
	}
	t.Log(err)
}

// TestWriteQueueLimit: plaintext held during the handshake, and ciphertext
// afterwards, stay within the connection's write-queue limit.
func TestWriteQueueLimit(t *testing.T) {
	checkLeaks(t)
	e := newEngine(t, engine.BackendPoll)
	// The server holds its handshake until the first writes are made, so
	// that they find it in progress, and then reads nothing.
	block, begin := make(chan struct{}), make(chan struct{})
	srv := testkit.NewServer(t, func(c net.Conn) {
		select {
		case <-begin:
		case <-block:
			return
		}
		if tls.Server(c, serverTLS()).Handshake() == nil {
			<-block
		}
	})
	defer close(block)
	cl := newClient(t, Config{})
	r := newResult()
	c, err := e.Dial(t.Context(), "tcp", srv.Addr(), r, &engine.DialOptions{Layer: cl.Layer("localhost"), WriteQueueLimit: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Write(make([]byte, 60<<10)); err != nil {
		t.Fatal(err)
	}
	if err := c.Write(make([]byte, 8<<10)); !errors.Is(err, engine.ErrWriteQueueFull) {
		t.Fatalf("second write during handshake: %v", err)
	}
	close(begin)
	r.WaitOpen(t)
	// The server does not read: the queue fills and Write says so
	// instead of growing it.
	full := false
	for i := 0; i < 1000 && !full; i++ {
		err := c.Write(make([]byte, 16<<10))
		full = errors.Is(err, engine.ErrWriteQueueFull)
		if err != nil && !full {
			t.Fatal(err)
		}
	}
	if !full {
		t.Fatal("write queue never reported full")
	}
	if q := c.Stats().Queued; q > int64(64<<10+sealedSize(16<<10)) {
		t.Fatalf("queued %d bytes, limit 64 KiB", q)
	}
	c.Close()
	r.WaitClose(t)
	if err := c.Write([]byte("x")); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

// TestCloseDuringHandshake: closing while the worker waits frees it at
// once.
func TestCloseDuringHandshake(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be engine.Backend) {
		silent := testkit.NewServer(t, nil) // never answers
		e := newEngine(t, be)
		cl := newClient(t, Config{HandshakeTimeout: time.Minute})
		r := newResult()
		c := dialServerName(t, e, cl, silent.Addr(), "localhost", r)
		waitWorkers(t, 1)
		if _, ok := State(c); ok {
			t.Fatal("State ok during the handshake")
		}
		c.Close()
		mustIs(t, r.WaitClose(t), engine.ErrLocalClose)
		waitWorkers(t, 0)
	})
}

// TestCloseDuringHandshakeAfterSetHandler: a handler replaced before
// OnOpen (the stand-in that hears of the close is gone) and a close the
// layer is not asked about (idle timeout, reset) do not keep the worker
// blocked until the handshake timeout: the layer hears of the close from
// the engine itself.
func TestCloseDuringHandshakeAfterSetHandler(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be engine.Backend) {
		silent := testkit.NewServer(t, nil) // never answers
		e := newEngine(t, be)
		cl := newClient(t, Config{HandshakeTimeout: time.Minute})
		r := newResult()
		c := dialServerName(t, e, cl, silent.Addr(), "localhost", r)
		waitWorkers(t, 1)
		r2 := newResult()
		c.SetHandler(r2)
		// The idle timeout closes without Layer.Close, as a reset would.
		c.SetIdleTimeout(20 * time.Millisecond)
		mustIs(t, r2.WaitClose(t), engine.ErrIdleTimeout)
		waitWorkers(t, 0)
	})
}

// TestEngineCloseDuringHandshake: shutting the engine down frees workers
// blocked in handshakes.
func TestEngineCloseDuringHandshake(t *testing.T) {
	checkLeaks(t)
	silent := testkit.NewServer(t, nil) // never answers
	e, err := engine.New(engine.Config{Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, Config{HandshakeTimeout: time.Minute})
	var closed atomic.Int32
	for i := 0; i < 5; i++ {
		h := &engine.HandlerFuncs{Close: func(c *engine.Conn, err error) {
			if errors.Is(err, engine.ErrEngineClosed) {
				closed.Add(1)
			}
		}}
		if _, err := e.Dial(t.Context(), "tcp", silent.Addr(), h, &engine.DialOptions{Layer: cl.Layer("localhost")}); err != nil {
			t.Fatal(err)
		}
	}
	waitWorkers(t, 5)
	e.Close()
	if closed.Load() != 5 {
		t.Fatalf("%d of 5 closed with ErrEngineClosed", closed.Load())
	}
	waitWorkers(t, 0)
}

// waitWorkers waits until exactly n client handshake workers run.
func waitWorkers(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		running, _ := clientPool.stats()
		if running == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d handshake workers running, want %d", running, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestHandshakeQueueStaysSmall: under sustained load the handshake queue
// is never empty when a worker looks, so it is never reset; the slots
// already taken must still be reused, or its array grows by one pointer
// for every handshake for as long as the load lasts.
func TestHandshakeQueueStaysSmall(t *testing.T) {
	checkLeaks(t)
	prev := clientPool.setMax(1)
	defer clientPool.setMax(prev)
	waitWorkers(t, 0)

	silent := testkit.NewServer(t, nil) // never answers: each handshake holds the worker until closed
	e := newEngine(t, engine.BackendPoll)
	cl := newClient(t, Config{HandshakeTimeout: time.Minute})
	queued := func() (n, capacity int) {
		clientPool.mu.Lock()
		defer clientPool.mu.Unlock()
		return len(clientPool.queue) - clientPool.head, cap(clientPool.queue)
	}
	const rounds, burst = 8, 1000
	r := newResult()
	c := dialServerName(t, e, cl, silent.Addr(), "localhost", r)
	waitWorkers(t, 1)
	testkit.WaitFor(t, "the worker to take the first handshake", func() bool { n, _ := queued(); return n == 0 })
	for range rounds {
		// A burst of handshakes whose connections closed while they
		// waited (each leaves at once), then one that blocks.
		for range burst {
			clientPool.submit(&handshake{err: engine.ErrLocalClose, wake: make(chan struct{}, 1)})
		}
		next := newResult()
		nc := dialServerName(t, e, cl, silent.Addr(), "localhost", next)
		testkit.WaitFor(t, "the next handshake to queue", func() bool { n, _ := queued(); return n == burst+1 })
		c.Close()
		mustIs(t, r.WaitClose(t), engine.ErrLocalClose)
		testkit.WaitFor(t, "the worker to take the next handshake", func() bool { n, _ := queued(); return n == 0 })
		c, r = nc, next
	}
	if _, capacity := queued(); capacity > 4*burst {
		t.Errorf("queue capacity %d after %d bursts of %d, never more than %d queued at once", capacity, rounds, burst, burst+1)
	}
	c.Close()
	mustIs(t, r.WaitClose(t), engine.ErrLocalClose)
	waitWorkers(t, 0)
}
