package redis

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
	"github.com/egress-go/egress/resp"
)

// eachProto runs f against the shared server in RESP2 and RESP3.
func eachProto(t *testing.T, f func(t *testing.T, c *Client, ctx context.Context, k string)) {
	for _, proto := range []int{2, 3} {
		t.Run("resp"+strconv.Itoa(proto), func(t *testing.T) {
			s := sharedServer(t)
			testkit.CheckLeaks(t)
			c := newTestClient(t, Options{Addr: s.Addr, Protocol: proto})
			ctx := ctxT(t)
			k := t.Name()
			f(t, c, ctx, k)
		})
	}
}

func TestHashes(t *testing.T) {
	eachProto(t, func(t *testing.T, c *Client, ctx context.Context, k string) {
		c.Del(ctx, k)
		if n, err := c.HSet(ctx, k, "a", "1", "b", "2"); err != nil || n != 2 {
			t.Fatalf("hset = %d, %v", n, err)
		}
		if v, err := c.HGet(ctx, k, "b"); err != nil || v != "2" {
			t.Fatalf("hget = %q, %v", v, err)
		}
		if _, err := c.HGet(ctx, k, "zz"); !errors.Is(err, ErrNil) {
			t.Fatalf("hget missing: %v", err)
		}
		if n, err := c.HIncrBy(ctx, k, "a", 9); err != nil || n != 10 {
			t.Fatalf("hincrby = %d, %v", n, err)
		}
		m, err := c.HGetAll(ctx, k)
		if err != nil || !reflect.DeepEqual(m, map[string]string{"a": "10", "b": "2"}) {
			t.Fatalf("hgetall = %v, %v", m, err)
		}
		if n, err := c.HLen(ctx, k); err != nil || n != 2 {
			t.Fatalf("hlen = %d, %v", n, err)
		}
		if n, err := c.HDel(ctx, k, "a", "nope"); err != nil || n != 1 {
			t.Fatalf("hdel = %d, %v", n, err)
		}
		// Wrong type: a typed server error.
		c.Set(ctx, k+"s", "x", 0)
		_, err = c.HGet(ctx, k+"s", "a")
		var re *resp.Error
		if !errors.As(err, &re) || re.Prefix() != "WRONGTYPE" {
			t.Fatalf("hget on a string: %v", err)
		}
		c.Del(ctx, k, k+"s")
	})
}

func TestLists(t *testing.T) {
	eachProto(t, func(t *testing.T, c *Client, ctx context.Context, k string) {
		c.Del(ctx, k)
		if n, err := c.RPush(ctx, k, "b", "c"); err != nil || n != 2 {
			t.Fatalf("rpush = %d, %v", n, err)
		}
		if n, err := c.LPush(ctx, k, "a"); err != nil || n != 3 {
			t.Fatalf("lpush = %d, %v", n, err)
		}
		if l, err := c.LRange(ctx, k, 0, -1); err != nil || !slices.Equal(l, []string{"a", "b", "c"}) {
			t.Fatalf("lrange = %v, %v", l, err)
		}
		if v, err := c.LPop(ctx, k); err != nil || v != "a" {
			t.Fatalf("lpop = %q, %v", v, err)
		}
		if v, err := c.RPop(ctx, k); err != nil || v != "c" {
			t.Fatalf("rpop = %q, %v", v, err)
		}
		if n, err := c.LLen(ctx, k); err != nil || n != 1 {
			t.Fatalf("llen = %d, %v", n, err)
		}
		c.Del(ctx, k)
		if _, err := c.LPop(ctx, k); !errors.Is(err, ErrNil) {
			t.Fatalf("lpop empty: %v", err)
		}
	})
}

func TestSets(t *testing.T) {
	eachProto(t, func(t *testing.T, c *Client, ctx context.Context, k string) {
		c.Del(ctx, k)
		if n, err := c.SAdd(ctx, k, "x", "y", "x"); err != nil || n != 2 {
			t.Fatalf("sadd = %d, %v", n, err)
		}
		m, err := c.SMembers(ctx, k)
		slices.Sort(m)
		if err != nil || !slices.Equal(m, []string{"x", "y"}) {
			t.Fatalf("smembers = %v, %v", m, err)
		}
		if ok, err := c.SIsMember(ctx, k, "y"); err != nil || !ok {
			t.Fatalf("sismember = %v, %v", ok, err)
		}
		if ok, err := c.SIsMember(ctx, k, "z"); err != nil || ok {
			t.Fatalf("sismember absent = %v, %v", ok, err)
		}
		if n, err := c.SRem(ctx, k, "x"); err != nil || n != 1 {
			t.Fatalf("srem = %d, %v", n, err)
		}
		if n, err := c.SCard(ctx, k); err != nil || n != 1 {
			t.Fatalf("scard = %d, %v", n, err)
		}
		c.Del(ctx, k)
	})
}

