package redis

import (
	"bufio"
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

// pushArray encodes a RESP2 pub/sub frame: kind, name (a null for ""), and
// the subscription count.
func pushArray(kind, name string, count int) []byte {
	b := []byte("*3\r\n$" + strconv.Itoa(len(kind)) + "\r\n" + kind + "\r\n")
	if name == "" {
		b = append(b, "$-1\r\n"...)
	} else {
		b = append(b, "$"+strconv.Itoa(len(name))+"\r\n"+name+"\r\n"...)
	}
	return append(b, ":"+strconv.Itoa(count)+"\r\n"...)
}

// An UNSUBSCRIBE of every channel sent while an UNSUBSCRIBE of one of them
// is still unconfirmed gets one confirmation per channel left when the
// server runs it, not per channel subscribed when it was sent. Counted at
// sending, the second call waited for a confirmation that never came (and
// took the next command's confirmations and replies as its own).
func TestPubSubUnsubscribeAllAfterPending(t *testing.T) {
	testkit.CheckLeaks(t)
	gotFirst := make(chan struct{})
	f := testkit.NewServer(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		subs := []string{}
		for {
			args, err := readCommand(r)
			if err != nil {
				return
			}
			switch args[0] {
			case "SUBSCRIBE":
				for _, ch := range args[1:] {
					subs = append(subs, ch)
					c.Write(pushArray("subscribe", ch, len(subs)))
				}
			case "UNSUBSCRIBE":
				// Hold the confirmation of the first until the second has
				// arrived, so that both are in flight together; then
				// answer both as Redis does.
				close(gotFirst)
				all, err := readCommand(r)
				if err != nil || all[0] != "UNSUBSCRIBE" || len(all) != 1 {
					return
				}
				for _, ch := range args[1:] {
					for i, s := range subs {
						if s == ch {
							subs = append(subs[:i], subs[i+1:]...)
							break
						}
					}
					c.Write(pushArray("unsubscribe", ch, len(subs)))
				}
				for len(subs) > 0 {
					ch := subs[0]
					subs = subs[1:]
					c.Write(pushArray("unsubscribe", ch, len(subs)))
				}
			case "PING":
				c.Write([]byte("+PONG\r\n"))
			}
		}
	})
	c := newTestClient(t, Options{Addr: f.Addr(), Protocol: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ps, err := c.Subscribe(ctx, "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	first := make(chan error, 1)
	go func() { first <- ps.Unsubscribe(ctx, "a") }()
	select {
	case <-gotFirst:
	case <-ctx.Done():
		t.Fatal("the first UNSUBSCRIBE never reached the server")
	}
	if err := ps.Unsubscribe(ctx); err != nil {
		t.Fatalf("unsubscribe from all: %v", err)
	}
	if err := <-first; err != nil {
		t.Fatalf("unsubscribe a: %v", err)
	}
	if err := ps.Ping(ctx); err != nil {
		t.Fatalf("ping after: %v", err)
	}
	if chs, _ := ps.Channels(); len(chs) != 0 {
		t.Fatalf("still subscribed to %v", chs)
	}
}

// A shard channel the server unsubscribes by itself (its slot moved) while
// an SUNSUBSCRIBE of another channel waits for its confirmation is not that
// command's confirmation: it is reported as dropped (so that a
// ClusterPubSub places it again), and the command waits for its own.
// Counted to the command, the channel was lost silently.
func TestPubSubUnsolicitedSUnsubscribeNotCounted(t *testing.T) {
	testkit.CheckLeaks(t)
	f := testkit.NewServer(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		for {
			args, err := readCommand(r)
			if err != nil {
				return
			}
			switch args[0] {
			case "SSUBSCRIBE":
				for i, ch := range args[1:] {
					c.Write(pushArray("ssubscribe", ch, i+1))
				}
			case "SUNSUBSCRIBE":
				// y's slot leaves this node just before x's confirmation.
				c.Write(append(pushArray("sunsubscribe", "y", 1), pushArray("sunsubscribe", "x", 0)...))
			case "PING":
				c.Write([]byte("+PONG\r\n"))
			}
		}
	})
	c := newTestClient(t, Options{Addr: f.Addr(), Protocol: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ps, err := c.NewPubSub(ctx, func(Message) {})
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	var mu sync.Mutex
	var dropped []string
	ps.mu.Lock()
	ps.dropped = func(ch string) {
		mu.Lock()
		dropped = append(dropped, ch)
		mu.Unlock()
	}
	ps.mu.Unlock()
	if err := ps.SSubscribe(ctx, "x", "y"); err != nil {
		t.Fatal(err)
	}
	if err := ps.SUnsubscribe(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	// Both frames came in one segment, before SUNSUBSCRIBE returned.
	mu.Lock()
	got := dropped
	mu.Unlock()
	if len(got) != 1 || got[0] != "y" {
		t.Fatalf("dropped channels %q, want [y]", got)
	}
	if err := ps.Ping(ctx); err != nil {
		t.Fatalf("ping after: %v", err)
	}
}
