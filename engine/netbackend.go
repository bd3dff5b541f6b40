package engine

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/egress-go/egress/internal/bufpool"
)

// netBackend runs a loop on Go's net package: each connection has a
// reader goroutine that hands what it reads to the loop and waits until
// the loop has delivered it, and a writer goroutine while it has bytes to
// send. Callbacks still run on the loop, one at a time, so handlers behave
// exactly as with the poll backend; only the cost per connection differs.
type netBackend struct {
	l      *Loop
	wakeCh chan struct{}
	timer  *time.Timer
	conns  map[*Conn]struct{}
}

// netConn is the net backend's part of a Conn.
type netConn struct {
	c          net.Conn
	ack        chan struct{} // loop -> reader: the last chunk was delivered
	done       chan struct{} // closed when the connection closes
	ackPending bool          // loop: a chunk delivered while paused, not yet acked
	writing    bool          // loop: a writer goroutine is running
	wdone      chan struct{} // closed when the running writer goroutine ends
}

// lingerTimeout bounds how long a closing connection may take to send what
// was queued before Close (a TLS close_notify, the end of a request).
const lingerTimeout = 2 * time.Second

func newNetBackend(l *Loop) loopBackend {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &netBackend{l: l, wakeCh: make(chan struct{}, 1), timer: t, conns: map[*Conn]struct{}{}}
}

func (b *netBackend) wait(timeoutMs int) error {
	switch {
	case timeoutMs == 0:
		select {
		case <-b.wakeCh:
		default:
		}
	case timeoutMs < 0:
		<-b.wakeCh
	default:
		b.timer.Reset(time.Duration(timeoutMs) * time.Millisecond)
		select {
		case <-b.wakeCh:
		case <-b.timer.C:
		}
		b.timer.Stop()
	}
	return nil
}

func (b *netBackend) wake() {
	select {
	case b.wakeCh <- struct{}{}:
	default:
	}
}

func (b *netBackend) close() { b.timer.Stop() }

func (b *netBackend) startConnect(c *Conn, ap addrPort) error {
	d := c.dial
	ctx, cancel := context.WithCancel(context.WithoutCancel(d.ctx))
	d.cancelIO = cancel
	dialer := net.Dialer{KeepAlive: d.keepAlive}
	l := b.l
	l.e.wg.Add(1)
	go func() {
		defer l.e.wg.Done()
		nc, err := dialer.DialContext(ctx, "tcp", ap.String())
		if !l.post(func() { b.connectResult(c, ap, nc, err) }) && nc != nil {
			nc.Close()
		}
	}()
	return nil
}

func (b *netBackend) connectResult(c *Conn, ap addrPort, nc net.Conn, err error) {
	if c.state != stateDialing || c.dial.cur != ap {
		if nc != nil {
			nc.Close() // the dial ended meanwhile
		}
		return
	}
	if err != nil {
		c.connectFailed(netDialError(err))
		return
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(c.dial.noDelay)
	}
	b.adopt(c, nc)
	c.connected()
}

func netDialError(err error) error {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return &sysError{ErrConnectRefused, syscall.ECONNREFUSED}
	case errors.Is(err, syscall.ETIMEDOUT):
		return &sysError{ErrConnectTimeout, syscall.ETIMEDOUT}
	}
	return err
}

// adopt gives c its net.Conn and starts its reader. Loop only.
func (b *netBackend) adopt(c *Conn, nc net.Conn) {
	n := &netConn{c: nc, ack: make(chan struct{}, 1), done: make(chan struct{})}
	c.extras().nc = n
	b.conns[c] = struct{}{}
	b.l.e.wg.Add(1)
	go b.reader(c, n)
}

func (b *netBackend) reader(c *Conn, n *netConn) {
	l := b.l
	defer l.e.wg.Done()
	buf := make([]byte, 16<<10)
	for {
		k, err := n.c.Read(buf)
		if k > 0 {
			data := buf[:k]
			if !l.post(func() { b.onData(c, n, data) }) {
				return
			}
			select {
			case <-n.ack:
			case <-n.done:
				return
			}
		}
		if err != nil {
			l.post(func() { b.onReadError(c, n, err) })
			return
		}
	}
}

func (b *netBackend) onData(c *Conn, n *netConn, data []byte) {
	if c.netConn() != n || c.state != stateOpen {
		return
	}
	c.deliver(data)
	if c.paused() && c.state == stateOpen {
		n.ackPending = true
		return
	}
	n.ack <- struct{}{}
}

func (b *netBackend) onReadError(c *Conn, n *netConn, err error) {
	if c.netConn() != n || c.state != stateOpen {
		return
	}
	switch {
	case err == io.EOF:
		c.peerEOF()
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		c.closeWith(&sysError{ErrReset, syscall.ECONNRESET})
	default:
		c.closeWith(&OpError{Op: "read", Err: err})
	}
}

