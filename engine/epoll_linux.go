package engine

import (
	"errors"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxIovecs bounds one writev.
const maxIovecs = 64

// poller is epoll in edge-triggered mode with an eventfd for wake-ups.
// The generation of the connection is kept in the event's spare word, so a
// stale event for a reused descriptor number can be told apart.
//
// The loop never blocks in epoll_wait itself. A goroutine blocked in a
// system call keeps its P until the runtime's sysmon takes it back, which
// can take milliseconds in a quiet process, and that latency lands on every
// request. Instead the epoll descriptor, which is itself pollable, is
// handed to Go's netpoller: the loop polls with a zero timeout and, when
// nothing is ready, parks in the runtime (holding no P and no thread)
// until the descriptor becomes readable or a read deadline passes.
type poller struct {
	epfd, efd int
	file      *os.File        // epfd, registered with Go's netpoller
	raw       syscall.RawConn // parks the loop until epfd is readable
	n         int             // events found by the last poll
	err       error
	pollFn    func(fd uintptr) bool // poll, made once
	events    [256]unix.EpollEvent
	wakeBuf   [8]byte
}

func openPoller() (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, &OpError{Op: "epoll_create1", Err: err}
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, &OpError{Op: "eventfd", Err: err}
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: -1}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(efd)
		return nil, &OpError{Op: "epoll_ctl", Err: err}
	}
	p := &poller{epfd: epfd, efd: efd}
	// A non-blocking descriptor is what os.NewFile registers with the
	// runtime's poller.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		unix.Close(efd)
		return nil, &OpError{Op: "setnonblock", Err: err}
	}
	p.file = os.NewFile(uintptr(epfd), "egress-epoll")
	raw, err := p.file.SyscallConn()
	if err != nil {
		p.file.Close()
		unix.Close(efd)
		return nil, &OpError{Op: "epoll", Err: err}
	}
	p.raw = raw
	p.pollFn = p.poll
	return p, nil
}

// poll collects ready events without blocking; it reports whether the
// loop has something to do (events or an error).
func (p *poller) poll(uintptr) bool {
	for {
		n, err := unix.EpollWait(p.epfd, p.events[:], 0)
		if err == unix.EINTR {
			continue
		}
		p.n, p.err = n, err
		return n > 0 || err != nil
	}
}

func (p *poller) add(fd int, gen uint32) error {
	ev := unix.EpollEvent{
		Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET,
		Fd:     int32(fd),
		Pad:    int32(gen),
	}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return &OpError{Op: "epoll_ctl", Err: err}
	}
	return nil
}

// addListener registers a listening socket for readability.
func (p *poller) addListener(fd int) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: int32(fd)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return &OpError{Op: "epoll_ctl", Err: err}
	}
	return nil
}

func (p *poller) removeListener(fd int) {
	unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
}

func (p *poller) wait(timeoutMs int) (int, error) {
	if p.poll(0) || timeoutMs == 0 {
		return p.result()
	}
	var deadline time.Time
	if timeoutMs > 0 {
		deadline = time.Now().Add(time.Duration(timeoutMs) * time.Millisecond)
	}
	p.file.SetReadDeadline(deadline)
	if err := p.raw.Read(p.pollFn); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, nil
		}
		return 0, &OpError{Op: "epoll wait", Err: err}
	}
	return p.result()
}

func (p *poller) result() (int, error) {
	if p.err != nil {
		return 0, &OpError{Op: "epoll_wait", Err: p.err}
	}
	return p.n, nil
}

// event decodes event i; fd is -1 for a wake-up, which it also consumes.
func (p *poller) event(i int) (fd int, gen uint32, ev int) {
	e := &p.events[i]
	if e.Fd == -1 {
		unix.Read(p.efd, p.wakeBuf[:])
		return -1, 0, 0
	}
	if e.Events&unix.EPOLLIN != 0 {
		ev |= evRead
	}
	if e.Events&unix.EPOLLOUT != 0 {
		ev |= evWrite
	}
	if e.Events&(unix.EPOLLRDHUP|unix.EPOLLHUP) != 0 {
		ev |= evHup
	}
	if e.Events&unix.EPOLLERR != 0 {
		ev |= evErr
	}
	return int(e.Fd), uint32(e.Pad), ev
}

func (p *poller) wake() {
	one := [8]byte{1}
	unix.Write(p.efd, one[:])
}

func (p *poller) close() {
	p.file.Close() // closes epfd
	unix.Close(p.efd)
}

// The socket calls of the hot path go in as raw system calls, without
// telling the scheduler: on a non-blocking socket they never wait, so the
// bookkeeping that lets the runtime hand the P to another thread during a
// blocking call is pure cost, and worse, a loop that is in and out of such
// calls all the time keeps the runtime's sysmon thread waking every few
// tens of microseconds to inspect it, each time preempting the loop.

// writev writes iov with one system call, without the allocation that
// unix.Writev makes for its iovec array.
func writev(fd int, iov []unix.Iovec) (int, error) {
	if len(iov) == 0 {
		return 0, nil
	}
	n, _, errno := unix.RawSyscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// sockRead reads from a non-blocking socket.
func sockRead(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if errno != 0 {
		return -1, errno
	}
	return int(n), nil
}

// sockWrite writes to a non-blocking socket.
func sockWrite(fd int, p []byte) (int, error) {
	n, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
