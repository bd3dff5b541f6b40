package tlsconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/egress-go/egress/engine"
)

// DefaultHandshakeTimeout bounds a handshake, including its wait for a
// free worker, when the configuration does not say otherwise.
const DefaultHandshakeTimeout = 10 * time.Second

// DefaultSessionCacheSize is the number of TLS sessions a Client keeps for
// resumption unless Config.TLS brings its own cache.
const DefaultSessionCacheSize = 256

// Config describes the TLS side of client connections. The zero value is
// safe: certificates are verified against the system roots, the server
// name is the dial host, TLS 1.2 is the minimum, and sessions are resumed.
type Config struct {
	// TLS, if set, is the base configuration; it is cloned, never
	// modified. The fields below are applied on top. A ServerName set here
	// is used for every connection instead of the dial host.
	TLS *tls.Config

	// RootCAsPEM and RootCAFile add trusted roots (PEM "CERTIFICATE"
	// blocks). When either is set, these roots replace the system roots.
	RootCAsPEM []byte
	RootCAFile string

	// CertPEM/CertFile and KeyPEM/KeyFile give a client certificate chain
	// and its private key, for servers that ask for one. The key may be
	// PKCS#1, SEC 1 (EC) or PKCS#8, and may be encrypted: PKCS#8
	// "ENCRYPTED PRIVATE KEY" (PBES2, as openssl writes it), or legacy
	// "Proc-Type: 4,ENCRYPTED" PEM (weak; supported to read old files).
	CertPEM, KeyPEM   []byte
	CertFile, KeyFile string
	// KeyPassword decrypts an encrypted key.
	KeyPassword string

	// InsecureSkipVerify turns certificate and host name verification off.
	// Only for tests and for peers pinned by other means.
	InsecureSkipVerify bool

	// NextProtos lists the ALPN protocols to offer, in order of preference
	// ("h2", "http/1.1"). NegotiatedProtocol reports the server's choice.
	NextProtos []string
	// RequireALPN fails the handshake with ErrALPNMismatch when the server
	// chooses none of NextProtos.
	RequireALPN bool

	// DisableResumption turns session resumption off: every handshake is
	// a full one. Otherwise the Client keeps a session cache (the one in
	// TLS.ClientSessionCache, or its own of DefaultSessionCacheSize)
	// shared by all its connections.
	DisableResumption bool

	// HandshakeTimeout bounds each handshake, counted from the moment the
	// TCP connection is up and including any wait for a free handshake
	// worker; zero or negative means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
}

// Client makes TLS layers for engine connections from one Config. It is
// safe for concurrent use; build it once and share it, since it parses the
// PEM inputs once and holds the session cache.
type Client struct {
	base *tls.Config // effective settings; ServerName empty unless forced
	p    params

	mu     sync.Mutex
	byHost map[string]*tls.Config // base plus ServerName, per host
}

// maxHostConfigs bounds Client.byHost; past it, the map starts over.
const maxHostConfigs = 1024

