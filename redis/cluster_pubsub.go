package redis

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/egress-go/egress/resp"
)

// ClusterPubSub is a sharded pub/sub subscription (SSUBSCRIBE) on a
// cluster: each shard channel is subscribed at the master serving its
// slot, on one subscription connection per node, and follows its slot.
// When a resharding moves the slot (the server then unsubscribes the
// channel by itself) or the node is lost and a replica takes over, the
// channel is subscribed again at the slot's new master, and a Message of
// Kind "reconnected" with that Channel marks the gap: messages published
// meanwhile are lost, as pub/sub promises no delivery. Messages from all
// nodes are read with Receive; a reader that falls behind stops the
// connections from reading (see PubSub).
type ClusterPubSub struct {
	c      *ClusterClient
	out    chan Message
	ctx    context.Context // ends at Close: stops the pumps and the fixer
	cancel context.CancelFunc
	kick   chan struct{} // wakes the fixer
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	want   map[string]bool     // the channels subscribed to
	home   map[string]*nodeSub // where each is subscribed; absent while it moves
	byNode map[string]*nodeSub // the subscription connection of each node
	why    map[string]string   // why a channel is being moved, for its notice
	// placing counts the SSubscribe calls placing each channel: the
	// fixer leaves those channels alone.
	placing map[string]int
}

// nodeSub is the subscription connection to one node.
type nodeSub struct {
	addr string
	ps   *PubSub
}

// SSubscribe subscribes to shard channels, at the masters serving their
// slots, and returns the subscription; more can be added with its
// SSubscribe. It waits for every confirmation, within ctx.
func (c *ClusterClient) SSubscribe(ctx context.Context, channels ...string) (*ClusterPubSub, error) {
	if len(channels) == 0 {
		return nil, errNoCommand
	}
	ps := &ClusterPubSub{c: c, out: make(chan Message, lowWater), kick: make(chan struct{}, 1),
		want: map[string]bool{}, home: map[string]*nodeSub{}, byNode: map[string]*nodeSub{}, why: map[string]string{},
		placing: map[string]int{}}
	ps.ctx, ps.cancel = context.WithCancel(c.ctx)
	ps.wg.Add(1)
	go ps.fixer()
	if err := ps.SSubscribe(ctx, channels...); err != nil {
		ps.Close()
		return nil, err
	}
	return ps, nil
}

// SSubscribe adds shard channels, in any slots.
func (ps *ClusterPubSub) SSubscribe(ctx context.Context, channels ...string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ps.mu.Lock()
	if ps.closed {
		ps.mu.Unlock()
		return ErrClosed
	}
	var added []string
	for _, ch := range channels {
		if !ps.want[ch] {
			ps.want[ch] = true
			added = append(added, ch)
		}
		ps.placing[ch]++
	}
	ps.mu.Unlock()
	err := ps.place(ctx, channels, "")
	ps.mu.Lock()
	for _, ch := range channels {
		if ps.placing[ch]--; ps.placing[ch] <= 0 {
			delete(ps.placing, ch)
		}
	}
	if err != nil {
		// Not subscribed: the fixer must not place them later.
		for _, ch := range added {
			if ps.home != nil && ps.home[ch] == nil {
				delete(ps.want, ch)
			}
		}
	}
	ps.mu.Unlock()
	return err
}

// SUnsubscribe removes shard channels.
func (ps *ClusterPubSub) SUnsubscribe(ctx context.Context, channels ...string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	bySub := map[*nodeSub][]string{}
	ps.mu.Lock()
	for _, ch := range channels {
		delete(ps.want, ch)
		if ns := ps.home[ch]; ns != nil {
			bySub[ns] = append(bySub[ns], ch)
			delete(ps.home, ch)
		}
	}
	ps.mu.Unlock()
	for ns, chs := range bySub {
		for _, group := range bySlot(chs) {
			if err := ns.ps.SUnsubscribe(ctx, group...); err != nil {
				return err
			}
		}
	}
	return nil
}

// Receive returns the next message, from any node, waiting until ctx ends.
// After Close it returns ErrClosed.
func (ps *ClusterPubSub) Receive(ctx context.Context) (Message, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	select {
	case m := <-ps.out:
		return m, nil
	case <-ps.ctx.Done():
		return Message{}, ErrClosed
	case <-ctx.Done():
		return Message{}, ctx.Err()
	}
}

