package tlsconn

import (
	"crypto/tls"

	"github.com/egress-go/egress/engine"
)

// State returns the TLS state of c: version, cipher suite, the peer's
// certificates, ALPN, whether the session was resumed. ok is false when c
// has no TLS layer of this package or its handshake has not succeeded. It
// may be called from any goroutine, and still answers after c closed.
func State(c *engine.Conn) (state tls.ConnectionState, ok bool) {
	l := layerOf(c)
	if l == nil {
		return tls.ConnectionState{}, false
	}
	l.mu.Lock()
	done := l.established
	l.mu.Unlock()
	if !done {
		return tls.ConnectionState{}, false
	}
	return l.tc.ConnectionState(), true
}

// SharedState is State as one value for everyone who asks, made the
// first time it is asked for and kept with c: what net/http gives every
// Response of a connection as Response.TLS. Callers must not modify it.
// It is nil when State's ok would be false. Any goroutine.
func SharedState(c *engine.Conn) *tls.ConnectionState {
	l := layerOf(c)
	if l == nil {
		return nil
	}
	l.mu.Lock()
	done, st := l.established, l.shared
	l.mu.Unlock()
	if !done || st != nil {
		return st
	}
	// Made outside l.mu: crypto/tls takes locks of its own, which its
	// writes, going through the layer, may hold while they take l.mu.
	s := l.tc.ConnectionState()
	l.mu.Lock()
	if l.shared == nil {
		l.shared = &s
	}
	st = l.shared
	l.mu.Unlock()
	return st
}

// NegotiatedProtocol returns the ALPN protocol the peers agreed on, or ""
// when none was (or the handshake has not succeeded). Any goroutine.
func NegotiatedProtocol(c *engine.Conn) string {
	l := layerOf(c)
	if l == nil {
		return ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.proto
}

func layerOf(c *engine.Conn) *layer {
	if c == nil {
		return nil
	}
	l, _ := c.Layer().(*layer)
	return l
}
