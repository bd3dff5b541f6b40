//go:build !(linux || darwin || freebsd)

package engine

const pollSupported = false

func newPollBackend(l *Loop) (loopBackend, error) { return nil, ErrNotSupported }

// Without a poll backend no lease is granted and nothing writes directly.
func (rl *ReadLease) readRaw([]byte, bool) (int, error) { return 0, ErrNotSupported }

func sockWrite(int, []byte) (int, error) { return 0, ErrNotSupported }
