package egress

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/egress-go/egress/internal/bufpool"
)

// bodyFlow is how a body pipe pushes back on whatever fills it. Each
// protocol has its own answer: an HTTP/1.1 connection stops reading its
// socket while the body is full, an HTTP/2 stream withholds flow-control
// credit (stopping the socket would stall every other stream on it).
type bodyFlow interface {
	// full: the pipe holds more than its window. Loop only.
	full()
	// drained: the reader took n bytes. With creditAll unset it is called
	// only once the pipe, having been full, is down to half its window; with
	// creditAll set, for every half window consumed. Reader's goroutine,
	// with the pipe's lock held: it must not block.
	drained(n int)
	// abort: the reader closed the body before its end. Reader's
	// goroutine, pipe lock held.
	abort(err error)
}

// bodyPipe carries a response body from the loop to its reader. The loop
// appends what arrives; past the window it tells the flow, and the reader
// tells it again as it drains. Memory is bounded by the window plus one
// read, whatever the body's size, and the buffer goes back to the pool when
// the body is drained.
type bodyPipe struct {
	flow      bodyFlow
	window    int
	creditAll bool // the flow hears of every half window consumed

	mu       sync.Mutex
	cond     sync.Cond
	buf      []byte
	r        int
	err      error // io.EOF once complete, or the failure
	closed   bool  // the reader closed the body
	isFull   bool  // flow.full was called and drained has not followed
	consumed int   // taken since the last drained, when creditAll

	// direct, once set, reads the rest of the body from the socket
	// straight into the reader's buffer (see h1direct.go); directEnd: it
	// has seen the end, whose verdict comes through fail or closeWrite.
	direct    directSource
	directEnd bool
}

// Reads shorter than directMinRead go through a buffer of directSmallBuf
// bytes, as bufio does: a system call, and often a wait for the loop's
// signal, per few kilobytes would cost more than the copy. io.Copy's 8 KiB
// reads (through an io.Discard, or an SDK's retrying reader that hides
// WriteTo) are such reads.
const (
	directMinRead  = 16 << 10
	directSmallBuf = 64 << 10
)

// directSource reads a body straight into the reader's buffer.
type directSource interface {
	// read fills b with body bytes. end reports that the source has seen
	// the body's end or a failure and told the loop, whose verdict comes
	// through fail or closeWrite; the pipe does not call read again.
	read(b []byte) (n int, end bool)
}

// setDirect hands the rest of the body to d, once what the pipe holds
// has been read. Loop only.
func (p *bodyPipe) setDirect(d directSource) {
	p.mu.Lock()
	p.direct = d
	p.cond.Broadcast()
	p.mu.Unlock()
}

// directStarted reports whether the reader may be reading through the
// direct source. Any goroutine.
func (p *bodyPipe) directStarted() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.direct != nil
}

// init readies the pipe for a response. Loop only, before it is shared.
func (p *bodyPipe) init(flow bodyFlow, window int, creditAll bool) {
	p.flow, p.window, p.creditAll = flow, window, creditAll
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
	over := !p.isFull && len(p.buf)-p.r > p.window
	if over {
		p.isFull = true
	}
	p.cond.Broadcast()
	p.mu.Unlock()
	if over {
		p.flow.full()
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
		if p.direct == nil || p.directEnd {
			p.cond.Wait()
			continue
		}
		if len(b) == 0 {
			return 0, nil
		}
		// Unlocked while reading the socket, so that Close (from any
		// goroutine) and the loop's verdict are not held up; the reader
		// is the only one that calls the source. A small read goes
		// through a pooled buffer instead of costing a system call for
		// a few bytes; it is taken out of the pipe meanwhile, so that
		// Close cannot pool it under the read.
		d := p.direct
		var small []byte
		dst := b
		if len(b) < directMinRead {
			// The buffer the loop filled before the lease may be of a
			// small class (a few bytes of body came with the head); kept,
			// it would cap every read of the body after it.
			small = p.buf
			if cap(small) < directSmallBuf {
				bufpool.Put(small)
				small = bufpool.Get(directSmallBuf)
			}
			p.buf, p.r = nil, 0
			dst = small[:cap(small)]
		}
		p.mu.Unlock()
		n, end := d.read(dst)
		p.mu.Lock()
		p.directEnd = end
		if p.closed {
			bufpool.Put(small)
			return 0, ErrBodyClosed
		}
		if small != nil {
			p.buf = small[:n] // served by the loop's copy below
			continue
		}
		if n > 0 {
			return n, nil
		}
	}
	if p.closed {
		return 0, ErrBodyClosed
	}
	if p.r < len(p.buf) {
		n := copy(b, p.buf[p.r:])
		p.r += n
		p.took(n)
		if p.r == len(p.buf) && p.err != nil {
			p.release()
		}
		return n, nil
	}
	p.release()
	return 0, p.err
}

