package scenario

import (
	goredis "github.com/redis/go-redis/v9"
)

// The Go clients of the redis-cluster scenario: the redis scenario's
// virtual clients and checks (redisclients.go), each on its library's
// cluster client. Params.Addrs are the masters; every client starts from
// them and reads the slot map itself.

func init() {
	Roles["redis-cluster-goredis"] = redisRole(startRedisClusterGoRedis)
	// rueidis.NewClient turns into its cluster client by itself when the
	// node it reaches is in cluster mode.
	Roles["redis-cluster-rueidis"] = redisRole(startRedisRueidis)
}

// startRedisClusterGoRedis is go-redis's ClusterClient as its users write
// it: a goroutine per virtual client; PoolSize is per master.
func startRedisClusterGoRedis(p redisParams, m *meter) (func(), error) {
	return goRedisLoad(goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: p.Addrs, PoolSize: p.Conns}), p, m)
}
