package target

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egress-go/egress"
	"github.com/egress-go/egress/internal/testkit"
)

// endpointCases are the requests every protocol mode must answer alike;
// chunked says whether HTTP/1.1 gets the body chunked.
var endpointCases = []struct {
	method, path, body string
	status             int
	want               string
	chunked            bool
}{
	{"GET", "/", "", 200, "hello, egress\n", false},
	{"GET", "/bytes/0", "", 200, "", false},
	{"GET", "/bytes/30", "", 200, "abcdefghijklmnopqrstuvwxyzabcd", false},
	{"GET", "/chunked?n=3&size=4", "", 200, "abcdabcdabcd", true},
	{"GET", "/chunked?n=0", "", 200, "", true},
	{"GET", "/status/503", "", 503, "503 Service Unavailable\n", false},
	{"GET", "/status/204", "", 204, "", false},
	{"GET", "/status/99", "", 400, "/status/CODE needs 200 <= CODE <= 599\n", false},
	{"GET", "/bytes/x", "", 400, "/bytes/N needs 0 <= N <= 2^40\n", false},
	{"GET", "/nope", "", 404, "not found\n", false},
	{"POST", "/echo", "ping", 200, "ping", false},
	{"POST", "/", "ignored", 200, "hello, egress\n", false},
	{"GET", "/delay/1", "", 200, "hello, egress\n", false},
}

func TestEndpoints(t *testing.T) {
	for _, be := range backends {
		t.Run(be.String(), func(t *testing.T) {
			s := start(t, Config{Backend: be})
			c := client(t, s)
			for _, tc := range endpointCases {
				var body io.Reader
				if tc.body != "" {
					body = strings.NewReader(tc.body)
				}
				req, _ := http.NewRequest(tc.method, s.URL()+tc.path, body)
				resp, err := c.Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v", tc.method, tc.path, err)
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatalf("%s %s: body: %v", tc.method, tc.path, err)
				}
				if resp.StatusCode != tc.status || string(got) != tc.want {
					t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, resp.StatusCode, got, tc.status, tc.want)
				}
				if chunked := len(resp.TransferEncoding) > 0; chunked != tc.chunked {
					t.Errorf("%s %s: chunked %v", tc.method, tc.path, chunked)
				}
				if resp.Header.Get("Date") == "" {
					t.Errorf("%s %s: no Date", tc.method, tc.path)
				}
			}
		})
	}
}

func TestHead(t *testing.T) {
	s := start(t, Config{})
	c := client(t, s)
	for path, cl := range map[string]int64{"/": 14, "/bytes/1000000": 1000000} {
		resp, err := c.Head(s.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ContentLength != cl || len(b) != 0 {
			t.Errorf("HEAD %s: length %d, body %d bytes", path, resp.ContentLength, len(b))
		}
	}
	// The connection survived the bodiless responses.
	if st := s.Stats(); st.Accepted != 1 {
		t.Errorf("accepted %d connections, want 1", st.Accepted)
	}
}

// TestLargeBodies streams a large generated body and echoes a large upload
// (chunked both ways), checking every byte.
func TestLargeBodies(t *testing.T) {
	s := start(t, Config{})
	c := client(t, s)
	const n = 8 << 20
	resp, err := c.Get(s.URL() + fmt.Sprintf("/bytes/%d", n))
	if err != nil {
		t.Fatal(err)
	}
	checkPattern(t, resp.Body, n)
	resp.Body.Close()

	resp, err = c.Get(s.URL() + "/chunked?n=100&size=65536")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if len(got) != 100*65536 {
		t.Fatalf("chunked: %d bytes", len(got))
	}

	up := bytes.Repeat([]byte("0123456789abcdef"), n/16)
	// io.MultiReader hides the length: the request goes out chunked.
	resp, err = c.Post(s.URL()+"/echo", "application/x-test", io.MultiReader(bytes.NewReader(up)))
	if err != nil {
		t.Fatal(err)
	}
	got, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(got, up) || resp.Header.Get("Content-Type") != "application/x-test" {
		t.Fatalf("echo: %d bytes, equal %v, %v, type %q", len(got), bytes.Equal(got, up), err, resp.Header.Get("Content-Type"))
	}
}

func checkPattern(t *testing.T, r io.Reader, n int) {
	t.Helper()
	buf := make([]byte, 32<<10)
	off := 0
	for {
		m, err := r.Read(buf)
		for i := 0; i < m; i++ {
			if buf[i] != 'a'+byte((off+i)%26) {
				t.Fatalf("byte %d is %q", off+i, buf[i])
			}
		}
		off += m
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v", off, err)
		}
	}
	if off != n {
		t.Fatalf("got %d bytes, want %d", off, n)
	}
}

func TestKeepAlive(t *testing.T) {
	s := start(t, Config{})
	c := client(t, s)
	var reused atomic.Int32
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		if i.Reused {
			reused.Add(1)
		}
	}}
	for i := 0; i < 20; i++ {
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", s.URL()+"/", nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if reused.Load() != 19 || s.Stats().Accepted != 1 || s.Stats().Requests != 20 {
		t.Fatalf("reused %d, stats %+v", reused.Load(), s.Stats())
	}
}

// rawConn opens a plain TCP connection to s.
func rawConn(t *testing.T, s *Server) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return nc, bufio.NewReader(nc)
}