func TestSortedSets(t *testing.T) {
	eachProto(t, func(t *testing.T, c *Client, ctx context.Context, k string) {
		c.Del(ctx, k)
		if n, err := c.ZAdd(ctx, k, Z{"b", 2}, Z{"a", 1}, Z{"c", 3.5}); err != nil || n != 3 {
			t.Fatalf("zadd = %d, %v", n, err)
		}
		if s, err := c.ZScore(ctx, k, "c"); err != nil || s != 3.5 {
			t.Fatalf("zscore = %v, %v", s, err)
		}
		if _, err := c.ZScore(ctx, k, "nope"); !errors.Is(err, ErrNil) {
			t.Fatalf("zscore missing: %v", err)
		}
		if s, err := c.ZIncrBy(ctx, k, 10, "a"); err != nil || s != 11 {
			t.Fatalf("zincrby = %v, %v", s, err)
		}
		if r, err := c.ZRange(ctx, k, 0, -1); err != nil || !slices.Equal(r, []string{"b", "c", "a"}) {
			t.Fatalf("zrange = %v, %v", r, err)
		}
		zs, err := c.ZRangeWithScores(ctx, k, 0, 1)
		if err != nil || !slices.Equal(zs, []Z{{"b", 2}, {"c", 3.5}}) {
			t.Fatalf("zrange withscores = %v, %v", zs, err)
		}
		if n, err := c.ZRank(ctx, k, "a"); err != nil || n != 2 {
			t.Fatalf("zrank = %d, %v", n, err)
		}
		if n, err := c.ZRem(ctx, k, "a", "b"); err != nil || n != 2 {
			t.Fatalf("zrem = %d, %v", n, err)
		}
		if n, err := c.ZCard(ctx, k); err != nil || n != 1 {
			t.Fatalf("zcard = %d, %v", n, err)
		}
		c.Del(ctx, k)
	})
}

