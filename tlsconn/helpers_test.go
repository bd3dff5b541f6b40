package tlsconn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/internal/testkit"
)

// checkLeaks must be registered with t.Cleanup before anything else, so
// that it runs last: it waits, bounded, until goroutines, sockets and
// handshake workers are back to where they were.
func checkLeaks(t *testing.T) {
	t.Helper()
	testkit.CheckLeaks(t)
	t.Cleanup(func() { // runs first: the workers go before the goroutine count is read
		deadline := time.Now().Add(5 * time.Second)
		for {
			cw, _ := clientPool.stats()
			sw, _ := serverPool.stats()
			if cw == 0 && sw == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("leak: handshake workers %d+%d", cw, sw)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// ---- certificates, made once per test binary ----

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

type leafOpts struct {
	cn        string
	dns       []string
	ips       []net.IP
	notBefore time.Time
	notAfter  time.Time
	client    bool
}

var serial struct {
	sync.Mutex
	n int64
}

func nextSerial() *big.Int {
	serial.Lock()
	defer serial.Unlock()
	serial.n++
	return big.NewInt(serial.n)
}

func newCA(name string) *testCA {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a leaf certificate signed by ca, as PEM and as a
// tls.Certificate, with its key.
func (ca *testCA) issue(o leafOpts) (certPEM, keyPEM []byte, key *ecdsa.PrivateKey, cert tls.Certificate) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	if o.notBefore.IsZero() {
		o.notBefore = time.Now().Add(-time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = time.Now().Add(24 * time.Hour)
	}
	usage := x509.ExtKeyUsageServerAuth
	if o.client {
		usage = x509.ExtKeyUsageClientAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(),
		Subject:      pkix.Name{CommonName: o.cn},
		DNSNames:     o.dns,
		IPAddresses:  o.ips,
		NotBefore:    o.notBefore,
		NotAfter:     o.notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		panic(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		panic(err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		panic(err)
	}
	return certPEM, keyPEM, key, cert
}

// testPKI is the set of CAs and certificates the tests use.
type testPKI struct {
	ca, otherCA, clientCA *testCA

	serverCertPEM, serverKeyPEM   []byte
	serverCert                    tls.Certificate
	expiredCertPEM, expiredKeyPEM []byte
	expiredCert                   tls.Certificate
	clientCertPEM, clientKeyPEM   []byte
	clientKey                     *ecdsa.PrivateKey
}

var pki = sync.OnceValue(func() *testPKI {
	p := &testPKI{ca: newCA("egress test CA"), otherCA: newCA("unrelated CA"), clientCA: newCA("egress client CA")}
	local := leafOpts{cn: "localhost", dns: []string{"localhost"}, ips: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}}
	p.serverCertPEM, p.serverKeyPEM, _, p.serverCert = p.ca.issue(local)
	expired := local
	expired.notBefore, expired.notAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour)
	p.expiredCertPEM, p.expiredKeyPEM, _, p.expiredCert = p.ca.issue(expired)
	p.clientCertPEM, p.clientKeyPEM, p.clientKey, _ = p.clientCA.issue(leafOpts{cn: "egress test client", client: true})
	return p
})

func (p *testPKI) clientCAPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.clientCA.cert)
	return pool
}

// serverTLS is a server configuration with the test certificate.
func serverTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{pki().serverCert}}
}

// writeFile writes data into dir and returns the path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// ---- peers ----

// newGoTLSServer starts a crypto/tls server on Go's net package: serve
// runs on a goroutine per connection after the handshake.
func newGoTLSServer(t *testing.T, cfg *tls.Config, serve func(c *tls.Conn)) *testkit.Server {
	t.Helper()
	return testkit.NewServer(t, func(c net.Conn) {
		tc := tls.Server(c, cfg)
		tc.SetDeadline(time.Now().Add(10 * time.Second))
		if tc.Handshake() != nil {
			return
		}
		serve(tc)
	})
}

// echoTLS copies what it reads back until EOF, then closes with
// close_notify.
func echoTLS(c *tls.Conn) { testkit.Echo(c) }

// newEngine returns an engine closed at cleanup.
func newEngine(t *testing.T, be engine.Backend) *engine.Engine {
	t.Helper()
	e, err := engine.New(engine.Config{Loops: 2, Backend: be})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// newEngineServer starts an engine listener whose connections speak TLS
// and are served by h (a handler per connection).
func newEngineServer(t *testing.T, e *engine.Engine, cfg *tls.Config, h func(c *engine.Conn) engine.Handler) string {
	t.Helper()
	ln, err := e.Listen("tcp", "127.0.0.1:0", h, &engine.ListenConfig{Layer: Server(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// echoHandler echoes plaintext back.
func echoHandler(*engine.Conn) engine.Handler {
	return &engine.HandlerFuncs{Data: func(c *engine.Conn, b []byte) { c.Write(b) }}
}

func newClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	if cfg.RootCAsPEM == nil && cfg.RootCAFile == "" && !cfg.InsecureSkipVerify && cfg.TLS == nil {
		cfg.RootCAsPEM = pki().ca.pem
	}
	cl, err := NewClient(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// result collects a connection's callbacks for a test to wait on.
type result = testkit.Recorder[*engine.Conn]

func newResult() *result { return testkit.NewRecorder[*engine.Conn]() }

// dial dials address through cl with r's handler.
func dial(t *testing.T, e *engine.Engine, cl *Client, address string, r *result) *engine.Conn {
	t.Helper()
	c, err := cl.Dial(context.Background(), e, "tcp", address, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// dialServerName dials address but verifies serverName.
func dialServerName(t *testing.T, e *engine.Engine, cl *Client, address, serverName string, r *result) *engine.Conn {
	t.Helper()
	c, err := e.Dial(context.Background(), "tcp", address, r, &engine.DialOptions{Layer: cl.Layer(serverName)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v (%T) is not %v", err, err, target)
	}
}

// localhostAddr turns 127.0.0.1:port into localhost:port, so that the
// dial host is a name.
func localhostAddr(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return net.JoinHostPort("localhost", port)
}
