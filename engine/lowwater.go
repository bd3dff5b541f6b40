package engine

// Read low-water marks. A connection receiving a large body in pieces
// wakes its loop once per arrival of data, and when the sender is on the
// same machine each of those wake-ups is work the sender's kernel does:
// a 1 MiB body from nginx on loopback arrived in dozens of pieces, each
// waking the loop (and through it Go's netpoller), and nginx spent more
// than twice as long per response as with a reader that took the body in
// a few large reads. A caller that knows how many bytes it still waits
// for can ask the kernel to report the socket readable only once that
// many are queued (SO_RCVLOWAT): the same bytes arrive with a few
// wake-ups instead of dozens.

// SetReadLowWater asks the kernel to report c readable only once at least
// n bytes are queued, or the peer has closed, or the connection failed;
// n <= 1 restores the default (any byte). The caller must know that n
// bytes will come (a body of known length): otherwise the loop waits for
// them, and an idle timeout counting from the last read fires although
// bytes have arrived (see ReadQueued).
//
// n is capped at a quarter of the socket's receive buffer, so that the
// kernel never has to grow the buffer, and with it clamp the receive
// window, to fit the mark. SetReadLowWater returns the mark set. Loop
// only (a handler's callback or a function posted to the loop), so that
// the socket cannot be closed meanwhile. It is not supported (returns 1
// and ErrNotSupported) on the net backend and outside Linux.
func (c *Conn) SetReadLowWater(n int) (int, error) {
	if c.loop.e.backend != BackendPoll || c.state != stateOpen {
		return 1, ErrNotSupported
	}
	return setReadLowWater(c.sockFD(), n)
}

// ReadQueued reports how many received bytes the kernel holds that the
// loop has not read yet: with a low-water mark set, bytes that arrived
// without making the socket readable. Loop only, like SetReadLowWater.
func (c *Conn) ReadQueued() (int, error) {
	if c.loop.e.backend != BackendPoll || c.state != stateOpen {
		return 0, ErrNotSupported
	}
	return readQueued(c.sockFD())
}
