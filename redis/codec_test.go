package redis

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
	"github.com/egress-go/egress/resp"
)

// TestCodecSplitRealReplies feeds what a real redis-server sent, in RESP2
// and RESP3, to the decoder whole and one byte at a time: the values must
// be the same.
func TestCodecSplitRealReplies(t *testing.T) {
	s := sharedServer(t)
	testkit.CheckLeaks(t)
	c := newTestClient(t, Options{Addr: s.Addr})
	ctx := ctxT(t)
	k := t.Name()
	c.Del(ctx, k+"h", k+"z", k+"l")
	c.HSet(ctx, k+"h", "f1", "v1", "f2", strings.Repeat("x", 5000))
	c.ZAdd(ctx, k+"z", Z{"a", 1.5}, Z{"b", -2})
	c.RPush(ctx, k+"l", "1", "", "three")
	cmds := [][]string{
		{"PING"}, {"ECHO", "hi\r\nthere"}, {"GET", k + "missing"}, {"HGETALL", k + "h"},
		{"ZRANGE", k + "z", "0", "-1", "WITHSCORES"}, {"ZSCORE", k + "z", "a"}, {"LRANGE", k + "l", "0", "-1"},
		{"INCR", k + "h"}, {"EXISTS", k + "h"}, {"SISMEMBER", k + "nope", "x"}, {"CONFIG", "GET", "maxmemory*"},
		{"COMMAND", "INFO", "GET"}, {"XADD", k + "s", "*", "f", "v"}, {"XRANGE", k + "s", "-", "+"},
	}
	for _, proto := range []string{"2", "3"} {
		var payload []byte
		payload = resp.AppendCommand(payload, "HELLO", proto)
		for _, cmd := range cmds {
			payload = resp.AppendCommand(payload, cmd...)
		}
		want := len(cmds) + 1
		raw := readReplies(t, s, payload, want)
		whole := decodeAll(t, raw, 0)
		split := decodeAll(t, raw, 1)
		if len(whole) != want || len(split) != want {
			t.Fatalf("resp%s: %d values whole, %d split, want %d", proto, len(whole), len(split), want)
		}
		for i := range whole {
			if whole[i] != split[i] {
				t.Fatalf("resp%s value %d:\nwhole %s\nsplit %s", proto, i, whole[i], split[i])
			}
		}
	}
	c.Del(ctx, k+"h", k+"z", k+"l", k+"s")
}

// readReplies sends payload on a plain connection and reads until want
// replies have arrived.
func readReplies(t *testing.T, s *server, payload []byte, want int) []byte {
	var raw []byte
	out := s.raw(t, string(payload), 1)
	raw = append(raw, out...)
	// The server may have answered in several segments; read more over a
	// fresh connection would lose state, so decode what came and ask
	// again for the rest if needed.
	for tries := 0; len(decodeAll(t, raw, 0)) < want && tries < 50; tries++ {
		raw = s.raw(t, string(payload), len(raw)+1)
	}
	return raw
}

func decodeAll(t *testing.T, raw []byte, step int) []string {
	t.Helper()
	var d resp.Decoder
	var out []string
	emit := func(v *resp.Value) error {
		out = append(out, v.String())
		return nil
	}
	if step == 0 {
		if err := d.Feed(raw, emit); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for i := 0; i < len(raw); i += step {
		if err := d.Feed(raw[i:min(i+step, len(raw))], emit); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	s := sharedServer(t)
	testkit.CheckLeaks(t)
	c := newTestClient(t, Options{Addr: s.Addr})
	ctx := context.Background()
	k := t.Name()
	val := "0123456789abcdef"
	c.Set(ctx, k, val, 0)

	// Each figure is per command, over 2,000 commands (8,000 for the
	// batches of 16) timed a hundred per run: exact to 1/100 of an
	// allocation per command (1/1600 for the batches).
	const runs = 20
	done := make(chan struct{}, 1)
	cb := Callback(func(v *resp.Value, err error) { done <- struct{}{} })
	asyncGet := testkit.AllocsPerOp(runs, testkit.AllocBatch, func() {
		c.DoAsync(ctx, cb, "GET", k)
		<-done
	})
	asyncSet := testkit.AllocsPerOp(runs, testkit.AllocBatch, func() {
		c.DoAsync(ctx, cb, "SET", k, val)
		<-done
	})
	get := testkit.AllocsPerOp(runs, testkit.AllocBatch, func() { c.Get(ctx, k) })
	set := testkit.AllocsPerOp(runs, testkit.AllocBatch, func() { c.Set(ctx, k, val, 0) })
	do := testkit.AllocsPerOp(runs, testkit.AllocBatch, func() { c.Do(ctx, "GET", k) })
	var mu sync.Mutex
	var pipelined float64
	{
		// 16 in flight at once, as a pipelining client keeps them.
		n := 0
		all := make(chan struct{}, 1)
		cb16 := Callback(func(*resp.Value, error) {
			mu.Lock()
			n++
			if n == 16 {
				n = 0
				all <- struct{}{}
			}
			mu.Unlock()
		})
		pipelined = testkit.AllocsPerOp(runs/4, testkit.AllocBatch, func() {
			for i := 0; i < 16; i++ {
				c.DoAsync(ctx, cb16, "GET", k)
			}
			<-all
		}) / 16
	}
	p := c.Pipeline()
	execGet := testkit.AllocsPerOp(runs/4, testkit.AllocBatch, func() {
		for i := 0; i < 16; i++ {
			p.Do("GET", k)
		}
		p.Exec(ctx)
	}) / 16
	tctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	getDeadline := testkit.AllocsPerOp(runs, testkit.AllocBatch, func() { c.Get(tctx, k) })
	t.Logf("allocs per command: DoAsync GET %.4f, DoAsync SET %.4f, DoAsync GET x16 in flight %.4f, Get %.4f, Get with deadline %.4f, Set %.4f, Do GET %.4f, Pipeline of 16 GET %.4f",
		asyncGet, asyncSet, pipelined, get, getDeadline, set, do, execGet)
	// The bounds are today's figures. DoAsync hands the callback a value
	// it owns only during the call, and Set's reply is a status: neither
	// allocates.
	if asyncGet != 0 || asyncSet != 0 || pipelined != 0 {
		t.Errorf("DoAsync allocates in steady state: GET %.4f SET %.4f pipelined %.4f", asyncGet, asyncSet, pipelined)
	}
	// The blocking API allocates the result it returns (a string for Get,
	// a cloned value for Do) and nothing else, a deadline included.
	if get > 1 || getDeadline > 1 || do > 1 || set != 0 {
		t.Errorf("blocking API allocates more than its result: Get %.4f, with a deadline %.4f, Do %.4f, Set %.4f", get, getDeadline, do, set)
	}
	// A pipeline of 16 allocates a cloned value per reply plus 13 per Exec:
	// the command buffer regrown from empty as the commands are appended
	// (Exec hands the last one on), Exec's channel, callback and results,
	// ExecAsync's batch and reply slice. One more per Exec is allowed for
	// the buffer's growth steps, which vary with the key's length.
	if execGet > (16+14)/16.0 {
		t.Errorf("Pipeline of 16 GET: %.4f allocations per command, want at most %.4f", execGet, (16+14)/16.0)
	}
	c.Del(ctx, k)
}
