package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
	"github.com/egress-go/egress/resp"
)

// The cluster client under faults, against a real cluster: slots moved
// under a load of checked SET/GET, a master killed, a master that stops
// answering, and Close while commands wait for a retry.

// faultOpTimeout is the deadline of each command of a load: long enough
// to outlast a failover (about 2-4 s with a node timeout of 1 s), so that a
// command that fails does so because the client gave up, not its caller.
const faultOpTimeout = 10 * time.Second

// faultHard bounds every load loop, whatever the test waits for.
const faultHard = 60 * time.Second

// faultLog collects what the goroutines of a load find wrong, keeping the
// first few messages so that a broken client reports some rather than
// thousands.
type faultLog struct {
	mu   sync.Mutex
	n    int
	msgs []string
}

func (l *faultLog) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	if len(l.msgs) < 10 {
		l.msgs = append(l.msgs, fmt.Sprintf(format, args...))
	}
}

func (l *faultLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

func (l *faultLog) report(t *testing.T, where string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n > 0 {
		t.Errorf("%d failures %s; the first:\n%s", l.n, where, strings.Join(l.msgs, "\n"))
	}
}

// faultWait polls cond until it holds, failing the test after timeout.
func faultWait(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond) // polling for the event, not waiting for luck
	}
}

// faultLoad runs the goroutines of a load and stops them: at the end of
// the test at the latest, before the client is closed (cleanups run last
// registered first).
type faultLoad struct {
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

func newFaultLoad(t *testing.T) *faultLoad {
	l := &faultLoad{stop: make(chan struct{})}
	t.Cleanup(l.end)
	return l
}

func (l *faultLoad) goLoop(f func()) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		f()
	}()
}

// running reports whether the load should go on: not stopped, and before
// hard.
func (l *faultLoad) running(hard time.Time) bool {
	select {
	case <-l.stop:
		return false
	default:
		return time.Now().Before(hard)
	}
}

func (l *faultLoad) end() {
	l.once.Do(func() { close(l.stop) })
	l.wg.Wait()
}

// keysOn returns n keys prefix0, prefix1, ... whose slots master serves
// in owners (a slot-to-master table of the cluster).
func keysOn(t *testing.T, owners []string, master, prefix string, n int) []string {
	t.Helper()
	var out []string
	for i := 0; len(out) < n && i < 1_000_000; i++ {
		if k := prefix + strconv.Itoa(i); owners[hashSlot(k)] == master {
			out = append(out, k)
		}
	}
	if len(out) < n {
		t.Fatalf("found %d keys on %s, want %d", len(out), master, n)
	}
	return out
}

// faultValue is the n-th value a load writes to key: naming the key lets a
// read tell a misrouted value from a stale one.
func faultValue(key string, n int) string { return key + "#" + strconv.Itoa(n) }

// faultCounter returns n of a faultValue of key.
func faultCounter(key, v string) (int, bool) {
	k, ns, ok := strings.Cut(v, "#")
	if !ok || k != key {
		return 0, false
	}
	n, err := strconv.Atoi(ns)
	return n, err == nil
}

