package engine

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

// xorLayer is a toy layer: it XORs every byte with k, becomes ready 30 ms
// after Start (or, held, when the test calls LayerReady on the loop), and
// sends a 0xFF farewell byte (encoded) on close.
type xorLayer struct {
	k       byte
	started chan struct{}
	held    bool
}

func (x *xorLayer) Start(c *Conn) {
	close(x.started)
	if !x.held {
		c.AfterFunc(30*time.Millisecond, c.LayerReady)
	}
}

func (x *xorLayer) code(p []byte) []byte {
	out := make([]byte, len(p))
	for i, b := range p {
		out[i] = b ^ x.k
	}
	return out
}

func (x *xorLayer) Input(c *Conn, raw []byte) error {
	if bytes.IndexByte(raw, '!'^x.k) >= 0 {
		return errors.New("xor: forbidden byte")
	}
	c.Deliver(x.code(raw))
	return nil
}
func (x *xorLayer) InputEOF(c *Conn) error        { return nil }
func (x *xorLayer) Write(c *Conn, p []byte) error { return c.WriteRaw(x.code(p)) }
func (x *xorLayer) Close(c *Conn)                 { c.WriteRaw([]byte{0xFF ^ x.k}) }

func TestLayer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be Backend) {
		got := make(chan []byte, 1)
		srv := testkit.NewServer(t, func(c net.Conn) {
			buf := make([]byte, 5)
			io.ReadFull(c, buf)
			c.Write([]byte{'H' ^ 7, 'I' ^ 7})
			rest, _ := io.ReadAll(c)
			got <- append(buf, rest...)
			c.Close()
		})
		e := newEngine(t, be, Config{})
		defer e.Close()
		x := &xorLayer{k: 7, started: make(chan struct{}), held: true}
		r := testkit.NewRecorder[*Conn]()
		c, _ := e.Dial(context.Background(), "tcp", srv.Addr(), r, &DialOptions{Layer: x})
		select {
		case <-x.started:
		case <-r.Closed():
			t.Fatalf("closed before the layer started: %v", r.Err())
		case <-time.After(10 * time.Second):
			t.Fatal("the layer did not start within 10 s")
		}
		// A premature OnOpen, run with Start or queued by it, has run once
		// the loop runs a task posted now; the layer is not ready until
		// the test says so.
		waitLoop(t, c.Loop())
		if r.Opened() {
			t.Fatal("OnOpen before the layer was ready")
		}
		c.Loop().Post(c.LayerReady)
		r.WaitOpen(t)
		c.Write([]byte("hello"))
		testkit.WaitFor(t, "decoded reply", func() bool { return string(r.Bytes()) == "HI" })
		c.Close()
		mustIs(t, r.WaitClose(t), ErrLocalClose)
		if b := <-got; !bytes.Equal(b, []byte{'h' ^ 7, 'e' ^ 7, 'l' ^ 7, 'l' ^ 7, 'o' ^ 7, 0xFF ^ 7}) {
			t.Fatalf("server saw %v", b)
		}
	})
}

func TestLayerInputErrorAndCloseWithError(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be Backend) {
		srv := testkit.NewServer(t, func(c net.Conn) {
			c.Write([]byte{'!' ^ 3})
			io.Copy(io.Discard, c)
			c.Close()
		})
		e := newEngine(t, be, Config{})
		defer e.Close()
		r := testkit.NewRecorder[*Conn]()
		e.Dial(context.Background(), "tcp", srv.Addr(), r, &DialOptions{Layer: &xorLayer{k: 3, started: make(chan struct{})}})
		if err := r.WaitClose(t); err == nil || err.Error() != "xor: forbidden byte" {
			t.Fatalf("close reason %v", err)
		}

		plain := testkit.NewServer(t, testkit.Echo)
		r2 := testkit.NewRecorder[*Conn]()
		c, _ := e.Dial(context.Background(), "tcp", plain.Addr(), r2, nil)
		r2.WaitOpen(t)
		why := errors.New("protocol: bad frame")
		c.CloseWithError(why)
		c.Close() // the first reason sticks
		if err := r2.WaitClose(t); err != why {
			t.Fatalf("close reason %v", err)
		}
	})
}
