package redis

import (
	"bufio"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

// fakeClusterNode is a cluster node on loopback, speaking RESP2: it
// answers CLUSTER SHARDS with the map set by setShards (an empty one
// until then, as a node that is not part of a cluster yet does) and GET
// with the reply get; anything else with +OK.
type fakeClusterNode struct {
	srv    *testkit.Server
	shards atomic.Pointer[string]
}

func newFakeClusterNode(t *testing.T, get string) *fakeClusterNode {
	f := &fakeClusterNode{}
	f.srv = testkit.NewServer(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		for {
			args, err := readCommand(r)
			if err != nil {
				return
			}
			switch strings.ToUpper(args[0]) {
			case "CLUSTER":
				if m := f.shards.Load(); m != nil {
					c.Write([]byte(*m))
				} else {
					c.Write([]byte("*0\r\n"))
				}
			case "GET":
				c.Write([]byte(get))
			default:
				c.Write([]byte("+OK\r\n"))
			}
		}
	})
	return f
}

func (f *fakeClusterNode) addr() string { return f.srv.Addr() }

func (f *fakeClusterNode) setShards(shards ...fakeShard) {
	m := shardsReply(shards...)
	f.shards.Store(&m)
}

// fakeShard is one shard of a fake CLUSTER SHARDS reply.
type fakeShard struct {
	lo, hi   int
	master   string
	replicas []string
}

// shardsReply encodes CLUSTER SHARDS as a RESP2 server sends it.
func shardsReply(shards ...fakeShard) string {
	bulk := func(s string) string { return "$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n" }
	node := func(addr, role string) string {
		host, port, _ := net.SplitHostPort(addr)
		return "*8\r\n" + bulk("port") + ":" + port + "\r\n" + bulk("ip") + bulk(host) +
			bulk("role") + bulk(role) + bulk("health") + bulk("online")
	}
	out := "*" + strconv.Itoa(len(shards)) + "\r\n"
	for _, s := range shards {
		out += "*4\r\n" + bulk("slots") + "*2\r\n:" + strconv.Itoa(s.lo) + "\r\n:" + strconv.Itoa(s.hi) + "\r\n" +
			bulk("nodes") + "*" + strconv.Itoa(1+len(s.replicas)) + "\r\n" + node(s.master, "master")
		for _, r := range s.replicas {
			out += node(r, "replica")
		}
	}
	return out
}

