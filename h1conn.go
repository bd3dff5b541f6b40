package egress

import (
	"errors"
	"sync"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/http1"
)

// h1conn is the HTTP/1.1 state of a connection while it serves an
// exchange. It comes from a sync.Pool at checkout and goes back at release
// (an Exchange keeps its own between sends instead), so that an idle
// pooled connection holds none of it (no parser, no buffer): only the
// engine's Conn and the pool's entry.
type h1conn struct {
	c      *engine.Conn
	x      *exchange
	parser http1.ResponseParser
	wbuf   []byte // scratch for the request's first bytes; Conn.Write copies them
	timer  *engine.Timer
	timerL *engine.Loop
	phase  uint8 // what the timer is timing
}

const (
	phaseNone uint8 = iota
	phaseHeader
	phaseBody
)

var h1conns = sync.Pool{New: func() any { return &h1conn{wbuf: make([]byte, 0, 512)} }}

func getH1conn() *h1conn { return h1conns.Get().(*h1conn) }

func putH1conn(hc *h1conn) {
	resetH1conn(hc)
	h1conns.Put(hc)
}

// resetH1conn clears hc for its next use.
func resetH1conn(hc *h1conn) {
	hc.x, hc.c, hc.phase = nil, nil, phaseNone
	hc.parser.Reset("")
	if cap(hc.wbuf) > 8<<10 {
		hc.wbuf = make([]byte, 0, 512)
	}
}

var errUnsolicited = errors.New("egress: server sent bytes with no request outstanding")

// handler is the placeholder a connection's events go to between checkout
// and the moment its h1conn takes over (pool.Conn.SetHandler). One value
// serves every connection, so checking a connection out allocates nothing.
type handler struct{}

func (handler) OnOpen(*engine.Conn)                {}
func (handler) OnData(c *engine.Conn, data []byte) { c.CloseWithError(errUnsolicited) }
func (handler) OnWritten(*engine.Conn, int)        {}
func (handler) OnClose(*engine.Conn, error)        {}

// The h1conn is the connection's handler while it serves an exchange. The
// pool stops forwarding events to it when the exchange releases the
// connection, on the loop, before the h1conn is recycled.

func (hc *h1conn) OnOpen(*engine.Conn) {}

func (hc *h1conn) OnData(c *engine.Conn, data []byte) {
	if hc.x == nil {
		c.CloseWithError(errUnsolicited)
		return
	}
	hc.onData(data)
}

func (hc *h1conn) OnWritten(c *engine.Conn, n int) {
	if hc.x != nil {
		if rt, ok := hc.x.snk.(*roundTrip); ok {
			rt.wake()
		}
	}
}

func (hc *h1conn) OnClose(c *engine.Conn, err error) {
	if hc.x != nil {
		hc.onClose(err)
	}
}

// onData feeds the parser and passes its events on. Loop only.
func (hc *h1conn) onData(in []byte) {
	x := hc.x
	p := &hc.parser
	if !x.gotByte {
		x.gotByte = true
		if t := x.trace; t != nil && t.GotFirstResponseByte != nil {
			t.GotFirstResponseByte()
		}
	}
	for hc.x == x {
		ev, n, err := p.Feed(in)
		in = in[n:]
		if err != nil {
			hc.fail(err)
			return
		}
		switch ev {
		case http1.EventNone:
			return
		case http1.EventInformational:
			x.snk.informational(x, p)
		case http1.EventHead:
			hc.stopTimers()
			x.snk.head(x, p)
			if hc.x == x && p.HasBody() {
				x.t.armBodyTimer(hc)
			}
		case http1.EventBody:
			x.t.touchBodyTimer(hc)
			x.snk.body(x, p.Body())
		case http1.EventTrailers:
			x.snk.trailers(x, p)
		case http1.EventDone:
			// Bytes after the response mean the framing and the server
			// disagree: finish this response but do not reuse the
			// connection.
			if _, _, err := p.Feed(in); err != nil {
				hc.finish(nil, false)
				return
			}
			hc.finish(nil, p.KeepAlive())
			return
		}
	}
}

// finish completes the exchange successfully. Loop only.
func (hc *h1conn) finish(err error, keepAlive bool) {
	x := hc.x
	reusable := keepAlive && x.bodySent.Load() && !x.reqClose && !hc.parser.Tunnel()
	x.detach(reusable)
	x.end(err, false)
}

// fail ends the exchange with a protocol error; the connection is closed.
func (hc *h1conn) fail(err error) {
	x := hc.x
	c := hc.c
	x.detach(false)
	c.CloseWithError(err)
	x.end(err, false)
}

// onClose handles the connection closing mid-exchange. Loop only.
func (hc *h1conn) onClose(reason error) {
	x := hc.x
	p := &hc.parser
	if x.aborted == nil && x.gotByte {
		// A close-delimited body ends here; anything else is truncated.
		if err := p.EOF(); err == nil {
			hc.finish(nil, false)
			return
		} else if !errors.Is(err, http1.ErrNoResponse) {
			x.detach(false)
			x.end(err, false)
			return
		}
	}
	retry := x.canRetry()
	err := x.aborted
	if err == nil {
		err = &closedError{cause: reason}
	}
	x.detach(false)
	x.end(err, retry)
}
