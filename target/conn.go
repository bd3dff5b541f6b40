package target

import (
	"net/http"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/http1"
)

// Flow-control thresholds. A streamed body is generated while fewer than
// highWater bytes wait in the write queue; reading stops when an echo
// pushes the queue past it, or when this many bytes of pipelined input
// pile up behind a response still under way, and resumes below lowWater.
const (
	highWater = 256 << 10
	lowWater  = 64 << 10
	maxHeld   = 64 << 10
)

const (
	textPlain   = "text/plain; charset=utf-8"
	octetStream = "application/octet-stream"
	helloBody   = "hello, egress\n"
)

// pattern is the content of generated bodies: byte i of a body is
// 'a'+i%26, since the length is a multiple of 26 and every write starts
// at its beginning.
var pattern = func() []byte {
	b := make([]byte, 26*2520) // 65,520 bytes
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}()

// conn is the server side of one connection. Every method runs on the
// connection's loop, so it needs no lock.
type conn struct {
	s *Server
	c *engine.Conn
	p http1.RequestParser

	wbuf   []byte
	fields [2]http1.HeaderField

	// The request being read.
	rt        route
	head      bool // HEAD: the response has no body
	keep      bool // the client lets the connection carry another request
	responded bool // the response head is out (echo streams as it reads)
	echoChunk bool // the echo is chunked

	// A response still under way after its request was read.
	waiting bool
	held    []byte // input that arrived meanwhile
	timer   *engine.Timer
	gen     generator

	closing bool // no more requests: the connection closes after the response
	closed  bool
	readOff bool
}

// generator produces a large body as the socket drains.
type generator struct {
	active  bool
	chunked bool
	left    int64 // bytes left in the body, or in the current chunk
	chunks  int64 // chunks not yet started
	size    int64
}

func (k *conn) OnOpen(c *engine.Conn) {
	if k.s.idle > 0 {
		c.SetIdleTimeout(k.s.idle)
	}
}

func (k *conn) OnData(c *engine.Conn, data []byte) {
	if k.closing {
		return // answered with Connection: close; the rest is not read
	}
	if k.waiting {
		k.held = append(k.held, data...)
		k.updateRead()
		return
	}
	k.serve(data)
	k.updateRead()
}

func (k *conn) OnWritten(c *engine.Conn, n int) {
	if k.gen.active {
		k.pump()
	}
	if k.readOff {
		k.updateRead()
	}
}

func (k *conn) OnClose(c *engine.Conn, err error) {
	k.closed = true
	if k.timer != nil {
		k.timer.Stop()
		k.timer = nil
	}
	k.gen.active = false
	k.held = nil
	k.p.Reset() // gives pooled buffers back
}

// serve parses in and answers the requests it completes, until a response
// has to wait (the rest of in is then held) or the connection is closing.
func (k *conn) serve(in []byte) {
	for !k.waiting && !k.closing {
		ev, n, err := k.p.Feed(in)
		in = in[n:]
		if err != nil {
			k.fail(err)
			return
		}
		switch ev {
		case http1.EventNone:
			return
		case http1.EventHead:
			k.onHead()
		case http1.EventBody:
			k.onBody(k.p.Body())
		case http1.EventDone:
			k.onDone()
		}
	}
	if k.waiting && len(in) > 0 {
		k.held = append(k.held, in...)
	}
}

func (k *conn) onHead() {
	k.head = string(k.p.Method()) == http.MethodHead
	k.keep = k.p.KeepAlive()
	k.rt = parseRoute(k.p.Target())
	k.responded = false
	if k.p.ExpectContinue() {
		k.write(http1.AppendContinue(k.wbuf[:0]))
	}
	if k.rt.kind == routeEcho {
		k.startEcho()
	}
}

// startEcho sends the response head at once: the body is returned as it
// arrives, so an upload of any size is echoed in bounded memory.
func (k *conn) startEcho() {
	ctype := octetStream
	if v := k.p.Get("Content-Type"); v != nil {
		ctype = string(v)
	}
	cl := k.p.ContentLength()
	k.echoChunk = cl < 0 && !k.head
	k.writeHead(http.StatusOK, ctype, cl)
	k.responded = true
}

func (k *conn) onBody(b []byte) {
	if k.rt.kind != routeEcho || k.head {
		return // bodies of other requests are read and dropped
	}
	if k.echoChunk {
		k.wbuf = http1.AppendChunkHeader(k.wbuf[:0], len(b))
		k.write(k.wbuf)
		k.write(b)
		k.write(crlf)
		return
	}
	k.write(b)
}

var (
	crlf      = []byte("\r\n")
	lastChunk = []byte("0\r\n\r\n")
)