// TestClusterReshardUnderLoad moves four slots from one master to another
// while eight goroutines SET and GET keys, many of them in those slots, and
// check every value: no command may fail (a MOVED or ASK reaching the
// caller is a failure), every GET returns what its goroutine last wrote, and
// at the end every key reads back through the client and at its new owner.
func TestClusterReshardUnderLoad(t *testing.T) {
	testkit.CheckLeaks(t)
	tc := startCluster(t, 3, 0)
	cc := newClusterClient(t, tc, ClusterOptions{})
	owners := tc.anyView().owners()
	masters := tc.Masters()
	src, dst := masters[0], masters[1]

	// Four of src's slots, each named by a hash tag.
	const nMove = 4
	var tags []string
	var moving []int
	for i := 0; len(tags) < nMove && i < 100_000; i++ {
		tag := "{mv" + strconv.Itoa(i) + "}"
		if s := hashSlot(tag); owners[s] == src && !slices.Contains(moving, s) {
			tags, moving = append(tags, tag), append(moving, s)
		}
	}
	if len(tags) < nMove {
		t.Fatalf("found %d slots of %s to move", len(tags), src)
	}

	// Each goroutine has two keys in each moving slot and four others.
	const workers = 8
	type rsKey struct {
		key string
		mv  int // index in moving, -1 for a slot that stays
	}
	keys := make([][]rsKey, workers)
	for g := range workers {
		for m, tag := range tags {
			for j := range 2 {
				keys[g] = append(keys[g], rsKey{fmt.Sprintf("%sw%d:%d", tag, g, j), m})
			}
		}
		for j := range 4 {
			keys[g] = append(keys[g], rsKey{fmt.Sprintf("rs:w%d:%d", g, j), -1})
		}
	}
	// Keys nobody writes during the run make each slot take several
	// MIGRATE batches, so the load meets it half moved.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var fillers []string
	for _, tag := range tags {
		for j := range 3 * tcMigrateBatch {
			k := fmt.Sprintf("%sfill:%d", tag, j)
			if err := cc.Set(ctx, k, k, 0); err != nil {
				t.Fatal(err)
			}
			fillers = append(fillers, k)
		}
	}

	var (
		ops     atomic.Int64
		slotOps [nMove]atomic.Int64
		bad     faultLog
	)
	last := make([][]string, workers) // the value each key must hold; "?" after a failed SET
	load := newFaultLoad(t)
	hard := time.Now().Add(faultHard)
	for g := range workers {
		last[g] = make([]string, len(keys[g]))
		load.goLoop(func() {
			for n := 0; load.running(hard); n++ {
				i := n % len(keys[g])
				k, want := keys[g][i], last[g][i]
				ctx, cancel := context.WithTimeout(context.Background(), faultOpTimeout)
				// What the previous round wrote must still be there, the
				// key moved or not.
				got, err := cc.Get(ctx, k.key)
				switch {
				case want == "" && errors.Is(err, ErrNil), want == "?":
				case err != nil:
					bad.add("GET %s: %v", k.key, err)
				case got != want:
					bad.add("GET %s = %q, its goroutine last wrote %q", k.key, got, want)
				}
				v := faultValue(k.key, n)
				if err := cc.Set(ctx, k.key, v, 0); err != nil {
					bad.add("SET %s: %v", k.key, err)
					last[g][i] = "?"
				} else {
					last[g][i] = v
					if got, err := cc.Get(ctx, k.key); err != nil || got != v {
						bad.add("GET %s after SET %q = %q, %v", k.key, v, got, err)
					}
				}
				cancel()
				ops.Add(1)
				if k.mv >= 0 {
					slotOps[k.mv].Add(1)
				}
			}
		})
	}

	// About a second of load, the slots moved one by one with the load
	// held on each while it is half moved, then load until 3.5 s.
	start := time.Now()
	faultWait(t, "the load to touch every key", 20*time.Second, func() bool {
		return ops.Load() >= int64(2*workers*len(keys[0])) && time.Since(start) >= time.Second
	})
	for m, slot := range moving {
		tc.MigrateSlot(slot, dst, func() {
			// Half moved: the source answers ASK for the keys that left.
			base := slotOps[m].Load()
			faultWait(t, "load on the migrating slot", 20*time.Second, func() bool {
				return slotOps[m].Load() >= base+100
			})
		})
	}
	moved := time.Since(start)
	base := ops.Load()
	faultWait(t, "the load after the migrations", 20*time.Second, func() bool {
		return ops.Load() >= base+int64(2*workers*len(keys[0])) && time.Since(start) >= 3500*time.Millisecond
	})
	load.end()
	t.Logf("%d rounds of GET, SET, GET in %v; %d slots moved by %v",
		ops.Load(), time.Since(start).Round(time.Millisecond), nMove, moved.Round(time.Millisecond))
	bad.report(t, "in the load")

	// Every key reads back through the client and at the master the
	// cluster says owns it; the moved ones are routed to their new owner.
	var final faultLog
	defer final.report(t, "reading back at the end")
	check := func(key, want string, moved bool) {
		if got, err := cc.Get(ctx, key); err != nil || got != want {
			final.add("GET %s = %q, %v; want %q", key, got, err, want)
		}
		if got := directGet(t, tc, key); got != want {
			final.add("%s at its master %s = %q, want %q", key, tc.MasterOf(hashSlot(key)), got, want)
		}
		if moved && cc.NodeFor(key) != dst {
			final.add("the client routes %s (slot %d, moved to %s) to %s", key, hashSlot(key), dst, cc.NodeFor(key))
		}
	}
	for g := range workers {
		for i, k := range keys[g] {
			if last[g][i] != "?" {
				check(k.key, last[g][i], k.mv >= 0)
			}
		}
	}
	for _, k := range fillers {
		check(k, k, true)
	}
}

