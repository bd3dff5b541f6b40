package egress

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/internal/testkit"
	"github.com/egress-go/egress/tlsconn"
)

// connectSeen is what a test proxy read of one CONNECT request.
type connectSeen struct {
	line string // the request line
	host string // the Host field
	auth string // the Proxy-Authorization field
}

// testProxy is a CONNECT proxy on loopback. It records every request
// head, then either runs answer (a refusing or hostile proxy) or, when
// answer is nil, tunnels to origin whatever the target named: the
// client's name for the origin is never resolved.
type testProxy struct {
	srv    *testkit.Server
	origin string
	answer func(c net.Conn, br *bufio.Reader)

	mu   sync.Mutex
	seen []connectSeen
}

func newTestProxy(t *testing.T, origin string, answer func(c net.Conn, br *bufio.Reader)) *testProxy {
	t.Helper()
	p := &testProxy{origin: origin, answer: answer}
	p.srv = testkit.NewServer(t, p.serve)
	return p
}

func (p *testProxy) serve(c net.Conn) {
	br := bufio.NewReader(c)
	head, err := readHead(br)
	if err != nil {
		return
	}
	tp := textproto.NewReader(bufio.NewReader(strings.NewReader(head)))
	line, _ := tp.ReadLine()
	fields, _ := tp.ReadMIMEHeader()
	p.mu.Lock()
	p.seen = append(p.seen, connectSeen{line: line, host: fields.Get("Host"), auth: fields.Get("Proxy-Authorization")})
	p.mu.Unlock()
	if p.answer != nil {
		p.answer(c, br)
		return
	}
	up, err := net.Dial("tcp", p.origin)
	if err != nil {
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return
	}
	io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	splice(c, br, up)
}

// splice copies both ways between the client (c, read through br) and
// up until either side ends, and returns once both copies have.
func splice(c net.Conn, br *bufio.Reader, up net.Conn) {
	done := make(chan struct{})
	go func() {
		io.Copy(up, br)
		up.Close()
		close(done)
	}()
	io.Copy(c, up)
	c.Close()
	<-done
}

// url is the proxy's URL, by the name "localhost", which no test
// certificate of an origin holds: a client that verified the origin
// against the proxy's name would fail.
func (p *testProxy) url(user *url.Userinfo) *url.URL {
	return &url.URL{Scheme: "http", User: user, Host: fmt.Sprintf("localhost:%d", p.srv.Port())}
}

func (p *testProxy) connects() []connectSeen {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]connectSeen(nil), p.seen...)
}

// waitServed waits until the proxy has served n connections to their end:
// the client closed each one (none left open, none leaked).
func (p *testProxy) waitServed(t *testing.T, n int) {
	t.Helper()
	testkit.WaitFor(t, fmt.Sprintf("the client to close its %d proxy connection(s)", n), func() bool { return p.srv.Finished() >= n })
	if got := p.srv.Accepted(); got != n {
		t.Fatalf("the proxy accepted %d connections, want %d", got, n)
	}
}

// loopbackOnly resolves "localhost" and nothing else, so that a transport
// that went around its proxy could not leave loopback: the origins' names
// in these tests (example.com, origin.test) must be resolved by the proxy.
type loopbackOnly struct{}

func (loopbackOnly) LookupAsync(_ context.Context, _, host string, cb func([]netip.Addr, error)) {
	if host == "localhost" {
		cb([]netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil)
		return
	}
	cb(nil, fmt.Errorf("test resolver: %q is not resolved here", host))
}

// proxyTransport is a transport that goes through p, on an engine that
// resolves only localhost.
func proxyTransport(t *testing.T, p *testProxy, user *url.Userinfo, opts Options) *Transport {
	t.Helper()
	opts.Proxy = http.ProxyURL(p.url(user))
	return loopbackTransport(t, opts)
}

// loopbackTransport is a transport on an engine that resolves only
// localhost.
func loopbackTransport(t *testing.T, opts Options) *Transport {
	t.Helper()
	eng, err := engine.New(engine.Config{Resolver: loopbackOnly{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() }) // after the transport's Close
	opts.Engine = eng
	return newTestTransport(t, opts)
}

// roundTripBounded runs req on tr from a goroutine and fails the test if
// it has not returned within limit: the request itself has no deadline.
func roundTripBounded(t *testing.T, tr *Transport, req *http.Request, limit time.Duration) (*http.Response, error) {
	t.Helper()
	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := tr.RoundTrip(req)
		done <- result{resp, err}
	}()
	select {
	case r := <-done:
		return r.resp, r.err
	case <-time.After(limit):
		t.Fatalf("%s %s through the proxy did not end within %v", req.Method, req.URL, limit)
		return nil, nil
	}
}

