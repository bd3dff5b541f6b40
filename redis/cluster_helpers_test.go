package redis

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
	"github.com/egress-go/egress/resp"
)

// The test cluster: real redis-server processes in cluster mode on
// loopback, created with redis-cli --cluster create, for the cluster
// client's tests. Its admin commands go over short-lived plain connections
// (tcCommand), so that the harness itself holds no client, goroutine or
// socket that a leak check could mistake for the code under test.

const (
	// tcNodeTimeout (ms) is short so that a failure is detected, and a
	// replica promoted, within a few seconds; on loopback a live node
	// answers pings in well under a millisecond, so 1 s leaves a wide
	// margin on a busy machine.
	tcNodeTimeout = 1000
	// tcMigrateBatch is the number of keys that MigrateSlot moves per
	// MIGRATE: small, so that a slot holding a few dozen keys takes several
	// batches and a test's midway hook sees it half moved.
	tcMigrateBatch = 10
	// tcAdminTimeout bounds every admin command's dial, write and read.
	tcAdminTimeout = 5 * time.Second
	// tcPoll is the interval between two looks at the cluster while
	// waiting for it to converge; each look is a few loopback round trips.
	tcPoll = 50 * time.Millisecond
)

// testCluster is a Redis Cluster of real processes on 127.0.0.1, stopped at
// the end of the test that started it. Its methods stop the test with
// t.Fatal when the cluster does not do what they wait for, so they must be
// called from the test's goroutine.
type testCluster struct {
	t        testing.TB
	replicas int // per master, as started
	base     string
	nodes    []*tcProc // in start order
	byAddr   map[string]*tcProc

	mu sync.Mutex // guards the state and lost fields of the nodes
}

type tcState int

const (
	tcRunning tcState = iota
	tcPaused          // SIGSTOP: the node holds its sockets and answers nothing
	tcDead            // SIGKILL, and its exit waited for
)

// tcProc is one redis-server of the cluster.
type tcProc struct {
	addr string
	dir  string
	id   string // cluster node ID, read once the cluster is formed
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and been waited for

	state tcState
	lost  *tcLost // what the node served when Kill or Pause took it away
}

// tcLost records what a node served when it was killed or paused, for
// WaitFailover.
type tcLost struct {
	slots    []int    // slots it owned as a master (none for a replica)
	replicas []string // its replicas' addresses at that moment
}

