package scenario

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/egress-go/egress/redis"
)

// The Go clients of the redis-cluster scenario: the redis scenario's
// virtual clients and checks (redisclients.go), each on its library's
// cluster client. Params.Addrs are the masters; every client starts from
// them and reads the slot map itself before the load starts.

func init() {
	Roles["redis-cluster-egress"] = redisRole(startRedisClusterEgress)
	Roles["redis-cluster-goredis"] = redisRole(startRedisClusterGoRedis)
	// rueidis.NewClient turns into its cluster client by itself when the
	// node it reaches is in cluster mode.
	Roles["redis-cluster-rueidis"] = redisRole(startRedisRueidis)
}

// startRedisClusterEgress drives egress's ClusterClient as the redis
// scenario drives its Client: one client shared by all virtual clients,
// each sending its next command from the callback of the last reply.
// p.Shared is the connections per master (Node.Conns).
func startRedisClusterEgress(p redisParams, m *meter) (func(), error) {
	c, err := redis.NewClusterClient(redis.ClusterOptions{Addrs: p.Addrs, Node: redis.Options{Conns: max(p.Shared, 1)}})
	if err != nil {
		return nil, err
	}
	// NewClusterClient does not wait for the slot map; the load starts
	// once it is read, as it does for go-redis (Ping) and rueidis
	// (NewClient).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Refresh(ctx); err != nil {
		c.Close()
		return nil, err
	}
	egressRedisLoad(c, p, m)
	return func() { c.Close() }, nil
}

// startRedisClusterGoRedis is go-redis's ClusterClient as its users write
// it: a goroutine per virtual client; PoolSize is per master.
func startRedisClusterGoRedis(p redisParams, m *meter) (func(), error) {
	return goRedisLoad(goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: p.Addrs, PoolSize: p.Conns}), p, m)
}
