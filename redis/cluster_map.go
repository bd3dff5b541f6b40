package redis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/egress-go/egress/resp"
)

// shardInfo is one shard as a node described it: its slot ranges, its
// master's address and its replicas' (those online).
type shardInfo struct {
	ranges   [][2]int
	master   string
	replicas []string
}

// errEmptyMap is a map read that named no master with slots: a node that
// is not (yet) part of a cluster says that.
var errEmptyMap = errors.New("redis: cluster map has no master with slots")

// requestRefresh asks for the map to be read again. Requests made while a
// read is under way, or within minRefreshGap of the last, are merged.
func (c *ClusterClient) requestRefresh() {
	begun := c.readsBegun.Load()
	for {
		want := c.wantAfter.Load()
		if want >= begun || c.wantAfter.CompareAndSwap(want, begun) {
			break
		}
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Refresh reads the slot map now and waits for it.
func (c *ClusterClient) Refresh(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	return c.load(ctx, readAnew)
}

// readAnew asks load for a read of its own, whatever reads came before.
const readAnew = math.MaxUint64

// refresher is the client's one background goroutine: it reads the map
// when asked and every RefreshInterval, and no more often than
// minRefreshGap.
func (c *ClusterClient) refresher() {
	defer close(c.done)
	t := time.NewTicker(c.opts.RefreshInterval)
	defer t.Stop()
	fails := 0
	for {
		after := uint64(readAnew) // a tick wants a new read
		select {
		case <-c.ctx.Done():
			return
		case <-c.kick:
			after = c.wantAfter.Load()
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(c.ctx, 2*c.opts.Node.DialTimeout)
		err := c.load(ctx, after)
		cancel()
		gap := minRefreshGap
		if err != nil {
			fails++
			gap = max(gap, clusterBackoff(fails))
			c.mu.Lock()
			loaded := c.loaded
			c.mu.Unlock()
			if !loaded {
				c.requestRefresh() // nothing else will until a command fails
			}
		} else {
			fails = 0
		}
		wait := time.NewTimer(gap)
		select {
		case <-c.ctx.Done():
			wait.Stop()
			return
		case <-wait.C:
		}
	}
}

// attemptTimeout bounds asking one node for the map, so that a node that
// stopped answering does not hold the read up.
func (c *ClusterClient) attemptTimeout() time.Duration {
	return min(c.opts.Node.DialTimeout, time.Second)
}

// load reads the map from the first node that gives one (the masters of
// the current map in random order, then the seeds, then the rest) and
// installs it. A read numbered above after that succeeded meanwhile is
// taken as this one (see readsBegun).
func (c *ClusterClient) load(ctx context.Context, after uint64) error {
	select {
	case c.loading <- struct{}{}: // one read at a time
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.loading }()
	if c.lastGood > after {
		return nil
	}
	seq := c.readsBegun.Add(1)
	var firstErr error
	for _, n := range c.candidates() {
		actx, cancel := context.WithTimeout(ctx, c.attemptTimeout())
		shards, err := c.readMap(actx, n)
		cancel()
		if err == nil {
			err = c.apply(shards)
		}
		if err == nil {
			c.lastGood = seq
			return nil
		}
		// The first error, unless a node's map was refused for its size:
		// that says more than a node that could not be asked.
		if firstErr == nil || errors.Is(err, ErrTooManyNodes) && !errors.Is(firstErr, ErrTooManyNodes) {
			firstErr = err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if firstErr == nil {
		firstErr = ErrClosed
	}
	return firstErr
}

// candidates lists the nodes to ask for the map, best first.
func (c *ClusterClient) candidates() []*clusterNode {
	var out []*clusterNode
	seen := map[*clusterNode]bool{}
	add := func(n *clusterNode) {
		if n != nil && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	if m := c.masters.Load(); m != nil {
		ms := append([]*clusterNode(nil), *m...)
		rand.Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
		for _, n := range ms {
			add(n)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	for _, a := range c.opts.Addrs {
		add(c.nodes[a])
	}
	for _, n := range c.nodes {
		add(n)
	}
	return out
}

// readMap asks n for the map: CLUSTER SHARDS, or CLUSTER SLOTS from a
// server older than 7.0.
func (c *ClusterClient) readMap(ctx context.Context, n *clusterNode) ([]shardInfo, error) {
	host, _, _ := net.SplitHostPort(n.addr)
	r, err := n.cl.Do(ctx, "CLUSTER", "SHARDS")
	if err == nil {
		return parseShards(r.Value(), host, c.opts.Node.TLS != nil)
	}
	var re *resp.Error
	if !errors.As(err, &re) || !strings.Contains(strings.ToLower(re.Msg), "unknown subcommand") {
		return nil, err
	}
	if r, err = n.cl.Do(ctx, "CLUSTER", "SLOTS"); err != nil {
		return nil, err
	}
	return parseSlots(r.Value(), host)
}

// apply installs a map: every slot points at its shard, the nodes named
// get clients, and the nodes that two reads in a row did not name (and
// that are not seeds) are closed, as are, when the map needs their room
// under MaxNodes, those that this read did not name. A map that names
// more than MaxNodes nodes with the seeds is refused.
func (c *ClusterClient) apply(list []shardInfo) error {
	if c.mapTooLarge(list) {
		return fmt.Errorf("redis: cluster slot map refused: %w (%d, seeds included)", ErrTooManyNodes, c.opts.MaxNodes)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	table := make([]*shard, numSlots)
	byAddr := map[string]*shard{}
	used := map[string]bool{}
	var masters []*clusterNode
	for _, si := range list {
		if si.master == "" || len(si.ranges) == 0 || byAddr[si.master] != nil {
			continue
		}
		m, err := c.nodeLocked(si.master)
		if err != nil {
			c.mu.Unlock()
			return err
		}
		sh := &shard{master: m}
		used[si.master] = true
		if c.opts.ReadFromReplicas {
			for _, a := range si.replicas {
				r, err := c.nodeLocked(a)
				if err != nil {
					c.mu.Unlock()
					return err
				}
				sh.replicas = append(sh.replicas, r)
				used[a] = true
			}
		}
		byAddr[si.master] = sh
		masters = append(masters, m)
		for _, rg := range si.ranges {
			for s := rg[0]; s <= rg[1]; s++ {
				table[s] = sh
			}
		}
	}
	if len(masters) == 0 {
		c.mu.Unlock()
		return errEmptyMap
	}
	for s, sh := range table {
		c.slots[s].Store(sh)
	}
	c.byAddr = byAddr
	c.masters.Store(&masters)
	c.loaded = true
	var stale []*clusterNode
	for addr, n := range c.nodes {
		if used[addr] || n.seed {
			n.absent = 0
			continue
		}
		if n.absent++; n.absent >= 2 {
			delete(c.nodes, addr)
			stale = append(stale, n)
		}
	}
	// Nodes that redirections added, or that left the map with this read,
	// make room for the map's: what it names and the seeds fit.
	for addr, n := range c.nodes {
		if len(c.nodes) <= c.opts.MaxNodes {
			break
		}
		if !used[addr] && !n.seed {
			delete(c.nodes, addr)
			stale = append(stale, n)
		}
	}
	if len(stale) > 0 {
		// Closed apart: Close waits for a connection still in its
		// handshake, which would hold up this map read (and every
		// Refresh behind it) for up to DialTimeout.
		c.retiring.Add(1)
		go func() {
			defer c.retiring.Done()
			for _, n := range stale {
				n.cl.Close()
			}
		}()
	}
	c.mu.Unlock()
	return nil
}

// mapTooLarge reports whether installing list would need clients for more
// than MaxNodes nodes: the masters apply uses, their replicas with
// ReadFromReplicas, and the seeds, which are always held. It stops
// counting there, so a map naming millions costs no more than that.
func (c *ClusterClient) mapTooLarge(list []shardInfo) bool {
	seen := make(map[string]bool, len(c.opts.Addrs))
	add := func(addr string) bool {
		seen[addr] = true
		return len(seen) > c.opts.MaxNodes
	}
	for _, a := range c.opts.Addrs {
		add(a)
	}
	masters := map[string]bool{}
	for _, si := range list {
		if si.master == "" || len(si.ranges) == 0 || masters[si.master] {
			continue // as apply skips it
		}
		masters[si.master] = true
		if add(si.master) {
			return true
		}
		if !c.opts.ReadFromReplicas {
			continue
		}
		for _, a := range si.replicas {
			if add(a) {
				return true
			}
		}
	}
	return false
}

// pairs calls f for each key and value of a RESP3 map, or of the flat
// array that RESP2 makes of one.
func pairs(v *resp.Value, f func(k string, v *resp.Value)) bool {
	if v.Type != resp.Map && v.Type != resp.Array {
		return false
	}
	for i := 0; i+1 < len(v.Elems); i += 2 {
		f(string(v.Elems[i].Str), &v.Elems[i+1])
	}
	return true
}

// parseShards reads CLUSTER SHARDS. host is the address of the node that
// answered, for nodes that do not know their own.
func parseShards(v *resp.Value, host string, useTLS bool) ([]shardInfo, error) {
	if v.Type != resp.Array {
		return nil, &TypeError{Want: "CLUSTER SHARDS array", Got: v.Type.String()}
	}
	var out []shardInfo
	for i := range v.Elems {
		var si shardInfo
		var bad error
		ok := pairs(&v.Elems[i], func(k string, x *resp.Value) {
			switch k {
			case "slots":
				for j := 0; j+1 < len(x.Elems); j += 2 {
					lo, hi := int(x.Elems[j].Int), int(x.Elems[j+1].Int)
					if lo < 0 || hi >= numSlots || lo > hi {
						bad = errors.New("redis: CLUSTER SHARDS: bad slot range")
						return
					}
					si.ranges = append(si.ranges, [2]int{lo, hi})
				}
			case "nodes":
				failed := ""
				for j := range x.Elems {
					addr, role, health := shardNode(&x.Elems[j], host, useTLS)
					switch {
					case addr == "":
					case role == "master" && health == "online":
						si.master = addr
					case role == "master":
						failed = addr
					case health == "online":
						si.replicas = append(si.replicas, addr)
					}
				}
				if si.master == "" {
					si.master = failed
				}
			}
		})
		if !ok {
			return nil, &TypeError{Want: "CLUSTER SHARDS map", Got: v.Elems[i].Type.String()}
		}
		if bad != nil {
			return nil, bad
		}
		out = append(out, si)
	}
	return out, nil
}

// shardNode reads one node of CLUSTER SHARDS: its address (the endpoint it
// announces, else its IP, else host; the TLS port under TLS), its role and
// its health.
func shardNode(v *resp.Value, host string, useTLS bool) (addr, role, health string) {
	var ip, endpoint string
	var port, tlsPort int64
	pairs(v, func(k string, x *resp.Value) {
		switch k {
		case "ip":
			ip = string(x.Str)
		case "endpoint":
			endpoint = string(x.Str)
		case "port":
			port = x.Int
		case "tls-port":
			tlsPort = x.Int
		case "role":
			role = string(x.Str)
		case "health":
			health = string(x.Str)
		}
	})
	h := endpoint
	if h == "" || h == "?" {
		h = ip
	}
	if h == "" || h == "?" {
		h = host
	}
	p := port
	if useTLS && tlsPort != 0 {
		p = tlsPort
	}
	if p <= 0 {
		return "", role, health
	}
	return net.JoinHostPort(h, strconv.FormatInt(p, 10)), role, health
}

// parseSlots reads CLUSTER SLOTS: [start, end, master, replicas...], each
// node as [host, port, id, ...].
func parseSlots(v *resp.Value, host string) ([]shardInfo, error) {
	if v.Type != resp.Array {
		return nil, &TypeError{Want: "CLUSTER SLOTS array", Got: v.Type.String()}
	}
	byMaster := map[string]int{}
	var out []shardInfo
	for i := range v.Elems {
		e := &v.Elems[i]
		if len(e.Elems) < 3 {
			return nil, errors.New("redis: CLUSTER SLOTS: short entry")
		}
		lo, hi := int(e.Elems[0].Int), int(e.Elems[1].Int)
		if lo < 0 || hi >= numSlots || lo > hi {
			return nil, errors.New("redis: CLUSTER SLOTS: bad slot range")
		}
		var nodes []string
		for j := 2; j < len(e.Elems); j++ {
			n := &e.Elems[j]
			if len(n.Elems) < 2 {
				continue
			}
			h := string(n.Elems[0].Str)
			if h == "?" {
				continue
			}
			if h == "" {
				h = host
			}
			nodes = append(nodes, net.JoinHostPort(h, strconv.FormatInt(n.Elems[1].Int, 10)))
		}
		if len(nodes) == 0 {
			continue
		}
		k, ok := byMaster[nodes[0]]
		if !ok {
			k = len(out)
			byMaster[nodes[0]] = k
			out = append(out, shardInfo{master: nodes[0], replicas: nodes[1:]})
		}
		out[k].ranges = append(out[k].ranges, [2]int{lo, hi})
	}
	return out, nil
}
