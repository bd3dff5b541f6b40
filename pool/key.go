package pool

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// Key names a class of interchangeable connections. Everything that shapes
// a connection is in it, so two keys that differ in any field never share a
// connection. Key is comparable and is used as a map key.
type Key struct {
	// Network is "tcp", "tcp4" or "tcp6"; "" means "tcp".
	Network string
	// Addr is the dialed "host:port".
	Addr string
	// TLS is compared by identity, not content: two distinct *tls.Config
	// values are different keys even when they hold the same settings,
	// because comparing configs deeply is neither cheap nor well defined
	// (callbacks, certificate pools). Reuse one *tls.Config per upstream.
	TLS *tls.Config
	// ALPN is the protocol list offered in the handshake, as built by
	// ALPN. It is part of the key because a config's NextProtos may be
	// changed between dials, and an "h2" connection cannot serve an
	// "http/1.1" user.
	ALPN string
	// Proxy identifies the proxy the connection goes through ("" for none),
	// for instance its URL.
	Proxy string
}

// KeyFor returns the key for a connection to addr over network, with TLS
// settings cfg (nil for plain text) through proxy ("" for none). Its ALPN
// field is built from cfg.NextProtos.
func KeyFor(network, addr string, cfg *tls.Config, proxy string) Key {
	k := Key{Network: network, Addr: addr, TLS: cfg, Proxy: proxy}
	if cfg != nil {
		k.ALPN = ALPN(cfg.NextProtos)
	}
	return k
}

// ALPN encodes a protocol list for Key.ALPN: the protocols joined with
// commas, in order. A comma or percent sign inside a protocol ID is
// escaped (%2C, %25), so distinct lists always give distinct strings.
func ALPN(protos []string) string {
	switch len(protos) {
	case 0:
		return ""
	case 1:
		return escapeALPN(protos[0])
	}
	var b strings.Builder
	for i, p := range protos {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(escapeALPN(p))
	}
	return b.String()
}

func escapeALPN(p string) string {
	if !strings.ContainsAny(p, ",%") {
		return p
	}
	return strings.NewReplacer("%", "%25", ",", "%2C").Replace(p)
}

// String describes the key for logs and expvar: network and address, then
// the TLS config's identity, ALPN list and proxy when set.
func (k Key) String() string {
	network := k.Network
	if network == "" {
		network = "tcp"
	}
	s := network + " " + k.Addr
	if k.TLS != nil {
		s += fmt.Sprintf(" tls=%p", k.TLS)
	}
	if k.ALPN != "" {
		s += " alpn=" + k.ALPN
	}
	if k.Proxy != "" {
		s += " proxy=" + k.Proxy
	}
	return s
}