func (b *netBackend) resumeRead(c *Conn) {
	if n := c.netConn(); n != nil && n.ackPending {
		n.ackPending = false
		n.ack <- struct{}{}
	}
}

// flush hands the whole queue to a writer goroutine, which owns those
// chunks until it reports back. Loop only.
func (b *netBackend) flush(c *Conn) {
	n := c.netConn()
	if c.state != stateOpen || n == nil || n.writing {
		return
	}
	c.mu.Lock()
	if c.wq.n == 0 {
		c.mu.Unlock()
		c.afterFlush()
		return
	}
	total := c.wq.n
	pending, owned := c.wq.take()
	bufs := net.Buffers(pending)
	c.x.Load().sending = total // x holds n
	c.mu.Unlock()
	n.writing = true
	n.wdone = make(chan struct{})
	l := b.l
	l.e.wg.Add(1)
	go func() {
		defer l.e.wg.Done()
		defer close(n.wdone)
		written, err := bufs.WriteTo(n.c)
		for _, p := range owned {
			bufpool.Put(p)
		}
		l.post(func() { b.onWritten(c, n, int(written), total, err) })
	}()
}

func (b *netBackend) onWritten(c *Conn, n *netConn, written, total int, err error) {
	n.writing = false
	c.mu.Lock()
	c.x.Load().sending = 0
	c.mu.Unlock()
	if c.netConn() != n || c.state != stateOpen {
		c.loop.ctr.queued.Add(-int64(total))
		return
	}
	if written > 0 {
		c.written(written)
	}
	if err != nil {
		c.loop.ctr.queued.Add(-int64(total - written))
		if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
			err = &sysError{ErrReset, syscall.ECONNRESET}
		} else {
			err = &OpError{Op: "write", Err: err}
		}
		c.closeWith(err)
		return
	}
	b.flush(c) // whatever was queued meanwhile, or a pending CloseWrite
}

// closeSocket closes c's net.Conn. Bytes still queued, and those a writer
// goroutine is sending, go out first, within lingerTimeout, on a goroutine
// of their own so the loop never waits.
func (b *netBackend) closeSocket(c *Conn) {
	n := c.netConn()
	if n == nil {
		return
	}
	delete(b.conns, c)
	close(n.done)
	c.mu.Lock()
	pending, owned := c.wq.take()
	rest := net.Buffers(pending)
	c.mu.Unlock()
	if len(rest) == 0 && !n.writing {
		n.c.Close()
		return
	}
	wdone := n.wdone
	b.l.e.wg.Add(1)
	go func() {
		defer b.l.e.wg.Done()
		n.c.SetWriteDeadline(time.Now().Add(lingerTimeout))
		if wdone != nil {
			<-wdone
		}
		rest.WriteTo(n.c)
		for _, p := range owned {
			bufpool.Put(p)
		}
		n.c.Close()
	}()
}

func (b *netBackend) shutdownWrite(c *Conn) error {
	if tc, ok := c.netConn().c.(*net.TCPConn); ok {
		if err := tc.CloseWrite(); err != nil {
			return &OpError{Op: "shutdown", Err: err}
		}
	}
	return nil
}

func (b *netBackend) sendUrgent(c *Conn, p []byte) (int, error) { return 0, ErrNotSupported }

func (b *netBackend) localAddr(c *Conn) addrPort {
	n := c.netConn()
	if n == nil {
		return addrPort{}
	}
	if ta, ok := n.c.LocalAddr().(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	return addrPort{}
}

// netConn returns c's net.Conn state, or nil before it has one.
func (c *Conn) netConn() *netConn {
	if x := c.x.Load(); x != nil {
		return x.nc
	}
	return nil
}

func (b *netBackend) allConns() []*Conn {
	all := make([]*Conn, 0, len(b.conns))
	for c := range b.conns {
		all = append(all, c)
	}
	return all
}

func (ln *Listener) listenNet(network, address string) error {
	nl, err := net.Listen(network, address)
	if err != nil {
		return err
	}
	ln.nl = nl
	ln.addr = nl.Addr().(*net.TCPAddr)
	e := ln.e
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			nc, err := nl.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				time.Sleep(5 * time.Millisecond) // out of descriptors: back off
				continue
			}
			l := e.pickLoop()
			c := newConn(l, nil)
			if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
				c.remote = makePeerAddr(ta.AddrPort())
			}
			if !l.post(func() { l.be.(*netBackend).attach(c, nc, ln) }) {
				nc.Close()
			}
		}
	}()
	return nil
}

func (b *netBackend) attach(c *Conn, nc net.Conn, ln *Listener) {
	if !ln.setup(c) {
		nc.Close()
		return
	}
	b.adopt(c, nc)
	b.l.ctr.accepted.Add(1)
	c.open()
}
