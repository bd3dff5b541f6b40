package redis

import (
	"errors"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
	"github.com/egress-go/egress/resp"
)

func TestStrings(t *testing.T) {
	for _, proto := range []int{2, 3} {
		t.Run("resp"+string(rune('0'+proto)), func(t *testing.T) {
			s := sharedServer(t)
			testkit.CheckLeaks(t)
			c := newTestClient(t, Options{Addr: s.Addr, Protocol: proto})
			ctx := ctxT(t)
			k := t.Name() + ":k"
			if err := c.Set(ctx, k, "v1", 0); err != nil {
				t.Fatal(err)
			}
			if v, err := c.Get(ctx, k); err != nil || v != "v1" {
				t.Fatalf("get = %q, %v", v, err)
			}
			if _, err := c.Get(ctx, k+"missing"); !errors.Is(err, ErrNil) {
				t.Fatalf("missing: %v", err)
			}
			if ok, err := c.SetNX(ctx, k, "v2", 0); err != nil || ok {
				t.Fatalf("setnx existing = %v, %v", ok, err)
			}
			c.Del(ctx, k+"n")
			if n, err := c.Incr(ctx, k+"n"); err != nil || n != 1 {
				t.Fatalf("incr = %d, %v", n, err)
			}
			if n, err := c.IncrBy(ctx, k+"n", 41); err != nil || n != 42 {
				t.Fatalf("incrby = %d, %v", n, err)
			}
			// A server error is a *resp.Error with the server's message.
			_, err := c.Incr(ctx, k)
			var re *resp.Error
			if !errors.As(err, &re) || re.Prefix() != "ERR" {
				t.Fatalf("incr of a string: %v", err)
			}
			r, err := c.Do(ctx, "GET", k)
			if err != nil {
				t.Fatal(err)
			}
			if s, _ := r.Text(); s != "v1" {
				t.Fatalf("Do GET = %v", r.String())
			}
			if n, err := c.Del(ctx, k, k+"n"); err != nil || n != 2 {
				t.Fatalf("del = %d, %v", n, err)
			}
			_ = time.Second
		})
	}
}
