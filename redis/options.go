package redis

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/resp"
	"github.com/egress-go/egress/tlsconn"
)

// Options configure a Client. The zero value connects to localhost:6379
// without TLS or authentication, speaking RESP3.
type Options struct {
	// Addr is the server's "host:port"; default "localhost:6379".
	Addr string

	// Username and Password authenticate every connection: AUTH, or the
	// AUTH clause of HELLO. An empty Username with a Password is the
	// requirepass form ("default" user).
	Username string
	Password string

	// DB is selected on every connection when not 0.
	DB int

	// ClientName is set on every connection (CLIENT SETNAME) when not
	// empty.
	ClientName string

	// Protocol is 3 (the default: HELLO 3, falling back to RESP2 when the
	// server does not know HELLO) or 2 (RESP2 with AUTH and SELECT).
	Protocol int

	// TLS, when not nil, makes every connection TLS (rediss://). The
	// server name verified is the host of Addr unless TLS.TLS.ServerName
	// says otherwise.
	TLS *tlsconn.Config

	// Conns is the number of shared connections that commands from all
	// goroutines are multiplexed on (auto-pipelining). Default 1: one
	// connection is what keeps the server's work per command lowest, and
	// it orders every command by the time Do was called. Blocking
	// commands, pub/sub and Conn use connections of their own.
	Conns int

	// Engine runs the connections. Nil: the Client starts its own engine,
	// with one loop per CPU, and closes it in Close.
	Engine *engine.Engine

	// DialTimeout bounds opening a connection: name look-up, TCP, TLS and
	// the HELLO/AUTH/SELECT handshake. Default 5 s.
	DialTimeout time.Duration

	// ReadTimeout is how long a connection may stay silent while a reply
	// is due before it is presumed dead: a server process that stopped
	// (SIGSTOP, a debugger, a VM paused) or a network that drops packets
	// without a reset leaves the socket open, and without this every
	// command on a shared connection would wait for its context, or for
	// ever with context.Background, until the kernel gives up on the
	// connection many minutes later. When commands have been written on a
	// connection and nothing at all has been received on it for
	// ReadTimeout, the connection is closed: the commands in flight fail
	// with a *ConnError (Sent true) wrapping ErrReadTimeout, and a shared
	// connection is replaced as after any loss (see Reconnection); a Conn
	// does not reconnect. A PubSub sends a PING on a connection that
	// received nothing for ReadTimeout, and reconnects when that brings
	// nothing within ReadTimeout either.
	//
	// A command that rightly keeps its connection silent longer extends
	// the bound while it is in flight by its own timeout: a blocking
	// command (BLPOP, XREAD BLOCK, ...) or a WAIT or WAITAOF; with a
	// timeout of 0 (block for ever) there is no bound while it waits. A
	// command that the server itself takes longer to run (a slow Lua
	// script, KEYS on a large database) is cut by it, with every other
	// command in flight on its connection: raise ReadTimeout for such
	// workloads.
	//
	// Default 10 s; a negative value turns the check off. The check runs
	// on the connection's loop every quarter of ReadTimeout, so a dead
	// connection is detected between ReadTimeout and 1.25 times it.
	ReadTimeout time.Duration

	// MinRetryBackoff and MaxRetryBackoff bound the wait between
	// reconnection attempts of a shared connection: the first redial is
	// immediate, then the wait doubles from MinRetryBackoff up to
	// MaxRetryBackoff, each wait drawn at random from its upper half
	// (jitter). Defaults 8 ms and 1 s.
	MinRetryBackoff time.Duration
	MaxRetryBackoff time.Duration

	// MaxConns bounds all connections to the server, the Conns shared
	// ones included (so it must exceed Conns for blocking commands and
	// pub/sub to get any); requests for a dedicated connection beyond it
	// wait, within their context. 0: no limit.
	MaxConns int

	// MaxIdleConns is how many dedicated connections are kept open for
	// reuse once released (blocking commands check one out per call).
	// Default 16; negative keeps none.
	MaxIdleConns int

	// IdleTimeout closes dedicated connections idle this long. Default
	// 5 min.
	IdleTimeout time.Duration

	// WriteBufferLimit bounds the bytes of commands that a connection may
	// hold before the socket takes them; beyond it commands fail with
	// ErrBufferFull. Default 64 MiB.
	WriteBufferLimit int

	// Limits bound the replies accepted: each element (bulk length,
	// aggregate length, nesting, line length) and each reply as a whole
	// (its bytes, MaxReplyLen, default 1 GiB; its values, MaxReplyValues,
	// default 32Mi), so that what a connection holds for a reply is
	// bounded whatever the server sends. Zero fields take resp's
	// defaults. A reply beyond them closes the connection: the commands
	// in flight on it fail with a *ConnError wrapping the
	// *resp.LimitError, and a shared connection is replaced.
	Limits resp.Limits

	// readOnly sends READONLY on every connection: a ClusterClient's node
	// clients do when ClusterOptions.ReadFromReplicas is set.
	readOnly bool
}

