package scenario

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/egress-go/egress/bench/internal/anchor"
	"github.com/egress-go/egress/bench/internal/harness"
)

// The redis scenario (issue 8): GET and SET of 16-byte values by 50
// concurrent clients, one command at a time and in batches of 16, against
// a redis-server on the server core. Ops/s and client CPU per operation.

const (
	redisClients = 50
	redisSize    = 16
	// redisBenchKey is redis-benchmark's key: without -r it sends the
	// placeholder "__rand_int__" as it is.
	redisBenchKey = "key:__rand_int__"
)

// redisModes are the tables, in the order they run.
var redisModes = []struct {
	op    string
	depth int
}{{"get", 1}, {"set", 1}, {"get", 16}, {"set", 16}}

// redisClientNames: egress with one shared connection (its default) and
// with two, then the anchors.
var redisClientNames = []string{"egress", "egress-conns2", "redis-benchmark", "goredis", "rueidis"}

func runRedis(o Options) error {
	srv, err := startRedis(serverCore)
	if err != nil {
		return err
	}
	defer srv.Stop()
	keys := []string{redisBenchKey}
	for i := 0; i < redisClients; i++ {
		keys = append(keys, redisKey(i))
	}
	if err := srv.seed(keys, redisValue(redisSize)); err != nil {
		return err
	}
	rb := &redisBench{rate: map[string]float64{}}
	for _, mode := range redisModes {
		tmpl := harness.Row{Scenario: "redis", Conns: redisClients, Pinned: true, Op: mode.op, Pipeline: mode.depth}
		clients := redisClientNames
		if o.Quick {
			// egress-conns2 is a variant of egress: left out of quick runs
			// so that they stay within their 4 minutes.
			clients = slices.DeleteFunc(slices.Clone(clients), func(c string) bool { return c == "egress-conns2" })
		}
		rows := runClients(o, tmpl, clients, func(client string) (harness.Row, time.Duration, error) {
			cpu0 := srv.CPU()
			r, own, err := redisOnce(o, rb, srv.Addr, client, mode.op, mode.depth)
			r.Op, r.Pipeline = mode.op, mode.depth
			return r, own + srv.CPU() - cpu0, err
		})
		redisTable(mode.op, mode.depth, rows).Print(o.Out)
	}
	return nil
}

func redisTable(op string, depth int, rows []harness.Row) harness.Table {
	how := "one command at a time (depth 1)"
	if depth > 1 {
		how = fmt.Sprintf("%d commands per batch (depth %d)", depth, depth)
	}
	anchors := []string{"redis-benchmark", "rueidis"}
	return harness.Table{
		Title: fmt.Sprintf("redis %s: %d-byte values, %d clients, %s; redis-server on core 0, client on core 1",
			strings.ToUpper(op), redisSize, redisClients, how),
		Rows: rows,
		Cols: []harness.Column{
			{Name: "ops/s", Get: func(r harness.Row) float64 { return r.RPS }, Vs: anchors},
			{Name: "cpu us/op", Get: func(r harness.Row) float64 { return r.CPUUsPerReq }, Vs: append(anchors, "goredis")},
			{Name: "p50 us", Get: func(r harness.Row) float64 { return r.P50Us }},
			{Name: "p99 us", Get: func(r harness.Row) float64 { return r.P99Us }},
		},
		Notes: append([]string{
			"egress: one redis.Client (Options.Conns 1; egress-conns2: 2) shared by 50 virtual clients driven from DoAsync callbacks;",
			"  redis-benchmark: -c 50 -P depth, 50 connections; goredis: 50 goroutines, PoolSize 50, Pipelined per batch;",
			"  rueidis: 50 goroutines on its auto-pipelined connections, DoMulti per batch.",
			"cpu us/op: client user+sys CPU / operations; Go clients over the measurement window after warm-up,",
			"  redis-benchmark over its whole process (rusage of the child, start-up and connection set-up included).",
		}, errorNotes(rows)...),
	}
}

// redisOnce runs one client once and returns its row and the CPU time of
// its processes.
func redisOnce(o Options, rb *redisBench, addr, client, op string, depth int) (harness.Row, time.Duration, error) {
	d := shortDuration(o)
	if client == "redis-benchmark" {
		return rb.run(addr, op, depth, d)
	}
	role, shared := client, 1
	if client == "egress-conns2" {
		role, shared = "egress", 2
	}
	profile := o.profilePath("redis", fmt.Sprintf("%s-%s-P%d", client, op, depth), redisClients, true)
	return harness.RunChild(clientCore, "redis-"+role, redisParams{
		Params: Params{Addrs: []string{addr}, Conns: redisClients, Size: redisSize, Duration: d, Warmup: warmup(o), Profile: profile},
		Op:     op, Depth: depth, Shared: shared,
	}, client)
}

// redisBench runs redis-benchmark, which stops after a number of
// requests rather than a time: it remembers each mode's rate so that the
// next run of that mode lasts about the window, and calibrates a mode
// with a short run the first time. tool runs it (anchor.RedisBenchmark
// when nil; redis-cluster's runs it with --cluster).
type redisBench struct {
	rate map[string]float64
	tool func(cpu int, addr string, conns, n, size, depth int, test string) (anchor.Result, error)
}

func (b *redisBench) run(addr, op string, depth int, d time.Duration) (harness.Row, time.Duration, error) {
	mode := fmt.Sprintf("%s-%d", op, depth)
	tool := b.tool
	if tool == nil {
		tool = anchor.RedisBenchmark
	}
	var calib time.Duration
	if b.rate[mode] == 0 {
		// About a second at the rates this machine gives.
		n := 100_000
		if depth > 1 {
			n = 1_000_000
		}
		res, err := tool(clientCore, addr, redisClients, n, redisSize, depth, op)
		if err != nil {
			return harness.Row{}, 0, err
		}
		b.rate[mode], calib = res.RPS, res.CPU
	}
	n := max(int(b.rate[mode]*d.Seconds()), redisClients*depth)
	res, err := tool(clientCore, addr, redisClients, n, redisSize, depth, op)
	if err != nil {
		return harness.Row{}, 0, err
	}
	b.rate[mode] = res.RPS
	return harness.Row{
		Client: "redis-benchmark", RPS: res.RPS, CPUUsPerReq: res.CPUPerRequest(),
		P50Us: us(res.P50), P99Us: us(res.P99), Errors: res.Errors, WholeProcess: true,
	}, calib + res.CPU, nil
}
