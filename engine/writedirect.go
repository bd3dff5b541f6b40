package engine

// Direct writes: a goroutine with bytes to send (a request body being
// streamed) writes them to the socket itself when nothing is queued ahead
// of them, so they are neither copied into the write queue nor carried
// by a wake-up of the loop. What the socket does not take at once is
// queued as by Write, and the loop sends it. Order is kept because a
// direct write happens only with the queue empty, under the lock that
// the loop's own writes take; the descriptor stays valid because closing
// marks the connection closed under that same lock before the socket is
// closed.

// LayerDirectWriter is implemented by layers that can pass their encoded
// bytes to WriteRawDirect rather than WriteRaw (tlsconn). WriteDirect is
// called by Conn.WriteDirect, from any goroutine.
type LayerDirectWriter interface {
	WriteDirect(c *Conn, p []byte) error
}

// WriteDirect is Write for a caller that has bytes now and would rather
// send them from its own goroutine: when nothing is queued, they go to the
// socket at once, without a copy and without waking the loop; the rest,
// if the socket cannot take it all, is queued as Write would. Bytes
// written directly are counted in Stats but not reported to OnWritten
// (the caller knows them sent: WriteDirect returned). It is Write on the
// net backend, during a dial, and for a layer that is not a
// LayerDirectWriter.
func (c *Conn) WriteDirect(b []byte) error { return c.write(b, true) }

// WriteRawDirect is WriteRaw with a direct write first, for a layer's
// LayerDirectWriter. Like WriteRaw it ignores the write-queue limit.
func (c *Conn) WriteRawDirect(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	c.mu.Lock()
	if c.rawClosed {
		c.mu.Unlock()
		return ErrClosed
	}
	return c.writeDirectLocked(b)
}

// writeDirectLocked writes what the socket takes of b now if nothing is
// queued, and queues the rest. Called with c.mu held; releases it.
func (c *Conn) writeDirectLocked(b []byte) error {
	if c.ops.Load()&flagDirect != 0 && !c.rawClosed && c.wq.n == 0 {
		n, _ := sockWrite(c.sockFD(), b)
		if n > 0 {
			c.bytesOut.Add(int64(n))
			c.loop.ctr.bytesOut.Add(int64(n))
			b = b[n:]
		}
		if len(b) == 0 {
			c.mu.Unlock()
			return nil
		}
		// EAGAIN, a short write, or an error: the loop takes the rest
		// and, for an error, closes the connection as its own write
		// would have.
	}
	return c.pushLocked(b, false)
}
