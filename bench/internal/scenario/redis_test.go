package scenario

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/egress-go/egress/bench/internal/harness"
	"github.com/egress-go/egress/internal/testkit"
)

func TestRedisGoals(t *testing.T) {
	row := func(client, op string, depth int, cpu float64) harness.Row {
		return harness.Row{Scenario: "redis", Client: client, Op: op, Pipeline: depth, CPUUsPerReq: cpu}
	}
	rows := []harness.Row{
		row("egress", "get", 1, 6), row("redis-benchmark", "get", 1, 12.5), row("rueidis", "get", 1, 8.2), row("goredis", "get", 1, 13.3),
		row("egress", "get", 16, 0.9), row("redis-benchmark", "get", 16, 0.83), row("rueidis", "get", 16, 0.86), row("goredis", "get", 16, 1.22),
		{Scenario: "redis", Client: "egress", Op: "set", Pipeline: 1, Skipped: "failed"}, // no goal from a skipped row
	}
	gs := redisGoals(rows)
	if len(gs) != 4 {
		t.Fatalf("%d goals: %v", len(gs), gs)
	}
	// depth 1: 6/8.2 = 0.73 <= 1 (rueidis is the best), 6/13.3 = 0.45 <= 0.7;
	// depth 16: 0.9/0.83 = 1.08 > 1, 0.9/1.22 = 0.74 > 0.7.
	met := []bool{true, true, false, false}
	for i, g := range gs {
		if g.Met() != met[i] {
			t.Errorf("goal %d %s: met %v", i, g, g.Met())
		}
	}
	if gs[0].What != "redis GET depth 1: egress cpu/op vs best (rueidis)" {
		t.Errorf("name %q", gs[0].What)
	}
	if len(Goals(rows)) != 4 {
		t.Error("Goals leaves out the redis goals")
	}
}

func TestAppendCommand(t *testing.T) {
	got := string(appendCommand(nil, []string{"SET", "k", ""}))
	if want := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}

// TestRedisClients runs each Go client of the scenario briefly against a
// real redis-server in every mode: each must count operations and see no
// wrong reply. A missing redis-server fails it in CI and under
// scripts/test, and skips it elsewhere.
func TestRedisClients(t *testing.T) {
	testkit.CheckLeaks(t)
	bin := testkit.RequirePeer(t, "redis-server", "scripts/install-deps.sh (Debian package redis-server)")
	// startRedis runs redis-server by name; it may have been found
	// outside PATH.
	t.Setenv("PATH", filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	if testing.Short() {
		t.Skip("short")
	}
	srv, err := startRedis(-1)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	const conns = 4
	keys := make([]string, conns)
	for i := range keys {
		keys[i] = redisKey(i)
	}
	if err := srv.seed(keys, redisValue(redisSize)); err != nil {
		t.Fatal(err)
	}
	starts := map[string]func(redisParams, *meter) (func(), error){
		"egress": startRedisEgress, "goredis": startRedisGoRedis, "rueidis": startRedisRueidis,
	}
	for name, start := range starts {
		for _, mode := range redisModes {
			for _, shared := range []int{1, 2} {
				if shared == 2 && name != "egress" {
					continue
				}
				p := redisParams{
					Params: Params{Addrs: []string{srv.Addr}, Conns: conns, Size: redisSize, Duration: 100 * time.Millisecond, Warmup: 20 * time.Millisecond},
					Op:     mode.op, Depth: mode.depth, Shared: shared,
				}
				var m meter
				stop, err := start(p, &m)
				if err != nil {
					t.Fatalf("%s %s/%d: %v", name, mode.op, mode.depth, err)
				}
				r := m.window(p.Params)
				stop()
				// Operations completed, without errors; how many fell in
				// the 100 ms window depends on the machine's load.
				if m.ops.Load() == 0 || r.Errors != 0 {
					t.Errorf("%s %s depth %d conns %d: %.0f ops/s, %d errors", name, mode.op, mode.depth, shared, r.RPS, r.Errors)
				}
			}
		}
	}
}
