package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/egress-go/egress"
	"github.com/egress-go/egress/http1"
)

// tlsFlags are the TLS options shared by bench and get.
type tlsFlags struct {
	insecure          bool
	caFile            string
	certFile, keyFile string
}

func (f *tlsFlags) add(fs *pflag.FlagSet) {
	fs.BoolVarP(&f.insecure, "insecure", "k", false, "skip verification of the server's certificate")
	fs.StringVar(&f.caFile, "cacert", "", "PEM `file` of CA certificates to trust instead of the system's")
	fs.StringVar(&f.certFile, "cert", "", "client certificate PEM `file` (with --key)")
	fs.StringVar(&f.keyFile, "key", "", "client private key PEM `file` (with --cert)")
}

// config builds the client TLS configuration; nil when no flag was given,
// which means the transport's default: system roots, verification on.
func (f *tlsFlags) config() (*tls.Config, error) {
	if (f.certFile == "") != (f.keyFile == "") {
		return nil, usagef("--cert and --key go together")
	}
	if !f.insecure && f.caFile == "" && f.certFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: f.insecure}
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return nil, fmt.Errorf("--cacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cacert: no PEM certificate in %s", f.caFile)
		}
		cfg.RootCAs = pool
	}
	if f.certFile != "" {
		cert, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
		if err != nil {
			return nil, fmt.Errorf("--cert/--key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// protoFlags are the protocol switches shared by bench and get, with
// curl's names.
type protoFlags struct {
	http2, prior, http11 bool
}

func (f *protoFlags) add(fs *pflag.FlagSet) {
	fs.BoolVar(&f.http2, "http2", false, "offer HTTP/2 by ALPN over TLS, HTTP/1.1 if the server does not pick it (the default for https)")
	fs.BoolVar(&f.prior, "http2-prior-knowledge", false, "speak HTTP/2 at once on http:// URLs (h2c), for servers known to accept it")
	fs.BoolVar(&f.http11, "http1.1", false, "speak only HTTP/1.1, never HTTP/2")
}

// options turns the switches into the transport's HTTP/2 settings. They
// exclude each other; with none, https offers h2 by ALPN and http://
// speaks HTTP/1.1. --http2 on an http:// URL speaks HTTP/1.1 as well: the
// transport does not do the Upgrade: h2c dance (use
// --http2-prior-knowledge).
func (f *protoFlags) options(cmdName string) (egress.HTTP2Options, error) {
	n := 0
	for _, on := range []bool{f.http2, f.prior, f.http11} {
		if on {
			n++
		}
	}
	if n > 1 {
		return egress.HTTP2Options{}, usagef("%s: --http2, --http2-prior-knowledge and --http1.1 exclude each other", cmdName)
	}
	return egress.HTTP2Options{Disable: f.http11, PriorKnowledge: f.prior}, nil
}

// multiplexes reports whether requests to u may share a connection:
// HTTP/2 is possible, by ALPN on https (unless --http1.1) or by prior
// knowledge on http://.
func (f *protoFlags) multiplexes(u *url.URL) bool {
	if f.http11 {
		return false
	}
	return u.Scheme == "https" || f.prior
}

// checkURL accepts an absolute http or https URL with a host.
func checkURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, usagef("bad URL %q: %v", raw, errorsTail(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, usagef("bad URL %q: the scheme must be http or https", raw)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, usagef("bad URL %q: no host", raw)
	}
	return u, nil
}

// errorsTail drops the "parse URL:" prefix url.Parse puts before the cause.
func errorsTail(err error) string {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err.Error()
	}
	return err.Error()
}

// parseHeaders turns "Name: value" arguments into fields, refusing
// anything that would not be a valid field line.
func parseHeaders(hs []string) ([]egress.HeaderField, error) {
	var out []egress.HeaderField
	for _, h := range hs {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, usagef("bad header %q: want \"Name: value\"", h)
		}
		f := egress.HeaderField{Name: name, Value: strings.TrimSpace(value)}
		// The request encoder is the judge of what may be sent.
		if _, err := http1.AppendRequestHead(nil, &http1.RequestHead{Target: "/", Host: "h", Fields: []http1.HeaderField{{Name: f.Name, Value: f.Value}}}); err != nil {
			return nil, usagef("bad header %q: %v", h, err)
		}
		out = append(out, f)
	}
	return out, nil
}

// checkMethod accepts a method token.
func checkMethod(m string) error {
	if _, err := http1.AppendRequestHead(nil, &http1.RequestHead{Method: m, Target: "/", Host: "h"}); err != nil {
		return usagef("bad method %q", m)
	}
	return nil
}
