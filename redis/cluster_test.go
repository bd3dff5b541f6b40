package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
	"github.com/egress-go/egress/resp"
)

// newClusterClient connects to tc through one seed and waits for the map.
func newClusterClient(t *testing.T, tc *testCluster, o ClusterOptions) *ClusterClient {
	t.Helper()
	if o.Addrs == nil {
		o.Addrs = tc.Masters()[:1]
	}
	cc, err := NewClusterClient(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cc.Refresh(ctx); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	return cc
}

// directGet reads key from the node that serves it, bypassing the client.
func directGet(t *testing.T, tc *testCluster, key string) string {
	t.Helper()
	v, err := tcCommand(tc.MasterOf(hashSlot(key)), 5*time.Second, "GET", key)
	if err != nil {
		t.Fatalf("GET %s at its master: %v", key, err)
	}
	return string(v.Str)
}

func TestCluster(t *testing.T) {
	testkit.CheckLeaks(t)
	tc := startCluster(t, 3, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	t.Run("RefreshMerged", func(t *testing.T) {
		// A refresh asked for once read n had begun is met by a later
		// read that succeeded: the constructor's request, answered by
		// newClusterClient's Refresh, reads nothing more, and a client
		// does not learn of a change by a late read of its own (Moved
		// below relies on that).
		cc := newClusterClient(t, tc, ClusterOptions{RefreshInterval: time.Hour})
		n := cc.readsBegun.Load()
		if err := cc.load(ctx, n-1); err != nil {
			t.Fatal(err)
		}
		if got := cc.readsBegun.Load(); got != n {
			t.Fatalf("a request met by read %d read the map again (%d reads begun)", n, got)
		}
		if err := cc.load(ctx, n); err != nil {
			t.Fatal(err)
		}
		if got := cc.readsBegun.Load(); got != n+1 {
			t.Fatalf("a request made once read %d had begun read nothing: %d reads begun", n, got)
		}
	})

	t.Run("Routing", func(t *testing.T) {
		cc := newClusterClient(t, tc, ClusterOptions{})
		for i := 0; i < 300; i++ {
			k := fmt.Sprintf("route:%d", i)
			if got, want := cc.NodeFor(k), tc.MasterOf(hashSlot(k)); got != want {
				t.Fatalf("NodeFor(%s) = %s, the cluster has it at %s", k, got, want)
			}
			if err := cc.Set(ctx, k, "v"+k, 0); err != nil {
				t.Fatalf("SET %s: %v", k, err)
			}
			if got := directGet(t, tc, k); got != "v"+k {
				t.Fatalf("%s at its master = %q", k, got)
			}
			if got, err := cc.Get(ctx, k); err != nil || got != "v"+k {
				t.Fatalf("GET %s = %q, %v", k, got, err)
			}
		}
		// Keyless commands go to a master.
		if r, err := cc.Do(ctx, "PING"); err != nil {
			t.Fatalf("PING: %v", err)
		} else if s, _ := r.Text(); s != "PONG" {
			t.Fatalf("PING = %v", r.String())
		}
		if _, err := cc.Do(ctx, "SELECT", "1"); !errors.Is(err, ErrStateful) {
			t.Fatalf("SELECT = %v, want ErrStateful", err)
		}
	})

	t.Run("SeedsOnly", func(t *testing.T) {
		// Before the map is read, commands go to a seed and follow MOVED.
		cc, err := NewClusterClient(ClusterOptions{Addrs: tc.Masters()[:1], RefreshInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		for i := 0; i < 50; i++ {
			k := fmt.Sprintf("seed:%d", i)
			if err := cc.Set(ctx, k, k, 0); err != nil {
				t.Fatalf("SET %s: %v", k, err)
			}
			if got := directGet(t, tc, k); got != k {
				t.Fatalf("%s at its master = %q", k, got)
			}
		}
	})

	t.Run("CrossSlot", func(t *testing.T) {
		cc := newClusterClient(t, tc, ClusterOptions{})
		a, b := "xs:a", "xs:b"
		if hashSlot(a) == hashSlot(b) {
			t.Fatal("test keys share a slot")
		}
		_, err := cc.Do(ctx, "MSET", a, "1", b, "2")
		var cse *CrossSlotError
		if !errors.Is(err, ErrCrossSlot) || !errors.As(err, &cse) {
			t.Fatalf("MSET across slots = %v, want a *CrossSlotError", err)
		}
		if v, _ := tcCommand(tc.MasterOf(hashSlot(a)), 5*time.Second, "EXISTS", a); v.Int != 0 {
			t.Fatal("MSET across slots ran")
		}
		// One hash tag, one slot.
		if _, err := cc.Do(ctx, "MSET", "{xs}a", "1", "{xs}b", "2"); err != nil {
			t.Fatalf("MSET with a hash tag: %v", err)
		}
		vs, err := cc.Do(ctx, "MGET", "{xs}a", "{xs}b")
		if err != nil {
			t.Fatal(err)
		}
		if ss, _ := vs.Strings(); strings.Join(ss, ",") != "1,2" {
			t.Fatalf("MGET = %v", ss)
		}
	})

	t.Run("Pipeline", func(t *testing.T) {
		cc := newClusterClient(t, tc, ClusterOptions{})
		p := cc.Pipeline()
		const n = 200
		for i := 0; i < n; i++ {
			p.Do("SET", "pipe:"+strconv.Itoa(i), strconv.Itoa(i))
			p.Do("INCR", "pipe:"+strconv.Itoa(i))
		}
		rs, err := p.Exec(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 2*n {
			t.Fatalf("%d replies, want %d", len(rs), 2*n)
		}
		nodes := map[string]bool{}
		for i := 0; i < n; i++ {
			if s, _ := rs[2*i].Text(); s != "OK" {
				t.Fatalf("reply %d = %v", 2*i, rs[2*i].String())
			}
			if v, err := rs[2*i+1].Int(); err != nil || v != int64(i+1) {
				t.Fatalf("INCR pipe:%d = %d, %v: replies out of order", i, v, err)
			}
			nodes[cc.NodeFor("pipe:"+strconv.Itoa(i))] = true
		}
		if len(nodes) != 3 {
			t.Fatalf("the pipeline's keys span %d nodes, want 3", len(nodes))
		}
		p.Do("MGET", "pipe:1", "pipe:2")
		if _, err := p.Exec(ctx); !errors.Is(err, ErrCrossSlot) {
			t.Fatalf("pipeline with a cross-slot MGET = %v", err)
		}
		p.Do("SET", "pipe:1", "x")
		p.Do("WAIT", "1", "10")
		if _, err := p.Exec(ctx); !errors.Is(err, errClusterWait) {
			t.Fatalf("cluster pipeline with WAIT = %v, want errClusterWait", err)
		}
	})

	t.Run("Tx", func(t *testing.T) {
		cc := newClusterClient(t, tc, ClusterOptions{})
		tx := cc.TxPipeline()
		tx.Do("SET", "{tx}a", "1")
		tx.Do("INCRBY", "{tx}a", "41")
		tx.Do("GET", "{tx}a")
		rs, err := tx.Exec(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s, _ := rs[2].Text(); s != "42" {
			t.Fatalf("GET in the transaction = %v", rs[2].String())
		}
		tx.Do("SET", "tx:a", "1")
		tx.Do("SET", "tx:b", "1")
		if _, err := tx.Exec(ctx); !errors.Is(err, ErrCrossSlot) {
			t.Fatalf("transaction across slots = %v", err)
		}
	})

	t.Run("Moved", func(t *testing.T) {
		cc := newClusterClient(t, tc, ClusterOptions{RefreshInterval: time.Hour})
		key := "{moved}k"
		slot := hashSlot(key)
		if err := cc.Set(ctx, key, "before", 0); err != nil {
			t.Fatal(err)
		}
		from := tc.MasterOf(slot)
		to := otherMaster(tc, from)
		tc.MigrateSlot(slot, to, nil)
		if cc.NodeFor(key) != from {
			t.Fatal("the client learned of the move by itself: the test proves nothing")
		}
		if got, err := cc.Get(ctx, key); err != nil || got != "before" {
			t.Fatalf("GET after the move = %q, %v", got, err)
		}
		if cc.NodeFor(key) != to {
			t.Fatalf("after MOVED the client routes %s to %s, the slot is at %s", key, cc.NodeFor(key), to)
		}
		// A transaction on the stale map is aborted with MOVED and sent
		// again to the new owner.
		tc.MigrateSlot(slot, from, nil)
		tx := cc.TxPipeline()
		tx.Do("INCR", "{moved}n")
		tx.Do("INCR", "{moved}n")
		rs, err := tx.Exec(ctx)
		if err != nil {
			t.Fatalf("transaction after the slot moved: %v", err)
		}
		if n, _ := rs[1].Int(); n != 2 {
			t.Fatalf("INCR twice = %d", n)
		}
	})

	t.Run("Ask", func(t *testing.T) {
		cc := newClusterClient(t, tc, ClusterOptions{RefreshInterval: time.Hour})
		slot := hashSlot("{ask}")
		keys := make([]string, 20)
		for i := range keys {
			keys[i] = fmt.Sprintf("{ask}%d", i)
			if err := cc.Set(ctx, keys[i], keys[i], 0); err != nil {
				t.Fatal(err)
			}
		}
		from := tc.MasterOf(slot)
		to := otherMaster(tc, from)
		asked := false
		tc.MigrateSlot(slot, to, func() {
			// Some keys are at the target, the rest at the source, and
			// the source answers ASK for the moved ones.
			for _, k := range keys {
				if got, err := cc.Get(ctx, k); err != nil || got != k {
					t.Errorf("GET %s during the migration = %q, %v", k, got, err)
				}
			}
			for _, k := range keys {
				v, _ := tcCommand(from, 5*time.Second, "GET", k)
				asked = asked || (v.Type == resp.SimpleError && strings.HasPrefix(string(v.Str), "ASK "))
			}
			// A new key in the migrating slot is created at the target.
			if err := cc.Set(ctx, "{ask}new", "n", 0); err != nil {
				t.Errorf("SET during the migration: %v", err)
			}
		})
		if !asked {
			t.Fatal("the source did not answer ASK during the migration: the test proves nothing")
		}
		if v, _ := tcCommand(to, 5*time.Second, "GET", "{ask}new"); string(v.Str) != "n" {
			t.Fatalf("{ask}new at the new owner = %v", v.String())
		}
	})

	t.Run("ReadFromReplicas", func(t *testing.T) {
		cc := newClusterClient(t, tc, ClusterOptions{ReadFromReplicas: true})
		key := "replica:k"
		if err := cc.Set(ctx, key, "r", 0); err != nil {
			t.Fatal(err)
		}
		master := tc.MasterOf(hashSlot(key))
		if r, err := cc.NodeClient(key).Do(ctx, "WAIT", "1", "2000"); err != nil {
			t.Fatal(err)
		} else if n, _ := r.Int(); n != 1 {
			t.Fatalf("WAIT: %d replicas have the write", n)
		}
		if _, err := cc.Do(ctx, "WAIT", "1", "10"); !errors.Is(err, errClusterWait) {
			t.Fatalf("WAIT through the cluster = %v, want errClusterWait", err)
		}
		reps := tc.ReplicasOf(master)
		for _, r := range reps {
			tcCommand(r, 5*time.Second, "CONFIG", "RESETSTAT")
		}
		deadline := time.Now().Add(10 * time.Second)
		for i := 0; ; i++ {
			if got, err := cc.Get(ctx, key); err != nil || got != "r" {
				t.Fatalf("GET from a replica = %q, %v", got, err)
			}
			if i%20 == 19 && replicaGets(reps) > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no GET reached a replica")
			}
		}
		// Writes still go to the master.
		if err := cc.Set(ctx, key, "w", 0); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("SSubscribe", func(t *testing.T) {
		cc := newClusterClient(t, tc, ClusterOptions{RefreshInterval: time.Hour})
		chA, chB := "{ssub}a", "other-shard"
		if hashSlot(chA) == hashSlot(chB) {
			t.Fatal("test channels share a slot")
		}
		ps, err := cc.SSubscribe(ctx, chA, chB)
		if err != nil {
			t.Fatal(err)
		}
		defer ps.Close()
		expectMessage(t, cc, ps, chA, "one")
		expectMessage(t, cc, ps, chB, "two")
		// The slot moves: the server drops the subscription, and the
		// client subscribes again at the new owner.
		slot := hashSlot(chA)
		tc.MigrateSlot(slot, otherMaster(tc, tc.MasterOf(slot)), nil)
		m := receive(t, ps)
		if m.Kind != "reconnected" || m.Channel != chA {
			t.Fatalf("after the slot moved: %+v, want a reconnected notice for %s", m, chA)
		}
		expectMessage(t, cc, ps, chA, "three")
		expectMessage(t, cc, ps, chB, "four")
		if err := ps.SUnsubscribe(ctx, chB); err != nil {
			t.Fatal(err)
		}
		publish(t, cc, chB, "lost")
		expectMessage(t, cc, ps, chA, "five") // and nothing for chB before it
	})

	t.Run("URL", func(t *testing.T) {
		m := tc.Masters()
		o, err := ParseClusterURL("redis://" + m[0] + "?addr=" + m[1] + "&addr=" + m[2] + "&client_name=c1")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(o.Addrs, ",") != strings.Join(m, ",") || o.Node.ClientName != "c1" {
			t.Fatalf("ParseClusterURL = %+v", o)
		}
		if _, err := ParseClusterURL("redis://" + m[0] + "/2"); err == nil {
			t.Fatal("a database in a cluster URL was accepted")
		}
	})
}

func otherMaster(tc *testCluster, not string) string {
	for _, m := range tc.Masters() {
		if m != not {
			return m
		}
	}
	return ""
}

// replicaGets sums the GET calls the replicas served.
func replicaGets(reps []string) int {
	n := 0
	for _, r := range reps {
		v, err := tcCommand(r, 5*time.Second, "INFO", "commandstats")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(v.Str), "\n") {
			if rest, ok := strings.CutPrefix(line, "cmdstat_get:calls="); ok {
				if i := strings.IndexByte(rest, ','); i > 0 {
					c, _ := strconv.Atoi(rest[:i])
					n += c
				}
			}
		}
	}
	return n
}

func publish(t *testing.T, cc *ClusterClient, ch, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cc.Do(ctx, "SPUBLISH", ch, msg); err != nil {
		t.Fatalf("SPUBLISH %s: %v", ch, err)
	}
}

// expectMessage publishes msg on ch and checks it is the next message.
func expectMessage(t *testing.T, cc *ClusterClient, ps *ClusterPubSub, ch, msg string) {
	t.Helper()
	publish(t, cc, ch, msg)
	if m := receive(t, ps); m.Kind != "smessage" || m.Channel != ch || m.Payload != msg {
		t.Fatalf("got %+v, want smessage %q on %s", m, msg, ch)
	}
}

// TestClusterSSubscribeFailover: a shard channel follows its slot to the
// replica promoted when its master dies.
func TestClusterSSubscribeFailover(t *testing.T) {
	testkit.CheckLeaks(t)
	tc := startCluster(t, 3, 1)
	cc := newClusterClient(t, tc, ClusterOptions{Addrs: tc.Addrs()})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ch := "{fail}news"
	ps, err := cc.SSubscribe(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	expectMessage(t, cc, ps, ch, "before")
	dead := tc.MasterOf(hashSlot(ch))
	tc.Kill(dead)
	promoted := tc.WaitFailover(dead, 20*time.Second)
	for {
		m := receive(t, ps)
		if m.Kind == "reconnected" && m.Channel == ch {
			break
		}
		if m.Kind != "reconnected" {
			t.Fatalf("before the notice of the gap: %+v", m)
		}
	}
	if got := cc.NodeFor(ch); got != promoted {
		t.Fatalf("client routes %s to %s, promoted replica is %s", ch, got, promoted)
	}
	expectMessage(t, cc, ps, ch, "after")
}

// TestClusterAllocs: routing by slot costs nothing per command beyond
// what the single-server client allocates (the result of a blocking call).
func TestClusterAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts need the race detector off")
	}
	testkit.CheckLeaks(t)
	tc := startCluster(t, 3, 0)
	cc := newClusterClient(t, tc, ClusterOptions{})
	ctx := context.Background()
	k, val := "alloc:{k}", "0123456789abcdef"
	if err := cc.Set(ctx, k, val, 0); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}, 1)
	cb := Callback(func(v *resp.Value, err error) { done <- struct{}{} })
	asyncGet := testkit.AllocsPerOp(20, testkit.AllocBatch, func() {
		cc.DoAsync(ctx, cb, "GET", k)
		<-done
	})
	get := testkit.AllocsPerOp(20, testkit.AllocBatch, func() { cc.Get(ctx, k) })
	set := testkit.AllocsPerOp(20, testkit.AllocBatch, func() { cc.Set(ctx, k, val, 0) })
	t.Logf("allocs per command: DoAsync GET %.4f, Get %.4f, Set %.4f", asyncGet, get, set)
	if asyncGet != 0 || set != 0 || get > 1 {
		t.Errorf("cluster routing allocates: DoAsync GET %.4f (want 0), Set %.4f (want 0), Get %.4f (want 1, its string)", asyncGet, set, get)
	}
}
