package egress

import (
	"crypto/tls"
	"net/http/httptrace"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/tlsconn"
)

// tlsClients is the TLS client setup shared by the transport's https
// connections: one tlsconn.Client, so one *tls.Config (the pool keys on
// its identity) and one session cache for resumption.
type tlsClients struct {
	cl *tlsconn.Client
}

// newTLSClients sets up TLS for a transport that speaks protos, in order
// of preference, offered by ALPN.
func newTLSClients(opts Options, protos []string) (*tlsClients, error) {
	var cfg tlsconn.Config
	if opts.TLS != nil {
		cfg = *opts.TLS
	}
	if cfg.TLS == nil {
		cfg.TLS = opts.TLSClientConfig
	}
	if cfg.HandshakeTimeout == 0 {
		cfg.HandshakeTimeout = opts.TLSHandshakeTimeout
	}
	// The transport decides what ALPN offers: only protocols it can speak.
	// A server that ignores ALPN gets HTTP/1.1.
	cfg.NextProtos = protos
	cfg.RequireALPN = false
	cl, err := tlsconn.NewClient(&cfg)
	if err != nil {
		return nil, err
	}
	return &tlsClients{cl: cl}, nil
}

func (c *tlsClients) config() *tls.Config { return c.cl.TLSConfig() }

func (c *tlsClients) layer(cfg *tls.Config, host string) engine.Layer { return c.cl.Layer(host) }

// tlsTrace reports the handshake to httptrace: it stands in front of the
// pool's handler until the connection is ready, then steps aside.
type tlsTrace struct {
	next  engine.Handler
	trace *httptrace.ClientTrace
}

func (tt *tlsTrace) OnOpen(c *engine.Conn) {
	if tt.trace.TLSHandshakeDone != nil {
		st, _ := tlsconn.State(c)
		tt.trace.TLSHandshakeDone(st, nil)
	}
	c.SetHandler(tt.next)
	tt.next.OnOpen(c)
}

func (tt *tlsTrace) OnData(c *engine.Conn, b []byte)   { tt.next.OnData(c, b) }
func (tt *tlsTrace) OnWritten(c *engine.Conn, n int)   { tt.next.OnWritten(c, n) }
func (tt *tlsTrace) OnClose(c *engine.Conn, err error) { tt.next.OnClose(c, err) }

// traceTLS wraps h when the request traces TLS handshakes. The start is
// reported when the TCP connect completes.
func traceTLS(ct *httptrace.ClientTrace, o *engine.DialOptions, h engine.Handler) engine.Handler {
	if ct == nil || (ct.TLSHandshakeStart == nil && ct.TLSHandshakeDone == nil) {
		return h
	}
	tt := &tlsTrace{next: h, trace: ct}
	if o.Trace == nil {
		o.Trace = &engine.DialTrace{}
	}
	connectDone := o.Trace.ConnectDone
	o.Trace.ConnectDone = func(network, addr string, err error) {
		if connectDone != nil {
			connectDone(network, addr, err)
		}
		if err == nil && ct.TLSHandshakeStart != nil {
			ct.TLSHandshakeStart()
		}
	}
	return tt
}
