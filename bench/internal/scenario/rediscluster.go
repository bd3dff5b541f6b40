package scenario

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/egress-go/egress/bench/internal/anchor"
	"github.com/egress-go/egress/bench/internal/harness"
)

// The redis-cluster scenario (issue 16): the redis scenario's load (GET
// and SET of 16-byte values by 50 virtual clients, closed loop, depth 1
// and 16) against a Redis Cluster of three masters without replicas, all
// three on the server core, the slots split evenly between them. Ops/s
// and client CPU per operation.

const (
	redisClusterMasters = 3
	redisSlots          = 16384
)

// redisClusterClientNames: egress with one connection per master (its
// default), then the anchors.
var redisClusterClientNames = []string{"egress", "redis-benchmark", "goredis", "rueidis"}

func runRedisCluster(o Options) error {
	cl, err := startRedisCluster(serverCore, redisClusterMasters)
	if err != nil {
		return err
	}
	defer cl.Stop()
	spread, err := cl.seed(redisKeys(redisClients), redisValue(redisSize))
	if err != nil {
		return err
	}
	// redis-benchmark --cluster gives each connection a key of its own
	// choosing on the master it talks to (not redisBenchKey); a short SET
	// run of the tool writes them, so that its GETs find values of the
	// benchmark's size, as the Go clients' do. Should it fail, its rows say
	// why.
	if _, err := anchor.RedisBenchmarkCluster(clientCore, cl.Addrs[0], redisClients, 10*redisClients, redisSize, 1, "set"); err != nil {
		fmt.Fprintf(os.Stderr, "  redis-cluster: seeding redis-benchmark's keys: %v\n", err)
	}
	rb := &redisBench{rate: map[string]float64{}, tool: anchor.RedisBenchmarkCluster}
	for _, mode := range redisModes {
		tmpl := harness.Row{Scenario: "redis-cluster", Conns: redisClients, Pinned: true, Op: mode.op, Pipeline: mode.depth}
		rows := runClients(o, tmpl, redisClusterClientNames, func(client string) (harness.Row, time.Duration, error) {
			cpu0 := cl.CPU()
			r, own, err := redisClusterOnce(o, rb, cl.Addrs, client, mode.op, mode.depth)
			r.Op, r.Pipeline = mode.op, mode.depth
			return r, own + cl.CPU() - cpu0, err
		})
		redisClusterTable(mode.op, mode.depth, spread, rows).Print(o.Out)
	}
	return nil
}

func redisClusterTable(op string, depth int, spread []int, rows []harness.Row) harness.Table {
	how := "one command at a time (depth 1)"
	if depth > 1 {
		how = fmt.Sprintf("%d commands per batch (depth %d)", depth, depth)
	}
	t := redisTable(op, depth, rows) // the same columns and ratios
	t.Title = fmt.Sprintf("redis-cluster %s: %d-byte values, %d clients, %s; %d masters on core 0, client on core 1",
		strings.ToUpper(op), redisSize, redisClients, how, len(spread))
	t.Notes = append([]string{
		fmt.Sprintf("cluster: %d redis-server masters, no replicas, slots split evenly; the %d virtual clients' keys fall %s on them.",
			len(spread), redisClients, joinInts(spread, "/")),
		"egress: one redis.ClusterClient (one connection per master) shared by 50 virtual clients driven from DoAsync callbacks;",
		"  redis-benchmark --cluster: -c 50 -P depth, 50 connections spread over the masters, one key per master, a thread per master",
		"    (all on core 1); in this mode it sees its end only every 250 ms, so its ops/s may read low by up to 250 ms per run;",
		"  goredis: one ClusterClient, 50 goroutines, PoolSize 50 per master, Pipelined per batch;",
		"  rueidis: NewClient on the nodes (cluster mode by itself), 50 goroutines on its auto-pipelined connections, DoMulti per batch.",
		"cpu us/op: client user+sys CPU / operations; Go clients over the measurement window after warm-up,",
		"  redis-benchmark over its whole process (rusage of the child, start-up and connection set-up included).",
	}, errorNotes(rows)...)
	return t
}

func joinInts(v []int, sep string) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, sep)
}

// redisClusterOnce runs one client once and returns its row and the CPU
// time of its processes.
func redisClusterOnce(o Options, rb *redisBench, addrs []string, client, op string, depth int) (harness.Row, time.Duration, error) {
	d := shortDuration(o)
	if client == "redis-benchmark" {
		return rb.run(addrs[0], op, depth, d)
	}
	profile := o.profilePath("redis-cluster", fmt.Sprintf("%s-%s-P%d", client, op, depth), redisClients, true)
	return harness.RunChild(clientCore, "redis-cluster-"+client, redisParams{
		Params: Params{Addrs: addrs, Conns: redisClients, Size: redisSize, Duration: d, Warmup: warmup(o), Profile: profile},
		Op:     op, Depth: depth, Shared: 1,
	}, client)
}

// redisKeys are the keys of n virtual clients.
func redisKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = redisKey(i)
	}
	return keys
}

// redisCluster is a Redis Cluster of masters without replicas, each a
// redisServer child in cluster mode. Master i serves the slots of
// Slots[i]; Addrs are the masters' addresses in the same order.
type redisCluster struct {
	nodes []*redisServer
	Addrs []string
	Slots [][2]int // first and last slot of each master
}

