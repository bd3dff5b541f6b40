package redis

import (
	"context"
	"net"
	"strconv"
	"strings"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/pool"
	"github.com/egress-go/egress/resp"
)

// connInfo is what the handshake learned; it is stored as the engine
// connection's Value.
type connInfo struct {
	proto int // 2 or 3
}

// dial is the pool's DialFunc: it opens a connection (TLS when
// configured) and runs the handshake before the pool sees OnOpen, so every
// connection the pool hands out is authenticated, on the right database
// and in the negotiated protocol.
func (c *Client) dial(ctx context.Context, key pool.Key, h engine.Handler) (*engine.Conn, error) {
	hs := &handshake{cl: c, next: h, dec: resp.NewDecoder(c.opts.Limits)}
	o := &engine.DialOptions{Timeout: c.opts.DialTimeout}
	if c.tls != nil {
		o.Layer = c.tls.Layer(c.host)
	}
	return c.eng.Dial(ctx, key.Network, key.Addr, hs, o)
}

// handshake is the connection's handler from connect until the server has
// accepted HELLO (or AUTH), CLIENT SETNAME and SELECT; it then installs
// the pool's handler and tells it OnOpen.
type handshake struct {
	cl    *Client
	next  engine.Handler
	dec   *resp.Decoder
	c     *engine.Conn
	steps []hsStep // the replies still expected, in order
	proto int
	timer *engine.Timer
	done  bool
}

type hsStep uint8

const (
	stepHello  hsStep = iota // HELLO 3: a map, or an error to fall back on
	stepOK                   // AUTH, CLIENT SETNAME, SELECT: +OK
	stepIgnore               // a reply made moot by the fall-back
)

func (h *handshake) OnOpen(c *engine.Conn) {
	h.c = c
	h.timer = c.AfterFunc(h.cl.opts.DialTimeout, func() { c.CloseWithError(ErrHandshakeTimeout) })
	var buf []byte
	o := &h.cl.opts
	if o.Protocol == 3 {
		args := []string{"HELLO", "3"}
		if o.Password != "" {
			user := o.Username
			if user == "" {
				user = "default"
			}
			args = append(args, "AUTH", user, o.Password)
		}
		if o.ClientName != "" {
			args = append(args, "SETNAME", o.ClientName)
		}
		buf = resp.AppendCommand(buf, args...)
		h.steps = append(h.steps, stepHello)
		buf = h.appendSelect(buf)
	} else {
		buf = h.appendRESP2(buf)
	}
	if len(h.steps) == 0 {
		h.finish() // RESP2, no password, no name, database 0
		return
	}
	if err := c.Write(buf); err != nil {
		c.CloseWithError(err)
	}
}

func (h *handshake) appendRESP2(buf []byte) []byte {
	h.proto = 2
	o := &h.cl.opts
	if o.Password != "" {
		if o.Username != "" {
			buf = resp.AppendCommand(buf, "AUTH", o.Username, o.Password)
		} else {
			buf = resp.AppendCommand(buf, "AUTH", o.Password)
		}
		h.steps = append(h.steps, stepOK)
	}
	if o.ClientName != "" {
		buf = resp.AppendCommand(buf, "CLIENT", "SETNAME", o.ClientName)
		h.steps = append(h.steps, stepOK)
	}
	return h.appendSelect(buf)
}

// appendSelect adds what follows authentication in both protocols:
// SELECT, and READONLY for a cluster client reading from replicas.
func (h *handshake) appendSelect(buf []byte) []byte {
	if db := h.cl.opts.DB; db != 0 {
		buf = resp.AppendCommand(buf, "SELECT", strconv.Itoa(db))
		h.steps = append(h.steps, stepOK)
	}
	if h.cl.opts.readOnly {
		buf = resp.AppendCommand(buf, "READONLY")
		h.steps = append(h.steps, stepOK)
	}
	return buf
}

func (h *handshake) OnData(c *engine.Conn, data []byte) {
	if err := h.dec.Feed(data, h.onValue); err != nil {
		c.CloseWithError(err)
	}
}

func (h *handshake) onValue(v *resp.Value) error {
	if h.done || len(h.steps) == 0 {
		return ErrUnexpectedReply
	}
	step := h.steps[0]
	h.steps = h.steps[1:]
	switch step {
	case stepHello:
		if err := v.Err(); err != nil {
			if !noHello(err) {
				return err
			}
			// A server older than Redis 6 (or one without RESP3): the
			// SELECT sent with HELLO failed or will be repeated; start
			// over in RESP2 with AUTH.
			for i := range h.steps {
				h.steps[i] = stepIgnore
			}
			if buf := h.appendRESP2(nil); len(buf) > 0 {
				return h.c.Write(buf)
			}
			break
		}
		h.proto = 3
	case stepOK:
		if err := v.Err(); err != nil {
			return err
		}
	}
	if len(h.steps) == 0 {
		h.finish()
	}
	return nil
}

// noHello reports whether HELLO failed because the server does not know
// it or its protocol version, rather than because of the credentials.
func noHello(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "NOPROTO") ||
		(strings.HasPrefix(msg, "ERR") && strings.Contains(strings.ToLower(msg), "unknown command"))
}

// finish hands the ready connection to the pool. Loop only.
func (h *handshake) finish() {
	h.done = true
	if h.timer != nil {
		h.timer.Stop()
	}
	if h.proto == 0 {
		h.proto = 2
	}
	h.c.SetValue(&connInfo{proto: h.proto})
	h.c.SetHandler(h.next)
	h.next.OnOpen(h.c)
}

func (h *handshake) OnWritten(*engine.Conn, int) {}

func (h *handshake) OnClose(c *engine.Conn, err error) {
	if h.timer != nil {
		h.timer.Stop()
	}
	h.dec.Reset()
	h.next.OnClose(c, err)
}

// splitHost returns the host of a "host:port" address, for TLS.
func splitHost(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}
