package egress

import (
	"context"
	"net/url"
	"slices"
	"sync/atomic"
)

// Exchange is a request and the callbacks that receive its response: the
// non-blocking API. Send returns at once; the callbacks run on the
// connection's loop goroutine and must not block. Once OnDone has run, the
// Exchange may be changed and sent again (from OnDone itself, even), which
// is how a load generator keeps connections busy with no goroutine and no
// allocation per request.
type Exchange struct {
	// Method defaults to GET.
	Method string
	// URL is an absolute http or https URL. It is parsed when it changes.
	URL string
	// Host, if set, is sent as the Host field instead of the URL's host
	// (the connection still goes to the URL's host).
	Host string
	// Header fields sent after Host, as they are.
	Header []HeaderField
	// Body is sent with the head, with its Content-Length.
	Body []byte
	// Context, if set, cancels the exchange; nil means none.
	Context context.Context

	// OnHead is called when the response head has arrived; StatusCode
	// and HeaderValue describe it during the call.
	OnHead func(ex *Exchange)
	// OnBody is called with body bytes as they arrive, valid only during
	// the call. Use Pause and Resume to hold the flow.
	OnBody func(ex *Exchange, p []byte)
	// OnDone is called last, once: err is nil when the whole response was
	// received.
	OnDone func(ex *Exchange, err error)

	x       exchange
	busy    atomic.Bool
	parsed  string // the URL that target, host and key were made from
	urlHost string // the URL's host, for the Host field
	status  int
	resp    responseHead // during OnHead only
	lastErr error
	sent    []HeaderField // Header as last encoded (see Send)
	// proxyFields are sent after Header to a plain-http proxy (its
	// credentials), as Options.Proxy said for URL (see proxyExchange).
	proxyFields []HeaderField
}

// Send starts the exchange and returns at once. It fails only for a
// request that cannot be sent (a bad URL, an error from Options.Proxy, a
// closed transport, an Exchange still in flight); every other failure
// arrives in OnDone. Options.Proxy is asked when the URL changes, not at
// every send.
func (t *Transport) Send(ex *Exchange) error {
	if !ex.busy.CompareAndSwap(false, true) {
		return ErrBusy
	}
	x := &ex.x
	if ex.parsed != ex.URL || x.t != t {
		u, err := url.Parse(ex.URL)
		if err == nil {
			x.key, err = t.keyFor(u)
		}
		if err != nil {
			ex.busy.Store(false)
			return err
		}
		x.t, x.snk, x.keep = t, ex, true
		x.target, x.host, ex.urlHost = u.RequestURI(), u.Host, u.Host
		if err := t.proxyExchange(ex, u); err != nil {
			ex.busy.Store(false)
			return err
		}
		ex.parsed = ex.URL
		x.h1.ok = false
	}
	if !t.isOpen() {
		ex.busy.Store(false)
		return ErrTransportClosed
	}
	host := ex.urlHost
	if ex.Host != "" {
		host = ex.Host
	}
	method := ex.Method
	if method == "" {
		method = "GET"
	}
	cl, reqClose := int64(len(ex.Body)), t.opts.DisableKeepAlives
	// The head encoded for the last send serves again if nothing it was
	// made from has changed. Header is compared with a copy of what was
	// sent, since the caller may have changed the slice in place.
	if !x.h1.ok || x.method != method || x.host != host || x.contentLength != cl ||
		x.reqClose != reqClose || !slices.Equal(ex.sent, ex.Header) {
		x.h1.ok = false
		ex.sent = append(ex.sent[:0], ex.Header...)
	}
	x.method, x.host, x.reqClose = method, host, reqClose
	x.fields, x.body, x.contentLength = ex.Header, ex.Body, cl
	if ex.proxyFields != nil {
		x.fields = append(ex.Header[:len(ex.Header):len(ex.Header)], ex.proxyFields...)
	}
	x.ctx = ex.Context
	if x.ctx == nil {
		x.ctx = context.Background()
	}
	x.retries, ex.status = 0, 0
	t.stats.requests.Add(1)
	x.start()
	return nil
}

// StatusCode is the response's status, from OnHead on.
func (ex *Exchange) StatusCode() int { return ex.status }

// HeaderValue returns the first value of the named response field, during
// OnHead only (the slice is valid for that call).
func (ex *Exchange) HeaderValue(name string) []byte {
	if ex.resp == nil {
		return nil
	}
	return ex.resp.Get(name)
}

// Reused reports whether the exchange ran on a connection that had served
// earlier requests.
func (ex *Exchange) Reused() bool { return ex.x.reused }

// Retries reports how many times the request was replayed.
func (ex *Exchange) Retries() int { return ex.x.retries }

// Pause stops reading the response (back-pressure) until Resume. Call it
// from OnHead or OnBody.
func (ex *Exchange) Pause() {
	if x := &ex.x; x.conn != nil {
		x.conn.pause(x)
	}
}

// Resume undoes Pause; it may be called from any goroutine while the
// exchange is in flight. The carrier is looked up on its loop: the caller's
// goroutine must not read it.
func (ex *Exchange) Resume() {
	x := &ex.x
	if l := x.loopAt.Load(); l != nil {
		l.Post(func() {
			// Still on this loop, not sent again elsewhere meanwhile: only
			// then is the carrier this loop's to read.
			if x.loopAt.Load() != l {
				return
			}
			if c := x.conn; c != nil {
				c.resume(x)
			}
		})
	}
}

func (ex *Exchange) attached(*exchange, uint32)            {}
func (ex *Exchange) writable(*exchange)                    {}
func (ex *Exchange) informational(*exchange, responseHead) {}
func (ex *Exchange) trailers(*exchange, responseHead)      {}
func (ex *Exchange) delivered(*exchange)                   {}

func (ex *Exchange) head(x *exchange, h responseHead) {
	ex.status = h.StatusCode()
	if ex.OnHead != nil {
		ex.resp = h
		ex.OnHead(ex)
		ex.resp = nil
	}
}

func (ex *Exchange) body(x *exchange, b []byte) {
	if ex.OnBody != nil {
		ex.OnBody(ex, b)
	}
}

func (ex *Exchange) done(x *exchange, err error, retry bool) {
	if retry {
		x.retries++
		x.t.countRetry(err)
		x.start()
		return
	}
	if err != nil {
		x.t.stats.failures.Add(1)
	}
	ex.busy.Store(false)
	if ex.OnDone != nil {
		ex.OnDone(ex, err)
	}
}