// startCluster starts masters*(1+replicasPerMaster) redis-server processes
// in cluster mode, creates the cluster with redis-cli --cluster create, and
// returns once every node reports cluster_state:ok, every node sees the
// same slot map with every slot covered and replicasPerMaster replicas per
// master, and every replica's replication link is up. Everything is
// killed, and waited for, when the test ends.
//
// masters must be at least 3: redis-cli refuses to create a smaller
// cluster.
func startCluster(t testing.TB, masters, replicasPerMaster int) *testCluster {
	t.Helper()
	if masters < 3 || replicasPerMaster < 0 {
		t.Fatalf("startCluster(%d, %d): redis-cli --cluster create needs at least 3 masters", masters, replicasPerMaster)
	}
	bin := redisBinary(t)
	cli := testkit.RequirePeer(t, "redis-cli", "scripts/install-deps.sh (Debian package redis-tools, which redis-server depends on)")
	start := time.Now()
	// The base directory's removal is registered before c.stop, so it runs
	// after the processes are gone: a node still writing into it would
	// make the removal fail.
	c := &testCluster{t: t, replicas: replicasPerMaster, base: t.TempDir(), byAddr: map[string]*tcProc{}}
	t.Cleanup(c.stop)
	n := masters * (1 + replicasPerMaster)
	addrs := make([]string, 0, n)
	for i := 0; i < n; i++ {
		p := c.startNode(bin, i)
		c.nodes = append(c.nodes, p)
		c.byAddr[p.addr] = p
		addrs = append(addrs, p.addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicasPerMaster), "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
	cancel()
	if err != nil || !strings.Contains(string(out), "All 16384 slots covered") {
		t.Fatalf("redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	created := time.Since(start)
	c.waitFormed(masters, 30*time.Second)
	for _, p := range c.nodes {
		v, err := c.view(p.addr)
		if err != nil {
			t.Fatalf("cluster node %s: %v", p.addr, err)
		}
		p.id = v.self().id
	}
	t.Logf("Redis Cluster of %d masters and %d replicas each up in %v (redis-cli create done at %v)",
		masters, replicasPerMaster, time.Since(start).Round(time.Millisecond), created.Round(time.Millisecond))
	return c
}

// startNode runs one cluster node and waits until it answers PING. Its
// cluster bus port is chosen explicitly: the default, port+10000, does not
// exist for ports above 55535, and ephemeral ports go up to 60999. A port
// taken between its choice and the node's bind (by another test's process)
// makes the node exit; it is then started again on other ports.
func (c *testCluster) startNode(bin string, i int) *tcProc {
	t := c.t
	t.Helper()
	for attempt := 0; ; attempt++ {
		dir, err := os.MkdirTemp(c.base, fmt.Sprintf("node%d-", i))
		if err != nil {
			t.Fatal(err)
		}
		port, bus := tcFreePorts(t)
		addr := "127.0.0.1:" + strconv.Itoa(port)
		lines := []string{
			"bind 127.0.0.1",
			"port " + strconv.Itoa(port),
			"cluster-enabled yes",
			"cluster-port " + strconv.Itoa(bus),
			"cluster-config-file " + filepath.Join(dir, "nodes.conf"),
			"cluster-node-timeout " + strconv.Itoa(tcNodeTimeout),
			// With full coverage required (the default), every node
			// refuses every command (CLUSTERDOWN) from the moment a
			// master is marked failed until its replica takes over. The
			// tests check that a dead master fails only the commands
			// sent to it, so the other masters must keep serving.
			"cluster-require-full-coverage no",
			// A replica fails over however long its link has been down:
			// the default (10) would keep one from being promoted after
			// a pause long enough for the tests of a silent node.
			"cluster-replica-validity-factor 0",
			// The default delay of 5 s before a diskless full sync would
			// hold every replica's first sync, and so the cluster's
			// start, for 5 s.
			"repl-diskless-sync-delay 0",
			`save ""`,
			"appendonly no",
			"daemonize no",
			"dir " + dir,
			"logfile " + filepath.Join(dir, "redis.log"),
			"enable-debug-command local",
		}
		conf := filepath.Join(dir, "redis.conf")
		if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, conf)
		cmd.Dir = dir
		if err := cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		p := &tcProc{addr: addr, dir: dir, cmd: cmd, done: make(chan struct{})}
		go func() {
			cmd.Wait()
			close(p.done)
		}()
		if p.waitReady(10 * time.Second) {
			return p
		}
		cmd.Process.Kill()
		<-p.done
		log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
		if attempt == 2 || !strings.Contains(string(log), "in use") {
			t.Fatalf("cluster node %s did not start:\n%s", addr, log)
		}
	}
}

// waitReady polls the node with PING until it answers PONG, which it does
// only once its start-up is complete (both ports bound), or until it exits
// or the time runs out.
func (p *tcProc) waitReady(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return false
		default:
		}
		if v, err := tcCommand(p.addr, time.Second, "PING"); err == nil && string(v.Str) == "PONG" {
			return true
		}
		time.Sleep(10 * time.Millisecond) // polling a process that is still starting
	}
	return false
}

// tcFreePorts returns two distinct free loopback ports, held open at the
// same time so that the kernel cannot hand out the same one twice.
func tcFreePorts(t testing.TB) (int, int) {
	t.Helper()
	var ports [2]int
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports[0], ports[1]
}