// closedAddrs returns n distinct loopback addresses where nothing listens.
func closedAddrs(t *testing.T, n int) []string {
	seen := map[string]bool{}
	var out []string
	for i := 0; len(out) < n; i++ {
		if i > 100*n {
			t.Fatalf("no %d distinct closed addresses", n)
		}
		if a := testkit.ClosedAddr(t); !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// heldNodes returns how many nodes cc holds a client for.
func heldNodes(cc *ClusterClient) int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return len(cc.nodes)
}

// TestClusterMapOverMaxNodes: a slot map that names more nodes than
// ClusterOptions.MaxNodes (masters, or replicas read from) is refused with
// ErrTooManyNodes, no client is made for its nodes and the map in use
// stays; a map of exactly MaxNodes is taken, and replicas that are not
// read from do not count.
func TestClusterMapOverMaxNodes(t *testing.T) {
	testkit.CheckLeaks(t)
	seed := newFakeClusterNode(t, "$1\r\nv\r\n")
	s := seed.addr()
	other := closedAddrs(t, 5)
	// Masters: the seed, which serves key, and n of the others, each with a
	// slot of its own.
	key := "a"
	masters := func(n int) []fakeShard {
		shards := []fakeShard{{0, 16379, s, nil}}
		for i := range n {
			shards = append(shards, fakeShard{16380 + i, 16380 + i, other[i], nil})
		}
		return shards
	}
	withReplicas := func(n int) []fakeShard { return []fakeShard{{0, 16383, s, other[:n]}} }

	for _, tc := range []struct {
		name     string
		replicas bool // ReadFromReplicas
		fits     []fakeShard
		over     []fakeShard
		held     int // nodes held with fits
	}{
		{"masters", false, masters(3), masters(4), 4},
		{"replicas read from", true, withReplicas(3), withReplicas(4), 4},
		{"replicas not read from", false, withReplicas(1), withReplicas(5), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc, err := NewClusterClient(ClusterOptions{Addrs: []string{s}, Node: Options{Protocol: 2}, MaxNodes: 4, ReadFromReplicas: tc.replicas})
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			ctx := ctxT(t)
			seed.setShards(tc.fits...)
			if err := cc.Refresh(ctx); err != nil {
				t.Fatalf("map of %d nodes, MaxNodes 4: %v", tc.held, err)
			}
			if n := heldNodes(cc); n != tc.held {
				t.Fatalf("%d nodes held after a map of %d", n, tc.held)
			}
			lastMaster := tc.fits[len(tc.fits)-1].master
			seed.setShards(tc.over...)
			err = cc.Refresh(ctx)
			if tc.name == "replicas not read from" {
				if err != nil {
					t.Fatalf("map of 1 master and replicas not read from: %v", err)
				}
				if n := heldNodes(cc); n != 1 {
					t.Fatalf("%d nodes held for a map of 1 master", n)
				}
				return
			}
			if !errors.Is(err, ErrTooManyNodes) {
				t.Fatalf("map of 5 nodes, MaxNodes 4: %v, want ErrTooManyNodes", err)
			}
			if n := heldNodes(cc); n != tc.held {
				t.Fatalf("%d nodes held after a refused map, want %d", n, tc.held)
			}
			// The map in use is kept: slots are where it put them.
			if got := cc.NodeFor(key); got != s {
				t.Fatalf("%q on %s after a refused map, want %s", key, got, s)
			}
			if got := cc.slots[tc.fits[len(tc.fits)-1].lo].Load(); got == nil || got.master.addr != lastMaster {
				t.Fatalf("slot %d no longer on %s after a refused map", tc.fits[len(tc.fits)-1].lo, lastMaster)
			}
			if v, err := cc.Get(ctx, key); err != nil || v != "v" {
				t.Fatalf("GET after a refused map: %q, %v", v, err)
			}
		})
	}
}

