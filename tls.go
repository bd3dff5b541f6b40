package egress

import (
	"crypto/tls"
	"errors"

	"github.com/egress-go/egress/engine"
)

// tlsClients holds the TLS client setup shared by the transport's https
// connections. (Wired to package tlsconn in the next change.)
type tlsClients struct{ cfg *tls.Config }

func newTLSClients(opts Options) *tlsClients { return &tlsClients{cfg: &tls.Config{}} }

func (c *tlsClients) config() *tls.Config { return c.cfg }

func (c *tlsClients) layer(cfg *tls.Config, host string) engine.Layer { return nil }

var errNoTLS = errors.New("egress: https is not wired yet")
