package egress

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

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

// connectError reports a CONNECT exchange that failed before the proxy
// gave an answer (a refusal is a *ProxyError): it names the proxy and the
// target, and wraps the cause, such as engine.ErrConnectTimeout, an
// *http1.LimitError or *http1.ProtocolError for a bad answer, or
// http1.ErrNoResponse for a proxy that closed the connection.
type connectError struct {
	proxy, target string
	err           error
}

func (e *connectError) Error() string {
	return fmt.Sprintf("egress: proxy %s, CONNECT %s: %v", e.proxy, e.target, e.err)
}

func (e *connectError) Unwrap() error { return e.err }

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
// CONNECT tunnel with TLS started inside it for https. The proxy's answer
// to CONNECT is awaited within what is left of the dial timeout
// (o.Timeout, counted from now), as the TCP connect is: a proxy that never
// answers must not hold a request for ever. (The request's context bounds
// it too: the pool watches it until the connection opens.)
func (t *Transport) dialProxy(key pool.Key, h engine.Handler, o *engine.DialOptions, dial func(addr string, h engine.Handler, o *engine.DialOptions) (*engine.Conn, error)) (*engine.Conn, error) {
	pu, err := url.Parse(key.Proxy)
	if err != nil {
		return nil, err
	}
	if key.TLS == nil {
		return dial(proxyAddr(pu), h, o)
	}
	tun := &tunnel{next: h, layer: o.Layer, target: key.Addr, proxy: proxyAddr(pu), auth: proxyAuth(pu)}
	if o.Timeout > 0 {
		tun.deadline = time.Now().Add(o.Timeout)
	}
	o.Layer = nil // TLS starts inside the tunnel, not on the socket
	return dial(tun.proxy, tun, o)
}

// tunnel asks a proxy for a CONNECT tunnel, then starts TLS inside it and
// hands the connection to the pool's handler, which sees OnOpen only when
// the tunnel and the handshake are done. Its fields are the loop's.
type tunnel struct {
	next     engine.Handler
	layer    engine.Layer
	target   string
	proxy    string
	auth     string
	deadline time.Time // zero: none
	parser   http1.ResponseParser

	checked int  // bytes of the answer found to match httpPrefix
	opened  bool // the TCP connection to the proxy is up: CONNECT sent
	over    bool // the CONNECT exchange has ended, one way or the other
	timer   *engine.Timer
}

// httpPrefix starts every answer an HTTP proxy gives.
const httpPrefix = "HTTP/"

func (tu *tunnel) OnOpen(c *engine.Conn) {
	tu.opened = true
	if !tu.deadline.IsZero() {
		tu.timer = c.Loop().AfterFunc(max(time.Until(tu.deadline), 0), func() { tu.fail(c, engine.ErrConnectTimeout) })
	}
	head := &http1.RequestHead{Method: "CONNECT", Target: tu.target, Host: tu.target}
	if tu.auth != "" {
		head.Fields = []http1.HeaderField{{Name: "Proxy-Authorization", Value: tu.auth}}
	}
	b, err := http1.AppendRequestHead(nil, head)
	if err != nil {
		tu.fail(c, err)
		return
	}
	tu.parser.Reset("CONNECT")
	c.Write(b)
}

// end marks the CONNECT exchange over: its timer stops,
// and the parser gives back any memory it pooled for a split head.
func (tu *tunnel) end() {
	tu.over = true
	if tu.timer != nil {
		tu.timer.Stop()
	}
	tu.parser.Reset("")
}

// fail ends the CONNECT exchange with err, unless it has ended already
// (the timer fired as the answer came).
func (tu *tunnel) fail(c *engine.Conn, err error) {
	if tu.over {
		return
	}
	tu.end()
	c.CloseWithError(&connectError{proxy: tu.proxy, target: tu.target, err: err})
}

func (tu *tunnel) OnData(c *engine.Conn, in []byte) {
	if tu.over {
		return
	}
	// The parser judges a status line once the line is whole; a peer that
	// is no HTTP proxy may send none (a binary greeting, say) and be
	// waited on until the dial timeout. Its first bytes tell.
	if k := min(len(in), len(httpPrefix)-tu.checked); k > 0 {
		if string(in[:k]) != httpPrefix[tu.checked:tu.checked+k] {
			tu.fail(c, &http1.ProtocolError{Err: http1.ErrBadStatusLine, Seen: string(in[:min(len(in), 64)])})
			return
		}
		tu.checked += k
	}
	for {
		ev, n, err := tu.parser.Feed(in)
		in = in[n:]
		if err != nil {
			tu.fail(c, err)
			return
		}
		switch ev {
		case http1.EventNone:
			return
		case http1.EventHead:
			// Only a 2xx opens a tunnel (RFC 9110 §9.3.6); a 101 is no
			// answer to CONNECT, and is refused like any other status.
			if !tu.parser.Tunnel() || tu.parser.StatusCode()/100 != 2 {
				perr := &ProxyError{Proxy: tu.proxy, Target: tu.target, StatusCode: tu.parser.StatusCode(), Status: strings.TrimSpace(string(tu.parser.Reason()))}
				tu.end()
				c.CloseWithError(perr)
				return
			}
			// The origin speaks only once our TLS has spoken: bytes that
			// came with the proxy's answer are the proxy's, and handing
			// them to TLS (or dropping them) would hide a broken proxy.
			if len(in) > 0 {
				tu.fail(c, &http1.ProtocolError{Err: http1.ErrExtraData, Seen: string(in[:min(len(in), 64)])})
				return
			}
			// The tunnel is up: from here on the bytes are the origin's.
			tu.end()
			c.SetHandler(tu.next)
			if err := c.StartLayer(tu.layer); err != nil {
				c.CloseWithError(err)
			}
			return
		}
	}
}

func (tu *tunnel) OnWritten(*engine.Conn, int) {}

// OnClose names the proxy in a failure of the CONNECT exchange that the
// tunnel did not report itself: the proxy closed or reset the connection
// before its answer was complete. A failed dial passes as it is.
func (tu *tunnel) OnClose(c *engine.Conn, err error) {
	if tu.opened && !tu.over {
		cause := err
		if errors.Is(err, engine.ErrPeerClosed) {
			cause = tu.parser.EOF() // no answer, or half of one
		}
		tu.end()
		err = &connectError{proxy: tu.proxy, target: tu.target, err: cause}
	}
	tu.next.OnClose(c, err)
}
