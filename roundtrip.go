package egress

import (
	"cmp"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/egress-go/egress/http1"
	"github.com/egress-go/egress/http2"
	"github.com/egress-go/egress/tlsconn"
)

// roundTrip is the sink of a blocking RoundTrip: the caller's goroutine
// waits for the head, pumps a streamed request body, and then reads the
// body through a bodyPipe the loop fills.
type roundTrip struct {
	req *http.Request
	x   exchange

	mu        sync.Mutex
	cond      sync.Cond // signalled on every event the caller waits for
	resp      *http.Response
	err       error
	pipe      *bodyPipe
	pipeStore bodyPipe                 // the pipe, without an allocation of its own
	whole     *wholeBody               // loop: the body, when it came with the head (see head)
	onFields  func(int, []HeaderField) // see WithResponseFields
	flow      exchangeFlow             // the pipe's flow, likewise
	complete  *http.Response           // a response with nothing more to come, handed over in done

	gzip       bool // the transport asked for gzip and decodes it
	isAttached bool // a connection was found and the head written
	got100     bool
	pumping    bool // pumpAsync's goroutine runs
	pumpRead   bool // what it reported
	retry      bool
	finished   bool
	headHeld   bool // loop: the head is in resp, its waiter not woken yet (see delivered)
	spent      bool // done: the round trip ended well and nothing but its caller holds it
}

// roundTrips recycles the state of round trips that ended with nothing
// left pointing at it (see done): a small response then costs no
// allocation of it, and the garbage collector runs that much less often.
var roundTrips = sync.Pool{New: func() any { return new(roundTrip) }}

// free returns rt to roundTrips. Its caller's goroutine, once done has
// declared rt spent and RoundTrip no longer needs it.
func (rt *roundTrip) free() {
	// The attempt number goes on counting from where it was, so that a
	// late call that names an attempt of the round trip before (see
	// attached) cannot pass for one of the next.
	attempt := rt.x.attempt.Load()
	*rt = roundTrip{}
	rt.x.attempt.Store(attempt)
	roundTrips.Put(rt)
}

// RoundTrip sends req and returns the response once its head has
// arrived; the body streams as it is read. It implements
// http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil {
		closeBody(req)
		return nil, errors.New("egress: request has no URL")
	}
	if !t.isOpen() {
		closeBody(req)
		return nil, ErrTransportClosed
	}
	key, err := t.keyFor(req.URL)
	if err != nil {
		closeBody(req)
		return nil, &RequestError{Method: req.Method, URL: req.URL.Redacted(), Err: err}
	}
	rt := roundTrips.Get().(*roundTrip)
	rt.req = req
	rt.cond.L = &rt.mu
	x := &rt.x
	x.t, x.snk, x.ctx, x.key = t, rt, req.Context(), key
	x.method = req.Method
	if x.method == "" {
		x.method = http.MethodGet
	}
	x.target = req.URL.RequestURI()
	x.host = req.Host
	if x.host == "" {
		x.host = req.URL.Host
	}
	if x.method == http.MethodConnect && req.URL.Path == "" && req.URL.Opaque == "" {
		x.target = x.host // authority-form, as net/http writes it
	}
	x.header = req.Header
	x.reqClose = req.Close || t.opts.DisableKeepAlives
	x.trace = httptrace.ContextClientTrace(x.ctx)
	rt.onFields = fieldsHook(x.ctx)
	if err := t.proxyFor(req, x); err != nil {
		closeBody(req)
		return nil, &RequestError{Method: req.Method, URL: req.URL.Redacted(), Err: err}
	}
	x.contentLength = outgoingLength(req)
	x.streamed = x.contentLength != 0
	if x.contentLength < 0 && len(req.Trailer) > 0 {
		// Names the protocol forbids in a trailer fail the request before
		// anything is sent, as in net/http (values are checked again once
		// the body has ended, see send).
		if _, err := http1.AppendLastChunk(nil, req.Trailer); err != nil {
			closeBody(req)
			return nil, &RequestError{Method: x.method, URL: req.URL.Redacted(), Err: err}
		}
		x.trailer = req.Trailer
	}
	x.expect100 = x.streamed && strings.EqualFold(headerValue(req.Header, "Expect"), "100-continue")
	rt.gzip = !t.opts.DisableCompression && headerValue(req.Header, "Accept-Encoding") == "" && headerValue(req.Header, "Range") == "" && x.method != http.MethodHead
	// net/http's User-Agent unless the caller's Header has the key (with
	// no value: none is sent).
	_, ownAgent := req.Header["User-Agent"]
	if add := addedFields[b2i(!ownAgent)<<1|b2i(rt.gzip)]; x.fields == nil {
		x.fields = add // shared, never appended to
	} else {
		x.fields = append(x.fields, add...)
	}
	if x.trailer != nil {
		x.fields = append(x.fields[:len(x.fields):len(x.fields)], HeaderField{Name: "Trailer", Value: trailerNames(x.trailer)})
	}

	body := req.Body
	for {
		t.stats.requests.Add(1)
		rt.reset()
		x.start()
		read := false // the attempt read from body
		async := x.streamed && req.GetBody == nil
		switch {
		case !x.streamed:
		case !async:
			// A body whose request can make it again is one in memory
			// (http.NewRequest sets GetBody for those): its Read cannot
			// block, and it goes from the caller's goroutine.
			read = rt.pump(body, false)
		default:
			// Any other body may wait for the response (full duplex), as
			// net/http lets it: it is read from a goroutine of its own.
			rt.pumpAsync(body)
		}
		resp, err, retry, spent := rt.waitHead()
		if err == nil {
			if x.streamed && !read && !async {
				body.Close() // the server answered without it (Expect)
			}
			if spent {
				rt.free()
			}
			return resp, nil
		}
		if async {
			read = rt.waitPump()
		}
		// A body the attempt never read from is still whole and goes
		// again as it is; one it read from (and closed, see send) must
		// be rewound (DESIGN rule 6).
		if retry && (!read || req.GetBody != nil) {
			if read {
				var gerr error
				if body, gerr = req.GetBody(); gerr != nil {
					read, err = true, gerr
					goto fail
				}
			}
			x.retries++
			t.countRetry(err)
			continue
		}
	fail:
		t.stats.failures.Add(1)
		if body != nil && !read {
			body.Close() // one the pump read from, it closed
		}
		if x.stopCtx != nil {
			x.stopCtx() // a retry was possible but not taken
		}
		return nil, rt.wrap(err)
	}
}

