package redis_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/egress-go/egress/redis"
	"github.com/egress-go/egress/resp"
)

// The blocking API: typed commands, and Do for everything else.
func Example() {
	c, err := redis.NewClientURL("redis://localhost:6379/0")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()

	if err := c.Set(ctx, "greeting", "hello", time.Minute); err != nil {
		log.Fatal(err)
	}
	s, err := c.Get(ctx, "greeting")
	switch {
	case errors.Is(err, redis.ErrNil):
		fmt.Println("no greeting")
	case err != nil:
		var ce *redis.ConnError
		if errors.As(err, &ce) && ce.Sent {
			log.Print("connection lost; the command may have run")
		}
		log.Fatal(err)
	default:
		fmt.Println(s)
	}
	r, err := c.Do(ctx, "OBJECT", "ENCODING", "greeting")
	if err == nil {
		enc, _ := r.Text()
		fmt.Println(enc)
	}
}

// The non-blocking API: the callback runs on an engine loop for each
// reply. Commands sent together, from any goroutine, share one write.
func ExampleClient_DoAsync() {
	c, err := redis.NewClient(redis.Options{Addr: "localhost:6379"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	var wg sync.WaitGroup
	onReply := redis.Callback(func(v *resp.Value, err error) {
		defer wg.Done()
		if err != nil {
			log.Print(err)
			return
		}
		// v is valid only here: convert or Clone it.
		n, _ := redis.AsInt(v)
		_ = n
	})
	for i := 0; i < 100; i++ {
		wg.Add(1)
		if err := c.DoAsync(context.Background(), onReply, "INCR", "hits"); err != nil {
			wg.Done()
			log.Print(err)
		}
	}
	wg.Wait()
}

// MULTI/EXEC on the shared connections: the transaction is written in one
// piece, so nothing from other callers gets between its commands.
func ExampleClient_TxPipeline() {
	c, _ := redis.NewClient(redis.Options{})
	defer c.Close()
	tx := c.TxPipeline()
	tx.Do("INCR", "visits")
	tx.Do("EXPIRE", "visits", "3600")
	replies, err := tx.Exec(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	n, _ := replies[0].Int()
	fmt.Println(n)
}

// Optimistic locking with WATCH needs a connection of its own.
func ExampleClient_Conn() {
	c, _ := redis.NewClient(redis.Options{})
	defer c.Close()
	ctx := context.Background()
	conn, err := c.Conn(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	for {
		conn.Do(ctx, "WATCH", "balance")
		bal, _ := conn.Get(ctx, "balance")
		tx := conn.TxPipeline()
		tx.Do("SET", "balance", bal+"0")
		_, err := tx.Exec(ctx)
		if !errors.Is(err, redis.ErrTxAborted) {
			break // done, or a real error
		}
	}
}

func ExampleClient_Subscribe() {
	c, _ := redis.NewClient(redis.Options{})
	defer c.Close()
	ctx := context.Background()
	ps, err := c.Subscribe(ctx, "news")
	if err != nil {
		log.Fatal(err)
	}
	defer ps.Close()
	for {
		m, err := ps.Receive(ctx)
		if err != nil {
			return // closed, or failed for good (see PubSub)
		}
		if m.Kind == "reconnected" {
			// The connection was lost and replaced: messages published
			// in between never came.
			log.Printf("news: gap in messages (%s)", m.Payload)
			continue
		}
		fmt.Println(m.Channel, m.Payload)
	}
}

// A Redis Cluster: the same commands, routed by hash slot.
func ExampleNewClusterClient() {
	c, err := redis.NewClusterClient(redis.ClusterOptions{
		Addrs: []string{"127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()

	// {user:42} is a hash tag: both keys are in one slot, so they may
	// be used together.
	if err := c.Set(ctx, "{user:42}:name", "Ada", 0); err != nil {
		var ce *redis.ClusterError
		if errors.As(err, &ce) {
			log.Fatalf("%s at node %s, slot %d: %v", ce.Kind, ce.Node, ce.Slot, ce.Err)
		}
		log.Fatal(err)
	}
	vals, err := c.Do(ctx, "MGET", "{user:42}:name", "{user:42}:email")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(vals.String())

	// Keys in different slots cannot be used in one command.
	_, err = c.Do(ctx, "MGET", "user:1", "user:2")
	fmt.Println(errors.Is(err, redis.ErrCrossSlot))
}
