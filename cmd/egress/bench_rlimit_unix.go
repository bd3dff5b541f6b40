//go:build unix

package main

import "syscall"

// openFileLimit returns the soft and hard limits on open files
// (RLIMIT_NOFILE). Go raises the soft limit to the hard one at start.
func openFileLimit() (soft, hard uint64, ok bool) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, 0, false
	}
	return uint64(r.Cur), uint64(r.Max), true
}
