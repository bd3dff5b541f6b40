package redis

import (
	"bufio"
	"context"
	"errors"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/internal/testkit"
	"github.com/egress-go/egress/resp"
)

// Regression tests for the findings of the cluster client's review: each
// reproduces one bug against a real cluster (or fake nodes) and fails on
// the code before its fix.

// rgOtherSlotSameNode returns a key of another slot than key's, served by
// the same master.
func rgOtherSlotSameNode(t *testing.T, tc *testCluster, key string) string {
	t.Helper()
	owners := tc.anyView().owners()
	for i := 0; i < 100_000; i++ {
		k := "{rg" + strconv.Itoa(i) + "}b"
		if hashSlot(k) != hashSlot(key) && owners[hashSlot(k)] == owners[hashSlot(key)] {
			return k
		}
	}
	t.Fatalf("no key of another slot on the master of %s", key)
	return ""
}

// rgKillPubSubs cuts every pub/sub connection of the node at addr.
func rgKillPubSubs(t *testing.T, addr string) int64 {
	t.Helper()
	v, err := tcCommand(addr, tcAdminTimeout, "CLIENT", "KILL", "TYPE", "pubsub")
	if err == nil {
		err = v.Err()
	}
	if err != nil {
		t.Fatalf("CLIENT KILL TYPE pubsub at %s: %v", addr, err)
	}
	return v.Int
}

// rgWaitNotices receives until a "reconnected" notice has come for each
// of chs, failing on any other message or after 10 s.
func rgWaitNotices(t *testing.T, ps receiver, chs ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	want := map[string]bool{}
	for _, ch := range chs {
		want[ch] = true
	}
	for len(want) > 0 {
		m, err := ps.Receive(ctx)
		if err != nil {
			t.Fatalf("waiting for the notices of the gap on %v: %v", chs, err)
		}
		if m.Kind != "reconnected" {
			t.Fatalf("before the notices of the gap: %+v", m)
		}
		delete(want, m.Channel)
	}
}

// rgACLUser creates, on every node (ACLs are per node), a user that may
// use the shard channels "ok*" only.
func rgACLUser(t *testing.T, tc *testCluster) Options {
	t.Helper()
	for _, a := range tc.Addrs() {
		tc.do(a, "ACL", "SETUSER", "rgsub", "on", ">rgpw", "~*", "resetchannels", "&ok*", "+@all")
	}
	return Options{Username: "rgsub", Password: "rgpw"}
}

// rgShardsCalls sums the CLUSTER SHARDS calls the nodes at addrs served.
func rgShardsCalls(t *testing.T, addrs []string) int {
	t.Helper()
	total := 0
	for _, a := range addrs {
		v, err := tcCommand(a, tcAdminTimeout, "INFO", "commandstats")
		if err != nil {
			t.Fatalf("INFO commandstats at %s: %v", a, err)
		}
		for _, line := range strings.Split(string(v.Str), "\n") {
			if rest, ok := strings.CutPrefix(line, "cmdstat_cluster|shards:calls="); ok {
				n, err := strconv.Atoi(rest[:max(strings.IndexByte(rest, ','), 0)])
				if err != nil {
					t.Fatalf("INFO commandstats at %s: %q", a, line)
				}
				total += n
			}
		}
	}
	return total
}

// rgSPublish publishes on ch and returns how many subscribers got it, as
// the node serving ch counts them.
func rgSPublish(t *testing.T, tc *testCluster, ch, msg string) int64 {
	t.Helper()
	return tc.do(tc.MasterOf(hashSlot(ch)), "SPUBLISH", ch, msg).Int
}

