package scenario

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/egress-go/egress"
	"github.com/egress-go/egress/pool"
)

// The HTTP/1.1 clients of http1-small and http1-big. Each keeps p.Conns
// requests in flight on p.Conns keep-alive connections, closed loop, and
// checks every response: status 200 and p.Size body bytes.

func init() {
	Roles["http-egress"] = httpEgress
	Roles["http-egress-http"] = httpEgressHTTP
	Roles["http-fasthttp"] = httpFasthttp
	Roles["http-fasthttp-http"] = httpFasthttpHTTP
	Roles["http-nethttp"] = httpNetHTTP
}

var errResponse = errors.New("unexpected response")

// egressTransport is a Transport whose pool allows p.Conns connections
// per host, so that p.Conns requests in flight use exactly that many.
func egressTransport(p Params) (*egress.Transport, error) {
	pc := pool.DefaultConfig()
	pc.MaxTotalPerKey = p.Conns
	pc.MaxIdlePerKey = max(pc.MaxIdlePerKey, p.Conns)
	return egress.NewTransport(egress.Options{Pool: &pc})
}

// httpEgress drives the non-blocking API: p.Conns Exchanges, each sent
// again from its own OnDone, so that no goroutine runs per request.
func httpEgress(params []byte) error {
	p, err := decode(params)
	if err != nil {
		return err
	}
	t, err := egressTransport(p)
	if err != nil {
		return err
	}
	var m meter
	for i := 0; i < p.Conns; i++ {
		if err := m.loopExchange(t, p); err != nil {
			return err
		}
	}
	ready("started")
	return emit(m.window(p))
}

// loopExchange starts an Exchange on t that checks each response (status
// 200, p.Size bytes), records it in m and sends itself again from OnDone
// until the window is over: a request in flight with no goroutine.
func (m *meter) loopExchange(t *egress.Transport, p Params) error {
	var start time.Time
	got := 0
	ex := &egress.Exchange{URL: p.URL}
	ex.OnBody = func(_ *egress.Exchange, b []byte) { got += len(b) }
	ex.OnDone = func(ex *egress.Exchange, err error) {
		if err == nil && (ex.StatusCode() != 200 || got != p.Size) {
			err = errResponse
		}
		m.done(start, err)
		if m.stop.Load() {
			return
		}
		start, got = time.Now(), 0
		if err := t.Send(ex); err != nil {
			m.errs.Add(1)
		}
	}
	start = time.Now()
	return t.Send(ex)
}

// httpEgressHTTP goes through http.Client with the Transport as its
// RoundTripper: the drop-in use, one goroutine per request in flight.
func httpEgressHTTP(params []byte) error {
	p, err := decode(params)
	if err != nil {
		return err
	}
	t, err := egressTransport(p)
	if err != nil {
		return err
	}
	return roundTripLoop(p, &http.Client{Transport: t})
}

// httpNetHTTP is net/http's own Transport, allowed p.Conns connections.
func httpNetHTTP(params []byte) error {
	p, err := decode(params)
	if err != nil {
		return err
	}
	t := &http.Transport{MaxIdleConnsPerHost: p.Conns, MaxConnsPerHost: p.Conns}
	return roundTripLoop(p, &http.Client{Transport: t})
}

// roundTripLoop is the usual net/http client code: Do, drain the body,
// close it. Each goroutine reuses its request, as a careful caller would.
func roundTripLoop(p Params, c *http.Client) error {
	var m meter
	err := m.loop(p, func(int) (func() error, error) { return getOp(c, p) })
	if err != nil {
		return err
	}
	ready("started")
	return emit(m.window(p))
}

// httpFasthttp is fasthttp's HostClient with p.Conns connections; each
// goroutine reuses its request and response, as fasthttp intends.
func httpFasthttp(params []byte) error {
	p, hc, err := fasthttpClient(params)
	if err != nil {
		return err
	}
	var m meter
	err = m.loop(p, func(int) (func() error, error) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI(p.URL)
		return func() error {
			if err := hc.Do(req, resp); err != nil {
				return err
			}
			if resp.StatusCode() != 200 || len(resp.Body()) != p.Size {
				return fmt.Errorf("%w: %d, %d bytes", errResponse, resp.StatusCode(), len(resp.Body()))
			}
			return nil
		}, nil
	})
	if err != nil {
		return err
	}
	ready("started")
	return emit(m.window(p))
}

