package engine

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxIovecs bounds one writev.
const maxIovecs = 64

// poller is epoll in edge-triggered mode with an eventfd for wake-ups.
// The generation of the connection is kept in the event's spare word, so a
// stale event for a reused descriptor number can be told apart.
type poller struct {
	epfd, efd int
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
	return &poller{epfd: epfd, efd: efd}, nil
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
	n, err := unix.EpollWait(p.epfd, p.events[:], timeoutMs)
	if err != nil {
		if err == unix.EINTR {
			return 0, nil
		}
		return 0, &OpError{Op: "epoll_wait", Err: err}
	}
	return n, nil
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
	unix.Close(p.epfd)
	unix.Close(p.efd)
}

// writev writes iov with one system call, without the allocation that
// unix.Writev makes for its iovec array.
func writev(fd int, iov []unix.Iovec) (int, error) {
	if len(iov) == 0 {
		return 0, nil
	}
	n, _, errno := unix.Syscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
