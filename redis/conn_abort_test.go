package redis

import (
	"context"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

// A blocking command's context that ends just as its reply arrives runs
// its abort after the reply gave the connection back to the pool (the
// AfterFunc had started, so stop could not prevent it). The abort must
// leave the connection alone: it may already serve another caller, whose
// command would fail with this one's context error.
func TestAbortAfterReleaseKeepsConnection(t *testing.T) {
	s := sharedServer(t)
	testkit.CheckLeaks(t)
	c := newTestClient(t, Options{Addr: s.Addr})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	d, err := c.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	d.Close() // clean: back to the pool, as releaser.reply does
	dials := c.Pool().Stats().Dials
	d.abort(context.DeadlineExceeded) // the late AfterFunc of the context
	d2, err := c.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	if err := d2.Ping(ctx); err != nil {
		t.Fatalf("the next user of the connection: %v", err)
	}
	if n := c.Pool().Stats().Dials - dials; n != 0 {
		t.Fatalf("%d new dials: the released connection was closed", n)
	}
}