// stop kills every node still running (a paused one too: SIGKILL ends a
// stopped process) and waits for each to exit. When the test failed, it
// first logs the end of each node's log.
func (c *testCluster) stop() {
	if c.t.Failed() {
		for _, p := range c.nodes {
			log, _ := os.ReadFile(filepath.Join(p.dir, "redis.log"))
			lines := strings.Split(strings.TrimSpace(string(log)), "\n")
			if len(lines) > 15 {
				lines = lines[len(lines)-15:]
			}
			c.t.Logf("log of cluster node %s (%s):\n%s", p.addr, p.id, strings.Join(lines, "\n"))
		}
	}
	for _, p := range c.nodes {
		p.cmd.Process.Kill()
	}
	for _, p := range c.nodes {
		<-p.done
	}
}

// tcCommand sends one command to addr on a new connection and returns its
// reply, decoded and copied; a server error is a reply (check v.Err()),
// err is for the connection only. Each step is bounded by timeout, so a
// paused node makes it fail rather than hang.
func tcCommand(addr string, timeout time.Duration, args ...string) (resp.Value, error) {
	vs, err := tcPipeline(addr, timeout, args)
	if err != nil {
		return resp.Value{}, err
	}
	return vs[0], nil
}

// tcPipeline sends commands on one new connection (for ASKING, which
// applies to the connection's next command) and returns their replies.
func tcPipeline(addr string, timeout time.Duration, cmds ...[]string) ([]resp.Value, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	var req []byte
	for _, args := range cmds {
		req = resp.AppendCommand(req, args...)
	}
	if _, err := conn.Write(req); err != nil {
		return nil, err
	}
	d := resp.NewDecoder(resp.Limits{})
	defer d.Reset()
	replies := make([]resp.Value, 0, len(cmds))
	buf := make([]byte, 32<<10)
	for len(replies) < len(cmds) {
		n, rerr := conn.Read(buf)
		if n > 0 {
			err := d.Feed(buf[:n], func(v *resp.Value) error {
				replies = append(replies, v.Clone())
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		if rerr != nil && len(replies) < len(cmds) {
			return nil, fmt.Errorf("%s %s: %w", addr, cmds[len(replies)][0], rerr)
		}
	}
	return replies, nil
}

// do runs an admin command and stops the test if it fails, at the
// connection or at the server.
func (c *testCluster) do(addr string, args ...string) resp.Value {
	c.t.Helper()
	v, err := tcCommand(addr, tcAdminTimeout, args...)
	if err == nil {
		err = v.Err()
	}
	if err != nil {
		c.t.Fatalf("%s: %s: %v", addr, strings.Join(args, " "), err)
	}
	return v
}

// KeySlot returns the hash slot of key as the cluster computes it
// (CLUSTER KEYSLOT), independent of the client's own hashing.
func (c *testCluster) KeySlot(key string) int {
	c.t.Helper()
	v := c.do(c.live()[0], "CLUSTER", "KEYSLOT", key)
	return int(v.Int)
}

// Addrs returns the address of every node, in start order, killed ones
// included (a client's seed list may well hold a dead node).
func (c *testCluster) Addrs() []string {
	out := make([]string, len(c.nodes))
	for i, p := range c.nodes {
		out[i] = p.addr
	}
	return out
}

// Masters returns the masters that serve slots, as the first node that
// answers sees them, ordered by the lowest slot each serves.
func (c *testCluster) Masters() []string {
	c.t.Helper()
	v := c.anyView()
	var ms []tcNode
	for _, n := range v {
		if n.master && len(n.slots) > 0 && !n.failed() {
			ms = append(ms, n)
		}
	}
	slices.SortFunc(ms, func(a, b tcNode) int { return a.lowest() - b.lowest() })
	out := make([]string, len(ms))
	for i, n := range ms {
		out[i] = n.addr
	}
	return out
}

// MasterOf returns the master serving slot, as the first node that
// answers sees it, or "" if none does.
func (c *testCluster) MasterOf(slot int) string {
	c.t.Helper()
	if n := c.anyView().owner(slot); n != nil {
		return n.addr
	}
	return ""
}

// ReplicasOf returns the replicas of master that are not known to have
// failed, as the first node that answers sees them, sorted.
func (c *testCluster) ReplicasOf(master string) []string {
	c.t.Helper()
	return c.anyView().replicasOf(c.NodeID(master), c.deadSet())
}

// NodeID returns the cluster node ID of the node at addr.
func (c *testCluster) NodeID(addr string) string {
	c.t.Helper()
	p := c.byAddr[addr]
	if p == nil {
		c.t.Fatalf("%s is not a node of the test cluster", addr)
	}
	return p.id
}

func (c *testCluster) proc(addr string) *tcProc {
	c.t.Helper()
	p := c.byAddr[addr]
	if p == nil {
		c.t.Fatalf("%s is not a node of the test cluster", addr)
	}
	return p
}

// Kill ends the node at once with SIGKILL, as a crash would, and waits
// for the process to exit. What it served is recorded for WaitFailover.
func (c *testCluster) Kill(addr string) {
	c.t.Helper()
	p := c.proc(addr)
	lost := c.roleOf(addr)
	p.cmd.Process.Kill()
	<-p.done
	c.mu.Lock()
	p.state, p.lost = tcDead, lost
	c.mu.Unlock()
}

// Pause stops the node with SIGSTOP: it keeps its sockets open (connects
// still succeed, in the kernel's backlog) but answers nothing, as a hung
// server does, until Resume. What it served is recorded for WaitFailover.
func (c *testCluster) Pause(addr string) {
	c.t.Helper()
	p := c.proc(addr)
	lost := c.roleOf(addr)
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		c.t.Fatalf("pause %s: %v", addr, err)
	}
	c.mu.Lock()
	p.state, p.lost = tcPaused, lost
	c.mu.Unlock()
}

// Resume lets a paused node run again (SIGCONT). A master that was
// failed over meanwhile rejoins as a replica of its successor.
func (c *testCluster) Resume(addr string) {
	c.t.Helper()
	p := c.proc(addr)
	if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		c.t.Fatalf("resume %s: %v", addr, err)
	}
	c.mu.Lock()
	p.state = tcRunning
	c.mu.Unlock()
}

// roleOf reads, from another live node, what addr serves now.
func (c *testCluster) roleOf(addr string) *tcLost {
	c.t.Helper()
	v := c.anyViewExcept(addr)
	self := v.byAddr(addr)
	if self == nil {
		c.t.Fatalf("%s is not in the cluster as other nodes see it", addr)
	}
	r := &tcLost{}
	if self.master {
		for _, rg := range self.slots {
			for s := rg[0]; s <= rg[1]; s++ {
				r.slots = append(r.slots, s)
			}
		}
		r.replicas = v.replicasOf(self.id, c.deadSet())
	}
	return r
}

// live returns the nodes that run and answer (neither killed nor paused),
// in start order.
func (c *testCluster) live() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, p := range c.nodes {
		if p.state == tcRunning {
			out = append(out, p.addr)
		}
	}
	return out
}

