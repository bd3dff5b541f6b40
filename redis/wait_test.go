package redis

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

// TestWaitCoversClientWrites: WAIT goes on the connection that carried the
// client's writes. On a connection of its own, which has written nothing,
// it would report every replica in step at once, even one that is stopped.
func TestWaitCoversClientWrites(t *testing.T) {
	testkit.CheckLeaks(t)
	master := startServer(t, serverConfig{Extra: []string{"repl-diskless-sync-delay 0"}})
	replica := startServer(t, serverConfig{Extra: []string{"replicaof 127.0.0.1 " + itoa(int64(master.Port))}})
	c := newTestClient(t, Options{Addr: master.Addr})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Wait for the replica to be in step: a write acknowledged by it.
	for {
		if err := c.Set(ctx, "wait:k", "0", 0); err != nil {
			t.Fatal(err)
		}
		if n, err := c.Do(ctx, "WAIT", "1", "100"); err == nil {
			if v, _ := n.Int(); v == 1 {
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatal("the replica never acknowledged a write")
		}
	}

	replica.mu.Lock()
	proc := replica.cmd.Process
	replica.mu.Unlock()
	if err := proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer proc.Signal(syscall.SIGCONT)
	if err := c.Set(ctx, "wait:k", "1", 0); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r, err := c.Do(ctx, "WAIT", "1", "300")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := r.Int(); n != 0 {
		t.Fatalf("WAIT after a write the stopped replica cannot have = %d replicas, want 0", n)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("WAIT returned after %v, before its 300 ms timeout", d)
	}
	// Other commands queued behind it were answered after it, in order.
	if s, err := c.Get(ctx, "wait:k"); err != nil || s != "1" {
		t.Fatalf("GET after WAIT = %q, %v", s, err)
	}
}

// TestWaitUnbounded: a WAIT that could hold the shared connection forever
// (timeout 0) is refused there, and allowed on a Conn of its own.
func TestWaitUnbounded(t *testing.T) {
	testkit.CheckLeaks(t)
	s := startServer(t, serverConfig{})
	c := newTestClient(t, Options{Addr: s.Addr})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, args := range [][]string{{"WAIT", "1", "0"}, {"wait", "0", "x"}, {"WAITAOF", "0", "1", "0"}} {
		if _, err := c.Do(ctx, args...); !errors.Is(err, ErrWaitUnbounded) {
			t.Errorf("%v on the shared connection = %v, want ErrWaitUnbounded", args, err)
		}
	}
	p := c.Pipeline()
	p.Do("SET", "k", "v")
	p.Do("WAIT", "1", "0")
	if _, err := p.Exec(ctx); !errors.Is(err, ErrWaitUnbounded) {
		t.Errorf("pipeline with WAIT 1 0 = %v, want ErrWaitUnbounded", err)
	}
	// No replica: WAIT 0 0 returns at once with 0 on a Conn.
	d, err := c.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if r, err := d.Do(ctx, "WAIT", "0", "0"); err != nil {
		t.Fatalf("WAIT 0 0 on a Conn: %v", err)
	} else if n, _ := r.Int(); n != 0 {
		t.Fatalf("WAIT 0 0 = %d", n)
	}
	// The shared connection is not held: a bounded WAIT, then a GET.
	if _, err := c.Do(ctx, "WAIT", "0", "10"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(ctx, "PING"); err != nil {
		t.Fatal(err)
	}
}