func TestExpiry(t *testing.T) {
	eachProto(t, func(t *testing.T, c *Client, ctx context.Context, k string) {
		start := time.Now()
		if err := c.Set(ctx, k, "v", 150*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		// At most what was set; gone only once that long has passed.
		if d, err := c.TTL(ctx, k); !(errors.Is(err, ErrNil) && time.Since(start) >= 150*time.Millisecond) &&
			(err != nil || d <= 0 || d > 150*time.Millisecond) {
			t.Fatalf("ttl = %v, %v after %v", d, err, time.Since(start))
		}
		c.Set(ctx, k+"p", "v", 0)
		if d, err := c.TTL(ctx, k+"p"); err != nil || d != -1 {
			t.Fatalf("ttl without expiry = %v, %v", d, err)
		}
		// Long enough that the key cannot expire before Persist, however
		// slow the machine; the TTL shows that Persist removed it.
		if ok, err := c.Expire(ctx, k+"p", time.Minute); err != nil || !ok {
			t.Fatalf("expire = %v, %v", ok, err)
		}
		if d, err := c.TTL(ctx, k+"p"); err != nil || d <= 0 || d > time.Minute {
			t.Fatalf("ttl after expire = %v, %v", d, err)
		}
		if ok, err := c.Persist(ctx, k+"p"); err != nil || !ok {
			t.Fatalf("persist = %v, %v", ok, err)
		}
		if d, err := c.TTL(ctx, k+"p"); err != nil || d != -1 {
			t.Fatalf("ttl after persist = %v, %v", d, err)
		}
		deadline := time.Now().Add(3 * time.Second)
		for {
			_, err := c.Get(ctx, k)
			if errors.Is(err, ErrNil) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("key did not expire: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := c.TTL(ctx, k); !errors.Is(err, ErrNil) {
			t.Fatalf("ttl of expired key: %v", err)
		}
		if v, err := c.Get(ctx, k+"p"); err != nil || v != "v" {
			t.Fatalf("persisted key = %q, %v", v, err)
		}
		c.Del(ctx, k+"p")
	})
}

func TestMultiExec(t *testing.T) {
	eachProto(t, func(t *testing.T, c *Client, ctx context.Context, k string) {
		c.Del(ctx, k)
		tx := c.TxPipeline()
		tx.Do("SET", k, "1")
		tx.Do("INCR", k)
		tx.Do("GET", k)
		r, err := tx.Exec(ctx)
		if err != nil || len(r) != 3 {
			t.Fatalf("exec = %v, %v", r, err)
		}
		if n, _ := r[1].Int(); n != 2 {
			t.Fatalf("incr in tx = %v", r[1].String())
		}
		if s, _ := r[2].Text(); s != "2" {
			t.Fatalf("get in tx = %v", r[2].String())
		}
		// A command that fails at run time fails alone.
		tx.Do("SET", k+"s", "x")
		tx.Do("INCR", k+"s")
		r, err = tx.Exec(ctx)
		if err != nil || r[0].Err() != nil || r[1].Err() == nil {
			t.Fatalf("exec with runtime error = %v, %v", r, err)
		}
		// A command refused when queued aborts the transaction.
		tx.Do("SET", k)
		tx.Do("INCR", k)
		_, err = tx.Exec(ctx)
		var re *resp.Error
		if !errors.As(err, &re) || re.Prefix() != "EXECABORT" {
			t.Fatalf("exec of a bad command: %v", err)
		}
		if v, _ := c.Get(ctx, k); v != "2" {
			t.Fatalf("aborted tx changed the key: %q", v)
		}
		// MULTI on the shared connections is refused; WATCH works on a Conn.
		if _, err := c.Do(ctx, "MULTI"); !errors.Is(err, ErrStateful) {
			t.Fatalf("MULTI on shared: %v", err)
		}
		conn, err := c.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Do(ctx, "WATCH", k); err != nil {
			t.Fatal(err)
		}
		c.Set(ctx, k, "changed", 0) // from another connection
		wtx := conn.TxPipeline()
		wtx.Do("SET", k, "mine")
		if _, err := wtx.Exec(ctx); !errors.Is(err, ErrTxAborted) {
			t.Fatalf("watched tx: %v", err)
		}
		if _, err := conn.Do(ctx, "WATCH", k); err != nil {
			t.Fatal(err)
		}
		wtx.Do("SET", k, "mine")
		if _, err := wtx.Exec(ctx); err != nil {
			t.Fatalf("unchanged watched tx: %v", err)
		}
		if v, _ := c.Get(ctx, k); v != "mine" {
			t.Fatalf("after watched tx: %q", v)
		}
		c.Del(ctx, k, k+"s")
	})
}

func TestPipeline(t *testing.T) {
	eachProto(t, func(t *testing.T, c *Client, ctx context.Context, k string) {
		p := c.Pipeline()
		for i := 0; i < 100; i++ {
			p.Do("SET", k+strconv.Itoa(i), strconv.Itoa(i))
			p.Do("GET", k+strconv.Itoa(i))
		}
		p.Do("HGET", k+"0", "x") // WRONGTYPE, alone
		r, err := p.Exec(ctx)
		if err != nil || len(r) != 201 {
			t.Fatalf("exec: %d replies, %v", len(r), err)
		}
		for i := 0; i < 100; i++ {
			if s, err := r[2*i+1].Text(); err != nil || s != strconv.Itoa(i) {
				t.Fatalf("reply %d = %v, %v", i, r[2*i+1].String(), err)
			}
		}
		if r[200].Err() == nil {
			t.Fatalf("error reply missing: %v", r[200].String())
		}
		p.Do("BLPOP", k, "1")
		if _, err := p.Exec(ctx); !errors.Is(err, ErrStateful) {
			t.Fatalf("blocking command in shared pipeline: %v", err)
		}
		// Async form.
		done := make(chan []Reply, 1)
		p.Do("ECHO", "a")
		p.Do("ECHO", "b")
		if err := p.ExecAsync(ctx, func(r []Reply, err error) {
			if err != nil {
				t.Error(err)
			}
			done <- r
		}); err != nil {
			t.Fatal(err)
		}
		r = <-done
		if a, _ := r[0].Text(); a != "a" {
			t.Fatalf("async pipeline: %v", r)
		}
		keys := make([]string, 100)
		for i := range keys {
			keys[i] = k + strconv.Itoa(i)
		}
		c.Del(ctx, keys...)
	})
}