// deadSet returns the nodes killed or paused.
func (c *testCluster) deadSet() map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]bool{}
	for _, p := range c.nodes {
		if p.state != tcRunning {
			out[p.addr] = true
		}
	}
	return out
}

// WaitFailover waits, up to timeout, until a former replica of dead (a
// master taken away by Kill or Pause) serves every slot dead served, as
// every surviving node sees it and as the replica itself sees it, and every
// surviving node reports cluster_state:ok. It returns the new master's
// address.
func (c *testCluster) WaitFailover(dead string, timeout time.Duration) string {
	c.t.Helper()
	p := c.proc(dead)
	c.mu.Lock()
	lost := p.lost
	c.mu.Unlock()
	if lost == nil || len(lost.slots) == 0 {
		c.t.Fatalf("WaitFailover(%s): not a master taken away by Kill or Pause", dead)
	}
	if len(lost.replicas) == 0 {
		c.t.Fatalf("WaitFailover(%s): it had no replica to take over", dead)
	}
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		winner, why := c.failedOver(lost)
		if why == "" {
			c.t.Logf("failover of %s to %s seen by every node after %v", dead, winner, time.Since(start).Round(time.Millisecond))
			return winner
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no failover of %s within %v: %s", dead, timeout, why)
		}
		time.Sleep(tcPoll)
	}
}