// statusLine builds Response.Status; the usual reasons come from a table.
// HTTP/2 has no reason phrase, and gets the usual one, as from net/http.
func statusLine(code int, reason []byte, major int) string {
	if code >= 100 && code < 600 {
		if s := statusLines[code]; s != "" && (s[4:] == string(reason) || major == 2) {
			return s
		}
	}
	return strconv.Itoa(code) + " " + string(reason)
}

var statusLines = func() (t [600]string) {
	for c := 100; c < 600; c++ {
		if txt := http.StatusText(c); txt != "" {
			t[c] = strconv.Itoa(c) + " " + txt
		}
	}
	return
}()

func protoString(major, minor int) string {
	switch {
	case major == 1 && minor == 1:
		return "HTTP/1.1"
	case major == 1 && minor == 0:
		return "HTTP/1.0"
	}
	return "HTTP/" + strconv.Itoa(major) + "." + strconv.Itoa(minor)
}

// defaultUserAgent is net/http's, sent when the request sets none: some
// services refuse a request without the field.
const defaultUserAgent = "Go-http-client/1.1"

// addedFields are the fields RoundTrip adds to a request, indexed by
// whether it adds the User-Agent (2) and asks for gzip (1). Shared: never
// appended to.
var addedFields = [4][]HeaderField{
	nil,
	{{Name: "Accept-Encoding", Value: "gzip"}},
	{{Name: "User-Agent", Value: defaultUserAgent}},
	{{Name: "User-Agent", Value: defaultUserAgent}, {Name: "Accept-Encoding", Value: "gzip"}},
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// headerValue is h.Get(key) for a key already in canonical form, without
// canonicalizing it again on every request.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// trailerNames is the value of the Trailer field that announces t.
func trailerNames(t http.Header) string {
	names := make([]string, 0, len(t))
	for k := range t {
		names = append(names, http.CanonicalHeaderKey(k))
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// outgoingLength is the body length to announce: 0 for no body, -1 for
// unknown (chunked).
func outgoingLength(req *http.Request) int64 {
	if req.Body == nil || req.Body == http.NoBody {
		return 0
	}
	if req.ContentLength != 0 {
		return req.ContentLength
	}
	return -1 // a body of unknown length
}

func (rt *roundTrip) wrap(err error) error {
	return &RequestError{Method: rt.x.method, URL: rt.req.URL.Redacted(), Reused: rt.x.reused, Retried: rt.x.retries, Err: err}
}

// reset readies rt for an attempt. The attempt number changes under rt.mu,
// so that a late attached from the attempt before cannot start the body
// pump for this one.
func (rt *roundTrip) reset() {
	rt.mu.Lock()
	rt.x.attempt.Add(1)
	rt.isAttached, rt.got100, rt.resp, rt.err, rt.retry, rt.finished, rt.pipe, rt.complete = false, false, nil, nil, false, false, nil, nil
	rt.whole, rt.spent = nil, false
	rt.mu.Unlock()
}

func (rt *roundTrip) wake() {
	rt.mu.Lock()
	rt.cond.Broadcast()
	rt.mu.Unlock()
}

// waitHead waits for the response's head, or the attempt's end. spent
// reports that the caller may free rt once it has done with it.
func (rt *roundTrip) waitHead() (resp *http.Response, err error, retry, spent bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for rt.resp == nil && !rt.finished {
		rt.cond.Wait()
	}
	if rt.resp != nil {
		return rt.resp, nil, false, rt.spent
	}
	return nil, rt.err, rt.retry, false
}

// pump sends a streamed request body from the caller's goroutine
// (background false) or pumpAsync's, waiting for room in the connection's
// write queue rather than buffering, and stopping early if the response
// ends the exchange first. It reports whether it read from body: if so,
// the body is closed, or will be once sent (see send); if not, the body
// is whole for a retry.
func (rt *roundTrip) pump(body io.ReadCloser, background bool) (read bool) {
	x := &rt.x
	rt.mu.Lock()
	for !rt.isAttached && !rt.finished {
		rt.cond.Wait()
	}
	if rt.finished {
		rt.mu.Unlock()
		return
	}
	if x.expect100 {
		deadline := time.Now().Add(x.t.opts.ExpectContinueTimeout)
		tm := time.AfterFunc(x.t.opts.ExpectContinueTimeout, rt.wake)
		for !rt.got100 && rt.resp == nil && !rt.finished && time.Now().Before(deadline) {
			rt.cond.Wait()
		}
		tm.Stop()
		if rt.resp != nil || rt.finished {
			rt.mu.Unlock()
			return // the server answered without wanting the body
		}
	}
	rt.mu.Unlock()

	read = true
	rt.send(&bodySender{body: body, buf: make([]byte, 32<<10)}, background)
	return
}

// pumpAsync runs pump from a goroutine of its own. RoundTrip returns a
// response without waiting for it; a failed attempt waits (waitPump) to
// learn whether the body was read, as net/http waits for its write loop.
// A body it never read from, of a request that got its response, it
// closes.
func (rt *roundTrip) pumpAsync(body io.ReadCloser) {
	rt.pumping = true
	go func() {
		read := rt.pump(body, true)
		rt.mu.Lock()
		rt.pumping, rt.pumpRead = false, read
		answered := rt.resp != nil
		rt.cond.Broadcast()
		rt.mu.Unlock()
		if !read && answered {
			body.Close()
		}
	}()
}

// waitPump waits for pumpAsync's goroutine to end, and reports whether it
// read from the body.
func (rt *roundTrip) waitPump() bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for rt.pumping {
		rt.cond.Wait()
	}
	return rt.pumpRead
}

// bodySender is the state of a request body being sent, so that sending
// can move to a goroutine of its own half way.
type bodySender struct {
	body    io.ReadCloser
	buf     []byte
	p       []byte  // read and not yet queued
	probe   [1]byte // for the read that looks for the end of a body of known length
	sent    int64
	lastEOF bool // body.Read said io.EOF
}

// send queues the body as the connection takes it. On the caller's
// goroutine (background false), it stops as soon as the response head has
// arrived, and goes on in a goroutine of its own: RoundTrip must return
// the response, as net/http does, and not when the body ends; the
// response's body may be what frees the room (a server that echoes the
// upload as it reads it waits for its reader), or what the request body
// waits for (full duplex). The body is closed once sending is over,
// whatever ended it, as the http.RoundTripper contract asks.
func (rt *roundTrip) send(bs *bodySender, background bool) {
	if !rt.sendBody(bs, background) {
		bs.body.Close()
	}
}

// sendBody is send's work. It reports whether it handed the rest to a
// goroutine of its own, which is then the one to close the body.
func (rt *roundTrip) sendBody(bs *bodySender, background bool) (handedOff bool) {
	x := &rt.x
	for {
		if len(bs.p) == 0 && !bs.lastEOF {
			n, rerr := bs.body.Read(bs.buf)
			bs.p = bs.buf[:n]
			bs.sent += int64(n)
			if x.contentLength >= 0 && bs.sent > x.contentLength {
				rt.abortBody(fmt.Errorf("egress: request body is longer than its Content-Length %d", x.contentLength))
				return
			}
			switch {
			case rerr == io.EOF:
				bs.lastEOF = true
			case rerr != nil:
				// The body failed: the request cannot be completed on
				// this connection.
				x.abortAsync(&bodyReadError{rerr})
				return
			}
		}
		if bs.lastEOF && len(bs.p) == 0 {
			break
		}
		if len(bs.p) == 0 {
			continue
		}
		if !bs.lastEOF && bs.sent == x.contentLength {
			// All the declared bytes are in, but the body has not said it
			// ended: the last of them wait until it does, so that a body
			// longer than declared fails the request before the server has
			// it whole (net/http reads to the end before its last write).
			n, rerr := bs.body.Read(bs.probe[:])
			switch {
			case n > 0:
				rt.abortBody(fmt.Errorf("egress: request body is longer than its Content-Length %d", x.contentLength))
				return
			case rerr == io.EOF:
				bs.lastEOF = true
			case rerr != nil:
				x.abortAsync(&bodyReadError{rerr})
				return
			}
			continue
		}
		switch rt.waitRoom(len(bs.p), !background) {
		case roomGone:
			return
		case roomHead:
			go rt.send(bs, true)
			return true
		}
		last := bs.sent == x.contentLength && (bs.lastEOF || x.contentLength > 0)
		if !x.writeBody(bs.p, last) {
			return
		}
		bs.p = nil
	}
	if x.contentLength < 0 {
		if x.trailer != nil {
			// Checked before the last chunk goes, so that a trailer that
			// cannot be sent fails the request rather than the encoder.
			if _, err := http1.AppendLastChunk(nil, x.trailer); err != nil {
				rt.abortBody(err)
				return
			}
		}
		// The end of a body of unknown length (HTTP/1.1's last chunk).
		switch rt.waitRoom(16, !background) {
		case roomGone:
			return
		case roomHead:
			go rt.send(bs, true)
			return true
		}
		if !x.writeBody(nil, true) {
			return
		}
	} else if bs.sent != x.contentLength {
		rt.abortBody(fmt.Errorf("egress: request body was %d bytes, Content-Length said %d", bs.sent, x.contentLength))
		return
	}
	if t := x.trace; t != nil && t.WroteRequest != nil {
		t.WroteRequest(httptrace.WroteRequestInfo{})
	}
	return false
}

// abortBody gives up on a request whose body cannot be sent as announced:
// the connection is closed, never reused.
func (rt *roundTrip) abortBody(err error) {
	rt.x.bodySent.Store(false)
	rt.x.abortAsync(err)
}

// What waitRoom found.
const (
	roomOK   = iota // the connection can queue the bytes
	roomGone        // the exchange ended
	roomHead        // the response head arrived first (only when asked)
)

// waitRoom blocks until the connection can queue n more bytes, or the
// exchange ends, or, with leaveOnHead, the response head has arrived
// (whether or not there is room).
func (rt *roundTrip) waitRoom(n int, leaveOnHead bool) int {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for {
		if rt.finished {
			return roomGone
		}
		if leaveOnHead && rt.resp != nil {
			return roomHead
		}
		room := rt.x.writeRoom()
		if room < 0 {
			return roomGone
		}
		if room >= n || room >= 256<<10 {
			return roomOK
		}
		rt.cond.Wait()
	}
}

// bodyReadError wraps a failure of the request body's reader.
type bodyReadError struct{ err error }

func (e *bodyReadError) Error() string { return "egress: reading request body: " + e.err.Error() }
func (e *bodyReadError) Unwrap() error { return e.err }

// Sink methods, on the loop.

func (rt *roundTrip) writable(*exchange) { rt.wake() }

func (rt *roundTrip) informational(x *exchange, p responseHead) {
	if rt.onFields != nil {
		rt.onFields(p.StatusCode(), headFields(p))
	}
	if p.StatusCode() == http.StatusContinue {
		rt.mu.Lock()
		rt.got100 = true
		rt.cond.Broadcast()
		rt.mu.Unlock()
		if t := x.trace; t != nil && t.Got100Continue != nil {
			t.Got100Continue()
		}
		return
	}
	if t := x.trace; t != nil && t.Got1xxResponse != nil {
		t.Got1xxResponse(p.StatusCode(), textproto.MIMEHeader(p.Header()))
	}
}

// headerInto is implemented by the HTTP/1.1 codec's parser: it builds
// the Response's header into space the caller provides
// (http1.ResponseParser.HeaderInto).
type headerInto interface {
	Fields() []http1.RawField
	HeaderInto(vals []string, spare int) (http.Header, []byte)
}

// A response whose body came whole with its head costs, besides its
// header's map, two allocations: a wholeResponse that also holds the
// []string behind the header's values, and one for the values' bytes and
// the body's (see headerInto). The arrays fill the size classes a
// wholeResponse alone would leave half empty: 192 bytes become 256 with
// 4 values, 320 with 8 (nginx sends 8 fields with a small file).
type (
	wholeAlloc4 struct {
		wholeResponse
		vals [4]string
	}
	wholeAlloc8 struct {
		wholeResponse
		vals [8]string
	}
)

// newWholeResponse allocates a wholeResponse with room for the values of
// nfields fields if that is at most 8, or without (vals is nil).
func newWholeResponse(nfields int) (wr *wholeResponse, vals []string) {
	switch {
	case nfields <= 4:
		a := new(wholeAlloc4)
		return &a.wholeResponse, a.vals[:]
	case nfields <= 8:
		a := new(wholeAlloc8)
		return &a.wholeResponse, a.vals[:]
	}
	return new(wholeResponse), nil
}

func (rt *roundTrip) head(x *exchange, p responseHead) {
	code := p.StatusCode()
	if rt.onFields != nil {
		rt.onFields(code, headFields(p))
	}
	// A body of known length that came whole with the head is copied out
	// here, in the Response's own allocation, rather than going through
	// the pipe: reading it takes no lock and no wake-up, and nothing of
	// the round trip stays behind it, so rt can be recycled.
	var resp *http.Response
	var hdr http.Header
	cl := p.ContentLength()
	if hp, ok := p.(headerInto); ok && p.HasBody() && cl >= 0 && cl <= wholeBodyMax && cl <= int64(x.inHand) && !x.conn.multiplexed() {
		wr, vals := newWholeResponse(len(hp.Fields()))
		hdr, wr.body.data = hp.HeaderInto(vals, int(cl))
		resp, rt.whole = &wr.resp, &wr.body
	} else {
		resp, hdr = new(http.Response), p.Header()
	}
	*resp = http.Response{
		Status:        statusLine(code, p.Reason(), p.ProtoMajor()),
		StatusCode:    code,
		Proto:         protoString(p.ProtoMajor(), p.ProtoMinor()),
		ProtoMajor:    p.ProtoMajor(),
		ProtoMinor:    p.ProtoMinor(),
		Header:        hdr,
		ContentLength: cl,
		Close:         !p.KeepAlive(),
		Request:       rt.req,
		Body:          http.NoBody,
	}
	if x.key.TLS != nil {
		resp.TLS = tlsconn.SharedState(x.pc.Engine())
	}
	if p.MayHaveTrailers() {
		if p.ProtoMajor() == 1 {
			resp.TransferEncoding = []string{"chunked"}
		}
		resp.Trailer = http.Header{}
	}
	var pipe *bodyPipe
	if rt.whole != nil {
		resp.Body = rt.whole
	} else if p.HasBody() {
		pipe = &rt.pipeStore
		rt.flow = newFlow(x, x.conn)
		window := x.t.opts.BodyWindow
		if x.conn.multiplexed() {
			// The pipe gives HTTP/2 credit back in batches of half its
			// window: a batch larger than the stream's receive window
			// would never fill, and the download would stop after one
			// stream window. Stream windows only grow (the bandwidth-delay
			// estimate), so the initial one bounds them all.
			window = min(window, int(cmp.Or(x.t.opts.HTTP2.Config.StreamWindow, http2.DefaultStreamWindow)))
		}
		pipe.init(&rt.flow, window, x.conn.multiplexed())
		x.conn.pullBody()
		if !x.conn.multiplexed() {
			x.direct = pipe // the reader may read the socket itself (h1direct.go)
		}
		resp.Body = pipe
	}
	if resp.Body != http.NoBody && rt.gzip && strings.EqualFold(headerValue(resp.Header, "Content-Encoding"), "gzip") {
		ungzip(resp)
	}
	rt.mu.Lock()
	if pipe != nil {
		rt.pipe, rt.resp = pipe, resp
		// The rest of this read may hold the whole body and its end: the
		// caller is woken once the loop has delivered it (delivered, or
		// done), so that a small response costs it one wake-up, not one
		// for the head and another for the end.
		rt.headHeld = true // HTTP/1.1: h1conn.onData; HTTP/2: h2conn.OnData
	} else {
		// Nothing follows the head, or the body came whole with it: hand
		// the response over in done, once the connection is back in the
		// pool, so that the caller's next request can reuse it, and
		// whatever else the caller may be doing meanwhile (pumping a
		// request body) does not see it before.
		rt.complete = resp
	}
	rt.mu.Unlock()
}

func (rt *roundTrip) body(x *exchange, b []byte) {
	if rt.whole != nil {
		rt.whole.data = append(rt.whole.data, b...)
		return
	}
	rt.pipe.write(b)
}

func (rt *roundTrip) delivered(*exchange) {
	if rt.headHeld {
		rt.headHeld = false
		rt.mu.Lock()
		rt.cond.Broadcast()
		rt.mu.Unlock()
	}
}

func (rt *roundTrip) trailers(x *exchange, p responseHead) {
	if rt.resp != nil && rt.resp.Trailer != nil {
		for k, v := range p.Trailer() {
			rt.resp.Trailer[k] = v
		}
	}
}

func (rt *roundTrip) done(x *exchange, err error, retry bool) {
	rt.mu.Lock()
	rt.finished, rt.err, rt.retry = true, err, retry
	rt.headHeld = false
	if err == nil && rt.complete != nil {
		rt.resp, rt.complete = rt.complete, nil
	}
	// Past this point the loop touches neither x nor rt. Unless a pipe,
	// a request body pump, an HTTP/2 stream or a context watch that went
	// off still refers to them, the caller is the last to hold rt.
	rt.spent = err == nil && rt.pipe == nil && !x.streamed && x.h2 == nil && !x.ctxFired
	pipe := rt.pipe
	rt.cond.Broadcast()
	rt.mu.Unlock()
	if pipe != nil {
		if err != nil {
			pipe.fail(err)
		} else {
			pipe.closeWrite()
		}
	}
}

// attached lets the body pump start. HTTP/1.1 calls it only for a
// streamed body; HTTP/2 for every request.
func (rt *roundTrip) attached(x *exchange, attempt uint32) {
	if !x.streamed {
		return // only the body pump waits for it
	}
	rt.mu.Lock()
	if rt.finished || attempt != x.attempt.Load() {
		rt.mu.Unlock()
		return // the response came and went already
	}
	rt.isAttached = true
	rt.cond.Broadcast()
	rt.mu.Unlock()
}

// ungzip has resp's body decoded as it is read, as net/http does when it
// asked for gzip itself.
func ungzip(resp *http.Response) {
	resp.Header.Del("Content-Encoding")
	resp.Header.Del("Content-Length")
	resp.ContentLength = -1
	resp.Uncompressed = true
	resp.Body = &gzipBody{src: resp.Body}
}

// gzipBody decodes a gzip response body, creating the decoder on the
// first read so that a body closed unread costs nothing.
type gzipBody struct {
	src io.ReadCloser
	zr  *gzip.Reader
	err error
}

func (g *gzipBody) Read(p []byte) (int, error) {
	if g.zr == nil && g.err == nil {
		g.zr, g.err = gzip.NewReader(g.src)
	}
	if g.err != nil {
		return 0, g.err
	}
	return g.zr.Read(p)
}

func (g *gzipBody) Close() error { return g.src.Close() }
