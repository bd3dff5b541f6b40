//go:build linux || darwin || freebsd

package engine

import (
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

const pollSupported = true

// Readiness bits reported by a poller.
const (
	evRead  = 1 << iota // readable
	evWrite             // writable
	evHup               // peer closed (read side) or hung up
	evErr               // error pending on the socket
)

// maxReadsPerEvent bounds how much one connection may read in one loop
// iteration before the others get their turn.
const maxReadsPerEvent = 8

// bulkSpinPolls is how many times a loop that has just woken a reader
// holding a ReadLease polls without sleeping before it blocks: about
// 20 µs. A lease is taken for a body that did not come whole with its
// head, that is a bulk transfer, and while the loop sleeps each arrival of
// data makes the sender's side of the kernel wake the loop's thread to
// pass the readiness on; on loopback that work is charged to the sender.
// Polling through the short gaps between arrivals avoids those wake-ups:
// a 1 MiB GET through http.Client at 64 connections went from 4,878 to
// 7,521 requests per second against nginx (bench/run http1-big), and from
// 159 to 128 µs of client CPU per request. The same spin after the loop's own large reads
// (the Exchange API) cost client CPU without moving its rate, so it is
// kept to leases; small exchanges never take one and pay nothing.
const bulkSpinPolls = 50

// minSpinConns: the spin pays when several connections deliver at once
// (the 64 above). A lone stream gains nothing from it: the Azure SDK
// downloading 1 GiB from Azurite spent 0.54 CPU-seconds per GiB with
// the spin and 0.45 without (net/http: 0.45).
const minSpinConns = 2

// pollBackend runs a loop on epoll or kqueue, edge-triggered: each socket
// is registered once for reading and writing and never modified, so the
// hot path makes no epoll_ctl calls.
type pollBackend struct {
	l         *Loop
	p         *poller
	fds       *fdTable // the engine's, shared by its loops
	listeners map[int]*listenSock
	iov       []unix.Iovec // writev scratch
	bulk      bool         // a lease holder was woken since the last wait
}

func newPollBackend(l *Loop) (loopBackend, error) {
	p, err := openPoller()
	if err != nil {
		return nil, err
	}
	return &pollBackend{l: l, p: p, fds: &l.e.fds, listeners: map[int]*listenSock{}}, nil
}

func (b *pollBackend) wake()  { b.p.wake() }
func (b *pollBackend) close() { b.p.close() }

func (b *pollBackend) wait(timeoutMs int) error {
	var n int
	var err error
	spin := b.bulk && timeoutMs != 0 && b.l.ctr.open.Load() >= minSpinConns
	if timeoutMs != 0 {
		b.bulk = false
	}
	if spin {
		for i := 0; i < bulkSpinPolls && n == 0 && err == nil; i++ {
			n, err = b.p.wait(0)
		}
	}
	if n == 0 && err == nil {
		n, err = b.p.wait(timeoutMs)
	}
	b.l.awake() // the drain after this dispatch picks up what callbacks queue
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		fd, gen, ev := b.p.event(i)
		if fd < 0 {
			continue // wake-up
		}
		c := b.fds.get(fd)
		if c == nil || c.loop != b.l {
			if ls := b.listeners[fd]; ls != nil {
				b.accept(ls)
			}
			continue
		}
		if gen != 0 && gen != c.gen {
			continue // stale event for a descriptor number since reused
		}
		b.ready(c, ev)
	}
	return nil
}

func (b *pollBackend) ready(c *Conn, ev int) {
	if c.state == stateDialing {
		if ev&(evWrite|evErr|evHup) == 0 || !b.connectDone(c) {
			return
		}
		// The same edge may carry the first bytes from the server.
	}
	if c.state != stateOpen {
		return
	}
	if ev&evWrite != 0 && c.waitWritable {
		c.waitWritable = false
		b.flush(c)
	}
	if ev&(evRead|evHup|evErr) != 0 {
		b.readable(c, ev&(evHup|evErr) != 0)
	}
}