// failedOver reports the replica that serves all of lost's slots on every
// live node, or why there is none yet.
func (c *testCluster) failedOver(lost *tcLost) (string, string) {
	winner := ""
	for _, addr := range c.live() {
		if why := tcStateOK(addr); why != "" {
			return "", why
		}
		v, err := c.view(addr)
		if err != nil {
			return "", err.Error()
		}
		for _, s := range lost.slots {
			o := v.owner(s)
			if o == nil {
				return "", fmt.Sprintf("%s sees no owner of slot %d", addr, s)
			}
			if winner == "" {
				winner = o.addr
			}
			if o.addr != winner {
				return "", fmt.Sprintf("%s sees slot %d at %s, not %s", addr, s, o.addr, winner)
			}
		}
		if addr == winner && !v.self().master {
			return "", winner + " does not see itself as a master yet"
		}
	}
	if !slices.Contains(lost.replicas, winner) {
		return "", fmt.Sprintf("the slots are at %s, not at one of the replicas %v", winner, lost.replicas)
	}
	return winner, ""
}

// MigrateSlot moves slot from its master to the master to, by hand, as
// redis-cli --cluster reshard does: IMPORTING on the target, MIGRATING on
// the source, then batches of CLUSTER GETKEYSINSLOT and MIGRATE ... KEYS
// until the source holds none, then SETSLOT NODE on the target, the source
// and every other master, and it waits until every node agrees.
//
// midway, if not nil, is called once while the slot is still migrating:
// after the first batch has moved (or at once if the slot held no keys),
// so that a test sees the source answer ASK for the keys already moved.
// Keys midway writes to the slot through the redirections are moved too.
func (c *testCluster) MigrateSlot(slot int, to string, midway func()) {
	c.t.Helper()
	src := c.MasterOf(slot)
	if src == "" || src == to {
		c.t.Fatalf("MigrateSlot(%d, %s): the slot is at %q", slot, to, src)
	}
	s := strconv.Itoa(slot)
	srcID, toID := c.NodeID(src), c.NodeID(to)
	c.do(to, "CLUSTER", "SETSLOT", s, "IMPORTING", srcID)
	c.do(src, "CLUSTER", "SETSLOT", s, "MIGRATING", toID)
	host, port, _ := net.SplitHostPort(to)
	called := midway == nil
	deadline := time.Now().Add(60 * time.Second)
	for moved := 0; ; {
		if time.Now().After(deadline) {
			c.t.Fatalf("MigrateSlot(%d): keys still at %s after 60 s (%d moved)", slot, src, moved)
		}
		kv := c.do(src, "CLUSTER", "GETKEYSINSLOT", s, strconv.Itoa(tcMigrateBatch))
		keys, err := AsStrings(&kv)
		if err != nil {
			c.t.Fatalf("CLUSTER GETKEYSINSLOT: %v", err)
		}
		if len(keys) > 0 {
			args := append([]string{"MIGRATE", host, port, "", "0", "5000", "KEYS"}, keys...)
			// No REPLACE: a key of the slot at the target already would
			// mean the redirections went wrong, and must fail here.
			v, err := tcCommand(src, 10*time.Second, args...)
			if err == nil {
				err = v.Err()
			}
			if err != nil {
				c.t.Fatalf("%s: MIGRATE %d keys of slot %d to %s: %v", src, len(keys), slot, to, err)
			}
			moved += len(keys)
		}
		if !called {
			called = true
			midway()
			continue // midway may have written keys: look again
		}
		if len(keys) == 0 {
			break
		}
	}
	// The target first: it then owns the slot, and a command the source
	// redirects with ASK meanwhile is served there.
	c.do(to, "CLUSTER", "SETSLOT", s, "NODE", toID)
	c.do(src, "CLUSTER", "SETSLOT", s, "NODE", toID)
	for _, n := range c.anyView() {
		if n.master && !n.failed() && n.addr != src && n.addr != to && !c.deadSet()[n.addr] {
			c.do(n.addr, "CLUSTER", "SETSLOT", s, "NODE", toID)
		}
	}
	c.WaitSlotOwner(slot, to, 10*time.Second)
}

