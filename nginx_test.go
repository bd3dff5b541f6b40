//go:build unix

package egress

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/nginxtest"
	"github.com/egress-go/egress/internal/testkit"
)

const nginxServer = `
	location = /small { default_type text/plain; return 200 "hello, egress"; }
	location = /upload { client_max_body_size 16m; client_body_buffer_size 16m; return 200 "uploaded"; }
	location /static/ { root Dir; gzip on; gzip_types text/plain; gzip_min_length 100; }
`

// selfSigned makes a certificate and key for 127.0.0.1.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte, roots *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "egress test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	cert, _ := x509.ParseCertificate(der)
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), roots
}

func TestNginx(t *testing.T) {
	testkit.CheckLeaks(t)
	big := bytes.Repeat([]byte("nginx serves this file to egress.\n"), 32<<10) // ~1 MiB
	srv := nginxtest.Start(t, nginxtest.Config{Server: nginxServer, Files: map[string][]byte{"static/big.txt": big}})
	base := "http://" + srv.Addr
	tr := newTestTransport(t, Options{})
	client := &http.Client{Transport: tr}
	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return resp, b
	}
	for i := 0; i < 50; i++ {
		if resp, b := get("/small"); resp.StatusCode != 200 || string(b) != "hello, egress" {
			t.Fatalf("small: %d %q", resp.StatusCode, b)
		}
	}
	resp, b := get("/static/big.txt")
	if sha256.Sum256(b) != sha256.Sum256(big) || !resp.Uncompressed {
		t.Fatalf("big: %d bytes, uncompressed=%v (nginx gzip)", len(b), resp.Uncompressed)
	}
	if resp, _ := get("/missing"); resp.StatusCode != 404 {
		t.Fatalf("missing: %d", resp.StatusCode)
	}
	head, err := client.Head(base + "/static/big.txt")
	if err != nil || head.ContentLength != int64(len(big)) {
		t.Fatalf("HEAD: %v %v", head, err)
	}
	head.Body.Close()
	up, err := client.Post(base+"/upload", "application/octet-stream", bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	ub, _ := io.ReadAll(up.Body)
	up.Body.Close()
	if string(ub) != "uploaded" {
		t.Fatalf("upload: %q", ub)
	}
	if s := tr.Stats(); s.Pool.Dials != 1 || s.Failures != 0 {
		t.Fatalf("54 requests on %d connections, %d failures", s.Pool.Dials, s.Failures)
	}
}

func TestNginxHTTPS(t *testing.T) {
	testkit.CheckLeaks(t)
	certPEM, keyPEM, roots := selfSigned(t)
	srv := nginxtest.Start(t, nginxtest.Config{Server: nginxServer, CertPEM: certPEM, KeyPEM: keyPEM})
	tr := newTestTransport(t, Options{TLSClientConfig: &tls.Config{RootCAs: roots}})
	for i := 0; i < 5; i++ {
		resp, err := (&http.Client{Transport: tr}).Get("https://" + srv.Addr + "/small")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "hello, egress" {
			t.Fatalf("got %q", b)
		}
	}
	if s := tr.Stats(); s.Pool.Dials != 1 {
		t.Fatalf("%d TLS connections for 5 requests", s.Pool.Dials)
	}
	// And the name in the certificate, through the resolver.
	_, port, _ := net.SplitHostPort(srv.Addr)
	resp, err := (&http.Client{Transport: tr}).Get(fmt.Sprintf("https://localhost:%s/small", port))
	if err != nil && !strings.Contains(err.Error(), "connection refused") { // localhost may be ::1 first; nginx listens on 127.0.0.1
		t.Fatal(err)
	}
	if err == nil {
		resp.Body.Close()
	}
}
