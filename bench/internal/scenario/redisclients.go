package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/egress-go/egress/redis"
	"github.com/egress-go/egress/resp"
)

// The Go clients of the redis scenario. Each runs p.Conns virtual
// clients, closed loop: at depth 1 a virtual client has one command in
// flight and sends the next when its reply comes; at depth n it sends n
// and the next n when all n have come back (redis-benchmark -P n). Every
// command counts as one operation, timed from the send of its batch.
// GET replies must carry p.Size bytes and SET replies must be OK.

func init() {
	Roles["redis-egress"] = redisRole(startRedisEgress)
	Roles["redis-goredis"] = redisRole(startRedisGoRedis)
	Roles["redis-rueidis"] = redisRole(startRedisRueidis)
}

// redisParams are what the parent tells a redis client role.
type redisParams struct {
	Params
	Op     string `json:"op"`     // "get" or "set"
	Depth  int    `json:"depth"`  // commands per batch
	Shared int    `json:"shared"` // egress: Options.Conns
}

// args are the command's arguments, made once per virtual client so that
// sending allocates nothing in the benchmark's own code.
func (p redisParams) args(i int) []string {
	if p.Op == "set" {
		return []string{"SET", redisKey(i), redisValue(p.Size)}
	}
	return []string{"GET", redisKey(i)}
}

// redisKey is virtual client i's key; the parent seeds them all.
func redisKey(i int) string { return fmt.Sprintf("bench:%03d", i) }

func redisValue(size int) string {
	b := make([]byte, size)
	for i := range b {
		b[i] = 'x' // as redis-benchmark's values
	}
	return string(b)
}

// redisRole wraps a client's start: decode, start the load, then measure
// the window and print the row.
func redisRole(start func(p redisParams, m *meter) (stop func(), err error)) func([]byte) error {
	return func(params []byte) error {
		var p redisParams
		if err := json.Unmarshal(params, &p); err != nil {
			return err
		}
		var m meter
		stop, err := start(p, &m)
		if err != nil {
			return err
		}
		ready("started")
		row := m.window(p.Params)
		stop()
		return emit(row)
	}
}

// checkReply says whether an egress reply is what op expects.
func checkReply(op string, size int, v *resp.Value) error {
	if op == "set" {
		if v.Type != resp.SimpleString || string(v.Str) != "OK" {
			return errResponse
		}
		return nil
	}
	if v.Type != resp.BulkString || len(v.Str) != size {
		return errResponse
	}
	return nil
}

// startRedisEgress drives the non-blocking API, as the driver's author
// intends it for throughput: one Client shared by all virtual clients,
// each with a Callback made once that sends its next command from the
// engine loop. Nothing runs on a goroutine per virtual client.
func startRedisEgress(p redisParams, m *meter) (func(), error) {
	c, err := redis.NewClient(redis.Options{Addr: p.Addrs[0], Conns: max(p.Shared, 1)})
	if err != nil {
		return nil, err
	}
	egressRedisLoad(c, p, m)
	return func() { c.Close() }, nil
}

// asyncDoer is what egressRedisLoad drives: a redis.Client or a
// redis.ClusterClient.
type asyncDoer interface {
	DoAsync(ctx context.Context, cb redis.Callback, args ...string) error
}

// egressRedisLoad starts p.Conns virtual clients on c, each sending its
// next command or batch from the callback of the last reply.
func egressRedisLoad(c asyncDoer, p redisParams, m *meter) {
	ctx := context.Background() // cannot end: DoAsync allocates nothing
	depth := max(p.Depth, 1)
	for i := 0; i < p.Conns; i++ {
		args := p.args(i)
		var start time.Time
		// n counts the replies of the batch in flight. With Conns > 1
		// and several loops they may come on different loops at once,
		// so it is atomic; the reply that completes the batch is then
		// the only one left touching start.
		var n atomic.Int32
		var cb redis.Callback
		send := func() {
			start = time.Now()
			for j := 0; j < depth; j++ {
				if err := c.DoAsync(ctx, cb, args...); err != nil {
					m.errs.Add(1)
				}
			}
		}
		cb = func(v *resp.Value, err error) {
			if err == nil {
				err = checkReply(p.Op, p.Size, v)
			}
			m.done(start, err)
			if n.Add(1) < int32(depth) {
				return
			}
			n.Store(0)
			if !m.stop.Load() {
				send()
			}
		}
		send()
	}
}

