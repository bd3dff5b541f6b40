package tlsconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/internal/testkit"
)

// verifyCase is one certificate check that must fail, or pass.
type verifyCase struct {
	name       string
	cert       func(p *testPKI) tls.Certificate
	serverName string
	cfg        Config
	want       VerifyReason // ignored when ok
	ok         bool
}

func verifyCases(p *testPKI) []verifyCase {
	good := func(p *testPKI) tls.Certificate { return p.serverCert }
	expired := func(p *testPKI) tls.Certificate { return p.expiredCert }
	return []verifyCase{
		{name: "good", cert: good, serverName: "localhost", ok: true},
		{name: "wrong host name", cert: good, serverName: "wrong.example", want: VerifyHostname},
		{name: "unknown CA", cert: good, serverName: "localhost", cfg: Config{RootCAsPEM: p.otherCA.pem}, want: VerifyUnknownAuthority},
		{name: "expired", cert: expired, serverName: "localhost", want: VerifyExpired},
		{name: "insecure skips host", cert: good, serverName: "wrong.example", cfg: Config{InsecureSkipVerify: true}, ok: true},
		{name: "insecure skips CA", cert: good, serverName: "localhost", cfg: Config{RootCAsPEM: p.otherCA.pem, InsecureSkipVerify: true}, ok: true},
		{name: "insecure skips expiry", cert: expired, serverName: "localhost", cfg: Config{InsecureSkipVerify: true}, ok: true},
	}
}

// checkVerify dials addr for one case and checks the outcome.
func checkVerify(t *testing.T, e *engine.Engine, addr string, vc verifyCase) {
	t.Helper()
	cl := newClient(t, vc.cfg)
	r := newResult()
	c := dialServerName(t, e, cl, addr, vc.serverName, r)
	if vc.ok {
		r.WaitOpen(t)
		c.Close()
		mustIs(t, r.WaitClose(t), engine.ErrLocalClose)
		return
	}
	err := r.WaitClose(t)
	var he *HandshakeError
	var ve *VerifyError
	if !errors.As(err, &he) || !errors.As(err, &ve) {
		t.Fatalf("close reason %v (%T), want a *VerifyError in a *HandshakeError", err, err)
	}
	if ve.Reason != vc.want {
		t.Fatalf("reason %v, want %v (%v)", ve.Reason, vc.want, err)
	}
	if he.ServerName != vc.serverName {
		t.Fatalf("ServerName %q", he.ServerName)
	}
	switch vc.want {
	case VerifyHostname:
		var x x509.HostnameError
		if !errors.As(err, &x) {
			t.Fatalf("%v does not wrap x509.HostnameError", err)
		}
	case VerifyUnknownAuthority:
		var x x509.UnknownAuthorityError
		if !errors.As(err, &x) {
			t.Fatalf("%v does not wrap x509.UnknownAuthorityError", err)
		}
	case VerifyExpired:
		var x x509.CertificateInvalidError
		if !errors.As(err, &x) || x.Reason != x509.Expired {
			t.Fatalf("%v does not wrap an expiry", err)
		}
	}
	if r.Opened() {
		t.Fatal("OnOpen ran for a connection that failed verification")
	}
}

// TestVerifyGoServer checks verification against crypto/tls servers, one
// per certificate.
func TestVerifyGoServer(t *testing.T) {
	checkLeaks(t)
	p := pki()
	e := newEngine(t, engine.BackendPoll)
	for _, vc := range verifyCases(p) {
		t.Run(vc.name, func(t *testing.T) {
			srv := newGoTLSServer(t, &tls.Config{Certificates: []tls.Certificate{vc.cert(p)}}, echoTLS)
			checkVerify(t, e, srv.Addr(), vc)
		})
	}
}

