//go:build darwin || freebsd

package engine

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxIovecs bounds one flush; without writev on these platforms each chunk
// is written in turn.
const maxIovecs = 64

// poller is kqueue with EV_CLEAR (edge-triggered) read and write filters
// and a pipe for wake-ups.
type poller struct {
	kq      int
	wr, rd  int // wake-up pipe
	events  [256]unix.Kevent_t
	wakeBuf [64]byte
}

func openPoller() (*poller, error) {
	kq, err := unix.Kqueue()
	if err != nil {
		return nil, &OpError{Op: "kqueue", Err: err}
	}
	unix.CloseOnExec(kq)
	var fds [2]int
	if err := unix.Pipe(fds[:]); err != nil {
		unix.Close(kq)
		return nil, &OpError{Op: "pipe", Err: err}
	}
	for _, fd := range fds {
		unix.CloseOnExec(fd)
		unix.SetNonblock(fd, true)
	}
	p := &poller{kq: kq, rd: fds[0], wr: fds[1]}
	if err := p.ctl(p.rd, unix.EVFILT_READ, unix.EV_ADD|unix.EV_CLEAR); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func (p *poller) ctl(fd int, filter int16, flags uint16) error {
	var ch [1]unix.Kevent_t
	unix.SetKevent(&ch[0], fd, int(filter), int(flags))
	if _, err := unix.Kevent(p.kq, ch[:], nil, nil); err != nil {
		return &OpError{Op: "kevent", Err: err}
	}
	return nil
}

func (p *poller) add(fd int, gen uint32) error {
	var ch [2]unix.Kevent_t
	unix.SetKevent(&ch[0], fd, unix.EVFILT_READ, unix.EV_ADD|unix.EV_CLEAR)
	unix.SetKevent(&ch[1], fd, unix.EVFILT_WRITE, unix.EV_ADD|unix.EV_CLEAR)
	if _, err := unix.Kevent(p.kq, ch[:], nil, nil); err != nil {
		return &OpError{Op: "kevent", Err: err}
	}
	return nil
}

func (p *poller) addListener(fd int) error {
	return p.ctl(fd, unix.EVFILT_READ, unix.EV_ADD|unix.EV_CLEAR)
}

func (p *poller) removeListener(fd int) { p.ctl(fd, unix.EVFILT_READ, unix.EV_DELETE) }

func (p *poller) wait(timeoutMs int) (int, error) {
	var ts *unix.Timespec
	if timeoutMs >= 0 {
		t := unix.NsecToTimespec(int64(time.Duration(timeoutMs) * time.Millisecond))
		ts = &t
	}
	n, err := unix.Kevent(p.kq, nil, p.events[:], ts)
	if err != nil {
		if err == unix.EINTR {
			return 0, nil
		}
		return 0, &OpError{Op: "kevent", Err: err}
	}
	return n, nil
}

// event decodes event i; fd is -1 for a wake-up, which it also consumes.
// kqueue has no spare word for a generation, so gen is 0 (unchecked);
// stale events are harmless because every handler re-checks the socket.
func (p *poller) event(i int) (fd int, gen uint32, ev int) {
	e := &p.events[i]
	fd = int(e.Ident)
	if fd == p.rd {
		for {
			if n, _ := unix.Read(p.rd, p.wakeBuf[:]); n <= 0 {
				break
			}
		}
		return -1, 0, 0
	}
	switch e.Filter {
	case unix.EVFILT_READ:
		ev = evRead
	case unix.EVFILT_WRITE:
		ev = evWrite
	}
	if e.Flags&unix.EV_EOF != 0 {
		ev |= evHup
	}
	if e.Flags&unix.EV_ERROR != 0 {
		ev |= evErr
	}
	return fd, 0, ev
}

func (p *poller) wake() {
	one := [1]byte{1}
	unix.Write(p.wr, one[:])
}

func (p *poller) close() {
	unix.Close(p.kq)
	unix.Close(p.rd)
	unix.Close(p.wr)
}

// writev writes the chunks in turn, stopping at the first short write.
func writev(fd int, iov []unix.Iovec) (int, error) {
	total := 0
	for _, v := range iov {
		p := unsafe.Slice(v.Base, v.Len)
		n, err := unix.Write(fd, p)
		if n > 0 {
			total += n
		}
		if err != nil {
			if total > 0 {
				return total, nil
			}
			return 0, err
		}
		if n < len(p) {
			break
		}
	}
	return total, nil
}

// sockRead reads from a non-blocking socket.
func sockRead(fd int, p []byte) (int, error) { return unix.Read(fd, p) }

func sockWrite(fd int, p []byte) (int, error) { return unix.Write(fd, p) }