// TestClusterRedirectBeyondMaxNodes: a MOVED reply naming a new node when
// the client already holds ClusterOptions.MaxNodes fails its command with a
// *ClusterError wrapping ErrTooManyNodes and makes no client for it,
// whether the nodes held are those of the map or were themselves named by
// redirections before any map read succeeded (a chain of nodes each
// sending the command on to a new one). The node beyond would answer.
func TestClusterRedirectBeyondMaxNodes(t *testing.T) {
	testkit.CheckLeaks(t)
	key := "a" // slot 15495
	moved := func(to string) string { return "-MOVED " + strconv.Itoa(hashSlot(key)) + " " + to + "\r\n" }
	beyond := newFakeClusterNode(t, "$1\r\nv\r\n")

	check := func(t *testing.T, cc *ClusterClient) {
		t.Helper()
		_, err := cc.Get(ctxT(t), key)
		var ce *ClusterError
		if !errors.As(err, &ce) || ce.Kind != "moved" || ce.Node != beyond.addr() || !errors.Is(err, ErrTooManyNodes) {
			t.Fatalf("GET redirected to a fifth node, MaxNodes 4: %v, want a *ClusterError (moved) wrapping ErrTooManyNodes", err)
		}
		if n := heldNodes(cc); n != 4 {
			t.Fatalf("%d nodes held, MaxNodes 4", n)
		}
		if got := cc.NodeFor(key); got == beyond.addr() {
			t.Fatalf("slot of %q moved to %s, which the client holds no client for", key, got)
		}
		if beyond.srv.Accepted() != 0 {
			t.Fatalf("the node beyond MaxNodes was connected to")
		}
	}

	t.Run("map at MaxNodes", func(t *testing.T) {
		seed := newFakeClusterNode(t, moved(beyond.addr()))
		s := seed.addr()
		other := closedAddrs(t, 3)
		seed.setShards(fakeShard{0, 16380, s, nil}, fakeShard{16381, 16381, other[0], nil},
			fakeShard{16382, 16382, other[1], nil}, fakeShard{16383, 16383, other[2], nil})
		cc, err := NewClusterClient(ClusterOptions{Addrs: []string{s}, Node: Options{Protocol: 2}, MaxNodes: 4})
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		if err := cc.Refresh(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		check(t, cc)
	})
	t.Run("chain of redirections without a map", func(t *testing.T) {
		// seed -> hop[2] -> hop[1] -> hop[0] -> beyond; every node
		// answers CLUSTER SHARDS with an empty map, so no map read drops
		// a node meanwhile.
		next := beyond.addr()
		var hops []*fakeClusterNode
		for range 3 {
			h := newFakeClusterNode(t, moved(next))
			hops = append(hops, h)
			next = h.addr()
		}
		seed := newFakeClusterNode(t, moved(next))
		cc, err := NewClusterClient(ClusterOptions{Addrs: []string{seed.addr()}, Node: Options{Protocol: 2}, MaxNodes: 4})
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		check(t, cc)
		for i, h := range hops {
			if h.srv.Accepted() == 0 {
				t.Fatalf("hop %d was not followed", i)
			}
		}
	})
}

// TestClusterSeedsOverMaxNodes: more seeds than MaxNodes is an invalid
// configuration, refused at once.
func TestClusterSeedsOverMaxNodes(t *testing.T) {
	testkit.CheckLeaks(t)
	_, err := NewClusterClient(ClusterOptions{Addrs: []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:1"}, MaxNodes: 1})
	if !errors.Is(err, ErrTooManyNodes) {
		t.Fatalf("2 seeds, MaxNodes 1: %v", err)
	}
	cc, err := NewClusterClient(ClusterOptions{Addrs: []string{"127.0.0.1:1", "127.0.0.1:1"}, MaxNodes: 1})
	if err != nil {
		t.Fatalf("1 seed given twice, MaxNodes 1: %v", err)
	}
	cc.Close()
}

// TestClusterMapReplacedWithinMaxNodes: a map whose nodes are all new
// (a cluster replaced wholesale) is taken when it fits MaxNodes on its
// own, and the nodes of the map before, which would otherwise be kept
// until a second read leaves them out, are let go at once to make room.
func TestClusterMapReplacedWithinMaxNodes(t *testing.T) {
	testkit.CheckLeaks(t)
	seed := newFakeClusterNode(t, "$1\r\nv\r\n")
	s := seed.addr()
	cc, err := NewClusterClient(ClusterOptions{Addrs: []string{s}, Node: Options{Protocol: 2}, MaxNodes: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx := ctxT(t)
	other := closedAddrs(t, 9)
	for round := range 3 {
		shards := []fakeShard{{0, 16380, s, nil}}
		for i := range 3 {
			shards = append(shards, fakeShard{16381 + i, 16381 + i, other[3*round+i], nil})
		}
		seed.setShards(shards...)
		if err := cc.Refresh(ctx); err != nil {
			t.Fatalf("round %d: map of 4 new nodes, MaxNodes 4: %v", round, err)
		}
		if n := heldNodes(cc); n != 4 {
			t.Fatalf("round %d: %d nodes held, MaxNodes 4", round, n)
		}
		for _, sh := range shards {
			if got := cc.slots[sh.lo].Load(); got == nil || got.master.addr != sh.master {
				t.Fatalf("round %d: slot %d not on %s", round, sh.lo, sh.master)
			}
		}
	}
	if v, err := cc.Get(ctx, "a"); err != nil || v != "v" {
		t.Fatalf("GET: %q, %v", v, err)
	}
}
