package tlsconn

import (
	"crypto/tls"
	"time"

	"github.com/egress-go/egress/engine"
)

// ServerConfig describes the TLS side of accepted connections.
type ServerConfig struct {
	// TLS holds the certificates and settings; it is cloned once, when
	// NewServer is called. A zero MinVersion means TLS 1.2.
	TLS *tls.Config
	// HandshakeTimeout bounds each handshake, including any wait for a
	// free handshake worker; zero or negative means
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
}

// NewServer returns the function to put in engine.ListenConfig.Layer so
// that every accepted connection speaks TLS: the handler's OnOpen runs
// once the handshake has succeeded, and OnData sees plaintext.
func NewServer(sc ServerConfig) func(c *engine.Conn) engine.Layer {
	cfg := &tls.Config{}
	if sc.TLS != nil {
		cfg = sc.TLS.Clone()
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	timeout := sc.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	p := &params{server: true, timeout: timeout, pool: &serverPool}
	return func(*engine.Conn) engine.Layer { return &layer{p: p, cfg: cfg} }
}

// Server is NewServer with the default handshake timeout.
func Server(cfg *tls.Config) func(c *engine.Conn) engine.Layer {
	return NewServer(ServerConfig{TLS: cfg})
}
