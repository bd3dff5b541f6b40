package tlsconn

import (
	"crypto/tls"
	"errors"
	"testing"

	"github.com/egress-go/egress/engine"
)

// openClose dials addr as localhost, waits for the handshake and an echo,
// and returns the connection's state and the close reason.
func openClose(t *testing.T, e *engine.Engine, cl *Client, addr string) tls.ConnectionState {
	t.Helper()
	r := newResult()
	c := dialServerName(t, e, cl, addr, "localhost", r)
	r.WaitOpen(t)
	c.Write([]byte("ping"))
	r.WaitData(t, 4)
	st, ok := State(c)
	if !ok {
		t.Fatal("no state after OnOpen")
	}
	c.Close()
	mustIs(t, r.WaitClose(t), engine.ErrLocalClose)
	return st
}

func TestALPN(t *testing.T) {
	checkLeaks(t)
	e := newEngine(t, engine.BackendPoll)
	both := serverTLS()
	both.NextProtos = []string{"h2", "http/1.1"}
	bothAddr := newGoTLSServer(t, both, echoTLS).Addr()
	noALPN := newGoTLSServer(t, serverTLS(), echoTLS).Addr()
	onlyH1 := serverTLS()
	onlyH1.NextProtos = []string{"http/1.1"}
	onlyH1Addr := newGoTLSServer(t, onlyH1, echoTLS).Addr()

	for _, c := range []struct {
		offer []string
		addr  string
		want  string
	}{
		{[]string{"h2", "http/1.1"}, bothAddr, "h2"},
		{[]string{"http/1.1", "h2"}, bothAddr, "h2"}, // the server's preference wins
		{[]string{"http/1.1"}, bothAddr, "http/1.1"},
		{[]string{"h2", "http/1.1"}, noALPN, ""},
		{nil, bothAddr, ""},
	} {
		cl := newClient(t, Config{NextProtos: c.offer})
		r := newResult()
		var atOpen string
		r.OpenHook = func(conn *engine.Conn) { atOpen = NegotiatedProtocol(conn) }
		conn := dialServerName(t, e, cl, c.addr, "localhost", r)
		r.WaitOpen(t)
		if atOpen != c.want || NegotiatedProtocol(conn) != c.want {
			t.Fatalf("offer %v: negotiated %q, want %q", c.offer, atOpen, c.want)
		}
		conn.Close()
		r.WaitClose(t)
	}

	// Required, and the server does not do ALPN.
	req := newClient(t, Config{NextProtos: []string{"h2"}, RequireALPN: true})
	r := newResult()
	dialServerName(t, e, req, noALPN, "localhost", r)
	err := r.WaitClose(t)
	var he *HandshakeError
	if !errors.As(err, &he) || !errors.Is(err, ErrALPNMismatch) {
		t.Fatalf("close reason %v (%T)", err, err)
	}
	// Required, and the server refuses with no_application_protocol.
	r = newResult()
	dialServerName(t, e, req, onlyH1Addr, "localhost", r)
	err = r.WaitClose(t)
	var ae *AlertError
	if !errors.Is(err, ErrALPNMismatch) || !errors.As(err, &ae) || !ae.Remote {
		t.Fatalf("close reason %v (%T)", err, err)
	}
	t.Log(err)
}

// TestALPNEngineServer: the server side reports the protocol too.
func TestALPNEngineServer(t *testing.T) {
	checkLeaks(t)
	e := newEngine(t, engine.BackendPoll)
	cfg := serverTLS()
	cfg.NextProtos = []string{"h2", "http/1.1"}
	got := make(chan string, 1)
	addr := newEngineServer(t, e, cfg, func(*engine.Conn) engine.Handler {
		return &engine.HandlerFuncs{Open: func(c *engine.Conn) { got <- NegotiatedProtocol(c) }}
	})
	cl := newClient(t, Config{NextProtos: []string{"http/1.1"}})
	r := newResult()
	c := dialServerName(t, e, cl, addr, "localhost", r)
	r.WaitOpen(t)
	if p := <-got; p != "http/1.1" {
		t.Fatalf("server negotiated %q", p)
	}
	c.Close()
	r.WaitClose(t)
}