// TestProxyTunnelHTTPS: an https request through a CONNECT proxy reaches
// the origin, over HTTP/1.1 or HTTP/2 as the origin offers by ALPN. The
// proxy sees "CONNECT host:port" with the same Host and the credentials
// of the proxy URL; the origin's certificate is verified against the
// origin's name (the proxy's, localhost, is not in it), with SNI for it;
// a second request reuses the tunnel.
func TestProxyTunnelHTTPS(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		name, proto := "HTTP1", "HTTP/1.1"
		if h2 {
			name, proto = "HTTP2", "HTTP/2.0"
		}
		t.Run(name, func(t *testing.T) {
			testkit.CheckLeaks(t)
			handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, "%s %s sni=%s", r.Proto, r.URL.Path, r.TLS.ServerName)
			})
			var srv *httptest.Server
			var cfg *tls.Config
			if h2 {
				srv, cfg = newH2TLSServer(t, handler)
			} else {
				srv, cfg = newTLSServer(t, handler)
			}
			p := newTestProxy(t, srv.Listener.Addr().String(), nil)
			user := url.UserPassword("user", "pa:ss@word")
			tr := proxyTransport(t, p, user, Options{TLSClientConfig: cfg})
			_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
			target := "example.com:" + port // in the origin's certificate; resolved by the proxy only
			for i := range 2 {
				resp, err := (&http.Client{Transport: tr}).Get(fmt.Sprintf("https://%s/p%d", target, i))
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				if want := fmt.Sprintf("%s /p%d sni=example.com", proto, i); string(b) != want {
					t.Fatalf("request %d: got %q, want %q", i, b, want)
				}
				if st := resp.TLS; st == nil || len(st.PeerCertificates) == 0 || !st.PeerCertificates[0].Equal(srv.Certificate()) {
					t.Fatalf("request %d: Response.TLS does not hold the origin's certificate: %+v", i, st)
				}
			}
			want := connectSeen{
				line: "CONNECT " + target + " HTTP/1.1",
				host: target,
				auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("user:pa:ss@word")),
			}
			if seen := p.connects(); len(seen) != 1 || seen[0] != want {
				t.Fatalf("the proxy saw %+v, want one %+v (two requests, one tunnel)", seen, want)
			}
			if d := tr.Stats().Pool.Dials; d != 1 {
				t.Fatalf("%d dials for two requests", d)
			}

			// Verification inside the tunnel is on, and for the origin's
			// name: a name the certificate does not hold fails, though the
			// proxy sends the tunnel to the same server.
			_, err := tr.RoundTrip(mustRequest(t, "GET", "https://wrong.test:"+port+"/"))
			var ve *tlsconn.VerifyError
			if !errors.As(err, &ve) || ve.Reason != tlsconn.VerifyHostname {
				t.Fatalf("wrong origin name through the proxy: %v, want a hostname VerifyError", err)
			}
			if seen := p.connects(); len(seen) != 2 || seen[1].line != "CONNECT wrong.test:"+port+" HTTP/1.1" {
				t.Fatalf("the proxy saw %+v", seen)
			}
		})
	}
}

// TestProxyTunnelExchange: the non-blocking API goes through the proxy
// too, sending again on the same tunnel.
func TestProxyTunnelExchange(t *testing.T) {
	testkit.CheckLeaks(t)
	srv, cfg := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s sni=%s", r.URL.Path, r.TLS.ServerName)
	}))
	p := newTestProxy(t, srv.Listener.Addr().String(), nil)
	tr := proxyTransport(t, p, url.User("ex"), Options{TLSClientConfig: cfg})
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	target := "example.com:" + port
	for i := range 2 {
		got, err := exchangeGet(t, tr, "https://"+target+"/ex")
		if err != nil {
			t.Fatalf("exchange %d: %v", i, err)
		}
		if string(got) != "/ex sni=example.com" {
			t.Fatalf("exchange %d: got %q", i, got)
		}
	}
	want := connectSeen{line: "CONNECT " + target + " HTTP/1.1", host: target, auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("ex:"))}
	if seen := p.connects(); len(seen) != 1 || seen[0] != want {
		t.Fatalf("the proxy saw %+v, want one %+v", seen, want)
	}
}