// startRedisGoRedis is go-redis as its users write it: a goroutine per
// virtual client, a pool of p.Conns connections; Get/Set at depth 1 and
// Pipelined at depth n.
func startRedisGoRedis(p redisParams, m *meter) (func(), error) {
	return goRedisLoad(goredis.NewClient(&goredis.Options{Addr: p.Addrs[0], PoolSize: p.Conns}), p, m)
}

// goRedisLoad runs the virtual clients on a go-redis Client or
// ClusterClient and returns the function that closes it.
func goRedisLoad(c goredis.UniversalClient, p redisParams, m *meter) (func(), error) {
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, err
	}
	value := redisValue(p.Size)
	one := func(i int) func() error {
		key := redisKey(i)
		if p.Op == "set" {
			return func() error { return c.Set(ctx, key, value, 0).Err() }
		}
		return func() error {
			s, err := c.Get(ctx, key).Result()
			if err == nil && len(s) != p.Size {
				err = errResponse
			}
			return err
		}
	}
	batch := func(i int) func() error {
		key := redisKey(i)
		return func() error {
			cmds, err := c.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
				for j := 0; j < p.Depth; j++ {
					if p.Op == "set" {
						pipe.Set(ctx, key, value, 0)
					} else {
						pipe.Get(ctx, key)
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, cmd := range cmds {
				if s, ok := cmd.(*goredis.StringCmd); ok && len(s.Val()) != p.Size {
					return errResponse
				}
			}
			return nil
		}
	}
	err := redisLoop(p, m, func(i int) func() error {
		if p.Depth > 1 {
			return batch(i)
		}
		return one(i)
	})
	return func() { c.Close() }, err
}

// startRedisRueidis is rueidis as its users write it: a goroutine per
// virtual client; at depth 1 the client pipelines the concurrent Do calls
// by itself (auto-pipelining), at depth n each goroutine sends its batch
// with DoMulti. Commands are built per call: rueidis recycles them.
// Pointed at a cluster's nodes, the same client routes by slot itself
// (redis-cluster).
func startRedisRueidis(p redisParams, m *meter) (func(), error) {
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: p.Addrs})
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	value := redisValue(p.Size)
	build := func(key string) rueidis.Completed {
		if p.Op == "set" {
			return c.B().Set().Key(key).Value(value).Build()
		}
		return c.B().Get().Key(key).Build()
	}
	check := func(r rueidis.RedisResult) error {
		if p.Op == "set" {
			return r.Error()
		}
		s, err := r.ToString()
		if err == nil && len(s) != p.Size {
			err = errResponse
		}
		return err
	}
	err = redisLoop(p, m, func(i int) func() error {
		key := redisKey(i)
		if p.Depth <= 1 {
			return func() error { return check(c.Do(ctx, build(key))) }
		}
		cmds := make(rueidis.Commands, p.Depth)
		return func() error {
			for j := range cmds {
				cmds[j] = build(key)
			}
			for _, r := range c.DoMulti(ctx, cmds...) {
				if err := check(r); err != nil {
					return err
				}
			}
			return nil
		}
	})
	return func() { c.Close() }, err
}

// redisLoop runs p.Conns goroutines, each calling its op (one command or
// a batch of p.Depth) until the window is over, and counts p.Depth
// operations per call: meter.loop's model, with batches.
func redisLoop(p redisParams, m *meter, newOp func(i int) func() error) error {
	depth := max(p.Depth, 1)
	for i := 0; i < p.Conns; i++ {
		op := newOp(i)
		go func() {
			for !m.stop.Load() {
				start := time.Now()
				err := op()
				for j := 0; j < depth; j++ {
					m.done(start, err)
				}
			}
		}()
	}
	return nil
}