// NewClient checks cfg, reads and parses its files and PEM inputs, and
// returns a Client. Errors are *ConfigError values wrapping ErrNoPEM,
// ErrKeyEncrypted, ErrKeyPassword, a file system error or a parse error.
// A nil cfg means the zero Config.
func NewClient(cfg *Config) (*Client, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	var base *tls.Config
	if cfg.TLS != nil {
		base = cfg.TLS.Clone()
	} else {
		base = &tls.Config{}
	}
	if base.MinVersion == 0 {
		base.MinVersion = tls.VersionTLS12
	}
	if cfg.InsecureSkipVerify {
		base.InsecureSkipVerify = true
	}
	if len(cfg.RootCAsPEM) > 0 || cfg.RootCAFile != "" {
		roots := x509.NewCertPool()
		if len(cfg.RootCAsPEM) > 0 {
			if err := addRoots(roots, cfg.RootCAsPEM, "PEM bytes"); err != nil {
				return nil, err
			}
		}
		if cfg.RootCAFile != "" {
			data, err := os.ReadFile(cfg.RootCAFile)
			if err != nil {
				return nil, &ConfigError{What: "root CAs", Source: cfg.RootCAFile, Err: err}
			}
			if err := addRoots(roots, data, cfg.RootCAFile); err != nil {
				return nil, err
			}
		}
		base.RootCAs = roots
	}
	if len(cfg.CertPEM) > 0 || len(cfg.KeyPEM) > 0 || cfg.CertFile != "" || cfg.KeyFile != "" {
		cert, err := loadKeyPair(cfg)
		if err != nil {
			return nil, err
		}
		base.Certificates = []tls.Certificate{cert}
	}
	if len(cfg.NextProtos) > 0 {
		base.NextProtos = slices.Clone(cfg.NextProtos)
	}
	if cfg.RequireALPN && len(base.NextProtos) == 0 {
		return nil, &ConfigError{What: "ALPN", Source: "Config", Err: errors.New("RequireALPN is set but NextProtos is empty")}
	}
	if cfg.DisableResumption {
		base.ClientSessionCache = nil
		base.SessionTicketsDisabled = true
	} else if base.ClientSessionCache == nil {
		base.ClientSessionCache = tls.NewLRUClientSessionCache(DefaultSessionCacheSize)
	}
	timeout := cfg.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	return &Client{
		base:   base,
		p:      params{timeout: timeout, requireALPN: cfg.RequireALPN, pool: &clientPool},
		byHost: map[string]*tls.Config{},
	}, nil
}

// TLSConfig returns the Client's effective configuration, one pointer for
// the life of the Client, so that a connection pool can key connections by
// it (together with the host). Connections use copies of it with
// ServerName set to their host. Do not modify it.
func (cl *Client) TLSConfig() *tls.Config { return cl.base }

// HandshakeTimeout returns the handshake timeout in force.
func (cl *Client) HandshakeTimeout() time.Duration { return cl.p.timeout }

// Layer returns a new TLS layer for one connection to serverName, the host
// part of the dial address: it is sent as SNI and verified against the
// certificate (an IP address is checked against the certificate's IP
// addresses and not sent as SNI). Pass it in engine.DialOptions.Layer.
func (cl *Client) Layer(serverName string) engine.Layer {
	return &layer{p: &cl.p, cfg: cl.configFor(serverName)}
}

// Dial is engine.Engine.Dial with this Client's TLS layer for the host of
// address; opts may be nil. OnOpen runs once the handshake has succeeded,
// and OnClose reports a failed handshake as a *HandshakeError.
func (cl *Client) Dial(ctx context.Context, e *engine.Engine, network, address string, h engine.Handler, opts *engine.DialOptions) (*engine.Conn, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, &engine.DialError{Network: network, Address: address, Err: err}
	}
	if host == "" {
		host = "localhost" // as engine.Dial does
	}
	var o engine.DialOptions
	if opts != nil {
		o = *opts
	}
	o.Layer = cl.Layer(host)
	return e.Dial(ctx, network, address, h, &o)
}

// configFor returns the configuration for connections to host: the base
// with ServerName set, one copy per host so that an idle connection does
// not carry a tls.Config of its own.
func (cl *Client) configFor(host string) *tls.Config {
	if cl.base.ServerName != "" {
		return cl.base
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if i := strings.IndexByte(host, '%'); i >= 0 {
		host = host[:i] // an IPv6 zone is not part of the name
	}
	if host == "" {
		return cl.base // crypto/tls refuses this unless verification is off
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if c, ok := cl.byHost[host]; ok {
		return c
	}
	if len(cl.byHost) >= maxHostConfigs {
		clear(cl.byHost)
	}
	c := cl.base.Clone()
	c.ServerName = host
	cl.byHost[host] = c
	return c
}
