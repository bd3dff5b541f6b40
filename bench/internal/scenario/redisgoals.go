package scenario

import (
	"fmt"
	"strings"

	"github.com/egress-go/egress/bench/internal/harness"
)

// The goals of issue 8, per mode (op and depth): egress's client CPU per
// operation at most goalRedisVsBest times the lower of redis-benchmark's
// and rueidis's, and at most goalRedisVsGoRedis times go-redis's.
const (
	goalRedisVsBest    = 1.00
	goalRedisVsGoRedis = 0.70
)

// redisMode is one table of a redis scenario: an op at a depth.
type redisMode struct {
	op    string
	depth int
}

// redisRowsByMode groups a redis scenario's measured rows by mode, in the
// order the modes ran, and by client within each.
func redisRowsByMode(rows []harness.Row, scenario string) ([]redisMode, map[redisMode]map[string]harness.Row) {
	by := map[redisMode]map[string]harness.Row{}
	var order []redisMode
	for _, r := range rows {
		if r.Scenario != scenario || r.Skipped != "" || r.CPUUsPerReq <= 0 {
			continue
		}
		k := redisMode{r.Op, r.Pipeline}
		if by[k] == nil {
			by[k] = map[string]harness.Row{}
			order = append(order, k)
		}
		by[k][r.Client] = r
	}
	return order, by
}

// redisGoals evaluates them for every mode that this run measured.
func redisGoals(rows []harness.Row) []Goal {
	order, by := redisRowsByMode(rows, "redis")
	var gs []Goal
	for _, k := range order {
		m := by[k]
		e, ok := m["egress"]
		if !ok {
			continue
		}
		name := fmt.Sprintf("redis %s depth %d: egress cpu/op", strings.ToUpper(k.op), k.depth)
		best, who := 0.0, ""
		for _, a := range []string{"redis-benchmark", "rueidis"} {
			if r, ok := m[a]; ok && (best == 0 || r.CPUUsPerReq < best) {
				best, who = r.CPUUsPerReq, a
			}
		}
		if best > 0 {
			gs = append(gs, Goal{name + " vs best (" + who + ")", e.CPUUsPerReq / best, goalRedisVsBest, true})
		}
		if g, ok := m["goredis"]; ok {
			gs = append(gs, Goal{name + " vs goredis", e.CPUUsPerReq / g.CPUUsPerReq, goalRedisVsGoRedis, true})
		}
	}
	return gs
}