// WaitSlotOwner waits, up to timeout, until every live node (masters and
// replicas) sees slot served by addr and no node has it migrating or
// importing.
func (c *testCluster) WaitSlotOwner(slot int, addr string, timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		why := ""
		for _, n := range c.live() {
			v, err := c.view(n)
			if err != nil {
				why = err.Error()
				break
			}
			if o := v.owner(slot); o == nil || o.addr != addr {
				why = fmt.Sprintf("%s sees slot %d at %v", n, slot, o)
				break
			}
			if self := v.self(); self.migrating[slot] != "" || self.importing[slot] != "" {
				why = fmt.Sprintf("%s still has slot %d open", n, slot)
				break
			}
		}
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("slot %d not at %s on every node within %v: %s", slot, addr, timeout, why)
		}
		time.Sleep(tcPoll)
	}
}

// waitFormed waits until the cluster just created has converged: every
// node in state ok, with every other node known and connected and none
// suspected, the same slot map and replicas everywhere, every slot
// covered, and every replica's link to its master up.
func (c *testCluster) waitFormed(masters int, timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		why := c.formed(masters)
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the cluster did not converge within %v: %s", timeout, why)
		}
		time.Sleep(tcPoll)
	}
}

func (c *testCluster) formed(masters int) string {
	first := ""
	for _, p := range c.nodes {
		if why := tcStateOK(p.addr); why != "" {
			return why
		}
		v, err := c.view(p.addr)
		if err != nil {
			return err.Error()
		}
		if len(v) != len(c.nodes) {
			return fmt.Sprintf("%s knows %d nodes of %d", p.addr, len(v), len(c.nodes))
		}
		for _, n := range v {
			if n.failed() || n.handshake || !n.connected {
				return fmt.Sprintf("%s sees %s as %s", p.addr, n.addr, n.flags)
			}
		}
		sig, why := v.signature(masters, c.replicas)
		if why != "" {
			return p.addr + ": " + why
		}
		if first == "" {
			first = sig
		} else if sig != first {
			return fmt.Sprintf("%s sees\n%s\nwhere %s sees\n%s", p.addr, sig, c.nodes[0].addr, first)
		}
		if !v.self().master {
			info, err := tcCommand(p.addr, tcAdminTimeout, "INFO", "replication")
			if err != nil {
				return err.Error()
			}
			if !strings.Contains(string(info.Str), "master_link_status:up") {
				return p.addr + ": replication link not up yet"
			}
		}
	}
	return ""
}

