package cloudhash

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/frame"
	"github.com/egress-go/egress/pool"
)

// ErrProtocol reports a reply that is not what the protocol allows.
var ErrProtocol = errors.New("cloudhash: protocol error")

// Client talks to one CloudHash server over pooled connections: a request
// takes an idle connection (or dials one), sends its line, reads the
// reply line and gives the connection back, clean, for the next request.
// Requests from many goroutines run at once on as many connections.
type Client struct {
	pool *pool.Pool
	key  pool.Key
}

// NewClient returns a client for the server at addr, using e's loops.
// Close it before the engine.
func NewClient(e *engine.Engine, addr string) *Client {
	cfg := pool.DefaultConfig()
	cfg.MaxIdlePerKey = 64
	return &Client{pool: pool.New(e, cfg), key: pool.KeyFor("tcp", addr, nil, "")}
}

// Close closes the pooled connections.
func (c *Client) Close() error { return c.pool.Close() }

// Stats returns the pool's counters: Requests against Dials shows the
// reuse.
func (c *Client) Stats() pool.Stats { return c.pool.Stats() }

// Set stores value under key. The key must be one word and neither may
// hold a newline.
func (c *Client) Set(ctx context.Context, key, value string) error {
	if err := checkArgs(key, value); err != nil {
		return err
	}
	reply, err := c.roundTrip(ctx, "SET "+key+" "+value+"\n")
	if err != nil {
		return err
	}
	if reply != "OK" {
		return replyError(reply)
	}
	return nil
}

// Get returns the value stored under key, and whether there was one.
func (c *Client) Get(ctx context.Context, key string) (string, bool, error) {
	if err := checkArgs(key, ""); err != nil {
		return "", false, err
	}
	reply, err := c.roundTrip(ctx, "GET "+key+"\n")
	if err != nil {
		return "", false, err
	}
	switch {
	case reply == "NIL":
		return "", false, nil
	case strings.HasPrefix(reply, "VALUE "):
		return reply[len("VALUE "):], true, nil
	}
	return "", false, replyError(reply)
}

func checkArgs(key, value string) error {
	if key == "" || strings.ContainsAny(key, " \r\n") || strings.ContainsAny(value, "\r\n") {
		return errors.New("cloudhash: key must be one word, and neither key nor value may hold a line break")
	}
	return nil
}

func replyError(reply string) error {
	if strings.HasPrefix(reply, "ERR ") {
		return errors.New("cloudhash: server: " + reply[4:])
	}
	return errors.Join(ErrProtocol, errors.New("unexpected reply "+quote(reply)))
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return "\"" + s + "\""
}

// roundTrip sends one request line on a pooled connection and waits for
// the reply line.
func (c *Client) roundTrip(ctx context.Context, req string) (string, error) {
	// A fresh exchange per request: the loop may still be inside the
	// previous exchange's OnData when its caller has moved on, so
	// reusing one would race.
	x := newExchange()
	pc, err := c.pool.Request(ctx, c.key, x)
	if err != nil {
		return "", err
	}
	if err := pc.Engine().Write([]byte(req)); err != nil {
		pc.Release(false)
		return "", err
	}
	select {
	case <-x.done:
	case <-ctx.Done():
		// The reply may still come: the connection cannot be trusted by
		// the next request, so it is closed rather than pooled.
		pc.Release(false)
		return "", ctx.Err()
	}
	if x.err != nil {
		pc.Release(false)
		return "", x.err
	}
	// One request, one whole reply, nothing more: the connection is
	// clean and goes back to the pool for the next request.
	pc.Release(true)
	return x.reply, nil
}

// exchange is the handler of a connection for one request.
type exchange struct {
	engine.BaseHandler
	dec   *frame.LineDecoder
	emit  func([]byte) error
	done  chan struct{}
	mu    sync.Mutex
	fired bool
	reply string
	err   error
}

func newExchange() *exchange {
	dec, _ := frame.NewLineDecoder("\n", MaxLine)
	x := &exchange{dec: dec, done: make(chan struct{}, 1)}
	x.emit = x.line
	return x
}

func (x *exchange) finish(reply string, err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.fired {
		return
	}
	x.fired = true
	x.reply, x.err = reply, err
	x.done <- struct{}{}
}

func (x *exchange) OnData(c *engine.Conn, data []byte) {
	if err := x.dec.Feed(data, x.emit); err != nil {
		x.finish("", err)
		c.Close()
	}
}

func (x *exchange) line(b []byte) error {
	x.mu.Lock()
	extra := x.fired
	x.mu.Unlock()
	if extra {
		return errors.Join(ErrProtocol, errors.New("reply without a request"))
	}
	x.finish(strings.TrimSuffix(string(b), "\r"), nil)
	return nil
}

func (x *exchange) OnClose(c *engine.Conn, err error) {
	x.dec.Reset()
	x.finish("", err)
}
