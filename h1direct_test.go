package egress

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egress-go/egress/http1"
	"github.com/egress-go/egress/internal/testkit"
)

// Tests of direct reads (h1direct.go): HTTP/1.1 bodies read from the
// socket straight into the caller's buffer.

// bodyPattern is n bytes that reveal any loss, duplication or reordering.
func bodyPattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7/3 + i>>13)
	}
	return b
}

// framedServer is a loopback HTTP/1.1 server that answers every request on a
// connection with body, framed as asked: "length" (Content-Length),
// "chunked" (chunks of varied sizes) or "close" (delimited by closing the
// connection). With tlsCfg it speaks TLS. stall, when set, is called
// after the first half of the body and before the rest.
type framedServer struct {
	srv      *testkit.Server
	requests atomic.Int64
}

func newFramedServer(t *testing.T, tlsCfg *tls.Config, framing string, body []byte, stall func(c net.Conn) bool) *framedServer {
	rs := &framedServer{}
	rs.srv = testkit.NewServer(t, func(c net.Conn) {
		if tlsCfg != nil {
			c = tls.Server(c, tlsCfg)
		}
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			rs.requests.Add(1)
			w := bufio.NewWriterSize(c, 64<<10)
			fmt.Fprintf(w, "HTTP/1.1 200 OK\r\n")
			switch framing {
			case "length":
				fmt.Fprintf(w, "Content-Length: %d\r\n\r\n", len(body))
			case "chunked":
				fmt.Fprintf(w, "Transfer-Encoding: chunked\r\n\r\n")
			case "close":
				fmt.Fprintf(w, "Connection: close\r\n\r\n")
			}
			half := len(body) / 2
			write := func(p []byte) {
				if framing != "chunked" {
					w.Write(p)
					return
				}
				sizes := []int{1, 1000, 7, 65536, 4093}
				for i := 0; len(p) > 0; i++ {
					n := min(sizes[i%len(sizes)], len(p))
					fmt.Fprintf(w, "%x\r\n", n)
					w.Write(p[:n])
					w.WriteString("\r\n")
					p = p[n:]
				}
			}
			write(body[:half])
			if stall != nil {
				w.Flush()
				if !stall(c) {
					return
				}
			}
			write(body[half:])
			if framing == "chunked" {
				w.WriteString("0\r\nX-Trailer: yes\r\n\r\n")
			}
			if w.Flush() != nil || framing == "close" {
				return
			}
		}
	})
	return rs
}

func (rs *framedServer) url(tlsOn bool) string {
	if tlsOn {
		return "https://" + localhostURLAddr(rs.srv.Port()) + "/"
	}
	return "http://" + rs.srv.Addr() + "/"
}

func localhostURLAddr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// directTLS returns a server TLS config and a client one that trusts it.
func directTLS(t *testing.T) (srv, cli *tls.Config) {
	certPEM, keyPEM := testkit.SelfSignedCert(t, "egress-direct")
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	return &tls.Config{Certificates: []tls.Certificate{cert}}, &tls.Config{RootCAs: roots}
}