// WaitReplicated waits, up to timeout, until every replica of master has
// applied all of master's replication stream as it stood when the wait
// began: writes made by any connection, MIGRATE's RESTOREs among them.
//
// WAIT cannot say this for the harness: it counts the replicas that
// acknowledged the writes of its own connection, and a fresh admin
// connection has written nothing, so it answers at once. Right after a
// diskless full sync a Redis 7 master also holds its stream back until
// the replica's first REPLCONF ACK (up to a second later) while WAIT
// already counts that replica: a master killed then takes writes with it
// that no replica has.
func (c *testCluster) WaitReplicated(master string, timeout time.Duration) {
	c.t.Helper()
	replicas := c.ReplicasOf(master)
	if len(replicas) == 0 {
		c.t.Fatalf("WaitReplicated(%s): it has no replica", master)
	}
	want, why := tcInfoInt(master, "master_repl_offset")
	if why != "" {
		c.t.Fatalf("WaitReplicated(%s): %s", master, why)
	}
	deadline := time.Now().Add(timeout)
	for {
		why = ""
		for _, r := range replicas {
			got, bad := tcInfoInt(r, "slave_repl_offset")
			if bad != "" {
				why = bad
				break
			}
			if got < want {
				why = fmt.Sprintf("%s has applied %s's stream up to offset %d of %d", r, master, got, want)
				break
			}
		}
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("replicas of %s not caught up within %v: %s", master, timeout, why)
		}
		time.Sleep(tcPoll)
	}
}

// tcInfoInt reads one integer field of the node's INFO replication, or
// says why it cannot.
func tcInfoInt(addr, field string) (int64, string) {
	v, err := tcCommand(addr, tcAdminTimeout, "INFO", "replication")
	if err == nil {
		err = v.Err()
	}
	if err != nil {
		return 0, fmt.Sprintf("%s: INFO replication: %v", addr, err)
	}
	for _, line := range strings.Split(string(v.Str), "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return 0, fmt.Sprintf("%s: INFO replication %s:%s", addr, field, s)
			}
			return n, ""
		}
	}
	return 0, fmt.Sprintf("%s: INFO replication has no %s", addr, field)
}

// tcStateOK returns "" if the node reports cluster_state:ok, else
// why not.
func tcStateOK(addr string) string {
	v, err := tcCommand(addr, tcAdminTimeout, "CLUSTER", "INFO")
	if err != nil {
		return err.Error()
	}
	if !strings.Contains(string(v.Str), "cluster_state:ok") {
		return addr + ": cluster_state is not ok"
	}
	return ""
}

// view returns the cluster as the node at addr sees it (CLUSTER NODES).
func (c *testCluster) view(addr string) (tcView, error) {
	v, err := tcCommand(addr, tcAdminTimeout, "CLUSTER", "NODES")
	if err == nil {
		err = v.Err()
	}
	if err != nil {
		return nil, err
	}
	return tcParseNodes(string(v.Str))
}

// anyView returns the view of the first live node that answers.
func (c *testCluster) anyView() tcView { return c.anyViewExcept("") }

func (c *testCluster) anyViewExcept(skip string) tcView {
	c.t.Helper()
	var errs []string
	for _, addr := range c.live() {
		if addr == skip {
			continue
		}
		v, err := c.view(addr)
		if err == nil {
			return v
		}
		errs = append(errs, err.Error())
	}
	c.t.Fatalf("no cluster node answers: %v", errs)
	return nil
}

// tcNode is one line of CLUSTER NODES.
type tcNode struct {
	id, addr, flags, masterID   string
	myself, master, pfail, fail bool
	handshake, noaddr           bool
	connected                   bool
	slots                       [][2]int       // ranges served, inclusive
	migrating, importing        map[int]string // slot to the peer's ID (the node's own line only)
}

func (n *tcNode) lowest() int {
	low := 16384
	for _, r := range n.slots {
		low = min(low, r[0])
	}
	return low
}

func (n *tcNode) failed() bool { return n.pfail || n.fail || n.noaddr }

func (n *tcNode) String() string { return n.addr }

type tcView []tcNode