// foSet is a SET of the failover test's load that succeeded.
type foSet struct {
	n    int   // its counter
	seq  int64 // when it completed, in the order of all successful SETs
	safe bool  // at a master that cannot be lost: not the victim, or sent after the kill
}

// foKey is one key of the failover test's load, owned by one goroutine.
type foKey struct {
	key       string
	victim    bool // its slot is the killed master's
	attempted int  // counter of the last SET sent
	sets      []foSet
}

// floor returns the counter of the last write to k that the cluster must
// keep: the last SET that is safe or that the replica acknowledged
// (seq <= acked). 0 if there is none.
func (k *foKey) floor(acked int64) int {
	f := 0
	for _, s := range k.sets {
		if (s.safe || s.seq <= acked) && s.n > f {
			f = s.n
		}
	}
	return f
}

// TestClusterFailover kills a master with SIGKILL under a load of checked
// SET/GET. Only commands in flight to it may fail, with a *ClusterError or
// *ConnError whose connection error says the command had been sent; none
// hangs past its deadline, none returns a value its goroutine did not
// write or older than the last acknowledged one. The client follows the
// promoted replica, and at the end every acknowledged write reads back.
//
// Acknowledged: Redis replicates asynchronously, so a write the master
// confirmed just before dying may be missing at its replica. The client
// cannot acknowledge a write itself (WAIT has no key, and it sends it on a
// dedicated connection, where WAIT covers none of the shared
// connections' writes), so a separate goroutine does, on its own
// connection to the victim: it notes how many SETs have completed, then
// sends a SET of a key of the victim's and WAIT 1 on one connection. WAIT
// answering 1 means the replica has the victim's replication stream up to
// that SET, so every SET that had completed before it was sent, at the
// victim, is at the replica too.
func TestClusterFailover(t *testing.T) {
	testkit.CheckLeaks(t)
	tc := startCluster(t, 3, 1)
	cc := newClusterClient(t, tc, ClusterOptions{MaxRetryTime: faultOpTimeout})
	owners := tc.anyView().owners()
	masters := tc.Masters()
	victim := masters[0]
	marker := keysOn(t, owners, victim, "fo:ack:", 1)[0]

	const workers = 8
	keys := make([][]*foKey, workers)
	for g := range workers {
		for mi, m := range masters {
			for _, k := range keysOn(t, owners, m, fmt.Sprintf("fo:%d:%d:", g, mi), 2) {
				keys[g] = append(keys[g], &foKey{key: k, victim: m == victim})
			}
		}
	}

	var (
		seq      atomic.Int64 // successful SETs, numbered as they complete
		acked    atomic.Int64 // SETs at the victim numbered up to this are at its replica
		killed   atomic.Bool  // set once the victim's process has exited
		victimOK atomic.Int64 // successful SETs of the victim's keys
		fails    atomic.Int64
		bad      faultLog
	)
	// checkErr judges a failed command: see the test's comment.
	var kindsMu sync.Mutex
	kinds := map[string]int{}
	checkErr := func(k *foKey, op string, err error, took time.Duration) {
		fails.Add(1)
		var ce *ClusterError
		var ne *ConnError
		if errors.As(err, &ce) {
			kindsMu.Lock()
			kinds[ce.Kind]++
			kindsMu.Unlock()
		}
		switch {
		case !errors.As(err, &ce) && !errors.As(err, &ne):
			bad.add("%s %s: %T %v: neither a *ClusterError nor a *ConnError", op, k.key, err, err)
		case !k.victim:
			bad.add("%s %s at a live master: %v", op, k.key, err)
		case !errors.As(err, &ne) || !ne.Sent:
			bad.add("%s %s failed though not in flight when the master died: %v", op, k.key, err)
		}
		if took > faultOpTimeout+2*time.Second {
			bad.add("%s %s took %v, past its deadline", op, k.key, took)
		}
	}
	// checkRead judges a value read from k: one its goroutine wrote to k,
	// not older than the last write the cluster must keep.
	checkRead := func(k *foKey, got string, err error) {
		n := 0
		if err == nil {
			var ok bool
			if n, ok = faultCounter(k.key, got); !ok {
				bad.add("GET %s = %q: not a value of that key", k.key, got)
				return
			}
		}
		if f := k.floor(acked.Load()); n < f || n > k.attempted {
			bad.add("GET %s = %q (%v): want a write from #%d (the last that must be kept) to #%d (the last sent)",
				k.key, got, err, f, k.attempted)
		}
	}

	load := newFaultLoad(t)
	hard := time.Now().Add(faultHard)
	for g := range workers {
		load.goLoop(func() {
			for n := 1; load.running(hard); n++ {
				k := keys[g][n%len(keys[g])]
				post := killed.Load()
				ctx, cancel := context.WithTimeout(context.Background(), faultOpTimeout)
				k.attempted = n
				start := time.Now()
				if err := cc.Set(ctx, k.key, faultValue(k.key, n), 0); err != nil {
					checkErr(k, "SET", err, time.Since(start))
				} else {
					k.sets = append(k.sets, foSet{n: n, seq: seq.Add(1), safe: post || !k.victim})
					if k.victim {
						victimOK.Add(1)
					}
					start = time.Now()
					got, err := cc.Get(ctx, k.key)
					if err != nil && !errors.Is(err, ErrNil) {
						checkErr(k, "GET", err, time.Since(start))
					} else {
						checkRead(k, got, err)
					}
				}
				cancel()
			}
		})
	}
	load.goLoop(func() {
		// The acknowledger: see the test's comment. Paced, as a client
		// would WAIT now and then rather than after every write.
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for load.running(hard) && !killed.Load() {
			select {
			case <-load.stop:
				return
			case <-tick.C:
			}
			s := seq.Load()
			vs, err := tcPipeline(victim, time.Second, []string{"SET", marker, "x"}, []string{"WAIT", "1", "500"})
			// A SET refused (MOVED) would leave the connection without a
			// write for WAIT to cover.
			if err == nil && string(vs[0].Str) == "OK" && vs[1].Type == resp.Integer && vs[1].Int >= 1 {
				acked.Store(max(acked.Load(), s))
			}
		}
	})

	start := time.Now()
	faultWait(t, "writes at the victim", 20*time.Second, func() bool {
		return victimOK.Load() >= 60 && time.Since(start) >= time.Second
	})
	s0 := seq.Load()
	faultWait(t, "the replica to acknowledge them", 20*time.Second, func() bool { return acked.Load() >= s0 })
	t.Logf("killing %s after %v of load, %d writes at it", victim, time.Since(start).Round(time.Millisecond), victimOK.Load())
	tc.Kill(victim)
	killed.Store(true)
	killedAt := time.Now()
	promoted := tc.WaitFailover(victim, 30*time.Second)
	failedOver := time.Now()

	// Commands to the victim's slots work again within a few seconds of
	// the cluster's failover, at the promoted replica.
	probe := keysOn(t, owners, victim, "fo:probe:", 1)[0]
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := cc.Set(ctx, probe, "p", 0)
		cancel()
		if err == nil {
			break
		}
		if time.Since(failedOver) > 10*time.Second || i >= 1000 {
			t.Fatalf("SET at the failed-over slots still fails %v after the failover: %v", time.Since(failedOver), err)
		}
		time.Sleep(10 * time.Millisecond) // polling: a client that fails fast is tried again, not spun on
	}
	recovered := time.Since(failedOver)
	if recovered > 3*time.Second {
		t.Errorf("commands to the failed-over slots worked again only %v after the failover", recovered)
	}
	if got := cc.NodeFor(probe); got != promoted {
		t.Errorf("the client routes %s to %s, the promoted replica is %s", probe, got, promoted)
	}
	v1 := victimOK.Load()
	faultWait(t, "writes at the promoted replica", 20*time.Second, func() bool {
		return victimOK.Load() >= v1+60 && time.Since(failedOver) >= recovered+time.Second
	})
	load.end()
	t.Logf("failover after %v, commands through %v later; %d commands failed (%v), %d writes at the victim's slots",
		failedOver.Sub(killedAt).Round(time.Millisecond), recovered.Round(time.Millisecond), fails.Load(), kinds, victimOK.Load())
	bad.report(t, "in the load")

	// Every write the cluster must keep reads back, through the client
	// and at the slot's master.
	ack := acked.Load()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kept := 0
	for g := range workers {
		for _, k := range keys[g] {
			got, err := cc.Get(ctx, k.key)
			if err != nil && !errors.Is(err, ErrNil) {
				t.Errorf("GET %s at the end: %v", k.key, err)
				continue
			}
			n, ok := faultCounter(k.key, got)
			if f := k.floor(ack); (err == nil && !ok) || n < f || n > k.attempted {
				t.Errorf("GET %s at the end = %q (%v): want a write from #%d (the last that must be kept) to #%d (the last sent)",
					k.key, got, err, f, k.attempted)
			}
			if d := directGet(t, tc, k.key); d != got {
				t.Errorf("%s at its master = %q, through the client %q", k.key, d, got)
			}
			for _, s := range k.sets {
				if k.victim && !s.safe && s.seq <= ack {
					kept++
				}
			}
		}
	}
	if kept < 60 {
		t.Errorf("only %d acknowledged writes at the victim before the kill: the test proves little", kept)
	}
}

