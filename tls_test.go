package egress

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/egress-go/egress/internal/testkit"
	"github.com/egress-go/egress/tlsconn"
)

func newTLSServer(t *testing.T, h http.Handler) (*httptest.Server, *tls.Config) {
	s := httptest.NewTLSServer(h)
	t.Cleanup(s.Close)
	roots := x509.NewCertPool()
	roots.AddCert(s.Certificate())
	return s, &tls.Config{RootCAs: roots}
}

func TestHTTPS(t *testing.T) {
	testkit.CheckLeaks(t)
	srv, cfg := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls=%v proto=%s", r.TLS != nil, r.TLS.NegotiatedProtocol)
	}))
	tr := newTestTransport(t, Options{TLSClientConfig: cfg})
	var mu sync.Mutex
	var events []string
	add := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }
	trace := &httptrace.ClientTrace{
		TLSHandshakeStart: func() { add("tls-start") },
		TLSHandshakeDone: func(st tls.ConnectionState, err error) {
			add(fmt.Sprintf("tls-done %v %v", st.HandshakeComplete, err))
		},
	}
	var state *tls.ConnectionState
	for i := 0; i < 3; i++ {
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", srv.URL, nil)
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "tls=true proto=http/1.1" {
			t.Fatalf("got %q", b)
		}
		// Response.TLS, as from net/http: the connection's state, one
		// value for every response it carries.
		st := resp.TLS
		if st == nil || !st.HandshakeComplete || st.NegotiatedProtocol != "http/1.1" || len(st.PeerCertificates) == 0 ||
			!st.PeerCertificates[0].Equal(srv.Certificate()) {
			t.Fatalf("Response.TLS = %+v", st)
		}
		if state != nil && st != state {
			t.Error("Response.TLS differs between responses of one connection")
		}
		state = st
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(events, ",") != "tls-start,tls-done true <nil>" {
		t.Fatalf("trace %v (one handshake, then reuse)", events)
	}
	if s := tr.Stats(); s.Pool.Dials != 1 {
		t.Fatalf("%d dials for 3 requests", s.Pool.Dials)
	}
}

func TestHTTPSVerification(t *testing.T) {
	testkit.CheckLeaks(t)
	srv, cfg := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	// Unknown authority: the system roots do not know httptest's CA.
	tr := newTestTransport(t, Options{})
	_, err := tr.RoundTrip(mustRequest(t, "GET", srv.URL))
	var ve *tlsconn.VerifyError
	if !errors.As(err, &ve) || ve.Reason != tlsconn.VerifyUnknownAuthority {
		t.Fatalf("unknown CA: %v", err)
	}
	// Wrong name: the certificate is for 127.0.0.1 and example.com.
	tr = newTestTransport(t, Options{TLSClientConfig: cfg})
	_, err = tr.RoundTrip(mustRequest(t, "GET", "https://localhost:"+port+"/"))
	if !errors.As(err, &ve) || ve.Reason != tlsconn.VerifyHostname {
		t.Fatalf("wrong host: %v", err)
	}
	// Bad PEM settings fail at construction, clearly.
	if _, err := NewTransport(Options{TLS: &tlsconn.Config{RootCAsPEM: []byte("not pem")}}); err == nil {
		t.Fatal("bad root CA PEM accepted")
	}
}

// connectProxy is a CONNECT-only proxy that counts tunnels.
func connectProxy(t *testing.T) (*url.URL, *atomic.Int64) {
	var tunnels atomic.Int64
	addr, _ := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		req, err := http.ReadRequest(br)
		if err != nil || req.Method != http.MethodConnect {
			io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
			return
		}
		up, err := net.Dial("tcp", req.Host)
		if err != nil {
			io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
			return
		}
		defer up.Close()
		tunnels.Add(1)
		io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
		go func() { io.Copy(up, br); up.(*net.TCPConn).CloseWrite() }()
		io.Copy(c, up)
	})
	return &url.URL{Scheme: "http", Host: addr}, &tunnels
}

func TestHTTPSThroughConnectProxy(t *testing.T) {
	testkit.CheckLeaks(t)
	srv, cfg := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "secret") }))
	pu, tunnels := connectProxy(t)
	tr := newTestTransport(t, Options{TLSClientConfig: cfg, Proxy: http.ProxyURL(pu)})
	for i := 0; i < 2; i++ {
		resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "secret" {
			t.Fatalf("got %q", b)
		}
	}
	if tunnels.Load() != 1 {
		t.Fatalf("%d tunnels for 2 requests (want reuse)", tunnels.Load())
	}
	// A proxy that refuses the tunnel gives a *ProxyError.
	refuse := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusForbidden) }))
	ru, _ := url.Parse(refuse.URL)
	tr2 := newTestTransport(t, Options{TLSClientConfig: cfg, Proxy: http.ProxyURL(ru)})
	_, err := tr2.RoundTrip(mustRequest(t, "GET", srv.URL))
	var pe *ProxyError
	if !errors.As(err, &pe) || pe.StatusCode != http.StatusForbidden {
		t.Fatalf("refused tunnel: %v", err)
	}
}
