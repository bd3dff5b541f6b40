//go:build !unix

package main

// openFileLimit reports no limit where the system has no RLIMIT_NOFILE.
func openFileLimit() (soft, hard uint64, ok bool) { return 0, 0, false }
