//go:build unix

package tlsconn

import (
	"bytes"
	"crypto/tls"
	"strings"
	"testing"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/internal/nginxtest"
)

// nginxOpts configures one nginx TLS server.
type nginxOpts struct {
	certPEM, keyPEM []byte
	http2           bool   // offer h2 by ALPN
	clientCA        []byte // require a client certificate signed by this CA
}

// startNginx runs a TLS nginx on loopback that answers every request with
// a line naming the client certificate and SNI it saw; it skips the test
// when nginx is not installed.
func startNginx(t *testing.T, o nginxOpts) (addr string) {
	t.Helper()
	return nginxtest.Start(t, nginxtest.Config{
		CertPEM: o.certPEM, KeyPEM: o.keyPEM, ClientCA: o.clientCA, HTTP2: o.http2,
		Server: `location / {
			default_type text/plain;
			return 200 "hello from nginx; client=$ssl_client_s_dn; sni=$ssl_server_name\n";
		}`,
	}).Addr
}

// httpGet sends a GET with Connection: close and collects the response
// until the server closes.
func httpGet(t *testing.T, e *engine.Engine, cl *Client, addr, serverName string) (resp string, st tls.ConnectionState, closeErr error) {
	t.Helper()
	r := newResult()
	r.OpenHook = func(c *engine.Conn) {
		st, _ = State(c)
		c.Write([]byte("GET / HTTP/1.1\r\nHost: " + serverName + "\r\nConnection: close\r\n\r\n"))
	}
	dialServerName(t, e, cl, addr, serverName, r)
	r.WaitOpen(t)
	closeErr = r.WaitClose(t)
	return string(r.Bytes()), st, closeErr
}

func TestNginxHTTP(t *testing.T) {
	checkLeaks(t)
	p := pki()
	addr := startNginx(t, nginxOpts{certPEM: p.serverCertPEM, keyPEM: p.serverKeyPEM})
	for _, be := range backends {
		e := newEngine(t, be)
		cl := newClient(t, Config{})
		resp, st, err := httpGet(t, e, cl, addr, "localhost")
		if !strings.HasPrefix(resp, "HTTP/1.1 200 OK\r\n") || !strings.Contains(resp, "hello from nginx") || !strings.Contains(resp, "sni=localhost") {
			t.Fatalf("%v: response %q", be, resp)
		}
		if st.Version != tls.VersionTLS13 {
			t.Fatalf("version %x", st.Version)
		}
		// nginx ends the session with close_notify after Connection: close.
		mustIs(t, err, ErrCloseNotify)

		// A dial by name: resolved by the engine, SNI from the name.
		r := newResult()
		r.OpenHook = func(c *engine.Conn) {
			c.Write([]byte("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))
		}
		dial(t, e, cl, localhostAddr(addr), r)
		r.WaitOpen(t)
		mustIs(t, r.WaitClose(t), ErrCloseNotify)
		if !strings.Contains(string(r.Bytes()), "sni=localhost") {
			t.Fatalf("response %q", r.Bytes())
		}
	}
}

func TestNginxVerify(t *testing.T) {
	checkLeaks(t)
	p := pki()
	good := startNginx(t, nginxOpts{certPEM: p.serverCertPEM, keyPEM: p.serverKeyPEM})
	expired := startNginx(t, nginxOpts{certPEM: p.expiredCertPEM, keyPEM: p.expiredKeyPEM})
	e := newEngine(t, engine.BackendPoll)
	for _, vc := range verifyCases(p) {
		t.Run(vc.name, func(t *testing.T) {
			addr := good
			if bytes.Equal(vc.cert(p).Certificate[0], p.expiredCert.Certificate[0]) {
				addr = expired
			}
			checkVerify(t, e, addr, vc)
		})
	}
}

func TestNginxALPN(t *testing.T) {
	checkLeaks(t)
	p := pki()
	addr := startNginx(t, nginxOpts{certPEM: p.serverCertPEM, keyPEM: p.serverKeyPEM, http2: true})
	e := newEngine(t, engine.BackendPoll)
	for _, c := range []struct {
		offer []string
		want  string
	}{
		{[]string{"h2", "http/1.1"}, "h2"},
		{[]string{"http/1.1"}, "http/1.1"},
	} {
		cl := newClient(t, Config{NextProtos: c.offer, RequireALPN: true})
		r := newResult()
		conn := dialServerName(t, e, cl, addr, "localhost", r)
		r.WaitOpen(t)
		if got := NegotiatedProtocol(conn); got != c.want {
			t.Fatalf("offer %v: negotiated %q, want %q", c.offer, got, c.want)
		}
		if c.want == "http/1.1" {
			conn.Write([]byte("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))
			r.WaitClose(t)
			if !strings.HasPrefix(string(r.Bytes()), "HTTP/1.1 200 OK") {
				t.Fatalf("response %q", r.Bytes())
			}
			continue
		}
		conn.Close()
		r.WaitClose(t)
	}
}

func TestNginxClientCertificate(t *testing.T) {
	checkLeaks(t)
	p := pki()
	addr := startNginx(t, nginxOpts{certPEM: p.serverCertPEM, keyPEM: p.serverKeyPEM, clientCA: p.clientCA.pem})
	e := newEngine(t, engine.BackendPoll)
	keys := encryptedKeys(t)
	for name, cfg := range map[string]Config{
		"plain key":     {CertPEM: p.clientCertPEM, KeyPEM: p.clientKeyPEM},
		"encrypted key": {CertPEM: p.clientCertPEM, KeyPEM: keys["pkcs8 pbkdf2"], KeyPassword: keyPassword},
		"legacy key":    {CertPEM: p.clientCertPEM, KeyPEM: keys["legacy pem"], KeyPassword: keyPassword},
	} {
		resp, _, _ := httpGet(t, e, newClient(t, cfg), addr, "localhost")
		if !strings.HasPrefix(resp, "HTTP/1.1 200 OK") || !strings.Contains(resp, "CN=egress test client") {
			t.Fatalf("%s: response %q", name, resp)
		}
	}
	if _, err := NewClient(&Config{CertPEM: p.clientCertPEM, KeyPEM: keys["pkcs8 pbkdf2"], KeyPassword: "wrong"}); err == nil {
		t.Fatal("wrong password accepted")
	} else {
		mustIs(t, err, ErrKeyPassword)
	}
	// Without a certificate nginx completes the handshake and answers 400.
	resp, _, _ := httpGet(t, e, newClient(t, Config{}), addr, "localhost")
	if !strings.HasPrefix(resp, "HTTP/1.1 400") || !strings.Contains(resp, "No required SSL certificate was sent") {
		t.Fatalf("without certificate: response %q", resp)
	}
}

func TestNginxResumption(t *testing.T) {
	checkLeaks(t)
	p := pki()
	addr := startNginx(t, nginxOpts{certPEM: p.serverCertPEM, keyPEM: p.serverKeyPEM})
	e := newEngine(t, engine.BackendPoll)
	for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		cl := newClient(t, Config{TLS: &tls.Config{MaxVersion: version}, RootCAsPEM: p.ca.pem})
		if _, st, _ := httpGet(t, e, cl, addr, "localhost"); st.DidResume || st.Version != version {
			t.Fatalf("first: resumed %v, version %x", st.DidResume, st.Version)
		}
		if _, st, _ := httpGet(t, e, cl, addr, "localhost"); !st.DidResume {
			t.Fatalf("%s: second connection not resumed", tls.VersionName(version))
		}
	}
}