// startRedisCluster starts n masters pinned to cpu (unless cpu < 0), gives
// each an even share of the slots, introduces them to each other and
// waits until every one of them says the cluster is ok.
func startRedisCluster(cpu, n int) (*redisCluster, error) {
	c := &redisCluster{}
	fail := func(err error) (*redisCluster, error) {
		c.Stop()
		return nil, err
	}
	buses := make([]int, n)
	for i := 0; i < n; i++ {
		// The cluster bus gets a free port of its own rather than the
		// default port+10000, which may be taken or out of range.
		bus, err := freeLoopbackPort()
		if err != nil {
			return fail(err)
		}
		s, err := startRedis(cpu, "--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(bus),
			"--cluster-config-file", "nodes.conf")
		if err != nil {
			return fail(err)
		}
		buses[i] = bus
		c.nodes = append(c.nodes, s)
		c.Addrs = append(c.Addrs, s.Addr)
		first, last := i*redisSlots/n, (i+1)*redisSlots/n-1
		c.Slots = append(c.Slots, [2]int{first, last})
		if _, err := s.call([]string{"CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(first), strconv.Itoa(last)}); err != nil {
			return fail(fmt.Errorf("redis-cluster: %s: %w", s.Addr, err))
		}
	}
	for i := 1; i < n; i++ {
		host, port, _ := net.SplitHostPort(c.Addrs[i])
		if _, err := c.nodes[0].call([]string{"CLUSTER", "MEET", host, port, strconv.Itoa(buses[i])}); err != nil {
			return fail(fmt.Errorf("redis-cluster: meet %s: %w", c.Addrs[i], err))
		}
	}
	// The nodes learn of each other and of each other's slots by gossip,
	// within a second or two; a node says ok once it knows a master for
	// every slot.
	want := []string{"cluster_state:ok", fmt.Sprintf("cluster_known_nodes:%d", n), fmt.Sprintf("cluster_size:%d", n)}
	var last string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		ok := true
		for _, s := range c.nodes {
			info, err := s.call([]string{"CLUSTER", "INFO"})
			if err != nil {
				return fail(fmt.Errorf("redis-cluster: %s: %w", s.Addr, err))
			}
			if f := strings.Fields(info[0]); !hasLines(f, want) {
				ok, last = false, s.Addr+": "+strings.Join(f[:min(len(f), 3)], " ")
				break
			}
		}
		if ok {
			return c, nil
		}
	}
	return fail(fmt.Errorf("redis-cluster: not ok within 30 s (%s)", last))
}

// hasLines says whether every line of want is one of lines.
func hasLines(lines, want []string) bool {
	for _, w := range want {
		if !slices.Contains(lines, w) {
			return false
		}
	}
	return true
}

// master returns the index of the master serving slot.
func (c *redisCluster) master(slot int) int {
	for i, r := range c.Slots {
		if slot >= r[0] && slot <= r[1] {
			return i
		}
	}
	return -1
}

// seed sets every key to value on the master serving it (the server
// hashes the keys: CLUSTER KEYSLOT) and returns how many keys each master
// got.
func (c *redisCluster) seed(keys []string, value string) ([]int, error) {
	q := make([][]string, len(keys))
	for i, k := range keys {
		q[i] = []string{"CLUSTER", "KEYSLOT", k}
	}
	slots, err := c.nodes[0].call(q...)
	if err != nil {
		return nil, err
	}
	per := make([][][]string, len(c.nodes))
	for i, s := range slots {
		slot, err := strconv.Atoi(s)
		m := c.master(slot)
		if err != nil || m < 0 {
			return nil, fmt.Errorf("redis-cluster: key %q in slot %q", keys[i], s)
		}
		per[m] = append(per[m], []string{"SET", keys[i], value})
	}
	spread := make([]int, len(c.nodes))
	for m, cmds := range per {
		if len(cmds) == 0 {
			continue
		}
		// A key sent to a master that does not serve it fails (MOVED).
		if _, err := c.nodes[m].call(cmds...); err != nil {
			return nil, fmt.Errorf("redis-cluster: seeding %s: %w", c.Addrs[m], err)
		}
		spread[m] = len(cmds)
	}
	return spread, nil
}

// CPU returns the CPU time the masters have used so far.
func (c *redisCluster) CPU() time.Duration {
	var t time.Duration
	for _, s := range c.nodes {
		t += s.CPU()
	}
	return t
}

// Stop shuts every master down.
func (c *redisCluster) Stop() {
	for _, s := range c.nodes {
		s.Stop()
	}
}

// call writes commands on a fresh connection and returns their replies:
// simple strings, integers (as text) and bulk strings; an error reply
// fails. send's counterpart for replies of more than one line.
func (s *redisServer) call(cmds ...[]string) ([]string, error) {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var b []byte
	for _, args := range cmds {
		b = appendCommand(b, args)
	}
	if _, err := c.Write(b); err != nil {
		return nil, err
	}
	r := bufio.NewReader(c)
	out := make([]string, len(cmds))
	for i := range cmds {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return nil, fmt.Errorf("redis-server: empty reply line")
		}
		switch line[0] {
		case '+', ':':
			out[i] = line[1:]
		case '$':
			n, err := strconv.Atoi(line[1:])
			if err != nil || n < 0 || n > 1<<20 {
				return nil, fmt.Errorf("redis-server: bulk reply %q", line)
			}
			body := make([]byte, n+2)
			if _, err := io.ReadFull(r, body); err != nil {
				return nil, err
			}
			out[i] = string(body[:n])
		default:
			return nil, fmt.Errorf("redis-server: %s", line)
		}
	}
	return out, nil
}