// TestRootCAFile reads roots from a file, and reports bad ones clearly.
func TestRootCAFile(t *testing.T) {
	checkLeaks(t)
	p := pki()
	dir := t.TempDir()
	e := newEngine(t, engine.BackendPoll)
	srv := newGoTLSServer(t, serverTLS(), echoTLS)
	checkVerify(t, e, srv.Addr(), verifyCase{serverName: "localhost", cfg: Config{RootCAFile: writeFile(t, dir, "ca.pem", p.ca.pem)}, ok: true})

	for _, bad := range []struct {
		cfg  Config
		want error
	}{
		{Config{RootCAFile: dir + "/missing.pem"}, nil},
		{Config{RootCAsPEM: []byte("not PEM")}, ErrNoPEM},
		{Config{RootCAsPEM: p.serverKeyPEM}, ErrNoPEM},
		{Config{RootCAsPEM: []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")}, nil},
	} {
		_, err := NewClient(&bad.cfg)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.What != "root CAs" {
			t.Fatalf("%+v: error %v (%T)", bad.cfg, err, err)
		}
		if bad.want != nil {
			mustIs(t, err, bad.want)
		}
		t.Log(err)
	}
}

// TestHandshakeTimeout: a server that accepts TCP and never answers.
func TestHandshakeTimeout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be engine.Backend) {
		silent := testkit.NewServer(t, nil) // never answers
		e := newEngine(t, be)
		cl := newClient(t, Config{HandshakeTimeout: 200 * time.Millisecond})
		r := newResult()
		start := time.Now()
		dialServerName(t, e, cl, silent.Addr(), "localhost", r)
		err := r.WaitClose(t)
		took := time.Since(start)
		mustIs(t, err, ErrHandshakeTimeout)
		var he *HandshakeError
		if !errors.As(err, &he) || !he.Timeout() {
			t.Fatalf("close reason %v (%T)", err, err)
		}
		// Never before the timeout; WaitClose gives up after 10 s.
		if took < 200*time.Millisecond {
			t.Fatalf("timed out after %v, before the 200ms timeout", took)
		}
		waitWorkers(t, 0)
	})
}

// TestHandshakeQueue: with one worker, handshakes wait their turn, all
// succeed, and the queue wait counts against the timeout.
func TestHandshakeQueue(t *testing.T) {
	checkLeaks(t)
	prev := clientPool.setMax(1)
	defer clientPool.setMax(prev)
	clientPool.mu.Lock()
	clientPool.peak = 0
	clientPool.mu.Unlock()

	e := newEngine(t, engine.BackendPoll)
	addr := newEngineServer(t, e, serverTLS(), echoHandler)
	cl := newClient(t, Config{})
	var rs []*result
	var cs []*engine.Conn
	for i := 0; i < 20; i++ {
		r := newResult()
		rs = append(rs, r)
		cs = append(cs, dialServerName(t, e, cl, addr, "localhost", r))
	}
	for i, r := range rs {
		r.WaitOpen(t)
		cs[i].Close()
		r.WaitClose(t)
	}
	if _, peak := clientPool.stats(); peak != 1 {
		t.Fatalf("peak workers %d, bound 1", peak)
	}

	// A stalled server holds the only worker (until the test closes that
	// connection); a handshake queued behind it times out while it waits.
	// The worker of the handshakes above must be gone first, or it could
	// be the one counted and take the queued handshake.
	waitWorkers(t, 0)
	silent := testkit.NewServer(t, nil) // never answers
	slow := newClient(t, Config{HandshakeTimeout: time.Minute})
	r1 := newResult()
	c1 := dialServerName(t, e, slow, silent.Addr(), "localhost", r1)
	waitWorkers(t, 1)
	quick := newClient(t, Config{HandshakeTimeout: 100 * time.Millisecond})
	r2 := newResult()
	dialServerName(t, e, quick, addr, "localhost", r2)
	mustIs(t, r2.WaitClose(t), ErrHandshakeTimeout)
	if r2.Opened() {
		t.Fatal("the queued handshake opened")
	}
	c1.Close()
	mustIs(t, r1.WaitClose(t), engine.ErrLocalClose)
	waitWorkers(t, 0)
}
