package redis

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

// A Conn does not reconnect; once its connection is lost, its commands
// fail with a *ConnError that says why (not ErrClosed, which means the
// user closed it), until the user closes it.
func TestConnLostSaysWhy(t *testing.T) {
	s := sharedServer(t)
	testkit.CheckLeaks(t)
	c := newTestClient(t, Options{Addr: s.Addr})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	d, err := c.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	id, err := d.Do(ctx, "CLIENT", "ID")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := id.Int()
	if _, err := c.Do(ctx, "CLIENT", "KILL", "ID", strconv.FormatInt(n, 10)); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the Conn to see its connection lost", func() bool {
		d.p.mu.Lock()
		defer d.p.mu.Unlock()
		return d.p.state == pClosed
	})
	_, err = d.Do(ctx, "PING")
	var ce *ConnError
	if !errors.As(err, &ce) || ce.Sent || errors.Is(err, ErrClosed) {
		t.Fatalf("command on a lost Conn: %v, want a *ConnError (not sent) with the loss's cause", err)
	}
	d.Close()
	if _, err := d.Do(ctx, "PING"); !errors.Is(err, ErrClosed) {
		t.Fatalf("command on a closed Conn: %v, want ErrClosed", err)
	}
}
