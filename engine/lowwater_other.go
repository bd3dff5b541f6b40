//go:build !linux

package engine

// Only Linux is known to hold edge-triggered readiness back to the mark
// and to raise it when the mark is lowered; elsewhere a mark could leave
// a reader waiting, so none is set.

func setReadLowWater(fd, n int) (int, error) { return 1, ErrNotSupported }

func readQueued(fd int) (int, error) { return 0, ErrNotSupported }