// readAllSized reads r to its end in reads of the given size.
func readAllSized(r io.Reader, size int) ([]byte, error) {
	var out []byte
	buf := make([]byte, size)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// wentDirect reports whether the body was read from the socket by its
// reader rather than through the loop.
func wentDirect(t *testing.T, body io.ReadCloser) bool {
	t.Helper()
	p, ok := body.(*bodyPipe)
	if !ok {
		t.Fatalf("response body is a %T", body)
	}
	return p.directStarted()
}

// TestDirectBody reads bodies of every framing, plain and over TLS, in
// reads of 1 byte to 1 MiB: every byte arrives once and in order, the
// reader took the socket over, trailers arrive, and the connection is
// reused afterwards unless the body was close-delimited.
func TestDirectBody(t *testing.T) {
	testkit.CheckLeaks(t)
	srvTLS, cliTLS := directTLS(t)
	const size = 3 << 20
	want := bodyPattern(size)
	for _, tlsOn := range []bool{false, true} {
		for _, framing := range []string{"length", "chunked", "close"} {
			name := framing
			if tlsOn {
				name = "tls-" + framing
			}
			t.Run(name, func(t *testing.T) {
				var sc *tls.Config
				if tlsOn {
					sc = srvTLS
				}
				rs := newFramedServer(t, sc, framing, want, nil)
				tr := newTestTransport(t, Options{TLSClientConfig: cliTLS})
				client := &http.Client{Transport: tr}
				done := 0
				for _, size := range []int{1, 1000, 64 << 10, 1 << 20} {
					if size == 1 && tlsOn && framing != "length" {
						continue // slow under -race, and the plain case covers it
					}
					done++
					resp, err := client.Get(rs.url(tlsOn))
					if err != nil {
						t.Fatal(err)
					}
					got, err := readAllSized(resp.Body, size)
					if err != nil {
						t.Fatalf("reads of %d: %v after %d bytes", size, err, len(got))
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("reads of %d: got %d bytes, want %d", size, len(got), len(want))
					}
					if !wentDirect(t, resp.Body) {
						t.Fatalf("reads of %d: the body went through the loop", size)
					}
					if framing == "chunked" && resp.Trailer.Get("X-Trailer") != "yes" {
						t.Fatalf("trailer %v", resp.Trailer)
					}
					resp.Body.Close()
					dials := tr.Stats().Pool.Dials
					if framing == "close" {
						if dials != int64(done) {
							t.Fatalf("%d dials for %d close-delimited responses", dials, done)
						}
					} else if dials != 1 {
						t.Fatalf("%d dials for %d responses on a keep-alive connection", dials, done)
					}
				}
			})
		}
	}
}

// stallingServer sends half of a Content-Length body, then waits for
// release (or the test's end) and does what after says.
func stallingServer(t *testing.T, tlsCfg *tls.Config, body []byte, after func(c net.Conn)) (*framedServer, chan struct{}) {
	release := make(chan struct{})
	rs := newFramedServer(t, tlsCfg, "length", body, func(c net.Conn) bool {
		<-release
		if after != nil {
			after(c)
			return false
		}
		return true
	})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	return rs, release
}

// blockedRead starts a Read of body that must block (the server stalls),
// and returns its result channel once the reader has drained what was
// sent and is waiting in the socket.
func blockedRead(t *testing.T, body io.Reader, sent int) chan error {
	t.Helper()
	if _, err := io.ReadFull(body, make([]byte, sent)); err != nil {
		t.Fatalf("reading the first %d bytes: %v", sent, err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := body.Read(make([]byte, 64<<10))
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Read returned %v while the server stalls", err)
	case <-time.After(50 * time.Millisecond):
	}
	return done
}

func waitErr(t *testing.T, done chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("a blocked Read did not return")
		return nil
	}
}

// TestDirectBodyInterrupted: a Read blocked in the socket ends at once,
// with the right error, when the body is closed, the request's context is
// cancelled, or the server resets the connection; plain and TLS. The
// connection is closed, never reused.
func TestDirectBodyInterrupted(t *testing.T) {
	testkit.CheckLeaks(t)
	srvTLS, cliTLS := directTLS(t)
	const size = 4 << 20
	body := bodyPattern(size)
	reset := func(c net.Conn) {
		if tc, ok := c.(*tls.Conn); ok {
			c = tc.NetConn()
		}
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}
	for _, tlsOn := range []bool{false, true} {
		var sc *tls.Config
		prefix := ""
		if tlsOn {
			sc, prefix = srvTLS, "tls-"
		}
		t.Run(prefix+"close", func(t *testing.T) {
			rs, _ := stallingServer(t, sc, body, nil)
			tr := newTestTransport(t, Options{TLSClientConfig: cliTLS})
			resp, err := tr.RoundTrip(ctxRequest(t, context.Background(), rs.url(tlsOn)))
			if err != nil {
				t.Fatal(err)
			}
			done := blockedRead(t, resp.Body, size/2)
			resp.Body.Close()
			if err := waitErr(t, done); !errors.Is(err, ErrBodyClosed) {
				t.Fatalf("blocked Read after Close: %v", err)
			}
			waitClosed(t, tr)
		})
		t.Run(prefix+"cancel", func(t *testing.T) {
			rs, _ := stallingServer(t, sc, body, nil)
			tr := newTestTransport(t, Options{TLSClientConfig: cliTLS})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			resp, err := tr.RoundTrip(ctxRequest(t, ctx, rs.url(tlsOn)))
			if err != nil {
				t.Fatal(err)
			}
			done := blockedRead(t, resp.Body, size/2)
			cancel()
			if err := waitErr(t, done); !errors.Is(err, context.Canceled) {
				t.Fatalf("blocked Read after cancel: %v", err)
			}
			resp.Body.Close()
			waitClosed(t, tr)
		})
		t.Run(prefix+"reset", func(t *testing.T) {
			rs, release := stallingServer(t, sc, body, reset)
			tr := newTestTransport(t, Options{TLSClientConfig: cliTLS})
			resp, err := tr.RoundTrip(ctxRequest(t, context.Background(), rs.url(tlsOn)))
			if err != nil {
				t.Fatal(err)
			}
			done := blockedRead(t, resp.Body, size/2)
			close(release)
			err = waitErr(t, done)
			var te *http1.TruncatedError
			if !errors.As(err, &te) {
				t.Fatalf("blocked Read after a reset: %v (%T), want a truncated body", err, err)
			}
			resp.Body.Close()
			waitClosed(t, tr)
		})
	}
}

func ctxRequest(t *testing.T, ctx context.Context, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func waitClosed(t *testing.T, tr *Transport) {
	t.Helper()
	testkit.WaitFor(t, "connection closed", func() bool { return tr.Engine().Stats().Open == 0 })
}

// TestDirectBodyIdleTimeout: while the reader reads the socket itself the
// loop sees no bytes; the body idle timer must count the reader's reads,
// and still fire when the server stalls.
func TestDirectBodyIdleTimeout(t *testing.T) {
	testkit.CheckLeaks(t)
	const timeout = 400 * time.Millisecond
	srv := testkit.NewServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
		// Ten pieces, 100 ms apart: 1 s in all, well past the timeout,
		// but never idle for as long.
		for i := 0; i < 10; i++ {
			if _, err := c.Write(make([]byte, 1000)); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		io.Copy(io.Discard, c) // then stall until the client gives up
	})
	tr := newTestTransport(t, Options{BodyIdleTimeout: timeout})
	resp, err := tr.RoundTrip(ctxRequest(t, context.Background(), "http://"+srv.Addr()+"/"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := 0
	buf := make([]byte, 64<<10)
	for got < 10000 {
		n, err := resp.Body.Read(buf)
		got += n
		if err != nil {
			t.Fatalf("after %d bytes: %v (the timer fired while bytes were coming)", got, err)
		}
	}
	if !wentDirect(t, resp.Body) {
		t.Fatal("the body went through the loop")
	}
	start := time.Now()
	_, err = resp.Body.Read(buf)
	if !errors.Is(err, ErrBodyIdleTimeout) {
		t.Fatalf("stalled server: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the timeout took %v", d)
	}
}

// TestUploadQueueBounded: a streamed request body to a server that reads
// slowly keeps at most h1MaxQueued (plus one write) queued in the engine,
// plain and over TLS, and arrives whole.
func TestUploadQueueBounded(t *testing.T) {
	testkit.CheckLeaks(t)
	srvTLS, cliTLS := directTLS(t)
	const size = 24 << 20
	for _, tlsOn := range []bool{false, true} {
		name := "plain"
		var sc *tls.Config
		if tlsOn {
			name, sc = "tls", srvTLS
		}
		t.Run(name, func(t *testing.T) {
			var got atomic.Int64
			srv := testkit.NewServer(t, func(c net.Conn) {
				if sc != nil {
					c = tls.Server(c, sc)
				}
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				buf := make([]byte, 256<<10)
				for {
					n, err := req.Body.Read(buf)
					got.Add(int64(n))
					if err != nil {
						break
					}
					time.Sleep(time.Millisecond) // a slow reader: the client's queue would fill
				}
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
			})
			tr := newTestTransport(t, Options{TLSClientConfig: cliTLS})
			url := "http://" + srv.Addr() + "/"
			if tlsOn {
				url = "https://" + srv.Addr() + "/"
			}
			var peak atomic.Int64
			stop := make(chan struct{})
			sampled := make(chan struct{})
			go func() {
				defer close(sampled)
				for {
					select {
					case <-stop:
						return
					case <-time.After(200 * time.Microsecond):
					}
					if q := tr.Engine().Stats().Queued; q > peak.Load() {
						peak.Store(q)
					}
				}
			}()
			body := io.LimitReader(zeroReader{}, size) // one-shot, unknown length: chunked
			req, _ := http.NewRequest("POST", url, body)
			resp, err := tr.RoundTrip(req)
			close(stop)
			<-sampled
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got.Load() != size {
				t.Fatalf("server read %d of %d", got.Load(), size)
			}
			// One write past the bound at most: the pump's 32 KiB, framed
			// and sealed.
			if p := peak.Load(); p > h1MaxQueued+40<<10 {
				t.Fatalf("%d KiB queued at the peak, want at most %d KiB", p>>10, (h1MaxQueued+40<<10)>>10)
			}
		})
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestDirectBodyTransportClosed: closing the transport (its engine) while
// a Read is blocked in the socket ends the Read with an error at once, and
// the loop leaves the parser to the reader (run under -race).
func TestDirectBodyTransportClosed(t *testing.T) {
	testkit.CheckLeaks(t)
	const size = 4 << 20
	rs, _ := stallingServer(t, nil, bodyPattern(size), nil)
	tr, err := NewTransport(Options{})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(ctxRequest(t, context.Background(), rs.url(false)))
	if err != nil {
		t.Fatal(err)
	}
	done := blockedRead(t, resp.Body, size/2)
	tr.Close()
	if err := waitErr(t, done); err == nil || err == io.EOF {
		t.Fatalf("blocked Read after the transport closed: %v", err)
	}
	resp.Body.Close()
}

// TestDirectBodyExtraBytesNotReused: a server that sends more than the
// Content-Length body it announced (here, a whole second response) has
// lost the framing: the connection is not reused, and the next request
// never gets those bytes as its answer. Plain and TLS, where the extra
// bytes may wait in crypto/tls rather than in the socket.
func TestDirectBodyExtraBytesNotReused(t *testing.T) {
	testkit.CheckLeaks(t)
	srvTLS, cliTLS := directTLS(t)
	const size = 1 << 20
	body := bodyPattern(size)
	for _, tlsOn := range []bool{false, true} {
		name, sc, scheme := "plain", (*tls.Config)(nil), "http://"
		if tlsOn {
			name, sc, scheme = "tls", srvTLS, "https://"
		}
		t.Run(name, func(t *testing.T) {
			srv := testkit.NewServer(t, func(c net.Conn) {
				if sc != nil {
					c = tls.Server(c, sc)
				}
				br := bufio.NewReader(c)
				for n := 0; ; n++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					w := bufio.NewWriterSize(c, 2<<20)
					if req.URL.Path == "/first" {
						fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", size)
						w.Write(body)
						w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil") // in the same flush
					} else {
						w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood")
					}
					if w.Flush() != nil {
						return
					}
				}
			})
			tr := newTestTransport(t, Options{TLSClientConfig: cliTLS})
			client := &http.Client{Transport: tr}
			resp, err := client.Get(scheme + srv.Addr() + "/first")
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAllSized(resp.Body, 64<<10)
			resp.Body.Close()
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("first body: %d bytes, %v", len(got), err)
			}
			if !wentDirect(t, resp.Body) {
				t.Fatal("the first body went through the loop")
			}
			resp, err = client.Get(scheme + srv.Addr() + "/second")
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(b) != "good" {
				t.Fatalf("second response: %q, %v (the first one's extra bytes?)", b, err)
			}
			if d := tr.Stats().Pool.Dials; d != 2 {
				t.Fatalf("%d dials: the connection that sent extra bytes was reused", d)
			}
		})
	}
}
