//go:build !(linux || darwin || freebsd)

package engine

const pollSupported = false

func newPollBackend(l *Loop) (loopBackend, error) { return nil, ErrNotSupported }
