//go:build linux || darwin || freebsd

package engine

import (
	"net"
	"time"

	"golang.org/x/sys/unix"
)

func (ln *Listener) listenPoll(network, address string, lc ListenConfig) error {
	ta, err := net.ResolveTCPAddr(network, address)
	if err != nil {
		return err
	}
	n := 1
	if lc.ReusePort {
		n = len(ln.e.loops)
	}
	for i := 0; i < n; i++ {
		fd, err := listenSocket(ta, lc, n > 1)
		if err != nil {
			ln.Close()
			return err
		}
		if i == 0 {
			sa, _ := unix.Getsockname(fd)
			ap := fromSockaddr(sa)
			ln.addr = net.TCPAddrFromAddrPort(ap)
			ta = &net.TCPAddr{IP: ta.IP, Port: int(ap.Port()), Zone: ta.Zone} // port 0: the rest share the one chosen
		}
		s := &listenSock{ln: ln, loop: ln.e.loops[i], fd: fd, hybrid: n > 1}
		ln.socks = append(ln.socks, s)
		if err := s.register(); err != nil {
			ln.Close()
			return err
		}
	}
	return nil
}

func listenSocket(ta *net.TCPAddr, lc ListenConfig, reusePort bool) (int, error) {
	ap := ta.AddrPort()
	if !ap.Addr().IsValid() {
		ap = addrPort{}
	}
	family := unix.AF_INET6
	var sa unix.Sockaddr
	if ap.Addr().Unmap().Is4() {
		family = unix.AF_INET
		sa = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().Unmap().As4()}
	} else {
		sa = &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	}
	fd, err := sysSocket(family)
	if err != nil {
		return -1, err
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if reusePort {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			unix.Close(fd)
			return -1, &OpError{Op: "setsockopt SO_REUSEPORT", Err: err}
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, &OpError{Op: "bind", Err: err}
	}
	if err := unix.Listen(fd, lc.Backlog); err != nil {
		unix.Close(fd)
		return -1, &OpError{Op: "listen", Err: err}
	}
	return fd, nil
}

// register adds the socket to its loop's poller, on the loop.
func (s *listenSock) register() error {
	done := make(chan error, 1)
	if !s.loop.post(func() {
		b := s.loop.be.(*pollBackend)
		b.listeners[s.fd] = s
		done <- b.p.addListener(s.fd)
	}) {
		return ErrEngineClosed
	}
	return <-done
}

func (s *listenSock) close() {
	done := make(chan struct{})
	if s.loop.post(func() {
		b := s.loop.be.(*pollBackend)
		if s.wait != nil {
			s.wait.Stop()
		}
		if b.listeners[s.fd] == s {
			delete(b.listeners, s.fd)
			b.p.removeListener(s.fd)
		}
		unix.Close(s.fd)
		close(done)
	}) {
		<-done
		return
	}
	unix.Close(s.fd) // the loop is gone; nothing else uses the descriptor
}

// accept takes every pending connection off the socket. Loop only.
func (b *pollBackend) accept(s *listenSock) {
	for {
		fd, sa, err := sysAccept(s.fd)
		if err != nil {
			switch err {
			case unix.EAGAIN:
			case unix.EINTR, unix.ECONNABORTED:
				continue
			default:
				// Out of descriptors (EMFILE, ENFILE) or memory: the
				// pending connections stay queued and no new edge may come,
				// so look again shortly.
				if s.wait == nil {
					s.wait = b.l.AfterFunc(10*time.Millisecond, func() {
						if b.listeners[s.fd] == s {
							b.accept(s)
						}
					})
				} else {
					s.wait.Reset(10 * time.Millisecond)
				}
			}
			return
		}
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		target := s.pick()
		c := newConn(target, nil)
		c.remote = makePeerAddr(fromSockaddr(sa))
		if target == b.l {
			b.attach(c, fd, s.ln)
		} else if !target.post(func() { target.be.(*pollBackend).attach(c, fd, s.ln) }) {
			unix.Close(fd)
		}
	}
}

// attach makes an accepted socket a connection of this loop. Loop only.
func (b *pollBackend) attach(c *Conn, fd int, ln *Listener) {
	if !ln.setup(c) {
		unix.Close(fd)
		return
	}
	if err := b.register(c, fd); err != nil {
		unix.Close(fd)
		return
	}
	b.l.ctr.accepted.Add(1)
	c.open()
}