// TestPipelining sends requests back to back, a delayed one among them,
// and wants the answers in order.
func TestPipelining(t *testing.T) {
	s := start(t, Config{})
	nc, br := rawConn(t, s)
	reqs := "GET /delay/50 HTTP/1.1\r\nHost: x\r\n\r\n" +
		"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" +
		"GET /chunked?n=2&size=3 HTTP/1.1\r\nHost: x\r\n\r\n" +
		"GET /status/201 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	if _, err := nc.Write([]byte(reqs)); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		code int
		body string
	}{{200, "hello, egress\n"}, {200, "abc"}, {200, "abcabc"}, {201, "201 Created\n"}}
	for i, w := range want {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != w.code || string(b) != w.body {
			t.Fatalf("response %d: %d %q, want %d %q", i, resp.StatusCode, b, w.code, w.body)
		}
	}
	// Connection: close was honoured.
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("after Connection: close: %v, want EOF", err)
	}
}

func TestBadRequests(t *testing.T) {
	s := start(t, Config{})
	cases := map[string]int{
		"GET / HTTP/1.1\r\n\r\n": 400, // no Host
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n": 400,
		"GET / HTTP/2.0\r\nHost: x\r\n\r\n":                                                    505,
		"GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("y", 70<<10) + "\r\n\r\n":          431,
	}
	for in, code := range cases {
		nc, br := rawConn(t, s)
		go nc.Write([]byte(in)) // the server may answer before reading it all
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%.40q: %v", in, err)
		}
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != code || !resp.Close {
			t.Errorf("%.40q: %d close=%v, want %d and close", in, resp.StatusCode, resp.Close, code)
		}
		if _, err := br.ReadByte(); err == nil {
			t.Errorf("%.40q: connection still open", in)
		}
	}
}

func TestHTTP10(t *testing.T) {
	s := start(t, Config{})
	nc, br := rawConn(t, s)
	nc.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != helloBody || !resp.Close {
		t.Fatalf("%q close=%v", b, resp.Close)
	}
}

// TestIdleTimeout checks the idle close by ordering: not sooner than the
// timeout after the request (the last activity came after it was sent),
// and before the connection's 10 s read deadline.
func TestIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	s := start(t, Config{IdleTimeout: idle})
	nc, br := rawConn(t, s)
	sent := time.Now()
	nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	_, err = br.ReadByte()
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("connection still open after 10 s")
	}
	if err == nil {
		t.Fatal("a byte after the response")
	}
	if d := time.Since(sent); d < idle {
		t.Fatalf("closed %v after the request, before the %v idle timeout", d, idle)
	}
}

func TestCloseWithDelayPending(t *testing.T) {
	testkit.CheckLeaks(t)
	s, err := Start(Config{Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	req := "GET /delay/60000 HTTP/1.1\r\nHost: x\r\n\r\n"
	nc.Write([]byte(req))
	// The server has the request, and so its delay timer, once its loop
	// has read it.
	testkit.WaitFor(t, "the server to read the request", func() bool { return s.Engine().Stats().BytesIn >= int64(len(req)) })
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs with a delayed response pending")
	}
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection open after Close")
	}
}

func TestTLS(t *testing.T) {
	s := start(t, Config{TLS: true})
	if !strings.HasPrefix(s.URL(), "https://127.0.0.1:") || len(s.CertificatePEM()) == 0 {
		t.Fatalf("URL %s", s.URL())
	}
	c := client(t, s)
	for i := 0; i < 3; i++ {
		resp, err := c.Post(s.URL()+"/echo", "text/plain", strings.NewReader("secret"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// net/http offers no ALPN with a TLSClientConfig of its own.
		if string(b) != "secret" || resp.TLS == nil || resp.TLS.NegotiatedProtocol != "" {
			t.Fatalf("%q %+v", b, resp.TLS)
		}
	}
	resp, err := c.Get(s.URL() + "/bytes/3000000")
	if err != nil {
		t.Fatal(err)
	}
	checkPattern(t, resp.Body, 3000000)
	resp.Body.Close()

	// ALPN: the server says http/1.1 when asked.
	cfg := s.ClientTLSConfig()
	cfg.NextProtos = []string{"h2", "http/1.1"}
	tc, err := tls.Dial("tcp", s.Addr().String(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Errorf("ALPN %q", p)
	}
	tc.Close()

	// Without the server's certificate the handshake fails verification.
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	_, err = (&http.Client{Transport: tr}).Get(s.URL())
	var uerr *tls.CertificateVerificationError
	if !errors.As(err, &uerr) {
		t.Fatalf("untrusted: %v", err)
	}
}

// TestEgressTransport drives the server with the project's own client,
// both APIs.
func TestEgressTransport(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", useTLS), func(t *testing.T) {
			s := start(t, Config{TLS: useTLS})
			tr, err := egress.NewTransport(egress.Options{TLSClientConfig: s.ClientTLSConfig()})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			resp, err := c.Get(s.URL() + "/chunked?n=4&size=5")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "abcdeabcdeabcdeabcde" {
				t.Fatalf("%q", b)
			}

			// The non-blocking API: 200 exchanges over 4 slots.
			const slots, total = 4, 200
			var sent, ok atomic.Int32
			done := make(chan error, 1)
			var finish func(ex *egress.Exchange, err error)
			finish = func(ex *egress.Exchange, err error) {
				if err != nil || ex.StatusCode() != 200 {
					select {
					case done <- fmt.Errorf("status %d: %v", ex.StatusCode(), err):
					default:
					}
					return
				}
				if ok.Add(1) == total {
					done <- nil
					return
				}
				if sent.Add(1) <= total {
					tr.Send(ex)
				}
			}
			for i := 0; i < slots; i++ {
				ex := &egress.Exchange{URL: s.URL() + "/", OnDone: finish}
				sent.Add(1)
				if err := tr.Send(ex); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("stalled after %d responses", ok.Load())
			}
			if st := s.Stats(); st.Accepted > slots+1 {
				t.Errorf("%d connections accepted for %d slots", st.Accepted, slots)
			}
		})
	}
}