// connectDone checks a connect that the poller reported finished. It
// reports whether the connection is now open. Like Go's net package, it
// trusts SO_ERROR only when getpeername agrees that the socket is
// connected, since a spurious wake-up can come before the connect ends.
func (b *pollBackend) connectDone(c *Conn) bool {
	errno, err := unix.GetsockoptInt(int(c.fd), unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		c.connectFailed(err)
		return false
	}
	switch syscall.Errno(errno) {
	case 0, syscall.EISCONN:
	case syscall.EINPROGRESS, syscall.EALREADY, syscall.EINTR:
		return false
	default:
		c.connectFailed(classifyConnect(syscall.Errno(errno)))
		return false
	}
	if _, err := unix.Getpeername(int(c.fd)); err != nil {
		if err == unix.ENOTCONN {
			return false // not yet
		}
		c.connectFailed(err)
		return false
	}
	c.connected()
	return c.state == stateOpen
}

// readable reads until the socket is drained, the read cap is reached, or
// the handler pauses or closes. hup forces reading to EOF: the peer's FIN
// came with this edge and no further edge will announce it.
func (b *pollBackend) readable(c *Conn, hup bool) {
	if c.ops.Load()&flagLeased != 0 {
		b.bulk = true
		c.leased() // the lease holder reads
		return
	}
	if c.peerShut || c.paused() {
		return // ResumeRead reads again
	}
	l := b.l
	buf := l.buf
	if c.ops.Load()&flagSmall != 0 {
		buf = buf[:min(len(buf), smallRead)]
	}
	for i := 0; i < maxReadsPerEvent; i++ {
		n, err := sockRead(int(c.fd), buf)
		if n > 0 {
			l.reading = c
			c.deliver(buf[:n])
			l.reading = nil
			if c.state != stateOpen || c.ops.Load()&(flagClosing|flagPaused|flagLeased) != 0 {
				if c.state == stateOpen && c.ops.Load()&(flagClosing|flagLeased) == flagLeased {
					c.leased() // asked for during this delivery: granted now
				}
				return
			}
			if n < len(buf) && !hup {
				return // drained; the next arrival raises a new edge
			}
			continue
		}
		switch {
		case err == nil: // n == 0: end of stream
			c.peerEOF()
			return
		case err == unix.EAGAIN:
			return
		case err == unix.EINTR:
			continue
		default:
			c.closeWith(classify(err.(syscall.Errno)))
			return
		}
	}
	if !c.inReadyq {
		c.inReadyq = true
		l.readyq = append(l.readyq, c)
	}
}

func (b *pollBackend) resumeRead(c *Conn) {
	if c.state == stateOpen {
		b.readable(c, true)
	}
}

// flush writes as much of c's queue as the socket takes. Loop only.
func (b *pollBackend) flush(c *Conn) {
	if c.state != stateOpen || c.waitWritable {
		return
	}
	var fail error
	total := 0
	c.mu.Lock()
	for c.wq.n > 0 {
		var n int
		var err error
		chunks := c.wq.chunks()
		if chunks[0].oob {
			n, err = unix.SendmsgN(int(c.fd), c.wq.pending(0), nil, nil, unix.MSG_OOB)
		} else {
			b.iov = b.iov[:0]
			for i := range chunks {
				if chunks[i].oob || len(b.iov) == maxIovecs {
					break
				}
				p := c.wq.pending(i)
				v := unix.Iovec{Base: &p[0]}
				v.SetLen(len(p))
				b.iov = append(b.iov, v)
			}
			n, err = writev(int(c.fd), b.iov)
		}
		if err != nil {
			if err == unix.EAGAIN {
				c.waitWritable = true
			} else if err != unix.EINTR {
				fail = classify(err.(syscall.Errno))
			}
			if err != unix.EINTR {
				break
			}
			continue
		}
		c.wq.consume(n)
		total += n
	}
	empty := c.wq.n == 0
	c.mu.Unlock()
	clear(b.iov) // drop pointers into pooled chunks
	if total > 0 {
		c.written(total)
	}
	if fail != nil {
		c.closeWith(fail)
		return
	}
	if empty && c.state == stateOpen {
		c.afterFlush()
	}
}