// TestClusterUnresponsiveNode stops a master with SIGSTOP: a command to one
// of its keys fails at its 500 ms deadline with a *ClusterError naming the
// node and the slot, while the other masters keep serving. The same holds
// for a key whose slot moved to it without the client knowing (the
// command reaches it through a MOVED), and once the cluster has marked
// the node failed. After SIGCONT its keys work again.
func TestClusterUnresponsiveNode(t *testing.T) {
	testkit.CheckLeaks(t)
	tc := startCluster(t, 3, 0)
	// No periodic map read: the client learns of the moved slot only
	// through the MOVED reply.
	cc := newClusterClient(t, tc, ClusterOptions{RefreshInterval: time.Hour})
	owners := tc.anyView().owners()
	masters := tc.Masters()
	victim := masters[0]
	vkey := keysOn(t, owners, victim, "un:v:", 1)[0]
	mkey := keysOn(t, owners, masters[1], "un:m:", 1)[0]
	others := append(keysOn(t, owners, masters[1], "un:o1:", 2), keysOn(t, owners, masters[2], "un:o2:", 2)...)
	for _, k := range others {
		if hashSlot(k) == hashSlot(mkey) {
			t.Fatalf("%s and %s share a slot", k, mkey)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, k := range append([]string{vkey, mkey}, others...) {
		if err := cc.Set(ctx, k, k, 0); err != nil {
			t.Fatal(err)
		}
	}
	tc.MigrateSlot(hashSlot(mkey), victim, nil)
	if cc.NodeFor(mkey) != masters[1] {
		t.Fatal("the client learned of the move by itself: the test proves less")
	}
	// useOthers runs a round of SET and GET on the other masters' keys,
	// each within a second.
	round := 0
	useOthers := func() {
		t.Helper()
		round++
		for _, k := range others {
			v := faultValue(k, round)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err := cc.Set(ctx, k, v, 0)
			got, gerr := cc.Get(ctx, k)
			cancel()
			if err != nil || gerr != nil || got != v {
				t.Fatalf("%s at a live master while %s is stopped: SET %v, GET %q, %v", k, victim, err, got, gerr)
			}
		}
	}
	// stuck sends GET key with a 500 ms deadline while the other masters
	// are used, and checks how it failed.
	stuck := func(key, when string) {
		t.Helper()
		type result struct {
			err  error
			took time.Duration
		}
		done := make(chan result, 1)
		go func() {
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			_, err := cc.Get(ctx, key)
			cancel()
			done <- result{err, time.Since(start)}
		}()
		var r result
		rounds := 0
	wait:
		for ; rounds < 1000; rounds++ {
			select {
			case r = <-done:
				break wait
			default:
			}
			useOthers()
		}
		if rounds == 1000 {
			select {
			case r = <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: GET at the stopped master has not returned after 10 s", when)
			}
		}
		useOthers() // and still, after it failed
		var ce *ClusterError
		switch {
		case r.took > time.Second:
			t.Errorf("%s: GET with a 500 ms deadline returned after %v", when, r.took)
		case !errors.Is(r.err, context.DeadlineExceeded):
			t.Errorf("%s: GET at the stopped master = %v, want context.DeadlineExceeded", when, r.err)
		case !errors.As(r.err, &ce):
			t.Errorf("%s: GET at the stopped master = %T %v, want a *ClusterError", when, r.err, r.err)
		case ce.Node != victim || ce.Slot != hashSlot(key) || ce.Kind != "timeout":
			t.Errorf("%s: %v: want kind timeout at %s, slot %d", when, r.err, victim, hashSlot(key))
		}
		t.Logf("%s: GET returned after %v with %v; %d rounds at the other masters meanwhile", when, r.took.Round(time.Millisecond), r.err, rounds)
	}

	tc.Pause(victim)
	stuck(vkey, "just stopped")
	stuck(mkey, "a slot moved to it")

	// The cluster marks it failed; the client's next map says so.
	faultWait(t, "the cluster to mark the stopped master failed", 20*time.Second, func() bool {
		n := tc.anyViewExcept(victim).byAddr(victim)
		return n != nil && n.fail
	})
	if err := cc.Refresh(ctx); err != nil {
		t.Fatalf("Refresh with a master stopped: %v", err)
	}
	stuck(vkey, "marked failed")

	tc.Resume(victim)
	resumed := time.Now()
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		got, err := cc.Get(ctx, vkey)
		cancel()
		if err == nil && got == vkey {
			break
		}
		if err == nil || time.Since(resumed) > 15*time.Second || i > 100 {
			t.Fatalf("GET %s after the master resumed = %q, %v (%v later)", vkey, got, err, time.Since(resumed))
		}
	}
	if err := cc.Set(ctx, vkey, "after", 0); err != nil {
		t.Fatalf("SET %s after the master resumed: %v", vkey, err)
	}
	if got, err := cc.Get(ctx, mkey); err != nil || got != mkey {
		t.Fatalf("GET %s (moved to the resumed master) = %q, %v", mkey, got, err)
	}
	t.Logf("the resumed master served again after %v", time.Since(resumed).Round(time.Millisecond))
	useOthers()
}

// TestClusterClose closes the client while commands to a killed master's
// slots are waiting for a retry and others run at the live masters: Close
// returns promptly, every pending command ends with ErrClosed or a
// *ClusterError, each callback once, and nothing of the client remains.
func TestClusterClose(t *testing.T) {
	testkit.CheckLeaks(t)
	tc := startCluster(t, 3, 0)
	before := testkit.TakeSnapshot() // the cluster's own goroutines are in it
	// Retries would go on for a minute: only Close ends them.
	cc := newClusterClient(t, tc, ClusterOptions{MaxRetryTime: time.Minute})
	owners := tc.anyView().owners()
	masters := tc.Masters()
	victim := masters[0]
	const pending = 16
	vkeys := keysOn(t, owners, victim, "cl:v:", pending)
	live := append(keysOn(t, owners, masters[1], "cl:o1:", 2), keysOn(t, owners, masters[2], "cl:o2:", 2)...)
	tc.Kill(victim)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	results := make(chan error, 2*pending)
	load := newFaultLoad(t)
	for _, k := range vkeys {
		load.goLoop(func() {
			_, err := cc.Get(ctx, k)
			results <- err
		})
	}
	var called atomic.Int32
	for _, k := range vkeys {
		err := cc.DoAsync(ctx, func(_ *resp.Value, err error) {
			called.Add(1)
			results <- err
		}, "GET", k)
		if err != nil {
			t.Fatalf("DoAsync GET %s with its master dead: %v", k, err)
		}
	}
	var liveOps atomic.Int64
	var bad faultLog
	hard := time.Now().Add(faultHard)
	for _, k := range live {
		load.goLoop(func() {
			for n := 0; load.running(hard); n++ {
				if err := cc.Set(ctx, k, faultValue(k, n), 0); err != nil {
					var ce *ClusterError
					if !errors.Is(err, ErrClosed) && !errors.As(err, &ce) {
						bad.add("SET %s at Close: %v", k, err)
					}
					return
				}
				liveOps.Add(1)
			}
		})
	}
	faultWait(t, "commands waiting for a retry, and the live masters in use", 20*time.Second, func() bool {
		cc.mu.Lock()
		n := len(cc.retrying)
		cc.mu.Unlock()
		return n >= pending && liveOps.Load() >= 20
	})
	if n := len(results); n > 0 {
		t.Fatalf("%d commands to the dead master's slots ended before Close: %v", n, <-results)
	}

	start := time.Now()
	closed := make(chan struct{})
	go func() {
		cc.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close has not returned after 20 s")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Close took %v", took)
	}
	timeout := time.After(5 * time.Second)
	for i := 0; i < 2*pending; i++ {
		select {
		case err := <-results:
			var ce *ClusterError
			if !errors.Is(err, ErrClosed) && !errors.As(err, &ce) {
				t.Errorf("a command pending at Close ended with %v", err)
			}
		case <-timeout:
			t.Fatalf("%d of %d commands pending at Close still pending 5 s after it", 2*pending-i, 2*pending)
		}
	}
	load.end()
	bad.report(t, "at the live masters")
	t.Logf("Close took %v with %d commands pending", time.Since(start).Round(time.Millisecond), 2*pending)
	if _, err := cc.Do(ctx, "GET", live[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("GET after Close = %v, want ErrClosed", err)
	}
	before.Check(t) // with the servers still up: nothing of the client's remains
	if n := called.Load(); n != pending {
		t.Errorf("%d callbacks for %d DoAsync", n, pending)
	}
}
