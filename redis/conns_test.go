package redis

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/internal/testkit"
	"github.com/egress-go/egress/resp"
)

// Several shared connections on an engine the caller owns; replies stay
// matched, and values larger than the engine's write queue go out in
// pieces.
func TestSharedEngineAndLargeValues(t *testing.T) {
	s := sharedServer(t)
	testkit.CheckLeaks(t)
	e, err := engine.New(engine.Config{Loops: 2, WriteQueueLimit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	c := newTestClient(t, Options{Addr: s.Addr, Engine: e, Conns: 3})
	ctx := ctxT(t)
	k := t.Name()
	big := strings.Repeat("0123456789", 600_000) // 6 MB, six times the write queue
	if err := c.Set(ctx, k, big, 0); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, k); err != nil || v != big {
		t.Fatalf("big value: %d bytes, %v", len(v), err)
	}
	var wg sync.WaitGroup
	var bad sync.Map
	for g := 0; g < 50; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				want := strconv.Itoa(g*1000 + i)
				if v, err := c.Echo(ctx, want); err != nil || v != want {
					bad.Store(want, err)
				}
			}
		}()
	}
	wg.Wait()
	bad.Range(func(k, v any) bool {
		t.Errorf("echo %v: %v", k, v)
		return true
	})
	if st := c.Pool().Stats(); st.InUse < 3 {
		t.Fatalf("pool: %+v", st)
	}
	c.Del(ctx, k)
	c.Close() // before the engine
}

func TestWriteBufferLimit(t *testing.T) {
	s := sharedServer(t)
	testkit.CheckLeaks(t)
	c := newTestClient(t, Options{Addr: s.Addr, WriteBufferLimit: 1 << 10})
	// Hold the server so the buffer fills, then overflow it.
	go c.Do(ctxT(t), "DEBUG", "SLEEP", "0.2")
	val := strings.Repeat("x", 4<<10)
	var full bool
	var wg sync.WaitGroup
	for i := 0; i < 20000 && !full; i++ {
		wg.Add(1)
		err := c.DoAsync(context.Background(), func(*resp.Value, error) { wg.Done() }, "ECHO", val)
		if err != nil {
			wg.Done()
			if !errors.Is(err, ErrBufferFull) {
				t.Fatal(err)
			}
			full = true
		}
	}
	wg.Wait()
	if !full {
		t.Fatal("the write buffer never filled")
	}
	if err := c.Ping(ctxT(t)); err != nil {
		t.Fatalf("after a full buffer: %v", err)
	}
}
