package egress

import (
	"io"
	"sync"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/internal/bufpool"
)

// bodyPipe carries a response body from the loop to its reader. The loop
// appends what arrives; past the window it pauses the connection, and the
// reader resumes it once it has drained half. Memory is bounded by the
// window plus one read, whatever the body's size, and the buffer goes back
// to the pool when the body is drained.
type bodyPipe struct {
	x      *exchange
	hc     *h1conn
	loop   *engine.Loop
	window int

	mu         sync.Mutex
	cond       sync.Cond
	buf        []byte
	r          int
	err        error // io.EOF once complete, or the failure
	closed     bool  // the reader closed the body
	wantResume bool  // the loop paused the connection for this pipe
}

// init readies the pipe for x's response. Loop only, before it is shared.
func (p *bodyPipe) init(x *exchange, window int) {
	p.x, p.hc, p.loop, p.window = x, x.hc, x.hc.c.Loop(), window
	p.cond.L = &p.mu
}

// write appends body bytes. Loop only.
func (p *bodyPipe) write(b []byte) {
	p.mu.Lock()
	if p.closed || p.err != nil {
		p.mu.Unlock()
		return
	}
	if p.r == len(p.buf) {
		p.buf, p.r = p.buf[:0], 0
	} else if p.r > 0 && len(p.buf)+len(b) > cap(p.buf) {
		n := copy(p.buf, p.buf[p.r:])
		p.buf, p.r = p.buf[:n], 0
	}
	p.buf = bufpool.Grow(p.buf, len(b))
	p.buf = append(p.buf, b...)
	over := len(p.buf)-p.r > p.window
	if over {
		p.wantResume = true
	}
	p.cond.Broadcast()
	p.mu.Unlock()
	if over {
		p.x.pauseConn()
	}
}

// closeWrite marks the body complete. Loop only.
func (p *bodyPipe) closeWrite() { p.fail(io.EOF) }

// fail ends the body with err (io.EOF for a complete one). Any goroutine.
func (p *bodyPipe) fail(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.cond.Broadcast()
	p.mu.Unlock()
}

// Read implements io.Reader for the response body.
func (p *bodyPipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.r == len(p.buf) && p.err == nil && !p.closed {
		p.cond.Wait()
	}
	if p.closed {
		return 0, ErrBodyClosed
	}
	if p.r < len(p.buf) {
		n := copy(b, p.buf[p.r:])
		p.r += n
		if p.wantResume && len(p.buf)-p.r <= p.window/2 {
			p.wantResume = false
			x, hc := p.x, p.hc
			p.loop.Post(func() { x.resumeConn(hc) })
		}
		if p.r == len(p.buf) && p.err != nil {
			p.release()
		}
		return n, nil
	}
	p.release()
	return 0, p.err
}

// Close releases the body. Closing before the end aborts the exchange and
// closes its connection, which cannot be reused with a response unread.
func (p *bodyPipe) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	complete := p.err != nil
	p.release()
	p.cond.Broadcast()
	p.mu.Unlock()
	if !complete {
		x, hc := p.x, p.hc
		p.loop.Post(func() { x.abort(hc, ErrBodyClosed) })
	}
	return nil
}

func (p *bodyPipe) release() {
	if p.buf != nil {
		bufpool.Put(p.buf)
		p.buf, p.r = nil, 0
	}
}
