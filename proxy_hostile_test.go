package egress

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/http1"
	"github.com/egress-go/egress/internal/testkit"
	"github.com/egress-go/egress/tlsconn"
)

// holdOpen reads and drops what the client sends until it closes the
// connection: a proxy that has said its piece and waits.
func holdOpen(br *bufio.Reader) { io.Copy(io.Discard, br) }

// TestProxyTunnelConnectTimeout: a proxy that accepts the connection and
// never completes its answer to CONNECT fails a request that has no
// deadline of its own once DialTimeout has passed, with a timeout error
// that names the proxy, and the connection is closed. Silence, a head cut
// short and a head trickled a byte at a time (each byte well within any
// per-read timeout) are all bounded by the one dial timeout.
func TestProxyTunnelConnectTimeout(t *testing.T) {
	const dialTimeout = 400 * time.Millisecond
	cases := []struct {
		name   string
		answer func(c net.Conn, br *bufio.Reader)
	}{
		{"silent", func(c net.Conn, br *bufio.Reader) { holdOpen(br) }},
		{"head cut short", func(c net.Conn, br *bufio.Reader) {
			io.WriteString(c, "HTTP/1.1 200 Connection established\r\n")
			holdOpen(br)
		}},
		{"head trickled", func(c net.Conn, br *bufio.Reader) {
			if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\nX-Slow: "); err != nil {
				return
			}
			// Until the client gives up (or the test ends): at most 30 s.
			for range 3000 {
				time.Sleep(10 * time.Millisecond) // the hostile proxy's pace
				if _, err := c.Write([]byte{'a'}); err != nil {
					return
				}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			testkit.CheckLeaks(t)
			p := newTestProxy(t, "", tc.answer)
			// The handshake timeout is long: it must not be what ends the wait.
			tr := proxyTransport(t, p, nil, Options{DialTimeout: dialTimeout, TLSHandshakeTimeout: time.Minute})
			start := time.Now()
			_, err := roundTripBounded(t, tr, mustRequest(t, "GET", "https://origin.test/"), 10*time.Second)
			elapsed := time.Since(start)
			t.Log(err)
			if !errors.Is(err, engine.ErrConnectTimeout) {
				t.Fatalf("got %v, want an error wrapping engine.ErrConnectTimeout", err)
			}
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("%v is not a net.Error timeout", err)
			}
			if !strings.Contains(err.Error(), "proxy "+p.url(nil).Host) || !strings.Contains(err.Error(), "CONNECT origin.test:443") {
				t.Fatalf("%q does not name the proxy and the target", err)
			}
			if elapsed < dialTimeout {
				t.Fatalf("failed after %v, before the dial timeout (%v)", elapsed, dialTimeout)
			}
			p.waitServed(t, 1)
			if n := len(p.connects()); n != 1 {
				t.Fatalf("%d CONNECTs", n)
			}
		})
	}
}

// TestProxyTunnelConnectCanceled: cancelling a request whose CONNECT is
// unanswered ends the request and closes the connection to the proxy at
// once, as cancelling ends a TCP connect; the default dial timeout (30 s)
// is not waited for.
func TestProxyTunnelConnectCanceled(t *testing.T) {
	testkit.CheckLeaks(t)
	p := newTestProxy(t, "", func(c net.Conn, br *bufio.Reader) { holdOpen(br) })
	tr := proxyTransport(t, p, nil, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "https://origin.test/", nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := tr.RoundTrip(req)
		done <- err
	}()
	testkit.WaitFor(t, "the CONNECT", func() bool { return len(p.connects()) == 1 })
	cancel()
	if err := recv(t, done, "the cancelled request"); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	p.waitServed(t, 1) // within testkit's wait (10 s), well short of 30 s
}

