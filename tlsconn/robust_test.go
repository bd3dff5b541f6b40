package tlsconn

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/internal/testkit"
)

// TestServerSpeaksFirst: in TLS 1.2 the server's Finished comes last, and
// data it writes at once can arrive in the same read. Those bytes are
// waiting in crypto/tls when the handshake ends and must be delivered
// without a further read to prompt them.
func TestServerSpeaksFirst(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be engine.Backend) {
		for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			cfg := serverTLS()
			cfg.MaxVersion = version
			srv := newGoTLSServer(t, cfg, func(c *tls.Conn) {
				c.Write([]byte("220 ready\r\n"))
				io.Copy(io.Discard, c)
			})
			e := newEngine(t, be)
			r := newResult()
			c := dialServerName(t, e, newClient(t, Config{}), srv.Addr(), "localhost", r)
			r.WaitOpen(t)
			if got := r.WaitData(t, 11); string(got) != "220 ready\r\n" {
				t.Fatalf("%s: got %q", tls.VersionName(version), got)
			}
			c.Close()
			r.WaitClose(t)
		}
	})
}

// TestSplitReads puts a proxy between client and server that forwards a
// few bytes at a time, so that records, and the handshake's flights,
// arrive in pieces at every boundary.
func TestSplitReads(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be engine.Backend) {
		srv := newGoTLSServer(t, serverTLS(), echoTLS)
		proxy := newTrickleProxy(t, srv.Addr())
		e := newEngine(t, be)
		r := newResult()
		c := dialServerName(t, e, newClient(t, Config{}), proxy, "localhost", r)
		payload := make([]byte, 6<<10)
		rand.Read(payload)
		c.Write(payload[:100]) // during the handshake
		r.WaitOpen(t)
		c.Write(payload[100:])
		if got := r.WaitData(t, len(payload)); !bytes.Equal(got, payload) {
			t.Fatal("echo differs")
		}
		c.Close()
		mustIs(t, r.WaitClose(t), engine.ErrLocalClose)
	})
}

// newTrickleProxy forwards each direction in chunks of 1 to 7 bytes with
// pauses between them.
func newTrickleProxy(t *testing.T, target string) string {
	t.Helper()
	proxy := testkit.NewServer(t, func(a net.Conn) {
		b, err := net.Dial("tcp", target)
		if err != nil {
			return
		}
		defer b.Close()
		done := make(chan struct{})
		go func() { defer close(done); trickle(a, b); a.(*net.TCPConn).CloseWrite() }()
		trickle(b, a)
		b.(*net.TCPConn).CloseWrite()
		<-done
	})
	return proxy.Addr()
}

func trickle(dst io.Writer, src io.Reader) {
	buf := make([]byte, 4096)
	step := 1
	for {
		n, err := src.Read(buf)
		for p := buf[:n]; len(p) > 0; {
			k := min(step, len(p))
			if _, werr := dst.Write(p[:k]); werr != nil {
				return
			}
			p = p[k:]
			step = step%7 + 1
			if step%3 == 0 {
				time.Sleep(20 * time.Microsecond)
			}
		}
		if err != nil {
			return
		}
	}
}

// TestCorruptRecord: a record that fails to decrypt closes the connection
// with the alert we sent about it.
func TestCorruptRecord(t *testing.T) {
	checkLeaks(t)
	peerSaw := make(chan error, 1)
	srv := testkit.NewServer(t, func(c net.Conn) {
		tc := tls.Server(c, serverTLS())
		if err := tc.Handshake(); err != nil {
			peerSaw <- err
			return
		}
		// An application_data record of junk, below crypto/tls.
		rec := append([]byte{23, 3, 3, 0, 40}, make([]byte, 40)...)
		c.Write(rec)
		_, err := tc.Read(make([]byte, 10))
		peerSaw <- err
	})
	e := newEngine(t, engine.BackendPoll)
	r := newResult()
	dialServerName(t, e, newClient(t, Config{}), srv.Addr(), "localhost", r)
	r.WaitOpen(t)
	err := r.WaitClose(t)
	var ae *AlertError
	if !errors.As(err, &ae) || ae.Remote || ae.Alert != 20 { // bad_record_mac
		t.Fatalf("close reason %v (%T)", err, err)
	}
	t.Log(err)
	// The alert reached the peer before the TCP close.
	if err := <-peerSaw; err == nil || !strings.Contains(err.Error(), "remote error: tls: bad record MAC") {
		t.Fatalf("server read %v", err)
	}
}

// TestVerifyFailureAlert: when our verification fails, the peer hears why
// (crypto/tls's alert goes out before the TCP close).
func TestVerifyFailureAlert(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be engine.Backend) {
		peerSaw := make(chan error, 1)
		srv := testkit.NewServer(t, func(c net.Conn) {
			peerSaw <- tls.Server(c, serverTLS()).Handshake()
		})
		e := newEngine(t, be)
		r := newResult()
		dialServerName(t, e, newClient(t, Config{RootCAsPEM: pki().otherCA.pem}), srv.Addr(), "localhost", r)
		var ve *VerifyError
		if err := r.WaitClose(t); !errors.As(err, &ve) {
			t.Fatalf("close reason %v", err)
		}
		if err := <-peerSaw; err == nil || !strings.Contains(err.Error(), "remote error: tls: bad certificate") {
			t.Fatalf("server's handshake: %v", err)
		}
	})
}

// TestStartLayer upgrades an open plain connection (STARTTLS, or TLS
// through a proxy's tunnel): OnOpen runs again once the handshake is done.
func TestStartLayer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be engine.Backend) {
		served := make(chan struct{})
		srv := testkit.NewServer(t, func(c net.Conn) {
			defer close(served)
			line := make([]byte, 9)
			if _, err := io.ReadFull(c, line); err != nil || string(line) != "STARTTLS\n" {
				return
			}
			c.Write([]byte("OK\n"))
			echoTLS(tls.Server(c, serverTLS()))
		})
		e := newEngine(t, be)
		cl := newClient(t, Config{})
		var opens atomic.Int32
		r := newResult()
		// The recorder sees only what follows the upgrade.
		h := &engine.HandlerFuncs{Close: r.OnClose}
		h.Open = func(c *engine.Conn) {
			if opens.Add(1) == 1 {
				c.Write([]byte("STARTTLS\n"))
				return
			}
			c.Write([]byte("secret"))
			r.OnOpen(c)
		}
		h.Data = func(c *engine.Conn, b []byte) {
			if _, ok := State(c); !ok {
				if string(b) != "OK\n" {
					t.Errorf("plain reply %q", b)
				}
				if err := c.StartLayer(cl.Layer("localhost")); err != nil {
					t.Error(err)
				}
				return
			}
			r.OnData(c, b)
		}
		c, err := e.Dial(t.Context(), "tcp", srv.Addr(), h, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.WaitOpen(t)
		if got := r.WaitData(t, 6); string(got) != "secret" {
			t.Fatalf("got %q", got)
		}
		c.Close()
		mustIs(t, r.WaitClose(t), engine.ErrLocalClose)
		<-served
	})
}