func (b *pollBackend) startConnect(c *Conn, ap addrPort) error {
	d := c.dial
	family := unix.AF_INET
	if ap.Addr().Is6() {
		family = unix.AF_INET6
	}
	fd, err := sysSocket(family)
	if err != nil {
		return err
	}
	if d.noDelay {
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
	if d.keepAlive > 0 {
		setKeepAlive(fd, d.keepAlive)
	}
	err = unix.Connect(fd, sockaddr(ap))
	switch err {
	case nil, unix.EINPROGRESS, unix.EINTR:
	default:
		unix.Close(fd)
		if errno, ok := err.(syscall.Errno); ok {
			return classifyConnect(errno)
		}
		return err
	}
	if rerr := b.register(c, fd); rerr != nil {
		unix.Close(fd)
		return rerr
	}
	if err == nil {
		c.connected() // loopback can connect at once
	}
	return nil
}

// register records fd as c's socket and adds it to the poller.
func (b *pollBackend) register(c *Conn, fd int) error {
	l := b.l
	l.nextGen++
	if l.nextGen == 0 {
		l.nextGen = 1
	}
	c.setFD(fd)
	c.gen = l.nextGen
	b.fds.set(fd, c)
	if err := b.p.add(fd, c.gen); err != nil {
		b.fds.clear(fd, c)
		c.clearFD() // the caller closes fd
		return err
	}
	return nil
}

func (b *pollBackend) closeSocket(c *Conn) {
	fd := int(c.fd)
	if fd < 0 {
		return
	}
	b.fds.clear(fd, c)
	c.clearFD()
	unix.Close(fd) // also removes it from the poller
}

// clearFD forgets c's descriptor before it is closed. Loop only. It takes
// c.mu, under which other goroutines use the descriptor (localAddr).
func (c *Conn) clearFD() {
	c.mu.Lock()
	c.setFD(-1)
	c.mu.Unlock()
}

func (b *pollBackend) shutdownWrite(c *Conn) error {
	if err := unix.Shutdown(int(c.fd), unix.SHUT_WR); err != nil && err != unix.ENOTCONN {
		return &OpError{Op: "shutdown", Err: err}
	}
	return nil
}

func (b *pollBackend) sendUrgent(c *Conn, p []byte) (int, error) {
	return unix.SendmsgN(int(c.fd), p, nil, nil, unix.MSG_OOB)
}

// testHookLocalAddr, if set, runs in localAddr between picking the
// descriptor and reading its address.
var testHookLocalAddr func()

// localAddr reads the address under c.mu, which closeSocket takes to
// clear c.fd before closing the descriptor: between the load and
// getsockname the number cannot be closed and given to another socket,
// whose address would be read instead.
func (b *pollBackend) localAddr(c *Conn) addrPort {
	c.mu.Lock()
	defer c.mu.Unlock()
	fd := c.sockFD()
	if fd < 0 {
		return addrPort{}
	}
	if testHookLocalAddr != nil {
		testHookLocalAddr()
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return addrPort{}
	}
	return fromSockaddr(sa)
}

func (b *pollBackend) allConns() []*Conn {
	var all []*Conn
	b.fds.each(b.l, func(c *Conn) { all = append(all, c) })
	return all
}

func sockaddr(ap addrPort) unix.Sockaddr {
	a := ap.Addr()
	if a.Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}
	}
	return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
}

func fromSockaddr(sa unix.Sockaddr) addrPort {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port))
	}
	return addrPort{}
}