// httpFasthttpHTTP is fasthttp's HostClient behind http.Client, through
// a RoundTripper written as a careful user would (fasthttpRT): what the
// fastest client there is costs through the API that egress-http
// implements, so that the cost of the API itself shows.
func httpFasthttpHTTP(params []byte) error {
	p, hc, err := fasthttpClient(params)
	if err != nil {
		return err
	}
	return roundTripLoop(p, &http.Client{Transport: &fasthttpRT{hc: hc}})
}

// fasthttpClient decodes a client role's params and makes the fasthttp
// client of p.URL's host, allowed p.Conns connections.
func fasthttpClient(params []byte) (Params, *fasthttp.HostClient, error) {
	p, err := decode(params)
	if err != nil {
		return p, nil, err
	}
	u, err := url.Parse(p.URL)
	if err != nil {
		return p, nil, err
	}
	return p, &fasthttp.HostClient{Addr: u.Host, MaxConns: p.Conns}, nil
}

// fasthttpRT adapts a fasthttp.HostClient to http.RoundTripper for GETs
// without a body. It builds the Response as egress does: the header's
// values in one string, their slices in one array, names interned (not a
// string per field), the status line from a table, and the body copied
// out (fasthttp's buffers go back to its pools) into the Response's own
// allocation.
type fasthttpRT struct {
	hc    *fasthttp.HostClient
	mu    sync.Mutex                        // held by writers of names
	names atomic.Pointer[map[string]string] // copied on write: read without a lock
}

func (f *fasthttpRT) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		return nil, errors.New("fasthttpRT: request bodies are not supported")
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(r.Method)
	req.SetRequestURI(r.URL.RequestURI())
	req.Header.SetHost(cmp.Or(r.Host, r.URL.Host))
	for k, vv := range r.Header {
		for _, v := range vv {
			req.Header.Add(k, v)
		}
	}
	if err := f.hc.Do(req, resp); err != nil {
		return nil, err
	}
	n, size := 0, 0
	for _, v := range resp.Header.All() {
		n, size = n+1, size+len(v)
	}
	all := make([]byte, 0, size)
	for _, v := range resp.Header.All() {
		all = append(all, v...)
	}
	vals, strs := string(all), make([]string, n)
	h := make(http.Header, n)
	i, off := 0, 0
	for k, v := range resp.Header.All() {
		strs[i] = vals[off : off+len(v)]
		off += len(v)
		if key := f.name(k); h[key] == nil {
			h[key] = strs[i : i+1 : i+1]
		} else {
			h[key] = append(h[key], strs[i])
		}
		i++
	}
	fr := new(fasthttpResponse)
	fr.body.Reset(bytes.Clone(resp.Body()))
	code := resp.StatusCode()
	status := ""
	if code >= 100 && code < len(statusLines) {
		status = statusLines[code]
	}
	if status == "" {
		status = strconv.Itoa(code)
	}
	fr.resp = http.Response{
		Status: status, StatusCode: code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, ContentLength: fr.body.Size(), Body: &fr.body, Request: r,
	}
	return &fr.resp, nil
}

// fasthttpResponse is a Response and its body in one allocation.
type fasthttpResponse struct {
	resp http.Response
	body fasthttpBody
}

// fasthttpBody is a copied response body; bytes.Reader's WriteTo serves
// io.Copy.
type fasthttpBody struct{ bytes.Reader }

func (*fasthttpBody) Close() error { return nil }

// statusLines holds the usual status lines ("200 OK"), made once.
var statusLines = func() (t [600]string) {
	for c := range t {
		if txt := http.StatusText(c); txt != "" {
			t[c] = strconv.Itoa(c) + " " + txt
		}
	}
	return
}()

// name returns the canonical header name k, made once per name.
func (f *fasthttpRT) name(k []byte) string {
	if m := f.names.Load(); m != nil {
		if s, ok := (*m)[string(k)]; ok {
			return s
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[string]string{}
	if old := f.names.Load(); old != nil {
		maps.Copy(m, *old)
	}
	s := http.CanonicalHeaderKey(string(k))
	m[s], m[string(k)] = s, s
	f.names.Store(&m)
	return s
}

// getOp makes one goroutine's operation for the http.Client loops: GET
// p.URL with a request made once, read the body to its end, check the
// status and the size.
func getOp(c *http.Client, p Params) (func() error, error) {
	req, err := http.NewRequest("GET", p.URL, nil)
	if err != nil {
		return nil, err
	}
	return func() error {
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && (resp.StatusCode != 200 || n != int64(p.Size)) {
			err = errResponse
		}
		return err
	}, nil
}