// onDone answers the request that was just read in full.
func (k *conn) onDone() {
	switch k.rt.kind {
	case routeEcho:
		if k.echoChunk {
			k.write(lastChunk)
		}
		k.complete()
	case routeHello, routeStatus, routeNotFound, routeBad:
		code, body := k.rt.simple()
		k.simple(code, textPlain, body)
		k.complete()
	case routeBytes:
		k.writeHead(http.StatusOK, octetStream, k.rt.n)
		k.responded = true
		k.stream(generator{left: k.rt.n})
	case routeChunked:
		k.writeHead(http.StatusOK, octetStream, -1)
		k.responded = true
		k.stream(generator{chunked: true, chunks: k.rt.n, size: k.rt.size})
	case routeDelay:
		k.waiting = true
		k.timer = k.c.AfterFunc(time.Duration(k.rt.n)*time.Millisecond, k.delayed)
	}
}

// delayed answers a /delay request when its timer fires.
func (k *conn) delayed() {
	k.timer = nil
	if k.closed {
		return
	}
	code, body := k.rt.simple()
	k.simple(code, textPlain, body)
	k.complete()
}

// stream starts generating a body, unless the request was HEAD.
func (k *conn) stream(g generator) {
	if k.head || (g.left == 0 && !g.chunked) {
		k.complete()
		return
	}
	k.gen = g
	k.gen.active = true
	k.waiting = true
	k.pump()
}

// pump writes body bytes while the write queue is below highWater;
// OnWritten calls it again as the socket drains.
func (k *conn) pump() {
	g := &k.gen
	for g.active && !k.closed {
		if k.c.Stats().Queued >= highWater {
			return
		}
		if g.chunked && g.left == 0 {
			if g.chunks == 0 {
				g.active = false
				k.write(lastChunk)
				k.complete()
				return
			}
			g.chunks--
			g.left = g.size
			k.wbuf = http1.AppendChunkHeader(k.wbuf[:0], int(g.size))
			k.write(k.wbuf)
		}
		n := min(g.left, int64(len(pattern)))
		k.write(pattern[:n])
		g.left -= n
		if g.left > 0 {
			continue
		}
		if g.chunked {
			k.write(crlf)
			continue
		}
		g.active = false
		k.complete()
	}
}

// complete finishes a response: the connection either closes (the client
// asked, or an error made the framing unknowable) or goes on with any
// input held meanwhile.
func (k *conn) complete() {
	k.s.requests.Add(1)
	if !k.keep {
		k.closing = true
		k.held = nil
		k.c.CloseWrite() // FIN once the response is sent; the client closes
		return
	}
	if !k.waiting {
		return
	}
	k.waiting = false
	in := k.held
	k.held = nil
	k.serve(in)
	k.updateRead()
}

// fail answers a malformed request and closes: where the next request
// would begin is unknown.
func (k *conn) fail(err error) {
	k.keep = false
	if k.responded {
		k.c.CloseWithError(err)
		k.closing = true
		return
	}
	k.head = false
	k.simple(http1.StatusForError(err), textPlain, "bad request: "+err.Error()+"\n")
	k.closing = true
	k.c.CloseWrite()
}

// simple writes a whole response with a small body in one write.
func (k *conn) simple(code int, ctype, body string) {
	k.wbuf = k.appendHead(k.wbuf[:0], code, ctype, int64(len(body)))
	if !k.head && code != http.StatusNoContent && code != http.StatusNotModified {
		k.wbuf = append(k.wbuf, body...)
	}
	k.write(k.wbuf)
}

func (k *conn) writeHead(code int, ctype string, length int64) {
	k.wbuf = k.appendHead(k.wbuf[:0], code, ctype, length)
	k.write(k.wbuf)
}

func (k *conn) appendHead(dst []byte, code int, ctype string, length int64) []byte {
	k.fields[0] = http1.HeaderField{Name: "Date", Value: httpDate()}
	k.fields[1] = http1.HeaderField{Name: "Content-Type", Value: ctype}
	h := http1.ResponseHead{StatusCode: code, Fields: k.fields[:], ContentLength: length, Close: !k.keep}
	out, err := http1.AppendResponseHead(dst, &h)
	if err != nil {
		// Only a client's Content-Type can be refused; answer without it.
		h.Fields = k.fields[:1]
		out, _ = http1.AppendResponseHead(dst, &h)
	}
	return out
}

// write queues b; a connection that cannot take it is closed.
func (k *conn) write(b []byte) {
	if err := k.c.Write(b); err != nil && !k.closed {
		k.c.CloseWithError(err)
	}
}

// updateRead pauses reading while too much waits to be written or too
// much input is held behind a pending response, and resumes it after.
func (k *conn) updateRead() {
	if k.closed {
		return
	}
	stop := k.waiting && len(k.held) >= maxHeld
	if !stop && (k.readOff || k.rt.kind == routeEcho || k.gen.active) {
		q := k.c.Stats().Queued
		stop = q >= highWater || k.readOff && q > lowWater
	}
	switch {
	case stop && !k.readOff:
		k.readOff = true
		k.c.PauseRead()
	case !stop && k.readOff:
		k.readOff = false
		k.c.ResumeRead()
	}
}
