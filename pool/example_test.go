package pool_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/pool"
)

// reply collects a connection's incoming bytes on a channel.
type reply struct {
	engine.BaseHandler
	ch chan string
}

func (r *reply) OnData(_ *engine.Conn, b []byte) { r.ch <- string(b) }

func Example() {
	// An echo server on loopback stands in for an upstream.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 512)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					c.Write(buf[:n])
				}
			}()
		}
	}()

	e, _ := engine.New(engine.Config{Loops: 1})
	defer e.Close()
	p := pool.New(e, pool.DefaultConfig())
	defer p.Close() // deferred last, so it runs before the engine closes

	key := pool.Key{Network: "tcp", Addr: ln.Addr().String()}
	for i := 0; i < 2; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		h := &reply{ch: make(chan string, 1)}
		pc, err := p.Request(ctx, key, h)
		cancel()
		if err != nil {
			fmt.Println(err)
			return
		}
		pc.Engine().Write([]byte("ping"))
		fmt.Printf("%s reused=%v\n", <-h.ch, pc.Reused())
		// The whole reply was read: the connection is clean.
		p.Release(pc, true)
	}
	st := p.Stats()
	fmt.Println("dials:", st.Dials, "reuses:", st.Reuses)
	// Output:
	// ping reused=false
	// ping reused=true
	// dials: 1 reuses: 1
}
