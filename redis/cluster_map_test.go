package redis

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
	"github.com/egress-go/egress/resp"
)

// normalize sorts a parsed map so that two readings of one cluster compare
// equal.
func normalize(list []shardInfo) []shardInfo {
	out := slices.Clone(list)
	for i := range out {
		out[i].ranges = slices.Clone(out[i].ranges)
		slices.SortFunc(out[i].ranges, func(a, b [2]int) int { return a[0] - b[0] })
		out[i].replicas = slices.Clone(out[i].replicas)
		slices.Sort(out[i].replicas)
	}
	slices.SortFunc(out, func(a, b shardInfo) int { return a.ranges[0][0] - b.ranges[0][0] })
	return out
}

// TestClusterMapReplies reads a real cluster's map every way the client
// may: CLUSTER SHARDS in RESP3 and RESP2, and CLUSTER SLOTS (servers before
// 7.0); all must give the cluster's own shards.
func TestClusterMapReplies(t *testing.T) {
	testkit.CheckLeaks(t)
	tc := startCluster(t, 3, 1)
	node := tc.Masters()[0]
	host := "127.0.0.1"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// A replica that has received nothing yet is listed "loading" by
	// CLUSTER SHARDS and left out of CLUSTER SLOTS, as the client leaves
	// it out of reads: give each master a write its replica acknowledges.
	for _, m := range tc.Masters() {
		vs, err := tcPipeline(m, 5*time.Second, []string{"SET", "{" + m + "}", "x"}, []string{"WAIT", "1", "2000"})
		if err != nil || vs[1].Int != 1 {
			t.Fatalf("%s: SET and WAIT: %v %v", m, err, vs)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := tcCommand(node, 5*time.Second, "CLUSTER", "SHARDS")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(v.String(), `"loading"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas still loading: %s", v.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	var want []shardInfo
	owners := tc.anyView().owners() // from CLUSTER NODES, parsed by the harness
	for _, m := range tc.Masters() {
		si := shardInfo{master: m, replicas: tc.ReplicasOf(m)}
		for s := 0; s < numSlots; s++ {
			if owners[s] != m {
				continue
			}
			if n := len(si.ranges); n > 0 && si.ranges[n-1][1] == s-1 {
				si.ranges[n-1][1] = s
			} else {
				si.ranges = append(si.ranges, [2]int{s, s})
			}
		}
		want = append(want, si)
	}
	want = normalize(want)

	c := newTestClient(t, Options{Addr: node})
	r3, err := c.Do(ctx, "CLUSTER", "SHARDS")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := tcCommand(node, 5*time.Second, "CLUSTER", "SHARDS")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := tcCommand(node, 5*time.Second, "CLUSTER", "SLOTS")
	if err != nil {
		t.Fatal(err)
	}
	for name, parse := range map[string]func() ([]shardInfo, error){
		"SHARDS RESP3": func() ([]shardInfo, error) { return parseShards(r3.Value(), host, false) },
		"SHARDS RESP2": func() ([]shardInfo, error) { return parseShards(&r2, host, false) },
		"SLOTS":        func() ([]shardInfo, error) { return parseSlots(&rs, host) },
	} {
		got, err := parse()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := normalize(got); !slices.EqualFunc(got, want, func(a, b shardInfo) bool {
			return a.master == b.master && slices.Equal(a.ranges, b.ranges) && slices.Equal(a.replicas, b.replicas)
		}) {
			t.Errorf("%s parsed as\n%+v\nthe cluster has\n%+v", name, got, want)
		}
	}
}

func TestRedirection(t *testing.T) {
	for _, c := range []struct {
		msg        string
		kind, addr string
		slot       int
		ok         bool
	}{
		{"MOVED 3999 127.0.0.1:6381", "moved", "127.0.0.1:6381", 3999, true},
		{"ASK 16383 [::1]:7000", "ask", "[::1]:7000", 16383, true},
		{"MOVED 0 :7000", "moved", ":7000", 0, true},
		{"MOVED 16384 127.0.0.1:1", "", "", 0, false},
		{"MOVED x 127.0.0.1:1", "", "", 0, false},
		{"MOVED 12 127.0.0.1", "", "", 0, false},
		{"MOVED 12", "", "", 0, false},
		{"MOVEDX 1 a:1", "", "", 0, false},
		{"ERR MOVED 1 a:1", "", "", 0, false},
	} {
		v := resp.Value{Type: resp.SimpleError, Str: []byte(c.msg)}
		kind, slot, addr, ok := redirection(&v)
		if ok != c.ok || kind != c.kind || addr != c.addr || (ok && slot != c.slot) {
			t.Errorf("redirection(%q) = %q %d %q %v, want %q %d %q %v", c.msg, kind, slot, addr, ok, c.kind, c.slot, c.addr, c.ok)
		}
	}
	ok := resp.Value{Type: resp.SimpleString, Str: []byte("MOVED 1 a:1")}
	if _, _, _, is := redirection(&ok); is {
		t.Error("a status reply taken for a redirection")
	}
}

// FuzzClusterReplies: whatever a node answers to CLUSTER SHARDS or SLOTS,
// or in an error reply, the client parses without panicking and keeps
// only slot ranges it can index.
func FuzzClusterReplies(f *testing.F) {
	f.Add([]byte("*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:16383\r\n$5\r\nnodes\r\n*1\r\n*8\r\n$2\r\nid\r\n$1\r\na\r\n$4\r\nport\r\n:7000\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$6\r\nhealth\r\n$6\r\nonline\r\n"))
	f.Add([]byte("*1\r\n%2\r\n+slots\r\n*2\r\n:5\r\n:1\r\n+nodes\r\n*1\r\n%3\r\n+endpoint\r\n+?\r\n+ip\r\n+\r\n+port\r\n:-1\r\n"))
	f.Add([]byte("*2\r\n*3\r\n:0\r\n:5460\r\n*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$1\r\nx\r\n*4\r\n:5461\r\n:16383\r\n*2\r\n$0\r\n\r\n:7001\r\n*2\r\n$1\r\n?\r\n:1\r\n"))
	f.Add([]byte("-MOVED 3999 127.0.0.1:6381\r\n"))
	f.Add([]byte("-ASK 99999999999999999999 h:1\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := resp.NewDecoder(resp.Limits{})
		defer d.Reset()
		d.Feed(data, func(v *resp.Value) error {
			for _, parse := range []func() ([]shardInfo, error){
				func() ([]shardInfo, error) { return parseShards(v, "h", false) },
				func() ([]shardInfo, error) { return parseShards(v, "h", true) },
				func() ([]shardInfo, error) { return parseSlots(v, "h") },
			} {
				list, err := parse()
				if err != nil {
					continue
				}
				for _, si := range list {
					for _, rg := range si.ranges {
						if rg[0] < 0 || rg[1] >= numSlots || rg[0] > rg[1] {
							t.Fatalf("range %v kept", rg)
						}
					}
				}
			}
			if _, slot, addr, ok := redirection(v); ok && (slot < 0 || slot >= numSlots || addr == "") {
				t.Fatalf("redirection to slot %d at %q", slot, addr)
			}
			return nil
		})
	})
}