// TestClusterPubSubRestoresEachSlot: a node's subscription connection that
// carries shard channels of two slots is cut; the channels are subscribed
// again with one SSUBSCRIBE per slot (one naming both is refused with
// CROSSSLOT, which ended the subscription and lost both channels). And a
// node's subscription that ends all the same is replaced by the
// ClusterPubSub.
func TestClusterPubSubRestoresEachSlot(t *testing.T) {
	testkit.CheckLeaks(t)
	tc := startCluster(t, 3, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a := "{rgx}a"
	b := rgOtherSlotSameNode(t, tc, a)
	node := tc.MasterOf(hashSlot(a))

	t.Run("NodePubSub", func(t *testing.T) {
		// The PubSub of one node, as ClusterPubSub uses it.
		cc := newClusterClient(t, tc, ClusterOptions{})
		ps, err := cc.NodeClient(a).NewPubSub(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ps.Close()
		for _, ch := range []string{a, b} {
			if err := ps.SSubscribe(ctx, ch); err != nil {
				t.Fatal(err)
			}
		}
		if rgKillPubSubs(t, node) == 0 {
			t.Fatal("CLIENT KILL found no pub/sub connection to cut")
		}
		if m := receive(t, ps); m.Kind != "reconnected" {
			t.Fatalf("after the connection was cut: %+v, want the notice of the gap", m)
		}
		for _, ch := range []string{a, b} {
			publish(t, cc, ch, "after "+ch)
			if m := receive(t, ps); m.Kind != "smessage" || m.Channel != ch || m.Payload != "after "+ch {
				t.Fatalf("got %+v, want the smessage on %s", m, ch)
			}
		}
	})

	t.Run("ClusterPubSub", func(t *testing.T) {
		cc := newClusterClient(t, tc, ClusterOptions{})
		ps, err := cc.SSubscribe(ctx, a, b)
		if err != nil {
			t.Fatal(err)
		}
		defer ps.Close()
		expectMessage(t, cc, ps, a, "1")
		expectMessage(t, cc, ps, b, "2")
		if rgKillPubSubs(t, node) == 0 {
			t.Fatal("CLIENT KILL found no pub/sub connection to cut")
		}
		rgWaitNotices(t, ps, a, b)
		expectMessage(t, cc, ps, a, "3")
		expectMessage(t, cc, ps, b, "4")
	})

	t.Run("EndedSubscriptionReplaced", func(t *testing.T) {
		// The node refuses the resubscription (the user lost the channel
		// meanwhile): the node's PubSub ends. Once the channel is allowed
		// again, the ClusterPubSub subscribes it anew.
		cc := newClusterClient(t, tc, ClusterOptions{Node: rgACLUser(t, tc)})
		ch := "ok{rgx}"
		at := tc.MasterOf(hashSlot(ch))
		tc.do(at, "ACL", "LOG", "RESET")
		ps, err := cc.SSubscribe(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		defer ps.Close()
		expectMessage(t, cc, ps, ch, "1")
		tc.do(at, "ACL", "SETUSER", "rgsub", "resetchannels")
		rgKillPubSubs(t, at) // Redis 7 has usually done it already
		// The resubscription has been refused once the ACL log has it.
		faultWait(t, "the refused resubscription in the ACL log", 10*time.Second, func() bool {
			return len(tc.do(at, "ACL", "LOG").Elems) > 0
		})
		tc.do(at, "ACL", "SETUSER", "rgsub", "&ok*")
		rgWaitNotices(t, ps, ch)
		expectMessage(t, cc, ps, ch, "2")
	})
}

// TestClusterTxAfterFailover: a transaction sent while its slot's master
// is dead and its replica has taken over is retried, after a map read,
// within its deadline, where it failed until the periodic map read.
func TestClusterTxAfterFailover(t *testing.T) {
	testkit.CheckLeaks(t)
	tc := startCluster(t, 3, 1)
	// Only the client's own requests read the map again.
	cc := newClusterClient(t, tc, ClusterOptions{Addrs: tc.Addrs(), RefreshInterval: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	key := "{rgtx}n"
	victim := tc.MasterOf(hashSlot(key))
	// Written and acknowledged by the replica (WAIT on the writing
	// connection), so that the promoted replica has it.
	vs, err := tcPipeline(victim, tcAdminTimeout, []string{"SET", key, "1"}, []string{"WAIT", "1", "5000"})
	if err != nil {
		t.Fatalf("SET and WAIT at %s: %v", victim, err)
	}
	if vs[1].Int != 1 {
		t.Fatalf("WAIT at %s = %v: the replica has not acknowledged the write", victim, vs[1].String())
	}
	if got, err := cc.Get(ctx, key); err != nil || got != "1" {
		t.Fatalf("GET %s = %q, %v", key, got, err)
	}
	tc.Kill(victim)
	promoted := tc.WaitFailover(victim, 20*time.Second)
	if cc.NodeFor(key) != victim {
		t.Fatal("the client learned of the failover by itself: the test proves nothing")
	}
	tctx, tcancel := context.WithTimeout(ctx, 10*time.Second)
	defer tcancel()
	tx := cc.TxPipeline()
	tx.Do("INCR", key)
	tx.Do("GET", key)
	rs, err := tx.Exec(tctx)
	if err != nil {
		t.Fatalf("transaction after the failover: %v", err)
	}
	// Run once: not on the dead master and again.
	if n, _ := rs[0].Int(); n != 2 {
		t.Fatalf("INCR in the transaction = %v, want 2", rs[0].String())
	}
	if s, _ := rs[1].Text(); s != "2" {
		t.Fatalf("GET in the transaction = %v, want 2", rs[1].String())
	}
	if got := cc.NodeFor(key); got != promoted {
		t.Fatalf("the client routes %s to %s, the promoted replica is %s", key, got, promoted)
	}
}

// TestClusterTxFollowsAsk: a transaction on a key already moved by a
// migration under way is answered ASK by the source, and EXEC aborts; it
// is sent again, after ASKING, to the node named, where it failed with
// EXECABORT.
func TestClusterTxFollowsAsk(t *testing.T) {
	testkit.CheckLeaks(t)
	tc := startCluster(t, 3, 0)
	cc := newClusterClient(t, tc, ClusterOptions{RefreshInterval: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// More keys than one batch of MigrateSlot: midway, some have moved
	// (the source answers ASK for them) and some not.
	keys := make([]string, 3*tcMigrateBatch)
	for i := range keys {
		keys[i] = "{rgask}" + strconv.Itoa(i)
		if err := cc.Set(ctx, keys[i], "0", 0); err != nil {
			t.Fatal(err)
		}
	}
	slot := hashSlot(keys[0])
	from := tc.MasterOf(slot)
	to := otherMaster(tc, from)
	var asked, why string
	var rs []Reply
	var txErr error
	tc.MigrateSlot(slot, to, func() {
		for _, k := range keys {
			v, err := tcCommand(from, tcAdminTimeout, "GET", k)
			if err != nil {
				why = err.Error()
				return
			}
			var re *resp.Error
			if errors.As(v.Err(), &re) && re.Prefix() == "ASK" {
				asked = k
				break
			}
		}
		if asked == "" {
			why = "no key answered ASK at the source midway"
			return
		}
		if cc.NodeFor(asked) != from {
			why = "the client's map has moved the slot already: the test proves nothing"
			return
		}
		tx := cc.TxPipeline()
		tx.Do("INCR", asked)
		tx.Do("INCR", asked)
		tx.Do("GET", asked)
		rs, txErr = tx.Exec(ctx)
	})
	if why != "" {
		t.Fatal(why)
	}
	if txErr != nil {
		t.Fatalf("transaction on %s, moved by the migration under way: %v", asked, txErr)
	}
	if s, _ := rs[2].Text(); s != "2" {
		t.Fatalf("GET in the transaction = %v, want 2", rs[2].String())
	}
	if got := directGet(t, tc, asked); got != "2" {
		t.Fatalf("%s at its master after the migration = %q, want 2", asked, got)
	}
}

// TestClusterRetiredNodeRetried: a command queued on a node (waiting for
// its connection) that the map then drops, closing its client, is sent to
// the slot's owner, where it failed with a bare ErrClosed.
func TestClusterRetiredNodeRetried(t *testing.T) {
	testkit.CheckLeaks(t)
	tc := startCluster(t, 3, 0)
	// A node that takes connections and never answers the handshake:
	// commands queue on its client.
	silent := testkit.NewServer(t, nil)
	// The node's handshake times out after DialTimeout, and its client's
	// Close waits for that: shorter than the default 5 s, and still far
	// longer than the few milliseconds the node is retired in.
	cc := newClusterClient(t, tc, ClusterOptions{RefreshInterval: time.Hour, Node: Options{DialTimeout: 2 * time.Second}})
	key := "rgretired:k"
	slot := hashSlot(key)
	type result struct {
		v   string
		err error
	}
	res := make(chan result, 1)
	cb := func(v *resp.Value, err error) {
		r := result{err: err}
		if v != nil {
			r.v = v.String()
		}
		res <- r
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	queued := false
	for try := 0; try < 5 && !queued; try++ {
		// As a MOVED to a node that has since left would.
		cc.noteMoved(slot, silent.Addr())
		if err := cc.DoAsync(ctx, cb, "SET", key, "v"); err != nil {
			t.Fatal(err)
		}
		// Only a map read gives the slot back to its owner: if the
		// client still routes it to the silent node, the SET is queued
		// there.
		if queued = cc.NodeFor(key) == silent.Addr(); !queued {
			if r := <-res; r.err != nil {
				t.Fatalf("SET at the slot's owner: %v", r.err)
			}
		}
	}
	if !queued {
		t.Fatal("a map read gave the slot back each time before the SET was queued")
	}
	// Two map reads that do not name the node retire it.
	for i := 0; i < 2; i++ {
		if err := cc.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	r := <-res // by ctx's end at the latest
	if r.err != nil {
		t.Fatalf("SET queued on a node the map dropped: %v (%T)", r.err, r.err)
	}
	if got := directGet(t, tc, key); got != "v" {
		t.Fatalf("%s at its master = %q", key, got)
	}
}

// TestClusterSSubscribeRefused: a subscription the node refuses for good
// (an ACL) fails at once with the node's answer, where it was retried,
// with a map read each time, until the caller's context ended.
func TestClusterSSubscribeRefused(t *testing.T) {
	testkit.CheckLeaks(t)
	tc := startCluster(t, 3, 0)
	cc := newClusterClient(t, tc, ClusterOptions{Node: rgACLUser(t, tc)})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ps, err := cc.SSubscribe(ctx, "ok1")
	if err != nil {
		t.Fatalf("an allowed channel: %v", err)
	}
	defer ps.Close()
	check := func(what string, f func(ctx context.Context) error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := f(ctx)
		if ctx.Err() != nil {
			t.Errorf("%s returned only when its context ended: %v", what, err)
		}
		var re *resp.Error
		if !errors.As(err, &re) || re.Prefix() != "NOPERM" {
			t.Errorf("%s = %v, want the node's NOPERM", what, err)
		}
	}
	check("ClusterClient.SSubscribe(forbidden)", func(ctx context.Context) error {
		_, err := cc.SSubscribe(ctx, "forbidden")
		return err
	})
	check("ClusterPubSub.SSubscribe(forbidden)", func(ctx context.Context) error {
		return ps.SSubscribe(ctx, "forbidden")
	})
	expectMessage(t, cc, ps, "ok1", "still")
}

// TestClusterPubSubNoRefreshStorm: ClusterPubSubs whose node is dead (and
// not replaced) ask for map reads, which are merged: at most one per
// minRefreshGap, where each ClusterPubSub read the map itself every 200 ms.
func TestClusterPubSubNoRefreshStorm(t *testing.T) {
	testkit.CheckLeaks(t)
	tc := startCluster(t, 3, 0)
	cc := newClusterClient(t, tc, ClusterOptions{Addrs: tc.Addrs()})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ch := "{rgstorm}c"
	victim := tc.MasterOf(hashSlot(ch))
	const subs = 20
	for i := 0; i < subs; i++ {
		ps, err := cc.SSubscribe(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		defer ps.Close()
	}
	var live []string
	for _, a := range tc.Addrs() {
		if a != victim {
			live = append(live, a)
		}
	}
	start := rgShardsCalls(t, live)
	tc.Kill(victim)
	faultWait(t, "a map read after the kill", 10*time.Second, func() bool { return rgShardsCalls(t, live) > start })
	// A rate, measured over a window.
	const window = 2 * time.Second
	before := rgShardsCalls(t, live)
	time.Sleep(window)
	n := rgShardsCalls(t, live) - before
	limit := int(2 * window / minRefreshGap)
	t.Logf("%d CLUSTER SHARDS in %v with %d ClusterPubSubs on a dead master (merged reads allow %d)",
		n, window, subs, int(window/minRefreshGap))
	if n > limit {
		t.Fatalf("%d map reads in %v, more than %d: the ClusterPubSubs' requests are not merged", n, window, limit)
	}
}

// TestClusterFailedSSubscribeNotPlaced: channels a ClusterPubSub.SSubscribe
// failed to subscribe are not subscribed later by the fixer behind the
// caller's back.
func TestClusterFailedSSubscribeNotPlaced(t *testing.T) {
	testkit.CheckLeaks(t)
	tc := startCluster(t, 3, 0)
	cc := newClusterClient(t, tc, ClusterOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ps, err := cc.SSubscribe(ctx, "{rga}ch")
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	// One on the node already subscribed to, one on another node.
	same := "{rga}other"
	other := ""
	for i := 0; other == "" && i < 100_000; i++ {
		if k := "{rgb" + strconv.Itoa(i) + "}x"; cc.NodeFor(k) != cc.NodeFor(same) {
			other = k
		}
	}
	ended, end := context.WithCancel(context.Background())
	end()
	for _, ch := range []string{same, other} {
		if err := ps.SSubscribe(ended, ch); err == nil {
			t.Fatalf("SSubscribe(%s) with an ended context succeeded", ch)
		}
	}
	// One pass of the fixer, run here rather than waited for: it places
	// the channels the ClusterPubSub wants and has not placed.
	ps.fix()
	for _, ch := range []string{same, other} {
		if n := rgSPublish(t, tc, ch, "x"); n != 0 {
			t.Errorf("after SSubscribe(%s) failed, %d subscribers have it", ch, n)
		}
	}
	// The count is the node's: the channel subscribed has its subscriber.
	if n := rgSPublish(t, tc, "{rga}ch", "y"); n != 1 {
		t.Fatalf("SPUBLISH on the subscribed channel reached %d subscribers, want 1", n)
	}
	if m := receive(t, ps); m.Kind != "smessage" || m.Channel != "{rga}ch" || m.Payload != "y" {
		t.Fatalf("got %+v, want smessage y on {rga}ch and nothing before", m)
	}
}

// TestClusterRefreshHonoursContext: Refresh returns when its context ends
// while another map read runs, where it waited for that read to finish.
func TestClusterRefreshHonoursContext(t *testing.T) {
	testkit.CheckLeaks(t)
	// Seeds that take CLUSTER SHARDS and never answer: a map read asks
	// each for up to a second (attemptTimeout).
	asked := make(chan struct{}, 1)
	var seeds []string
	for i := 0; i < 5; i++ {
		s := testkit.NewServer(t, func(c net.Conn) {
			r := bufio.NewReader(c)
			for {
				args, err := readCommand(r)
				if err != nil {
					return
				}
				if len(args) > 0 && strings.EqualFold(args[0], "CLUSTER") {
					select {
					case asked <- struct{}{}:
					default:
					}
				}
			}
		})
		seeds = append(seeds, s.Addr())
	}
	// RESP2 without a password or name: no handshake to wait for.
	cc, err := NewClusterClient(ClusterOptions{Addrs: seeds, Node: Options{Protocol: 2}})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	select {
	case <-asked: // the client's own map read is under way, for seconds
	case <-time.After(10 * time.Second):
		t.Fatal("no map read reached a seed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = cc.Refresh(ctx)
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Refresh with a 250 ms context while another read runs = %v, want its deadline", err)
	}
	if took > 2*time.Second {
		t.Errorf("Refresh with a 250 ms context returned after %v", took)
	}
}

// TestClusterCloseWhileRetriesFire closes clients while their commands'
// retry timers fire on the home loop. A timer that has fired cannot be
// stopped, so Close and the retry both reach the command: Close fails it
// (and recycles it) unless the retry took it first. The retry used to
// read the command's fields before it knew which, a data race with the
// recycling that -race reports here (and without -race a nil client to
// lock, or a command reused meanwhile). To make the moment wide, the
// test holds the client's lock from when Close has taken the commands
// until it has failed them, as other users of the lock (commands, map
// reads) can: a retry that fires then waits in the lock while Close fails
// its command. Each command ends exactly once, with ErrClosed or a
// *ClusterError.
func TestClusterCloseWhileRetriesFire(t *testing.T) {
	testkit.CheckLeaks(t)
	// A seed that refuses connections: every command fails to be
	// delivered and waits for a retry.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	const rounds, pending = 10, 200
	for round := range rounds {
		cc, err := NewClusterClient(ClusterOptions{Addrs: []string{dead}, MaxRetryTime: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		var closing atomic.Bool
		var ended atomic.Int32
		results := make(chan error, pending)
		for i := range pending {
			err := cc.DoAsync(context.Background(), func(_ *resp.Value, err error) {
				if closing.Load() {
					// Close fails one command after the other: a little
					// time for each lets the loop fire timers meanwhile.
					for t0 := time.Now(); time.Since(t0) < 20*time.Microsecond; {
					}
				}
				ended.Add(1)
				results <- err
			}, "GET", "rc:"+strconv.Itoa(i))
			if err != nil {
				t.Fatalf("round %d: DoAsync: %v", round, err)
			}
		}
		// Close in the middle of the commands' fifth retries (a
		// command's timer changes at each retry): back-offs double at
		// each try, so retries come in waves, the fifth spread over some
		// 150 ms, and Close at its middle runs while retries fire.
		last := map[retrier]*engine.Timer{}
		retried := -pending // the first timer of each is no retry
		deadline := time.Now().Add(10 * time.Second)
		for retried < 4*pending+pending/2 {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: %d retries of %d commands in 10 s", round, retried, pending)
			}
			time.Sleep(time.Millisecond) // polling the retry set
			cc.mu.Lock()
			for r, tm := range cc.retrying {
				if last[r] != tm {
					last[r] = tm
					retried++
				}
			}
			cc.mu.Unlock()
		}
		held := make(chan struct{})
		go func() {
			defer close(held)
			for end := time.Now().Add(10 * time.Second); time.Now().Before(end); runtime.Gosched() {
				cc.mu.Lock()
				taken := cc.closed && cc.retrying == nil
				if taken {
					// Close has taken the commands: hold the lock while it
					// fails them (bounded: some may end another way).
					until := time.Now().Add(100 * time.Millisecond)
					for ended.Load() < pending && time.Now().Before(until) {
						runtime.Gosched()
					}
				}
				cc.mu.Unlock()
				if taken {
					return
				}
			}
		}()
		closing.Store(true)
		cc.Close()
		<-held
		timeout := time.After(5 * time.Second)
		for i := range pending {
			select {
			case err := <-results:
				var ce *ClusterError
				if !errors.Is(err, ErrClosed) && !errors.As(err, &ce) {
					t.Fatalf("round %d: a command pending at Close ended with %v", round, err)
				}
			case <-timeout:
				t.Fatalf("round %d: %d of %d commands pending at Close still pending 5 s after it", round, pending-i, pending)
			}
		}
		select {
		case err := <-results:
			t.Fatalf("round %d: a command ended twice, the second time with %v", round, err)
		default:
		}
	}
}
