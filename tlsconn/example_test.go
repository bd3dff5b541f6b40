package tlsconn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/tlsconn"
)

// Example runs a TLS echo server and a client on one engine. The client's
// handler is an ordinary engine handler: OnOpen runs once the handshake
// has succeeded, OnData sees plaintext, and Close sends close_notify.
func Example() {
	eng, err := engine.New(engine.Config{})
	if err != nil {
		panic(err)
	}
	defer eng.Close()

	cert, rootPEM := selfSigned("127.0.0.1")
	echo := func(*engine.Conn) engine.Handler {
		return &engine.HandlerFuncs{Data: func(c *engine.Conn, b []byte) { c.Write(b) }}
	}
	ln, err := eng.Listen("tcp", "127.0.0.1:0", echo, &engine.ListenConfig{
		Layer: tlsconn.Server(&tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"echo/1"}}),
	})
	if err != nil {
		panic(err)
	}
	defer ln.Close()

	// Build the client once: PEM is parsed here, and its connections share
	// one session cache.
	client, err := tlsconn.NewClient(&tlsconn.Config{
		RootCAsPEM: rootPEM,
		NextProtos: []string{"echo/1"},
	})
	if err != nil {
		panic(err)
	}
	done := make(chan struct{})
	h := &engine.HandlerFuncs{
		Open: func(c *engine.Conn) {
			st, _ := tlsconn.State(c)
			fmt.Println("handshake:", tls.VersionName(st.Version), tlsconn.NegotiatedProtocol(c))
			c.Write([]byte("hello"))
		},
		Data: func(c *engine.Conn, b []byte) {
			fmt.Printf("echo: %s\n", b)
			c.Close()
		},
		Close: func(c *engine.Conn, err error) {
			fmt.Println("closed:", err)
			close(done)
		},
	}
	// The host of the address (here an IP address) is what the
	// certificate is verified against.
	if _, err := client.Dial(context.Background(), eng, "tcp", ln.Addr().String(), h, nil); err != nil {
		panic(err)
	}
	<-done
	// Output:
	// handshake: TLS 1.3 echo/1
	// echo: hello
	// closed: egress: connection closed locally
}

// selfSigned makes a throwaway certificate for host and returns it with
// its PEM, to be trusted by the client.
func selfSigned(host string) (tls.Certificate, []byte) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: host},
		IPAddresses:           []net.IP{net.ParseIP(host)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