// took tells the flow about n bytes read, as init's creditAll asks. Lock
// held.
func (p *bodyPipe) took(n int) {
	if p.creditAll {
		if p.err != nil {
			// The body is complete, so its stream has closed, and the
			// connection took back the credit of whatever was unread
			// then (http2.Conn.Consumed): nothing is owed, and a post to
			// the loop per small response is saved.
			p.consumed = 0
			return
		}
		p.consumed += n
		if p.consumed >= p.window/2 {
			n, p.consumed = p.consumed, 0
			p.isFull = false
			p.flow.drained(n)
		}
		return
	}
	if p.err == nil && p.isFull && len(p.buf)-p.r <= p.window/2 {
		p.isFull = false
		p.flow.drained(n)
	}
}

// Close releases the body. Closing before the end aborts the exchange:
// HTTP/1.1 closes the connection, which cannot be reused with a response
// unread; HTTP/2 resets the stream.
func (p *bodyPipe) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	complete := p.err != nil // then nothing is owed (see took)
	p.release()
	p.cond.Broadcast()
	if !complete {
		p.flow.abort(ErrBodyClosed)
	}
	return nil
}

func (p *bodyPipe) release() {
	if p.buf != nil {
		bufpool.Put(p.buf)
		p.buf, p.r = nil, 0
	}
}

// writeToBuf is the size of the reads WriteTo makes.
const writeToBuf = 64 << 10

// WriteTo implements io.WriterTo, so that io.Copy from a body reads in
// pieces of 64 KiB rather than the 8 KiB it would use by itself (its
// io.Discard, a file's or a socket's ReadFrom): fewer system calls when
// the body comes straight from the socket.
func (p *bodyPipe) WriteTo(w io.Writer) (int64, error) {
	buf := bufpool.Get(writeToBuf)
	defer func() { bufpool.Put(buf) }()
	var total int64
	for {
		n, err := p.Read(buf[:cap(buf)])
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
			if m < n {
				return total, io.ErrShortWrite
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// wholeBodyMax bounds the bodies that are copied out whole when they come
// with their head, rather than streamed through a pipe (see
// roundTrip.head): what the loop read with the head, which before a body
// is leased is at most a small read (engine.Conn.SetSmallReads).
const wholeBodyMax = 16 << 10

// wholeResponse is a Response and its body in one allocation, for a body
// that came whole with the head.
type wholeResponse struct {
	resp http.Response
	body wholeBody
}

// wholeBody is a response body read in full by the loop before the
// Response was handed over: its reads take no lock and never wait.
type wholeBody struct {
	data   []byte
	off    int
	closed atomic.Bool // Close may come from another goroutine than Read's
}

func (b *wholeBody) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, ErrBodyClosed
	}
	if b.off < len(b.data) {
		n := copy(p, b.data[b.off:])
		b.off += n
		return n, nil
	}
	return 0, io.EOF
}

// WriteTo implements io.WriterTo: the body goes to w in one write.
func (b *wholeBody) WriteTo(w io.Writer) (int64, error) {
	if b.closed.Load() {
		return 0, ErrBodyClosed
	}
	if b.off == len(b.data) {
		return 0, nil
	}
	n, err := w.Write(b.data[b.off:])
	b.off += n
	if err == nil && b.off < len(b.data) {
		err = io.ErrShortWrite
	}
	return int64(n), err
}

func (b *wholeBody) Close() error {
	b.closed.Store(true)
	return nil
}
