package cloudhash_test

import (
	"context"
	"fmt"
	"log"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/examples/cloudhash"
)

func Example() {
	e, err := engine.New(engine.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	s, err := cloudhash.Listen(e, "127.0.0.1:0", cloudhash.Hybrid)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	c := cloudhash.NewClient(e, s.Addr().String())
	defer c.Close()
	ctx := context.Background()
	if err := c.Set(ctx, "city", "Lisbon"); err != nil {
		log.Fatal(err)
	}
	v, ok, err := c.Get(ctx, "city")
	fmt.Println(v, ok, err)
	fmt.Println(c.Stats().Dials, "connection for", c.Stats().Requests, "requests")
	// Output:
	// Lisbon true <nil>
	// 1 connection for 2 requests
}