func TestClientCertificate(t *testing.T) {
	p := pki()
	for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			checkLeaks(t)
			e := newEngine(t, engine.BackendPoll)
			cfg := serverTLS()
			cfg.MaxVersion = version
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
			cfg.ClientCAs = p.clientCAPool()
			peer := make(chan string, 1)
			srv := newGoTLSServer(t, cfg, func(c *tls.Conn) {
				peer <- c.ConnectionState().PeerCertificates[0].Subject.CommonName
				echoTLS(c)
			})

			keys := encryptedKeys(t)
			dir := t.TempDir()
			for _, cc := range []Config{
				{CertPEM: p.clientCertPEM, KeyPEM: p.clientKeyPEM},
				{CertFile: writeFile(t, dir, "c.pem", p.clientCertPEM), KeyFile: writeFile(t, dir, "k.pem", keys["pkcs8 pbkdf2"]), KeyPassword: keyPassword},
				{CertPEM: p.clientCertPEM, KeyPEM: keys["legacy pem"], KeyPassword: keyPassword},
			} {
				openClose(t, e, newClient(t, cc), srv.Addr())
				if cn := <-peer; cn != "egress test client" {
					t.Fatalf("server saw %q", cn)
				}
			}

			// Without a certificate the server refuses: during the
			// handshake in TLS 1.2; right after it in TLS 1.3, where the
			// client finishes first.
			cl := newClient(t, Config{})
			r := newResult()
			dialServerName(t, e, cl, srv.Addr(), "localhost", r)
			err := r.WaitClose(t)
			var ae *AlertError
			if !errors.As(err, &ae) || !ae.Remote {
				t.Fatalf("close reason %v (%T)", err, err)
			}
			var he *HandshakeError
			if isHS := errors.As(err, &he); isHS != (version == tls.VersionTLS12) {
				t.Fatalf("TLS %x: close reason %v is a handshake error: %v", version, err, isHS)
			}
			t.Log(err)
		})
	}
}

func TestResumption(t *testing.T) {
	checkLeaks(t)
	e := newEngine(t, engine.BackendPoll)
	goSrv := newGoTLSServer(t, serverTLS(), echoTLS).Addr()
	resumed := make(chan bool, 4)
	engSrv := newEngineServer(t, e, serverTLS(), func(*engine.Conn) engine.Handler {
		return &engine.HandlerFuncs{
			Open: func(c *engine.Conn) {
				st, _ := State(c)
				resumed <- st.DidResume
			},
			Data: func(c *engine.Conn, b []byte) { c.Write(b) },
		}
	})
	for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		for name, addr := range map[string]string{"go": goSrv, "engine": engSrv} {
			base := &tls.Config{MaxVersion: version}
			cl := newClient(t, Config{TLS: base, RootCAsPEM: pki().ca.pem})
			if st := openClose(t, e, cl, addr); st.DidResume || st.Version != version {
				t.Fatalf("%s: first connection: resumed %v, version %x", name, st.DidResume, st.Version)
			}
			if st := openClose(t, e, cl, addr); !st.DidResume {
				t.Fatalf("%s %s: second connection not resumed", name, tls.VersionName(version))
			}
			off := newClient(t, Config{TLS: base, RootCAsPEM: pki().ca.pem, DisableResumption: true})
			openClose(t, e, off, addr)
			if st := openClose(t, e, off, addr); st.DidResume {
				t.Fatalf("%s: resumed with resumption disabled", name)
			}
			if name == "engine" {
				want := []bool{false, true, false, false}
				for i, w := range want {
					if got := <-resumed; got != w {
						t.Fatalf("engine server, connection %d: DidResume %v", i, got)
					}
				}
			}
		}
	}
}

// TestConfigIsolation: the base tls.Config is cloned, and TLSConfig is one
// pointer per Client.
func TestConfigIsolation(t *testing.T) {
	base := &tls.Config{}
	cl := newClient(t, Config{TLS: base, NextProtos: []string{"h2"}})
	if base.MinVersion != 0 || base.NextProtos != nil || base.ClientSessionCache != nil {
		t.Fatal("base config modified")
	}
	cfg := cl.TLSConfig()
	if cfg != cl.TLSConfig() || cfg.MinVersion != tls.VersionTLS12 || cfg.ClientSessionCache == nil || cfg.InsecureSkipVerify {
		t.Fatalf("effective config %+v", cfg)
	}
	a, b := cl.Layer("a.example").(*layer), cl.Layer("a.example").(*layer)
	if a.cfg != b.cfg || a.cfg.ServerName != "a.example" || a.cfg.ClientSessionCache != cfg.ClientSessionCache {
		t.Fatal("per-host configs not shared")
	}
	if v6 := cl.Layer("[::1]").(*layer); v6.cfg.ServerName != "::1" {
		t.Fatalf("IPv6 server name %q", v6.cfg.ServerName)
	}
}