func (o *Options) setDefaults() {
	if o.Addr == "" {
		o.Addr = "localhost:6379"
	}
	if o.Protocol == 0 {
		o.Protocol = 3
	}
	if o.Conns <= 0 {
		o.Conns = 1
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = 10 * time.Second
	}
	if o.ReadTimeout < 0 {
		o.ReadTimeout = -1
	}
	if o.MinRetryBackoff <= 0 {
		o.MinRetryBackoff = 8 * time.Millisecond
	}
	if o.MaxRetryBackoff <= 0 {
		o.MaxRetryBackoff = time.Second
	}
	if o.MaxRetryBackoff < o.MinRetryBackoff {
		o.MaxRetryBackoff = o.MinRetryBackoff
	}
	if o.MaxIdleConns == 0 {
		o.MaxIdleConns = 16
	}
	if o.MaxIdleConns < 0 {
		o.MaxIdleConns = 0
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 5 * time.Minute
	}
	if o.WriteBufferLimit <= 0 {
		o.WriteBufferLimit = 64 << 20
	}
}

func (o *Options) check() error {
	if o.Protocol != 2 && o.Protocol != 3 {
		return fmt.Errorf("redis: protocol %d not supported (2 or 3)", o.Protocol)
	}
	if o.DB < 0 {
		return fmt.Errorf("redis: invalid database %d", o.DB)
	}
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		return fmt.Errorf("redis: invalid address %q: %w", o.Addr, err)
	}
	if o.Username != "" && o.Password == "" {
		return errors.New("redis: a username needs a password")
	}
	return nil
}

// ParseURL parses a redis:// or rediss:// URL into Options:
//
//	redis://[[user]:password@]host[:port][/db][?option=value&...]
//	rediss://...   (TLS, verifying the server's certificate)
//
// The port defaults to 6379. The database may also be given as ?db=N.
// Recognised options: protocol (2 or 3), client_name, dial_timeout and
// read_timeout (Go durations such as 2s), conns, max_conns. Unknown options are an error,
// so that a typo does not pass silently.
func ParseURL(rawURL string) (Options, error) {
	var o Options
	u, err := url.Parse(rawURL)
	if err != nil {
		return o, fmt.Errorf("redis: %w", err)
	}
	switch u.Scheme {
	case "redis":
	case "rediss":
		o.TLS = &tlsconn.Config{}
	default:
		return o, fmt.Errorf("redis: unsupported URL scheme %q (want redis or rediss)", u.Scheme)
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		host = "localhost"
	}
	if port == "" {
		port = "6379"
	}
	o.Addr = net.JoinHostPort(host, port)
	if u.User != nil {
		o.Username = u.User.Username()
		o.Password, _ = u.User.Password()
		if o.Password == "" && o.Username != "" {
			// redis://:secret@host and redis://secret@host both appear
			// in the wild; a lone name is taken as the password.
			o.Password, o.Username = o.Username, ""
		}
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		if o.DB, err = strconv.Atoi(p); err != nil || o.DB < 0 {
			return o, fmt.Errorf("redis: invalid database %q in URL", p)
		}
	}
	for k, vs := range u.Query() {
		v := vs[len(vs)-1]
		var err error
		switch k {
		case "db":
			o.DB, err = strconv.Atoi(v)
		case "protocol":
			o.Protocol, err = strconv.Atoi(v)
		case "client_name":
			o.ClientName = v
		case "dial_timeout":
			o.DialTimeout, err = time.ParseDuration(v)
		case "read_timeout":
			o.ReadTimeout, err = time.ParseDuration(v)
		case "conns":
			o.Conns, err = strconv.Atoi(v)
		case "max_conns":
			o.MaxConns, err = strconv.Atoi(v)
		default:
			return o, fmt.Errorf("redis: unknown URL option %q", k)
		}
		if err != nil {
			return o, fmt.Errorf("redis: URL option %s=%q: %w", k, v, err)
		}
	}
	return o, nil
}
