package testkit

import (
	"net"
	"time"
)

// WaitAccepting waits until addr accepts TCP connections, for a server a
// test started as a process: it reports false when the process exits
// first (its exit error is put back on exited, for the caller to read) or
// after 10 s.
func WaitAccepting(addr string, exited chan error) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			exited <- err
			return false
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return true
		}
		time.Sleep(10 * time.Millisecond) // polling a socket that is not there yet
	}
	return false
}
