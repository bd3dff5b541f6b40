package redis

import (
	"errors"
	"fmt"
)

var (
	// ErrNil is returned by typed commands when the server replied with a
	// null: GET of a missing key, LPOP of an empty list, BLPOP that timed
	// out. Generic replies report it with Reply.IsNull instead.
	ErrNil = errors.New("redis: nil reply")

	// ErrClosed is returned for commands issued after Client.Close (or
	// Conn.Close, PubSub.Close), and wrapped by the *ConnError of commands
	// that were in flight when it was called.
	ErrClosed = errors.New("redis: client closed")

	// ErrStateful is returned when a command that changes the state of its
	// connection (SELECT, WATCH, MULTI, SUBSCRIBE, CLIENT REPLY, ...) is
	// sent on the shared, multiplexed connections, where it would affect
	// every other caller. Use Client.Conn for a dedicated connection,
	// Client.TxPipeline for MULTI/EXEC, or Client.Subscribe for pub/sub.
	ErrStateful = errors.New("redis: command changes connection state; use a dedicated Conn")

	// ErrBufferFull is returned when a connection already holds
	// Options.WriteBufferLimit bytes of commands that the socket has not
	// taken: the server is not keeping up, and queuing more would only
	// grow memory.
	ErrBufferFull = errors.New("redis: write buffer limit exceeded")

	// ErrWaitUnbounded is returned for WAIT or WAITAOF with a timeout of 0
	// sent on the shared connections: they run there, after the writes
	// they wait for, and would hold every command behind them forever if
	// the replicas never answered. Give a timeout, or use a Conn.
	ErrWaitUnbounded = errors.New("redis: WAIT/WAITAOF without a timeout would hold the shared connection; give a timeout or use a Conn")

	// ErrTxAborted is returned by a transaction's Exec when EXEC replied
	// with a null: a key watched with WATCH changed, so nothing ran.
	ErrTxAborted = errors.New("redis: transaction aborted (watched key changed)")

	// ErrHandshakeTimeout is the cause of a *ConnError when a connection
	// was opened but HELLO, AUTH or SELECT did not complete within
	// Options.DialTimeout.
	ErrHandshakeTimeout error = &timeoutError{"redis: connection handshake timeout"}

	// ErrReadTimeout is the cause of a *ConnError when a connection was
	// closed because the server sent nothing for Options.ReadTimeout while
	// a reply was due: it is presumed dead (stopped, or cut off without a
	// reset). The commands that were in flight may have run. It is a
	// timeout: the *ConnError's Timeout reports true.
	ErrReadTimeout error = &timeoutError{"redis: no reply within the read timeout (server unresponsive)"}

	// ErrUnexpectedReply is the cause of a *ConnError when the server sent
	// a reply that no command was waiting for: the stream is out of sync
	// and the connection is closed.
	ErrUnexpectedReply = errors.New("redis: reply without a command")

	// ErrTooManyNodes is wrapped by the error of a cluster slot map that
	// names more nodes than ClusterOptions.MaxNodes (the map is not
	// installed), and by the *ClusterError of a command redirected to a
	// new node when the ClusterClient already holds MaxNodes.
	ErrTooManyNodes = errors.New("redis cluster: more nodes than ClusterOptions.MaxNodes")
)

// ConnError reports a command that failed because of its connection rather
// than the server's answer: the connection could not be opened (Err wraps
// the *engine.DialError, the TLS handshake error, or the server's *resp.Error
// for a refused HELLO or AUTH), or it closed while the command was queued
// or in flight (Err wraps the engine's close reason, such as
// engine.ErrReset or engine.ErrPeerClosed, a *resp.ProtocolError, a
// *resp.LimitError for a reply beyond Options.Limits, or ErrClosed).
type ConnError struct {
	// Addr is the server's address.
	Addr string
	// Sent reports whether the command had been handed to the connection.
	// If so it may have executed on the server; if not, it certainly did
	// not.
	Sent bool
	// Err is the cause.
	Err error
}

// Error says whether the command may have run, and why it failed.
func (e *ConnError) Error() string {
	s := "redis: connection to " + e.Addr
	if e.Sent {
		s += " lost with command in flight (it may have executed)"
	} else {
		s += " unavailable (command not sent)"
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *ConnError) Unwrap() error { return e.Err }

// Timeout reports whether the cause was a timeout, so that a *ConnError
// satisfies net.Error's Timeout.
func (e *ConnError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

// TypeError reports a reply of a type that the typed accessor cannot
// convert, such as Int on an array.
type TypeError struct {
	Want string // what the accessor wanted, such as "integer"
	Got  string // the reply's RESP type, such as "array"
}

// Error names the wanted and the actual reply type.
func (e *TypeError) Error() string {
	return fmt.Sprintf("redis: reply is a %s, not %s", e.Got, e.Want)
}

type timeoutError struct{ msg string }

func (e *timeoutError) Error() string   { return e.msg }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }
