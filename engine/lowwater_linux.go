package engine

import "golang.org/x/sys/unix"

func setReadLowWater(fd, n int) (int, error) {
	if n > 1 {
		buf, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
		if err != nil {
			return 1, err
		}
		n = min(n, buf/4)
	}
	n = max(n, 1)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVLOWAT, n); err != nil {
		return 1, err
	}
	return n, nil
}

func readQueued(fd int) (int, error) { return unix.IoctlGetInt(fd, unix.SIOCINQ) }