// Close ends every subscription connection. It is idempotent.
func (ps *ClusterPubSub) Close() error {
	ps.mu.Lock()
	if ps.closed {
		ps.mu.Unlock()
		return nil
	}
	ps.closed = true
	subs := make([]*nodeSub, 0, len(ps.byNode))
	for _, ns := range ps.byNode {
		subs = append(subs, ns)
	}
	ps.byNode, ps.home = nil, nil
	ps.mu.Unlock()
	ps.cancel()
	for _, ns := range subs {
		ns.ps.Close()
	}
	ps.wg.Wait()
	return nil
}

// bySlot groups channels by hash slot: one SSUBSCRIBE may name only
// channels of one slot.
func bySlot(chs []string) [][]string {
	at := map[int]int{}
	var out [][]string
	for _, ch := range chs {
		s := hashSlot(ch)
		i, ok := at[s]
		if !ok {
			i = len(out)
			at[s] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], ch)
	}
	return out
}

// place subscribes channels at the masters serving them now. A channel
// that lands on a node other than the map said (MOVED) is retried after a
// map read, within ctx. why, when not empty, is the notice delivered for
// each channel once it is placed again.
func (ps *ClusterPubSub) place(ctx context.Context, chs []string, why string) error {
	for _, group := range bySlot(chs) {
		if err := ps.placeSlot(ctx, group, why); err != nil {
			return err
		}
	}
	return nil
}

func (ps *ClusterPubSub) placeSlot(ctx context.Context, chs []string, why string) error {
	slot := hashSlot(chs[0])
	for tries := 0; ; tries++ {
		n := ps.c.pick(slot, false)
		if n == nil {
			return ErrClosed
		}
		ns, err := ps.nodeSub(ctx, n)
		if err == nil {
			err = ns.ps.SSubscribe(ctx, chs...)
		}
		if err == nil {
			ps.mu.Lock()
			if ps.closed {
				ps.mu.Unlock()
				return ErrClosed
			}
			for _, ch := range chs {
				if ps.want[ch] {
					ps.home[ch] = ns
				}
			}
			ps.mu.Unlock()
			if why != "" {
				for _, ch := range chs {
					ps.emit(Message{Kind: "reconnected", Channel: ch, Payload: why})
				}
			}
			return nil
		}
		// MOVED (the map is stale), or the node is unreachable: the
		// map is read again (merged with other requests) and the
		// channels placed after a back-off, until ctx ends. Anything
		// else (an ACL refusal, say) is the caller's answer.
		kind := placeRetry(err)
		if kind == "" {
			return err
		}
		if ctx.Err() != nil || ps.ctx.Err() != nil {
			return &ClusterError{Kind: kind, Node: n.addr, Slot: slot, Err: err}
		}
		ps.c.requestRefresh()
		t := time.NewTimer(clusterBackoff(tries))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		case <-ps.ctx.Done():
			t.Stop()
		}
	}
}

// placeRetry says whether a failure to subscribe is worth another try
// after a map read, and of what kind it is for the error if not.
func placeRetry(err error) string {
	var re *resp.Error
	var ce *ConnError
	switch {
	case errors.As(err, &re):
		switch re.Prefix() {
		case "MOVED", "ASK":
			return "moved"
		case "TRYAGAIN":
			return "tryagain"
		case "CLUSTERDOWN":
			return "down"
		}
		return ""
	case errors.As(err, &ce), errors.Is(err, ErrClosed):
		return "conn"
	}
	return ""
}

// nodeSub returns the subscription connection to n, opening it if needed.
func (ps *ClusterPubSub) nodeSub(ctx context.Context, n *clusterNode) (*nodeSub, error) {
	ps.mu.Lock()
	if ps.closed {
		ps.mu.Unlock()
		return nil, ErrClosed
	}
	if ns := ps.byNode[n.addr]; ns != nil {
		ps.mu.Unlock()
		return ns, nil
	}
	ps.mu.Unlock()
	sub, err := n.cl.NewPubSub(ctx, nil)
	if err != nil {
		return nil, err
	}
	ns := &nodeSub{addr: n.addr, ps: sub}
	sub.mu.Lock()
	sub.dropped = func(ch string) { ps.dropped(ns, ch) }
	sub.mu.Unlock()
	ps.mu.Lock()
	if ps.closed || ps.byNode[n.addr] != nil {
		other := ps.byNode[n.addr]
		ps.mu.Unlock()
		sub.Close()
		if other == nil {
			return nil, ErrClosed
		}
		return other, nil
	}
	ps.byNode[n.addr] = ns
	ps.wg.Add(1) // under mu, after the closed check: Close's Wait sees it
	ps.mu.Unlock()
	go ps.pump(ns)
	return ns, nil
}

