//go:build linux || darwin || freebsd

package engine

import (
	"io"
	"syscall"

	"golang.org/x/sys/unix"
)

// readRaw reads the socket for the lease holder, waiting for the loop's
// signal while it is empty.
func (rl *ReadLease) readRaw(p []byte, now bool) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c := rl.c
	for {
		rl.mu.Lock()
		if rl.closed {
			err := rl.err
			rl.mu.Unlock()
			return 0, err
		}
		n, err := sockRead(c.sockFD(), p)
		rl.mu.Unlock()
		switch {
		case n > 0:
			c.bytesIn.Add(int64(n))
			c.loop.ctr.bytesIn.Add(int64(n))
			rl.lastRead.Store(c.loop.e.now())
			return n, nil
		case err == nil:
			return 0, io.EOF
		case err == unix.EAGAIN:
			if now {
				return 0, ErrWouldBlock
			}
			<-rl.wake // readiness, or the close that the next turn reports
		case err == unix.EINTR:
		default:
			return 0, classify(err.(syscall.Errno))
		}
	}
}