// TestProxyExchangePlainHTTP: a plain-http Exchange goes to the proxy in
// absolute form with the proxy's credentials, after its own fields, and
// keeps them when it is sent again with other fields.
func TestProxyExchangePlainHTTP(t *testing.T) {
	testkit.CheckLeaks(t)
	proxy := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s auth=%s x=%s", r.Method, r.URL, r.Header.Get("Proxy-Authorization"), r.Header.Get("X-Test"))
	}))
	pu, _ := url.Parse(proxy.URL)
	pu.User = url.UserPassword("user", "secret")
	tr := loopbackTransport(t, Options{Proxy: http.ProxyURL(pu)})
	done := make(chan error, 1)
	var got []byte
	ex := &Exchange{
		URL:    "http://origin.test/path?q=1",
		OnBody: func(_ *Exchange, p []byte) { got = append(got, p...) },
		OnDone: func(_ *Exchange, err error) { done <- err },
	}
	for i, x := range []string{"", "1", "2"} {
		got = nil
		ex.Header = nil
		if x != "" {
			ex.Header = []HeaderField{{Name: "X-Test", Value: x}}
		}
		if err := tr.Send(ex); err != nil {
			t.Fatal(err)
		}
		if err := recv(t, done, "the exchange"); err != nil {
			t.Fatalf("exchange %d: %v", i, err)
		}
		if want := "GET http://origin.test/path?q=1 auth=Basic dXNlcjpzZWNyZXQ= x=" + x; string(got) != want {
			t.Fatalf("exchange %d: got %q, want %q", i, got, want)
		}
	}
	if !ex.Reused() {
		t.Fatal("the proxy connection was not reused")
	}
}

// TestProxyTunnelRefused: a proxy that refuses the tunnel gives a
// *ProxyError with its status at once (its answer's body, which the proxy
// never ends, is not awaited), from one CONNECT (no retry), and the
// connection is closed; through RoundTrip and through an Exchange.
func TestProxyTunnelRefused(t *testing.T) {
	cases := []struct {
		name, answer string
		code         int
		status       string
	}{
		{"407 with body", "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"egress\"\r\nContent-Length: 1000\r\n\r\nauthenticate first",
			http.StatusProxyAuthRequired, "Proxy Authentication Required"},
		{"403 chunked", "HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nnot h\r\n",
			http.StatusForbidden, "Forbidden"},
		{"403 close-delimited", "HTTP/1.0 403 Forbidden\r\n\r\nnot here", http.StatusForbidden, "Forbidden"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			testkit.CheckLeaks(t)
			p := newTestProxy(t, "", func(c net.Conn, br *bufio.Reader) {
				io.WriteString(c, tc.answer)
				io.Copy(io.Discard, br) // hold the connection until the client closes it
			})
			tr := proxyTransport(t, p, nil, Options{})
			check := func(err error, via string) {
				t.Helper()
				var pe *ProxyError
				if !errors.As(err, &pe) || pe.StatusCode != tc.code || pe.Status != tc.status ||
					pe.Target != "origin.test:443" || pe.Proxy != p.url(nil).Host {
					t.Fatalf("%s: got %v (%#v), want a *ProxyError %d %s", via, err, pe, tc.code, tc.status)
				}
			}
			_, err := roundTripBounded(t, tr, mustRequest(t, "GET", "https://origin.test/"), 10*time.Second)
			check(err, "RoundTrip")
			var re *RequestError
			if !errors.As(err, &re) || re.Retried != 0 {
				t.Fatalf("RoundTrip: %v, want a *RequestError with no retry", err)
			}
			p.waitServed(t, 1)

			done := make(chan error, 1)
			ex := &Exchange{URL: "https://origin.test/", OnDone: func(_ *Exchange, err error) { done <- err }}
			if err := tr.Send(ex); err != nil {
				t.Fatal(err)
			}
			check(recv(t, done, "the refused exchange"), "Exchange")
			p.waitServed(t, 2)
			if n := len(p.connects()); n != 2 {
				t.Fatalf("%d CONNECTs for two requests", n)
			}
			if s := tr.Stats(); s.Retries != 0 || s.Pool.Dials != 2 {
				t.Fatalf("stats %+v: want no retry, two dials", s)
			}
		})
	}
}
