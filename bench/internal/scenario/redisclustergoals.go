package scenario

import (
	"fmt"
	"strings"

	"github.com/egress-go/egress/bench/internal/harness"
)

// The goals of issue 16, per mode (op and depth) of redis-cluster:
// egress's client CPU per operation at most goalRedisClusterVsRueidis
// times rueidis's and at most goalRedisClusterVsGoRedis times go-redis's,
// as on one server.
const (
	goalRedisClusterVsRueidis = 1.00
	goalRedisClusterVsGoRedis = 0.70
)

// redisClusterGoals evaluates them for every mode that this run measured.
func redisClusterGoals(rows []harness.Row) []Goal {
	order, by := redisRowsByMode(rows, "redis-cluster")
	var gs []Goal
	for _, k := range order {
		e, ok := by[k]["egress"]
		if !ok {
			continue
		}
		name := fmt.Sprintf("redis-cluster %s depth %d: egress cpu/op", strings.ToUpper(k.op), k.depth)
		for _, a := range []struct {
			client string
			limit  float64
		}{{"rueidis", goalRedisClusterVsRueidis}, {"goredis", goalRedisClusterVsGoRedis}} {
			if r, ok := by[k][a.client]; ok {
				gs = append(gs, Goal{name + " vs " + a.client, e.CPUUsPerReq / r.CPUUsPerReq, a.limit, true})
			}
		}
	}
	return gs
}
