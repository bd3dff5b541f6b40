package egress

import (
	"errors"
	"io"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/http1"
)

// Direct reads: an HTTP/1.1 response body read by a blocking reader (the
// body RoundTrip returns) comes straight from the socket into the
// reader's buffer. The loop delivers the head and whatever arrived with
// it to the body pipe, as for any response; when the parser then needs
// more, the h1conn asks the engine for the connection's read side (a
// ReadLease) and, once granted, gives it to the pipe. From there the
// reader's goroutine reads (through TLS, if any) into the slice it was
// given, the parser frames the bytes in place, and nothing is read that
// the caller did not ask for: back-pressure is the kernel's receive
// window. The response's end, or a failure, is posted to the loop, which
// finishes the exchange as it would have, and gives the read side back.
//
// Ownership: from the grant until the reader posts the end, the parser is
// the reader's; the loop touches neither it nor the socket. If the loop
// ends the exchange first (a timeout, a cancellation, Close), it closes
// the connection, which wakes a blocked read with the reason, and it
// drops the h1conn rather than recycle it, since the reader may still be
// in the parser.

// h1Direct is one direct-read body: the reader's side of an h1conn's
// read lease.
type h1Direct struct {
	hc   *h1conn
	x    *exchange
	pipe *bodyPipe
	l    *engine.Loop
	rl   *engine.ReadLease

	// Loop only.
	live     bool // hc still serves x through this lease
	finished bool // the reader posted the end and no longer touches hc
}

// takeLease asks for the connection's read side for x's body, when x's
// body is pulled by a blocking reader and the response needs more bytes
// than the loop has. Loop only, from onData.
func (hc *h1conn) takeLease() {
	x := hc.x
	if hc.direct != nil || x.direct == nil || hc.noLease {
		return
	}
	d := &h1Direct{hc: hc, x: x, pipe: x.direct, l: hc.c.Loop(), live: true}
	rl := hc.c.LeaseRead(d)
	if rl == nil {
		hc.noLease = true // a layer or backend that cannot; the loop reads
		return
	}
	d.rl = rl
	hc.direct = d
}

// Granted implements engine.LeaseHolder: the pipe's reader may read the
// socket now. Loop only.
func (d *h1Direct) Granted(*engine.ReadLease) {
	if d.live {
		d.pipe.setDirect(d)
	}
}

// endLease gives the read side back as hc stops serving the exchange. It
// reports whether hc may be recycled: not while the reader may still be
// in its parser. Loop only, from detach.
func (hc *h1conn) endLease() (recyclable bool) {
	d := hc.direct
	if d == nil {
		return true
	}
	hc.direct = nil
	d.live = false
	d.rl.Return()
	return d.finished || !d.pipe.directStarted()
}

// read fills b with body bytes read from the socket. end reports that the
// reader has seen the body's end or a failure and posted it to the loop,
// whose verdict reaches the pipe as for any response. Reader's goroutine.
func (d *h1Direct) read(b []byte) (n int, end bool) {
	p := &d.hc.parser
	for {
		want := b
		if w := p.BodyWant(); w >= 0 && int64(len(want)) > w {
			want = want[:w]
		}
		k, err := d.rl.Read(want)
		if k > 0 {
			if n, end = d.decode(b, want[:k]); end || n > 0 {
				return n, end
			}
			continue // chunk framing only
		}
		if err == nil {
			continue
		}
		// The connection ended: a close-delimited body is complete at
		// the peer's end of stream (io.EOF), anything else was cut short;
		// a reset or a failed read cuts even a close-delimited body, which
		// io.EOF would pass off as whole. If the loop closed it (a
		// timeout, a cancellation), the loop has already ended the
		// exchange and the post below finds the lease gone.
		verdict := p.EOF()
		if verdict == nil && err != io.EOF {
			verdict = &closedError{cause: err}
		}
		d.post(verdict, false)
		return 0, true
	}
}

// decode frames in, bytes just read into b, moving the body's bytes to
// the front of b (chunk framing removed), and returns how many there are.
func (d *h1Direct) decode(b, in []byte) (n int, end bool) {
	p := &d.hc.parser
	for {
		ev, k, err := p.Feed(in)
		in = in[k:]
		if err != nil {
			d.post(err, false)
			return n, true
		}
		switch ev {
		case http1.EventNone:
			return n, false
		case http1.EventBody:
			// The body lies at or after b[n:]; a Content-Length body read
			// into b is already in place, and copying it onto itself would
			// cost a pass over every byte.
			body := p.Body()
			if len(body) > 0 && &body[0] != &b[n] {
				copy(b[n:], body)
			}
			n += len(body)
		case http1.EventTrailers:
			// The round trip's sink fills Response.Trailer, which its
			// reader, this goroutine, may look at only after io.EOF.
			d.x.snk.trailers(d.x, p)
		case http1.EventDone:
			// Bytes after the response: the framing and the server
			// disagree, so the connection is not reused. Those read with
			// the body's last are in; the socket, or crypto/tls's buffers,
			// may hold more, which the loop would otherwise hand to the
			// next response: one read that does not wait tells.
			keepAlive := p.KeepAlive()
			if _, _, err := p.Feed(in); err != nil {
				keepAlive = false
			} else if keepAlive {
				var extra [1]byte
				if k, err := d.rl.ReadNow(extra[:]); k > 0 || !errors.Is(err, engine.ErrWouldBlock) {
					keepAlive = false // more bytes, the peer's close, or a failure
				}
			}
			d.post(nil, keepAlive)
			return n, true
		default:
			d.post(errors.New("egress: unexpected response event in a body"), false)
			return n, true
		}
	}
}

// post hands the body's end to the loop. Reader's goroutine; after it
// the reader no longer touches hc.
func (d *h1Direct) post(err error, keepAlive bool) {
	if !d.l.Post(func() { d.finish(err, keepAlive) }) {
		d.pipe.fail(ErrTransportClosed)
	}
}

// finish ends the exchange as the loop would have had it read the body:
// reused if clean, closed with err otherwise. Loop only.
func (d *h1Direct) finish(err error, keepAlive bool) {
	d.finished = true
	if !d.live {
		return // the loop ended the exchange first
	}
	hc := d.hc
	if err != nil {
		hc.fail(err)
		return
	}
	hc.finish(nil, keepAlive)
}

// bodyIdle reports how long the reader's reads have been idle, for the
// body timer: while it holds the read side, the loop sees no bytes.
func (d *h1Direct) bodyIdle() time.Duration { return d.rl.Idle() }

var _ io.Reader = (*bodyPipe)(nil)
