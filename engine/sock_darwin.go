package engine

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Darwin has neither SOCK_NONBLOCK nor accept4: set the flags after the
// call, under ForkLock so that no child inherits the descriptor meanwhile.
func sysSocket(family int) (int, error) {
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(family, unix.SOCK_STREAM, unix.IPPROTO_TCP)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, &OpError{Op: "socket", Err: err}
	}
	if err := prepare(fd); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func prepare(fd int) error {
	if err := unix.SetNonblock(fd, true); err != nil {
		return &OpError{Op: "setnonblock", Err: err}
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NOSIGPIPE, 1)
	return nil
}

func sysAccept(fd int) (int, unix.Sockaddr, error) {
	syscall.ForkLock.RLock()
	nfd, sa, err := unix.Accept(fd)
	if err == nil {
		unix.CloseOnExec(nfd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, nil, err
	}
	if err := prepare(nfd); err != nil {
		unix.Close(nfd)
		return -1, nil, err
	}
	return nfd, sa, nil
}

func setKeepAlive(fd int, d time.Duration) {
	secs := max(int(d/time.Second), 1)
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPALIVE, secs)
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, secs)
}
