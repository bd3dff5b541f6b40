package redis

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
	"github.com/egress-go/egress/resp"
)

// The tests of the test cluster itself: the cluster client's tests trust
// what its methods say about slots, migrations and failovers, so each is
// checked here against what the servers do.

// TestClusterHarness starts three masters with a replica each, checks the
// slot map against the servers' own redirections, moves a slot holding
// keys (checking the ASK state midway), then kills the slot's new master
// and checks that its replica took over with the keys.
func TestClusterHarness(t *testing.T) {
	testkit.CheckLeaks(t)
	start := time.Now()
	c := startCluster(t, 3, 1)
	up := time.Since(start)

	addrs := c.Addrs()
	if len(addrs) != 6 || len(tcUniq(addrs)) != 6 {
		t.Fatalf("Addrs() = %v, want 6 distinct nodes", addrs)
	}
	masters := c.Masters()
	if len(masters) != 3 {
		t.Fatalf("Masters() = %v, want 3", masters)
	}
	ids := map[string]bool{}
	for _, a := range addrs {
		id := c.NodeID(a)
		if v := c.do(a, "CLUSTER", "MYID"); string(v.Str) != id || len(id) != 40 {
			t.Fatalf("NodeID(%s) = %q, the node says %q", a, id, v.Str)
		}
		ids[id] = true
	}
	if len(ids) != 6 {
		t.Fatalf("node IDs not distinct: %v", ids)
	}

	// Every node sees every slot served by one of the three masters, each
	// master serving some.
	for _, a := range addrs {
		v, err := c.view(a)
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for s, o := range v.owners() {
			if !slices.Contains(masters, o) {
				t.Fatalf("%s sees slot %d at %q, not one of the masters %v", a, s, o, masters)
			}
			count[o]++
		}
		if len(count) != 3 {
			t.Fatalf("%s sees the slots served by %v", a, count)
		}
	}
	// Each master has one replica, which replicates it.
	for _, m := range masters {
		rs := c.ReplicasOf(m)
		if len(rs) != 1 || slices.Contains(masters, rs[0]) {
			t.Fatalf("ReplicasOf(%s) = %v, want one node that is not a master", m, rs)
		}
		role := c.do(rs[0], "ROLE").Elems
		_, port, _ := net.SplitHostPort(m)
		if len(role) < 3 || string(role[0].Str) != "slave" || string(role[1].Str) != "127.0.0.1" ||
			strconv.FormatInt(role[2].Int, 10) != port {
			t.Fatalf("ROLE of %s = %v, want a replica of %s", rs[0], role, m)
		}
	}
	// The servers route as MasterOf says: the owner serves a key, every
	// other master redirects it there with MOVED. Keys are tried until
	// each master has been the owner twice.
	hits := map[string]int{}
	for i := 0; len(hits) < 3 || tcMinCount(hits) < 2; i++ {
		if i == 500 {
			t.Fatalf("500 keys hit only %v", hits)
		}
		key := fmt.Sprintf("harness:%d", i)
		slot := c.KeySlot(key)
		owner := c.MasterOf(slot)
		hits[owner]++
		for _, m := range masters {
			v := tcGet(t, m, key)
			if m == owner {
				if !v.IsNull() {
					t.Fatalf("GET %s at its owner %s = %v, want null", key, m, v.String())
				}
			} else if want := fmt.Sprintf("MOVED %d %s", slot, owner); tcErrText(v) != want {
				t.Fatalf("GET %s (slot %d) at %s = %v, want %s", key, slot, m, v.String(), want)
			}
		}
	}

	// Migration: a slot with 35 keys, moved 10 at a time.
	const tag, nkeys = "{harness-mig}", 35
	slot := c.KeySlot(tag)
	src := c.MasterOf(slot)
	dst := masters[(slices.Index(masters, src)+1)%3]
	for i := range nkeys {
		c.do(src, "SET", tag+strconv.Itoa(i), "v"+strconv.Itoa(i))
	}
	migStart := time.Now()
	midway := false
	c.MigrateSlot(slot, dst, func() {
		midway = true
		left := c.do(src, "CLUSTER", "COUNTKEYSINSLOT", strconv.Itoa(slot)).Int
		if left != nkeys-tcMigrateBatch {
			t.Fatalf("midway: %d keys left at the source, want %d", left, nkeys-tcMigrateBatch)
		}
		moved := c.do(dst, "CLUSTER", "GETKEYSINSLOT", strconv.Itoa(slot), "1").Elems
		if len(moved) != 1 {
			t.Fatalf("midway: the target holds %d keys of the slot", len(moved))
		}
		key := string(moved[0].Str)
		if got, want := tcErrText(tcGet(t, src, key)), fmt.Sprintf("ASK %d %s", slot, dst); got != want {
			t.Fatalf("midway: GET %s at the source answers %q, want %q", key, got, want)
		}
		// Without ASKING the target, not yet the owner, sends it back.
		if got, want := tcErrText(tcGet(t, dst, key)), fmt.Sprintf("MOVED %d %s", slot, src); got != want {
			t.Fatalf("midway: GET %s at the target answers %q, want %q", key, got, want)
		}
		vs, err := tcPipeline(dst, tcAdminTimeout, []string{"ASKING"}, []string{"GET", key})
		if err != nil {
			t.Fatal(err)
		}
		if want := "v" + key[len(tag):]; string(vs[1].Str) != want {
			t.Fatalf("midway: ASKING, GET %s at the target = %v, want %q", key, vs[1].String(), want)
		}
		stay := string(c.do(src, "CLUSTER", "GETKEYSINSLOT", strconv.Itoa(slot), "1").Elems[0].Str)
		if v := tcGet(t, src, stay); string(v.Str) != "v"+stay[len(tag):] {
			t.Fatalf("midway: GET %s, not moved yet, at the source = %v", stay, v.String())
		}
	})
	if !midway {
		t.Fatal("MigrateSlot did not call midway")
	}
	t.Logf("slot %d (%d keys) moved in %v", slot, nkeys, time.Since(migStart).Round(time.Millisecond))
	if got := c.MasterOf(slot); got != dst {
		t.Fatalf("after MigrateSlot, MasterOf(%d) = %s, want %s", slot, got, dst)
	}
	for i := range nkeys {
		key := tag + strconv.Itoa(i)
		if v := tcGet(t, dst, key); string(v.Str) != "v"+strconv.Itoa(i) {
			t.Fatalf("GET %s at the new owner = %v", key, v.String())
		}
		if got, want := tcErrText(tcGet(t, src, key)), fmt.Sprintf("MOVED %d %s", slot, dst); got != want {
			t.Fatalf("GET %s at the old owner = %q, want %q", key, got, want)
		}
	}

	// Failover: the slot's new master dies once its replica has every key.
	victim := dst
	replica := c.ReplicasOf(victim)
	if len(replica) != 1 {
		t.Fatalf("ReplicasOf(%s) = %v", victim, replica)
	}
	// Not WAIT: on a fresh connection it answers at once (see
	// WaitReplicated), and the keys went to victim by MIGRATE anyway.
	c.WaitReplicated(victim, 10*time.Second)
	failStart := time.Now()
	c.Kill(victim)
	if conn, err := net.DialTimeout("tcp", victim, time.Second); err == nil {
		conn.Close()
		t.Fatalf("%s still accepts connections after Kill", victim)
	}
	promoted := c.WaitFailover(victim, 15*time.Second)
	failover := time.Since(failStart)
	if promoted != replica[0] {
		t.Fatalf("WaitFailover = %s, want the replica %s", promoted, replica[0])
	}
	if got := c.MasterOf(slot); got != promoted {
		t.Fatalf("MasterOf(%d) = %s after the failover, want %s", slot, got, promoted)
	}
	if role := c.do(promoted, "ROLE").Elems[0].Str; string(role) != "master" {
		t.Fatalf("ROLE of the promoted replica = %s", role)
	}
	for i := range nkeys {
		key := tag + strconv.Itoa(i)
		if v := tcGet(t, promoted, key); string(v.Str) != "v"+strconv.Itoa(i) {
			t.Fatalf("GET %s at the promoted replica = %v", key, v.String())
		}
	}
	if ms := c.Masters(); len(ms) != 3 || !slices.Contains(ms, promoted) || slices.Contains(ms, victim) {
		t.Fatalf("Masters() after the failover = %v", ms)
	}

	// Pause: a paused node accepts connections but answers nothing, and
	// answers again after Resume.
	other := c.ReplicasOf(src)
	if len(other) != 1 {
		t.Fatalf("ReplicasOf(%s) = %v", src, other)
	}
	c.Pause(other[0])
	_, err := tcCommand(other[0], 300*time.Millisecond, "PING")
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("PING to a paused node: %v, want a timeout", err)
	}
	c.Resume(other[0])
	if v, err := tcCommand(other[0], 5*time.Second, "PING"); err != nil || string(v.Str) != "PONG" {
		t.Fatalf("PING after Resume: %v %v", v.String(), err)
	}
	t.Logf("cluster up in %v, failover in %v, whole test %v",
		up.Round(time.Millisecond), failover.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// TestClusterHarnessParseNodes checks the reading of CLUSTER NODES on the forms
// a live cluster shows only briefly: open slots, failed and hostname
// nodes.
func TestClusterHarnessParseNodes(t *testing.T) {
	text := "" +
		"aaa 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-99 101 [100->-bbb] [200-<-ccc]\n" +
		"bbb 127.0.0.1:7002@17002,host2 master,fail - 0 0 2 disconnected\n" +
		"ccc 127.0.0.1:7003@17003 slave aaa 0 0 1 connected\n" +
		"ddd 127.0.0.1:7004@17004 slave,fail? aaa 0 0 1 connected\n"
	v, err := tcParseNodes(text)
	if err != nil {
		t.Fatal(err)
	}
	self := v.self()
	if self.addr != "127.0.0.1:7001" || !self.master || self.migrating[100] != "bbb" || self.importing[200] != "ccc" {
		t.Fatalf("self = %+v", *self)
	}
	if o := v.owner(101); o == nil || o.id != "aaa" {
		t.Fatalf("owner(101) = %v", o)
	}
	if o := v.owner(100); o != nil {
		t.Fatalf("owner(100), a migrating slot not in a range, = %v", o)
	}
	if b := v.byAddr("127.0.0.1:7002"); b == nil || !b.failed() || b.connected {
		t.Fatalf("bbb = %+v", b)
	}
	if rs := v.replicasOf("aaa", nil); !slices.Equal(rs, []string{"127.0.0.1:7003"}) {
		t.Fatalf("replicasOf(aaa) = %v (a suspected replica is left out)", rs)
	}
	if _, err := tcParseNodes("aaa 127.0.0.1:7001@17001 master - 0 0 1 connected 9-16384\n"); err == nil {
		t.Fatal("a slot past 16383 was accepted")
	}
}

func tcGet(t *testing.T, addr, key string) resp.Value {
	t.Helper()
	v, err := tcCommand(addr, tcAdminTimeout, "GET", key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// tcErrText returns the text of an error reply, "" for any other.
func tcErrText(v resp.Value) string {
	var e *resp.Error
	if errors.As(v.Err(), &e) {
		return e.Msg
	}
	return ""
}

func tcUniq(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

func tcMinCount(m map[string]int) int {
	low := -1
	for _, n := range m {
		if low < 0 || n < low {
			low = n
		}
	}
	return low
}