// pump moves one node's messages to Receive's queue; when that is full it
// blocks, the node's own queue fills, and its connection stops reading.
func (ps *ClusterPubSub) pump(ns *nodeSub) {
	defer ps.wg.Done()
	for {
		m, err := ns.ps.Receive(ps.ctx)
		if err != nil {
			return // closed: by Close, or by the fixer moving its channels
		}
		if m.Kind == "reconnected" && m.Channel == "" {
			// The node's connection came back with its subscriptions:
			// a gap for each of them.
			ps.mu.Lock()
			var chs []string
			for ch, h := range ps.home {
				if h == ns {
					chs = append(chs, ch)
				}
			}
			ps.mu.Unlock()
			for _, ch := range chs {
				ps.emit(Message{Kind: "reconnected", Channel: ch, Payload: m.Payload})
			}
			continue
		}
		ps.emit(m)
	}
}

func (ps *ClusterPubSub) emit(m Message) {
	select {
	case ps.out <- m:
	case <-ps.ctx.Done():
	}
}

// dropped is called on a node's loop when the server unsubscribed ch by
// itself: its slot has moved. The fixer places it again.
func (ps *ClusterPubSub) dropped(ns *nodeSub, ch string) {
	ps.mu.Lock()
	if ps.want[ch] && ps.home[ch] == ns {
		delete(ps.home, ch)
		ps.why[ch] = "slot moved from " + ns.addr
	}
	ps.mu.Unlock()
	ps.c.requestRefresh()
	select {
	case ps.kick <- struct{}{}:
	default:
	}
}

// fixer places again the channels that lost their node: dropped by a
// resharding, or on a node whose connection is down while the map gives
// their slot to another master (a failover). It looks when kicked and,
// while any node's connection is down, every few hundred milliseconds.
func (ps *ClusterPubSub) fixer() {
	defer ps.wg.Done()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ps.ctx.Done():
			return
		case <-ps.kick:
		case <-tick.C:
		}
		ps.fix()
	}
}

func (ps *ClusterPubSub) fix() {
	ps.mu.Lock()
	if ps.closed {
		ps.mu.Unlock()
		return
	}
	var down []*nodeSub
	for _, ns := range ps.byNode {
		if !ns.ps.connected() {
			down = append(down, ns)
		}
	}
	ps.mu.Unlock()
	if len(down) > 0 {
		ps.c.requestRefresh() // the next look sees the map it reads
	}
	ps.mu.Lock()
	// A node whose connection is down and that no longer serves one of
	// its channels' slots is given up, as is one whose PubSub has ended:
	// all its channels are placed anew.
	var abandon []*nodeSub
	for _, ns := range down {
		if ns.ps.ended() {
			abandon = append(abandon, ns)
			continue
		}
		for ch, h := range ps.home {
			if h == ns {
				if s := ps.c.slots[hashSlot(ch)].Load(); s != nil && s.master.addr != ns.addr {
					abandon = append(abandon, ns)
					break
				}
			}
		}
	}
	for _, ns := range abandon {
		delete(ps.byNode, ns.addr)
		for ch, h := range ps.home {
			if h == ns {
				delete(ps.home, ch)
				ps.why[ch] = "node " + ns.addr + " lost"
			}
		}
	}
	byWhy := map[string][]string{}
	for ch := range ps.want {
		if ps.home[ch] == nil && ps.placing[ch] == 0 {
			w := ps.why[ch]
			if w == "" {
				w = "resubscribed"
			}
			byWhy[w] = append(byWhy[w], ch)
		}
	}
	ps.mu.Unlock()
	for _, ns := range abandon {
		ns.ps.Close()
	}
	for why, chs := range byWhy {
		ctx, cancel := context.WithTimeout(ps.ctx, 2*time.Second)
		err := ps.place(ctx, chs, why)
		cancel()
		if err == nil {
			ps.mu.Lock()
			for _, ch := range chs {
				delete(ps.why, ch)
			}
			ps.mu.Unlock()
		} else if errors.Is(err, ErrClosed) {
			return
		}
	}
}