// tcParseNodes reads CLUSTER NODES: one line per node,
// "id ip:port@cport[,hostname] flags master-id ping pong epoch link slot...",
// where a slot is "n", "a-b", "[n->-id]" (migrating) or "[n-<-id]"
// (importing).
func tcParseNodes(text string) (tcView, error) {
	var v tcView
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			return nil, fmt.Errorf("CLUSTER NODES line %q", line)
		}
		n := tcNode{id: f[0], flags: f[2], masterID: f[3], connected: f[7] == "connected",
			migrating: map[int]string{}, importing: map[int]string{}}
		n.addr, _, _ = strings.Cut(f[1], "@")
		for _, fl := range strings.Split(f[2], ",") {
			switch fl {
			case "myself":
				n.myself = true
			case "master":
				n.master = true
			case "fail?":
				n.pfail = true
			case "fail":
				n.fail = true
			case "handshake":
				n.handshake = true
			case "noaddr":
				n.noaddr = true
			}
		}
		for _, s := range f[8:] {
			if inner, ok := strings.CutPrefix(s, "["); ok {
				inner = strings.TrimSuffix(inner, "]")
				if a, id, ok := strings.Cut(inner, "->-"); ok {
					slot, _ := strconv.Atoi(a)
					n.migrating[slot] = id
				} else if a, id, ok := strings.Cut(inner, "-<-"); ok {
					slot, _ := strconv.Atoi(a)
					n.importing[slot] = id
				}
				continue
			}
			a, b, isRange := strings.Cut(s, "-")
			lo, err1 := strconv.Atoi(a)
			hi, err2 := lo, error(nil)
			if isRange {
				hi, err2 = strconv.Atoi(b)
			}
			if err1 != nil || err2 != nil || lo < 0 || hi < lo || hi > 16383 {
				return nil, fmt.Errorf("CLUSTER NODES slot %q in %q", s, line)
			}
			n.slots = append(n.slots, [2]int{lo, hi})
		}
		v = append(v, n)
	}
	return v, nil
}

func (v tcView) self() *tcNode {
	for i := range v {
		if v[i].myself {
			return &v[i]
		}
	}
	return &tcNode{}
}

func (v tcView) byAddr(addr string) *tcNode {
	for i := range v {
		if v[i].addr == addr {
			return &v[i]
		}
	}
	return nil
}

// owner returns the master that serves slot, or nil.
func (v tcView) owner(slot int) *tcNode {
	for i := range v {
		if !v[i].master {
			continue
		}
		for _, r := range v[i].slots {
			if r[0] <= slot && slot <= r[1] {
				return &v[i]
			}
		}
	}
	return nil
}

// owners returns the address of the master serving each slot ("" for
// none).
func (v tcView) owners() []string {
	out := make([]string, 16384)
	for _, n := range v {
		if !n.master {
			continue
		}
		for _, r := range n.slots {
			for s := r[0]; s <= r[1]; s++ {
				out[s] = n.addr
			}
		}
	}
	return out
}

// replicasOf returns the addresses of the replicas of the master with ID
// id, leaving out those flagged as failed and those in skip, sorted.
func (v tcView) replicasOf(id string, skip map[string]bool) []string {
	var out []string
	for _, n := range v {
		if !n.master && n.masterID == id && !n.failed() && !skip[n.addr] {
			out = append(out, n.addr)
		}
	}
	slices.Sort(out)
	return out
}

// signature sums up the slot map and replicas for comparing two nodes'
// views, or says why the view is not a complete cluster of the expected
// shape.
func (v tcView) signature(masters, replicas int) (string, string) {
	owners := v.owners()
	for s, o := range owners {
		if o == "" {
			return "", fmt.Sprintf("slot %d has no master", s)
		}
	}
	var lines []string
	for _, n := range v {
		if !n.master {
			continue
		}
		if len(n.slots) == 0 {
			return "", fmt.Sprintf("%s is a master without slots", n.addr)
		}
		rs := v.replicasOf(n.id, nil)
		if len(rs) != replicas {
			return "", fmt.Sprintf("%s has replicas %v, want %d", n.addr, rs, replicas)
		}
		lines = append(lines, fmt.Sprintf("%s %v replicas %v", n.addr, n.slots, rs))
	}
	if len(lines) != masters {
		return "", fmt.Sprintf("%d masters, want %d", len(lines), masters)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n"), ""
}