// TestProxyTunnelHostile: whatever a proxy answers to CONNECT, the request
// fails at once with an error that says what was wrong (no panic, no hang
// until a timeout, memory bounded by the parser's limits), from one
// CONNECT, and the connection is closed. A proxy that answers an interim
// response before its 200 is fine.
func TestProxyTunnelHostile(t *testing.T) {
	srv, cfg := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "origin") }))
	origin := srv.Listener.Addr().String()
	const endless = 16 << 20
	var written atomic.Int64 // by the "head over the limit" proxy
	tunnelTo := func(c net.Conn, br *bufio.Reader) {
		up, err := net.Dial("tcp", origin)
		if err != nil {
			return
		}
		splice(c, br, up)
	}
	is := func(target error) func(error) bool { return func(err error) bool { return errors.Is(err, target) } }
	cases := []struct {
		name   string
		answer func(c net.Conn, br *bufio.Reader)
		want   string // what the error must be, for the failure message
		ok     func(err error) bool
	}{
		{"head over the limit", func(c net.Conn, br *bufio.Reader) {
			io.WriteString(c, "HTTP/1.1 200 Connection established\r\nX-Pad: ")
			pad := []byte(strings.Repeat("a", 4096))
			for written.Load() < endless {
				n, err := c.Write(pad)
				written.Add(int64(n))
				if err != nil {
					return
				}
			}
			holdOpen(br)
		}, "an *http1.LimitError (head too large)", is(http1.ErrHeaderTooLarge)},
		{"too many fields", func(c net.Conn, br *bufio.Reader) {
			io.WriteString(c, "HTTP/1.1 200 Connection established\r\n"+strings.Repeat("X-Field: v\r\n", 1000)+"\r\n")
			holdOpen(br)
		}, "an *http1.LimitError (too many fields)", is(http1.ErrTooManyFields)},
		{"not HTTP", func(c net.Conn, br *bufio.Reader) {
			io.WriteString(c, "SSH-2.0-OpenSSH_9.6\r\n")
			holdOpen(br)
		}, "a malformed status line", is(http1.ErrBadStatusLine)},
		{"binary", func(c net.Conn, br *bufio.Reader) {
			c.Write([]byte{0x16, 0x03, 0x03, 0x00, 0x2a, 0x02, 0x00, 0x00, 0x26, 0x03, 0x03, 0x00, '\r', '\n', '\r', '\n'})
			holdOpen(br)
		}, "an *http1.ProtocolError", func(err error) bool { var pe *http1.ProtocolError; return errors.As(err, &pe) }},
		{"closed before answering", func(c net.Conn, br *bufio.Reader) {}, "http1.ErrNoResponse", is(http1.ErrNoResponse)},
		{"closed inside the head", func(c net.Conn, br *bufio.Reader) {
			io.WriteString(c, "HTTP/1.1 200 Conn")
		}, "http1.ErrHeadTruncated", is(http1.ErrHeadTruncated)},
		{"101 to CONNECT", func(c net.Conn, br *bufio.Reader) {
			io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: tls\r\n\r\n")
			holdOpen(br)
		}, "a *ProxyError 101", func(err error) bool { var pe *ProxyError; return errors.As(err, &pe) && pe.StatusCode == 101 }},
		{"200 then closed", func(c net.Conn, br *bufio.Reader) {
			io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
		}, "a *tlsconn.HandshakeError", func(err error) bool { var he *tlsconn.HandshakeError; return errors.As(err, &he) }},
		{"200 with bytes after it", func(c net.Conn, br *bufio.Reader) {
			io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\nEARLY")
			tunnelTo(c, br)
		}, `http1.ErrExtraData quoting "EARLY"`, func(err error) bool {
			var pe *http1.ProtocolError
			return errors.As(err, &pe) && errors.Is(pe, http1.ErrExtraData) && pe.Seen == "EARLY"
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			testkit.CheckLeaks(t)
			p := newTestProxy(t, "", tc.answer)
			tr := proxyTransport(t, p, nil, Options{TLSClientConfig: cfg, TLSHandshakeTimeout: time.Minute, DialTimeout: time.Minute})
			_, err := roundTripBounded(t, tr, mustRequest(t, "GET", "https://origin.test/"), 8*time.Second)
			if err == nil || !tc.ok(err) {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), "origin.test") {
				t.Fatalf("%q does not name the target", err)
			}
			p.waitServed(t, 1)
			if n := len(p.connects()); n != 1 {
				t.Fatalf("%d CONNECTs for one request", n)
			}
		})
	}
	if w := written.Load(); w >= endless {
		t.Errorf("the client took all %d bytes of an endless head", w)
	}

	t.Run("interim then 200", func(t *testing.T) {
		testkit.CheckLeaks(t)
		p := newTestProxy(t, "", func(c net.Conn, br *bufio.Reader) {
			io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 Connection established\r\n\r\n")
			tunnelTo(c, br)
		})
		_, port, _ := net.SplitHostPort(origin)
		tr := proxyTransport(t, p, nil, Options{TLSClientConfig: cfg})
		resp, err := roundTripBounded(t, tr, mustRequest(t, "GET", "https://example.com:"+port+"/"), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "origin" {
			t.Fatalf("got %q", b)
		}
	})
}
