package pool

import (
	"context"
	"time"

	"github.com/egress-go/egress/engine"
)

// Defaults used by DefaultConfig.
const (
	// DefaultMaxIdlePerKey is the default bound on idle connections per
	// key, the same as the Azure SDK's pool.
	DefaultMaxIdlePerKey = 1024
	// DefaultIdleTimeout is how long a connection may sit idle by default,
	// the same as net/http's DefaultTransport.
	DefaultIdleTimeout = 90 * time.Second
)

// DialFunc opens a connection for key. It must not block: it starts the
// dial and returns, like engine.Engine.Dial. On success it must arrange
// exactly one of h.OnOpen, once the connection is ready for the protocol
// (TCP connected, TLS handshake done, proxy tunnel set up), or h.OnClose
// with the reason it failed; afterwards every event of the connection must
// reach h. A layer that adds TLS or a proxy wraps h in its own handler and
// forwards to it. On error no callback may be made.
//
// The *engine.Conn returned is what Conn.Engine gives the pool's users.
type DialFunc func(ctx context.Context, key Key, h engine.Handler) (*engine.Conn, error)

// Config sets up a Pool. Every field is taken literally, so that zero can
// mean "none" where the issue asks for it (MaxIdlePerKey 0 is the
// create-and-destroy behaviour); start from DefaultConfig for the usual
// settings and change what you need.
type Config struct {
	// Dial opens connections. nil dials plain TCP with the engine and
	// refuses keys that have TLS or a Proxy set (ErrNeedDialer): the
	// layers that know TLS and proxies supply their own.
	Dial DialFunc

	// MaxIdlePerKey bounds the idle connections kept per key. A reusable
	// connection released when its key already holds this many is closed.
	// 0 keeps none: every released connection is closed. DefaultConfig:
	// 1024.
	MaxIdlePerKey int

	// MaxTotalPerKey bounds the connections per key, in use, idle or being
	// dialed. Requests beyond it wait in a FIFO queue for a connection to be
	// released or closed, or until their context ends. 0: no limit.
	MaxTotalPerKey int

	// MaxIdle bounds the idle connections across all keys; when it is
	// passed the connection idle the longest is closed. 0: no limit.
	MaxIdle int

	// IdleTimeout closes a connection that has been idle this long. It is
	// checked when a connection is taken from the pool, so an expired one
	// is never handed out, and by a cleaner that runs on an engine loop's
	// timer while idle connections exist. 0: idle connections never
	// expire. DefaultConfig: 90 s.
	IdleTimeout time.Duration

	// MaxAge closes a connection this long after it was opened: an idle
	// one at once, one in use when it is released; one released to a
	// waiting request is checked again when the request takes it. A
	// multiplexed connection (see Conn.Share) past it takes no new
	// streams. 0: no limit.
	MaxAge time.Duration

	// WaitForStreams: when every multiplexed connection of a key (see
	// Conn.Share) is at its stream limit, requests wait in the key's queue
	// for a stream instead of opening another connection. By default
	// another connection is opened, up to MaxTotalPerKey.
	WaitForStreams bool
}

// DefaultConfig returns the recommended settings: 1024 idle connections
// per key, no limit on the total, 90 s idle timeout, plain TCP dialing.
func DefaultConfig() Config {
	return Config{MaxIdlePerKey: DefaultMaxIdlePerKey, IdleTimeout: DefaultIdleTimeout}
}
