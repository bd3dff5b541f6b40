//go:build !(linux || darwin || freebsd)

package engine

func (ln *Listener) listenPoll(network, address string, lc ListenConfig) error {
	return ErrNotSupported
}

func (s *listenSock) close() {}
