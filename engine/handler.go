package engine

// Handler receives a connection's events. All methods run on the
// connection's loop goroutine, never concurrently for one connection, and
// must not block.
type Handler interface {
	// OnOpen is called once the connection is established: after a
	// successful connect, or when an accepted connection is ready.
	OnOpen(c *Conn)
	// OnData is called with bytes read from the socket. data is the
	// loop's read buffer and is valid only during the call.
	OnData(c *Conn, data []byte)
	// OnWritten is called after n queued bytes were handed to the kernel.
	OnWritten(c *Conn, n int)
	// OnClose is called exactly once for every connection, last. err says
	// why: ErrLocalClose, ErrPeerClosed, ErrReset, ErrIdleTimeout,
	// ErrEngineClosed, an *OpError, or a *DialError when the connection
	// was never established (then OnOpen was not called).
	OnClose(c *Conn, err error)
}

// HalfCloseHandler is implemented by handlers that want to keep writing
// after the peer has closed its sending side. Without it, a read EOF closes
// the connection with ErrPeerClosed.
type HalfCloseHandler interface {
	Handler
	// OnPeerCloseWrite is called when the peer has shut down its writing
	// side. Reading stops; the connection stays open for writing until
	// Close. A reset that the peer sends afterwards is not noticed until
	// a write fails (then OnClose with ErrReset): a connection held open
	// without writing stays open until Close or its idle timeout. (The
	// TLS handshake relies on this: an alert that came with the FIN is
	// still read when a reset follows at once.)
	OnPeerCloseWrite(c *Conn)
}

// BaseHandler implements Handler with methods that do nothing, for
// embedding in handlers that need only some of the events.
type BaseHandler struct{}

func (BaseHandler) OnOpen(*Conn)         {}
func (BaseHandler) OnData(*Conn, []byte) {}
func (BaseHandler) OnWritten(*Conn, int) {}
func (BaseHandler) OnClose(*Conn, error) {}

// HandlerFuncs adapts functions to a Handler; nil fields do nothing.
type HandlerFuncs struct {
	Open    func(c *Conn)
	Data    func(c *Conn, data []byte)
	Written func(c *Conn, n int)
	Close   func(c *Conn, err error)
}

func (f *HandlerFuncs) OnOpen(c *Conn) {
	if f.Open != nil {
		f.Open(c)
	}
}

func (f *HandlerFuncs) OnData(c *Conn, data []byte) {
	if f.Data != nil {
		f.Data(c, data)
	}
}

func (f *HandlerFuncs) OnWritten(c *Conn, n int) {
	if f.Written != nil {
		f.Written(c, n)
	}
}

func (f *HandlerFuncs) OnClose(c *Conn, err error) {
	if f.Close != nil {
		f.Close(c, err)
	}
}
