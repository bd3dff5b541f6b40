package egress

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/http1"
	"github.com/egress-go/egress/pool"
)

// ProxyError reports a proxy that refused a CONNECT tunnel.
type ProxyError struct {
	Proxy      string // the proxy's address
	Target     string // the host:port asked for
	StatusCode int
	Status     string
}

func (e *ProxyError) Error() string {
	return fmt.Sprintf("egress: proxy %s refused CONNECT %s: %d %s", e.Proxy, e.Target, e.StatusCode, e.Status)
}

// proxyURL asks Options.Proxy for req's proxy; nil means none.
func (t *Transport) proxyURL(req *http.Request) (*url.URL, error) {
	pu, err := t.opts.Proxy(req)
	if err != nil || pu == nil {
		return nil, err
	}
	if pu.Scheme != "http" {
		return nil, fmt.Errorf("egress: proxy scheme %q is not supported (http only)", pu.Scheme)
	}
	return pu, nil
}

// proxyFor applies Options.Proxy to a request: the pool key gains the
// proxy, and a plain-http request is sent in absolute form with the
// proxy's credentials. https goes through a CONNECT tunnel (see dial).
func (t *Transport) proxyFor(req *http.Request, x *exchange) error {
	if t.opts.Proxy == nil {
		return nil
	}
	pu, err := t.proxyURL(req)
	if pu == nil {
		return err
	}
	x.key.Proxy = pu.String()
	if x.key.TLS == nil {
		x.target = req.URL.String()
		if auth := proxyAuth(pu); auth != "" {
			x.fields = append(append([]HeaderField(nil), x.fields...), HeaderField{Name: "Proxy-Authorization", Value: auth})
		}
	}
	return nil
}

// proxyExchange applies Options.Proxy to an Exchange whose URL, u, Send
// has just parsed. Proxy is asked once per URL (with a request of the
// exchange's method for it), not at every send: what it said serves every
// send of that URL, which keeps a resent Exchange free of allocations.
// A plain-http exchange keeps the proxy's credentials in proxyFields, sent
// after its Header.
func (t *Transport) proxyExchange(ex *Exchange, u *url.URL) error {
	ex.proxyFields = nil
	if t.opts.Proxy == nil {
		return nil
	}
	method := ex.Method
	if method == "" {
		method = http.MethodGet
	}
	pu, err := t.proxyURL(&http.Request{Method: method, URL: u, Host: u.Host, Header: http.Header{},
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1})
	if pu == nil {
		return err
	}
	x := &ex.x
	x.key.Proxy = pu.String()
	if x.key.TLS == nil {
		x.target = u.String()
		if auth := proxyAuth(pu); auth != "" {
			ex.proxyFields = []HeaderField{{Name: "Proxy-Authorization", Value: auth}}
		}
	}
	return nil
}

func proxyAuth(pu *url.URL) string {
	if pu.User == nil {
		return ""
	}
	pass, _ := pu.User.Password()
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(pu.User.Username()+":"+pass))
}

func proxyAddr(pu *url.URL) string {
	if pu.Port() != "" {
		return pu.Host
	}
	return net.JoinHostPort(pu.Hostname(), "80")
}

// dialProxy connects to key's proxy: as is for plain http, or through a
// CONNECT tunnel with TLS started inside it for https.
func (t *Transport) dialProxy(key pool.Key, h engine.Handler, o *engine.DialOptions, dial func(addr string, h engine.Handler, o *engine.DialOptions) (*engine.Conn, error)) (*engine.Conn, error) {
	pu, err := url.Parse(key.Proxy)
	if err != nil {
		return nil, err
	}
	if key.TLS == nil {
		return dial(proxyAddr(pu), h, o)
	}
	tun := &tunnel{next: h, layer: o.Layer, target: key.Addr, proxy: proxyAddr(pu), auth: proxyAuth(pu)}
	o.Layer = nil // TLS starts inside the tunnel, not on the socket
	return dial(tun.proxy, tun, o)
}

// tunnel asks a proxy for a CONNECT tunnel, then starts TLS inside it and
// hands the connection to the pool's handler, which sees OnOpen only when
// the tunnel and the handshake are done.
type tunnel struct {
	next   engine.Handler
	layer  engine.Layer
	target string
	proxy  string
	auth   string
	parser http1.ResponseParser
}

func (tu *tunnel) OnOpen(c *engine.Conn) {
	head := &http1.RequestHead{Method: "CONNECT", Target: tu.target, Host: tu.target}
	if tu.auth != "" {
		head.Fields = []http1.HeaderField{{Name: "Proxy-Authorization", Value: tu.auth}}
	}
	b, err := http1.AppendRequestHead(nil, head)
	if err != nil {
		c.CloseWithError(err)
		return
	}
	tu.parser.Reset("CONNECT")
	c.Write(b)
}

func (tu *tunnel) OnData(c *engine.Conn, in []byte) {
	for len(in) > 0 || !tu.parser.Done() {
		ev, n, err := tu.parser.Feed(in)
		in = in[n:]
		if err != nil {
			c.CloseWithError(err)
			return
		}
		switch ev {
		case http1.EventNone:
			return
		case http1.EventHead:
			if !tu.parser.Tunnel() {
				c.CloseWithError(&ProxyError{Proxy: tu.proxy, Target: tu.target, StatusCode: tu.parser.StatusCode(), Status: strings.TrimSpace(string(tu.parser.Reason()))})
				return
			}
			// The tunnel is up: from here on the bytes are the origin's.
			c.SetHandler(tu.next)
			if err := c.StartLayer(tu.layer); err != nil {
				c.CloseWithError(err)
			}
			return
		}
	}
}

func (tu *tunnel) OnWritten(*engine.Conn, int) {}

func (tu *tunnel) OnClose(c *engine.Conn, err error) { tu.next.OnClose(c, err) }
