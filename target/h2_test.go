package target

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/egress-go/egress"
)

var h2Modes = []HTTP2Mode{H2C, H2TLS}

// stdClient returns a net/http client for s speaking HTTP/2 (h2c by prior
// knowledge, or h2 by ALPN) when h2 is true, HTTP/1.1 alone otherwise.
func stdClient(t *testing.T, s *Server, h2 bool) *http.Client {
	t.Helper()
	var p http.Protocols
	cfg := s.ClientTLSConfig()
	switch {
	case !h2:
		p.SetHTTP1(true)
		if cfg != nil {
			cfg.NextProtos = []string{"http/1.1"}
		}
	case cfg == nil:
		p.SetUnencryptedHTTP2(true)
	default:
		p.SetHTTP2(true)
	}
	tr := &http.Transport{TLSClientConfig: cfg, Protocols: &p, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// get does one request and returns the response with its body read.
func get(t *testing.T, c *http.Client, method, url, body string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, url, err)
	}
	return resp, string(b)
}

// TestHTTP2Endpoints: in each HTTP/2 mode, every endpoint answers over
// HTTP/2 with the bodies of the HTTP/1.1 path, and an HTTP/1.1 client on
// the same port gets the same answers.
func TestHTTP2Endpoints(t *testing.T) {
	for _, mode := range h2Modes {
		t.Run(mode.String(), func(t *testing.T) {
			s := start(t, Config{HTTP2: mode})
			if want := mode == H2TLS; strings.HasPrefix(s.URL(), "https://") != want {
				t.Fatalf("URL %s", s.URL())
			}
			for _, h2 := range []bool{true, false} {
				c := stdClient(t, s, h2)
				wantMajor := 1
				if h2 {
					wantMajor = 2
				}
				for _, tc := range endpointCases {
					resp, got := get(t, c, tc.method, s.URL()+tc.path, tc.body)
					if resp.ProtoMajor != wantMajor {
						t.Errorf("h2=%v %s %s: %s", h2, tc.method, tc.path, resp.Proto)
					}
					if resp.StatusCode != tc.status || got != tc.want {
						t.Errorf("h2=%v %s %s: %d %q, want %d %q", h2, tc.method, tc.path, resp.StatusCode, got, tc.status, tc.want)
					}
					if resp.Header.Get("Date") == "" {
						t.Errorf("h2=%v %s %s: no Date", h2, tc.method, tc.path)
					}
				}
				// HEAD gets the length of a body it does not get.
				resp, got := get(t, c, "HEAD", s.URL()+"/bytes/1000000", "")
				if resp.ContentLength != 1000000 || got != "" {
					t.Errorf("h2=%v HEAD /bytes/1000000: length %d, body %q", h2, resp.ContentLength, got)
				}
			}
			if st := s.Stats(); st.Requests != 2*int64(len(endpointCases)+1) || st.Accepted < 2 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestHTTP2LargeBodies: a large generated body and a large echo come back
// whole over HTTP/2 (flow control paces both).
func TestHTTP2LargeBodies(t *testing.T) {
	for _, mode := range h2Modes {
		t.Run(mode.String(), func(t *testing.T) {
			s := start(t, Config{HTTP2: mode})
			c := stdClient(t, s, true)
			const n = 3 << 20
			resp, got := get(t, c, "GET", s.URL()+"/bytes/3145728", "")
			if resp.ProtoMajor != 2 || len(got) != n || got[n-1] != 'a'+byte((n-1)%26) || got[:26] != string(pattern[:26]) {
				t.Fatalf("%s: %d bytes", resp.Proto, len(got))
			}
			up := bytes.Repeat([]byte("0123456789"), n/10)
			req, _ := http.NewRequest("POST", s.URL()+"/echo", bytes.NewReader(up))
			req.Header.Set("Content-Type", "text/x-test")
			r2, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			back, err := io.ReadAll(r2.Body)
			r2.Body.Close()
			if err != nil || !bytes.Equal(back, up) || r2.Header.Get("Content-Type") != "text/x-test" {
				t.Fatalf("echo: %v, %d bytes back of %d, type %q", err, len(back), len(up), r2.Header.Get("Content-Type"))
			}
		})
	}
}

// TestHTTP2EgressTransport: the project's own client gets HTTP/2 from
// each mode, and HTTP/1.1 when it disables HTTP/2.
func TestHTTP2EgressTransport(t *testing.T) {
	for _, mode := range h2Modes {
		t.Run(mode.String(), func(t *testing.T) {
			s := start(t, Config{HTTP2: mode})
			for _, h2 := range []bool{true, false} {
				opts := egress.Options{TLSClientConfig: s.ClientTLSConfig()}
				opts.HTTP2.PriorKnowledge = h2 && mode == H2C
				opts.HTTP2.Disable = !h2
				tr, err := egress.NewTransport(opts)
				if err != nil {
					t.Fatal(err)
				}
				c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
				wantMajor := 1
				if h2 {
					wantMajor = 2
				}
				for _, tc := range endpointCases {
					resp, got := get(t, c, tc.method, s.URL()+tc.path, tc.body)
					if resp.ProtoMajor != wantMajor || resp.StatusCode != tc.status || got != tc.want {
						t.Errorf("h2=%v %s %s: %s %d %q, want HTTP/%d %d %q", h2, tc.method, tc.path,
							resp.Proto, resp.StatusCode, got, wantMajor, tc.status, tc.want)
					}
				}
				tr.Close()
			}
		})
	}
}

// TestHTTP2Config: H2TLS implies TLS; H2C with TLS and unknown modes are
// refused.
func TestHTTP2Config(t *testing.T) {
	s := start(t, Config{HTTP2: H2TLS})
	if s.ClientTLSConfig() == nil || s.CertificatePEM() == nil || s.Engine() != nil {
		t.Fatal("H2TLS: no certificate, or an engine")
	}
	// One listener, both protocols by ALPN.
	for _, proto := range []string{"h2", "http/1.1"} {
		cfg := s.ClientTLSConfig()
		cfg.NextProtos = []string{proto}
		conn, err := tls.Dial("tcp", s.Addr().String(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		got := conn.ConnectionState().NegotiatedProtocol
		conn.Close()
		if got != proto {
			t.Errorf("offered %s, got %q", proto, got)
		}
	}
	for _, cfg := range []Config{{HTTP2: H2C, TLS: true}, {HTTP2: 9}} {
		if s, err := Start(cfg); err == nil {
			s.Close()
			t.Errorf("%+v: started", cfg)
		}
	}
}
