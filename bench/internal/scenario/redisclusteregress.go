//go:build egresscluster

package scenario

import "github.com/egress-go/egress/redis"

func init() {
	Roles["redis-cluster-egress"] = redisRole(startRedisClusterEgress)
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
	egressRedisLoad(c, p, m)
	return func() { c.Close() }, nil
}
