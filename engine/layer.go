package engine

import "errors"

// Layer transforms a connection's byte stream between the socket and the
// handler, so that the layers above see plaintext through the same Conn
// and Handler API whatever runs underneath. TLS (package tlsconn) is one.
//
// The engine calls a Layer as follows; c is the connection it belongs to.
type Layer interface {
	// Start is called on the loop once the socket is connected (or
	// accepted). The handler's OnOpen is held back until the layer calls
	// c.LayerReady; a layer that cannot get ready calls c.CloseWithError.
	Start(c *Conn)
	// Input is called on the loop with bytes read from the socket, valid
	// only during the call. The layer hands what it decodes to c.Deliver.
	// An error closes the connection with that error as the reason.
	Input(c *Conn, raw []byte) error
	// InputEOF is called on the loop when the socket reads end of stream.
	// A non-nil result closes the connection with it as the reason; nil
	// means a graceful end, handled as the peer closing its side.
	InputEOF(c *Conn) error
	// Write is called by Conn.Write, from any goroutine, with the caller's
	// bytes. The layer encodes them and queues the result with
	// c.WriteRaw. It must not keep p after returning.
	Write(c *Conn, p []byte) error
	// Close is called on the loop before the connection closes locally,
	// so the layer can queue a farewell (TLS close_notify) with WriteRaw.
	Close(c *Conn)
}

// LayerCloser is implemented by layers that want to hear when their
// connection closes (to release a handshake worker, say). Closed runs on
// the loop just before the handler's OnClose.
type LayerCloser interface {
	Closed(c *Conn, err error)
}

// LayerCloseWriter is implemented by layers that have something to send
// before a half-close: TLS's close_notify. CloseWrite is called by
// Conn.CloseWrite, from any goroutine, once later writes are refused and
// before the FIN is queued; the layer queues its farewell with WriteRaw
// (or, while it is still setting up, when it becomes ready: the engine
// holds the FIN until LayerReady).
type LayerCloseWriter interface {
	CloseWrite(c *Conn)
}

// LayerCompacter is implemented by layers that keep memory between uses
// and can give it back when the connection goes quiet (tlsconn's record
// buffers, grown to the largest record received). Compact runs on the loop
// after a call to Conn.Compact.
type LayerCompacter interface {
	Compact(c *Conn)
}

// Compact asks the connection's layer, if it has one that implements
// LayerCompacter, to give back memory it keeps between uses. A connection
// pool calls it as a connection goes idle. Safe from any goroutine; the
// work is done on the loop. On a plain connection it costs one atomic
// load.
func (c *Conn) Compact() {
	if c.x.Load() == nil {
		return // no extras, so no layer
	}
	c.loop.schedule(c, opCompact)
}

// Layer returns the connection's layer, or nil for a plain connection.
func (c *Conn) Layer() Layer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.layer()
}

// StartLayer puts l between the socket and the handler of an open
// connection: TLS through a proxy's CONNECT tunnel, or after STARTTLS.
// The handler's OnOpen runs again once l calls LayerReady. Loop only, and
// only on a connection that has no layer yet.
func (c *Conn) StartLayer(l Layer) error {
	if c.state != stateOpen {
		return ErrClosed
	}
	x := c.extras()
	c.mu.Lock()
	if x.layer != nil {
		c.mu.Unlock()
		return errors.New("egress: connection already has a layer")
	}
	x.layer = l
	c.mu.Unlock()
	c.ready = false
	l.Start(c)
	return nil
}

// WriteRaw queues b on the socket, below the connection's layer. Layers
// call it; it ignores the write-queue limit, because an encoder such as
// crypto/tls cannot take a failed write back (check WriteQueueRoom before
// encoding instead).
func (c *Conn) WriteRaw(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	c.mu.Lock()
	if c.rawClosed {
		c.mu.Unlock()
		return ErrClosed
	}
	return c.pushLocked(b, false)
}

// WriteQueueRoom reports how many more bytes may be queued before Write
// fails with ErrWriteQueueFull.
func (c *Conn) WriteQueueRoom() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writeLimit() - c.queuedLocked()
}

// Deliver hands bytes decoded by the layer to the handler's OnData. Loop
// only; for Layer implementations.
func (c *Conn) Deliver(p []byte) {
	if c.state == stateOpen && len(p) > 0 && !c.closing() {
		c.handler().OnData(c, p)
	}
}

// LayerReady tells the engine that the layer is set up (the TLS handshake
// finished): the handler's OnOpen runs now. Loop only; for Layer
// implementations.
func (c *Conn) LayerReady() {
	if c.state != stateOpen || c.ready {
		return
	}
	c.ready = true
	c.handler().OnOpen(c)
	if c.shutPending {
		c.loop.schedule(c, opFlush) // the CloseWrite held back by afterFlush
	}
}

// Ready reports whether the handler has been told OnOpen. Loop only.
func (c *Conn) Ready() bool { return c.ready }
