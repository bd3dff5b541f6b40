package redis

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
	"github.com/egress-go/egress/resp"
)

// clusterModeClient starts a redis-server with cluster mode on (no slots
// assigned: it answers CLUSTER KEYSLOT, COMMAND and COMMAND GETKEYS, which
// is all these tests ask) and returns a client for it.
func clusterModeClient(t *testing.T) *Client {
	t.Helper()
	s := startServer(t, serverConfig{Extra: []string{"cluster-enabled yes"}})
	testkit.CheckLeaks(t)
	return newTestClient(t, Options{Addr: s.Addr})
}

// commandKeys lists the keys commandSlot hashes, in argument order.
func commandKeys(args []string) []string {
	p, _ := keyPositions(args)
	var keys []string
	if p.extra != 0 && (p.first == 0 || p.extra < p.first) {
		keys = append(keys, args[p.extra])
	}
	if p.first != 0 {
		for i := p.first; i <= p.last; i += p.step {
			keys = append(keys, args[i])
		}
	}
	if p.extra != 0 && p.first != 0 && p.extra > p.first {
		keys = append(keys, args[p.extra])
	}
	return keys
}

// inv splits an invocation written with spaces; `""` is an empty argument.
func inv(s string) []string {
	args := strings.Fields(s)
	for i, a := range args {
		if a == `""` {
			args[i] = ""
		}
	}
	return args
}

func TestHashSlotVectors(t *testing.T) {
	// The check value of CRC16-XMODEM, which is below 16384.
	if got := hashSlot("123456789"); got != 0x31C3 {
		t.Errorf(`hashSlot("123456789") = %#x, want 0x31C3`, got)
	}
	// Slots as CLUSTER KEYSLOT gives them on redis-server 7.0.
	cases := []struct {
		key  string
		slot int
		same string // a key that must share the slot ("" for none)
	}{
		{"", 0, ""},
		{"foo", 12182, ""},
		{"a", 15495, ""},
		{"b", 3300, ""},
		{"{user1000}.following", 3443, "user1000"},
		{"{user1000}.followers", 3443, "user1000"},
		{"foo{}{bar}", 8363, ""}, // empty first tag: the whole key
		{"foo{{bar}}zap", 4015, "{bar"},
		{"foo{bar}{zap}", 5061, "bar"},
		{"{}", 15257, ""},
		{"{t}", 15891, "t"},
		{"x{t}y", 15891, "t"},
		{"{", hashSlot("{"), ""},
		{"}{t", hashSlot("}{t"), ""}, // no '}' after the '{'
	}
	for _, c := range cases {
		if got := hashSlot(c.key); got != c.slot {
			t.Errorf("hashSlot(%q) = %d, want %d", c.key, got, c.slot)
		}
		if c.same != "" && hashSlot(c.same) != c.slot {
			t.Errorf("hashSlot(%q) = %d, want %d as %q", c.same, hashSlot(c.same), c.slot, c.key)
		}
	}
	if hashSlot("foo{}{bar}") == hashSlot("bar") {
		t.Error(`"foo{}{bar}" hashed as its second tag`)
	}
	if a := testing.AllocsPerRun(100, func() { hashSlot("{user1000}.following") }); a != 0 {
		t.Errorf("hashSlot allocates %.1f times", a)
	}
}

// TestHashSlotMatchesServer compares hashSlot with CLUSTER KEYSLOT for a
// few thousand random keys, many with braces.
func TestHashSlotMatchesServer(t *testing.T) {
	c := clusterModeClient(t)
	ctx := ctxT(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	const alphabet = "ab{}{}x\x00\xff\r\n "
	for i := range 3000 {
		n := rng.IntN(16)
		b := make([]byte, n)
		for j := range b {
			if i%3 == 0 {
				b[j] = byte(rng.IntN(256))
			} else {
				b[j] = alphabet[rng.IntN(len(alphabet))]
			}
		}
		key := string(b)
		r, err := c.Do(ctx, "CLUSTER", "KEYSLOT", key)
		if err != nil {
			t.Fatal(err)
		}
		want, err := r.Int()
		if err != nil {
			t.Fatalf("CLUSTER KEYSLOT %q: %v", key, err)
		}
		if got := hashSlot(key); got != int(want) {
			t.Fatalf("hashSlot(%q) = %d, CLUSTER KEYSLOT says %d", key, got, want)
		}
	}
}

// serverCommand is one entry of COMMAND's reply.
type serverCommand struct {
	name              string
	flags             []string
	first, last, step int
	subs              []serverCommand
}

func (c *serverCommand) has(flag string) bool { return slices.Contains(c.flags, flag) }

func parseServerCommand(t *testing.T, v *resp.Value) serverCommand {
	t.Helper()
	if len(v.Elems) < 10 {
		t.Fatalf("COMMAND entry with %d fields: %s", len(v.Elems), v)
	}
	name, err := AsString(&v.Elems[0])
	if err != nil {
		t.Fatal(err)
	}
	flags, err := AsStrings(&v.Elems[2])
	if err != nil {
		t.Fatal(err)
	}
	var pos [3]int
	for i := range pos {
		n, err := AsInt(&v.Elems[3+i])
		if err != nil {
			t.Fatal(err)
		}
		pos[i] = int(n)
	}
	c := serverCommand{name: name, flags: flags, first: pos[0], last: pos[1], step: pos[2]}
	for i := range v.Elems[9].Elems {
		c.subs = append(c.subs, parseServerCommand(t, &v.Elems[9].Elems[i]))
	}
	return c
}

// postServerCommands are in commandTable for servers newer than the one
// the tests run (7.0).
var postServerCommands = map[string]bool{"WAITAOF": true}

// TestCommandSlotTableMatchesServer checks commandTable against COMMAND:
// every command and subcommand of the server is known; first, last, step
// and the readonly flag agree; the commands the server marks movablekeys
// are those found by code.
func TestCommandSlotTableMatchesServer(t *testing.T) {
	c := clusterModeClient(t)
	r, err := c.Do(ctxT(t), "COMMAND")
	if err != nil {
		t.Fatal(err)
	}
	v := r.Value()
	if len(v.Elems) < 200 {
		t.Fatalf("COMMAND listed %d commands", len(v.Elems))
	}
	seen := map[string]bool{}
	check := func(sc serverCommand, name string, spec keySpec) {
		t.Helper()
		seen[name] = true
		if got, want := [3]int{int(spec.first), int(spec.last), int(spec.step)}, [3]int{sc.first, sc.last, sc.step}; got != want {
			t.Errorf("%s: first, last, step = %v, server says %v", name, got, want)
		}
		if spec.ro != sc.has("readonly") {
			t.Errorf("%s: readonly %v, server flags %v", name, spec.ro, sc.flags)
		}
		movable := spec.find != ksFixed && spec.find != ksSub
		// SORT_RO is movablekeys for the keys its BY and GET patterns
		// name; in a cluster those must hash to the key's slot, so the key
		// alone routes it.
		if movable != sc.has("movablekeys") && name != "SORT_RO" {
			t.Errorf("%s: found by code %v, server flags %v", name, movable, sc.flags)
		}
	}
	for i := range v.Elems {
		sc := parseServerCommand(t, &v.Elems[i])
		name := strings.ToUpper(sc.name)
		spec, ok := commandTable[name]
		if !ok {
			t.Errorf("%s: not in commandTable", name)
			continue
		}
		check(sc, name, spec)
		if spec.find == ksSub && len(sc.subs) == 0 {
			t.Errorf("%s: a container in commandTable, not on the server", name)
		}
		for _, sub := range sc.subs {
			full := strings.ToUpper(sub.name)
			if spec.find == ksSub {
				subSpec, ok := commandTable[full]
				if !ok {
					t.Errorf("%s: not in commandTable", full)
					continue
				}
				check(sub, full, subSpec)
			} else if sub.first != 0 || sub.has("movablekeys") || sub.has("readonly") {
				// A container without its subcommands in the table
				// must have none with keys or reads.
				t.Errorf("%s: has keys or reads (%d %d %d %v), but %s is keyless in commandTable",
					full, sub.first, sub.last, sub.step, sub.flags, name)
			}
			// lookupCommand finds the entry from the arguments, in any case.
			_, subName, _ := strings.Cut(sub.name, "|")
			got, ok := lookupCommand([]string{strings.ToLower(name), strings.ToUpper(subName)})
			want := commandTable[full]
			if !ok || got != want {
				t.Errorf("lookupCommand(%s %s) = %v %v, want %v", name, subName, got, ok, want)
			}
		}
		if got, ok := lookupCommand([]string{sc.name}); !ok || (spec.find != ksSub && got != spec) {
			t.Errorf("lookupCommand(%s) = %v %v, want %v", sc.name, got, ok, spec)
		}
	}
	for name := range commandTable {
		if !seen[name] && !postServerCommands[name] {
			t.Errorf("%s: in commandTable, unknown to the server", name)
		}
	}
}

// getKeysSamples are invocations whose keys must be those COMMAND GETKEYS
// finds: every command the server marks movablekeys, several ways, and
// ordinary ones.
var getKeysSamples = []string{
	// Ordinary commands.
	"GET k", "set k v EX 10", "MGET a b c", "MSET a 1 b 2 c 3", "MSETNX a 1 b 2", "DEL a b c",
	"UNLINK a b", "EXISTS a b", "TOUCH a", "HSET h f v f2 v2", "HGETALL h", "LPUSH l a b",
	"BLPOP a b 0", "BRPOP a 0", "BLMOVE a b LEFT RIGHT 0", "LMOVE a b LEFT LEFT", "RPOPLPUSH a b",
	"RENAME a b", "RENAMENX a b", "COPY a b REPLACE", "SMOVE a b m", "SINTERSTORE d a b",
	"SUNIONSTORE d a", "SDIFF a b c", "PFMERGE d a b", "PFCOUNT a b", "BITOP AND d a b",
	"BITFIELD_RO k GET u8 0", "LCS a b", "GEOSEARCHSTORE d s FROMMEMBER m BYRADIUS 1 km",
	"ZRANGESTORE d s 0 -1", "XADD s * f v", "XACK s g 1-0", "XCLAIM s g c 0 1-0", "ZADD z 1 m",
	"GETEX k PERSIST", "EXPIRE k 10", "RESTORE k 0 payload", "BZPOPMIN a b 1", "WATCH a b",
	"OBJECT ENCODING k", "object freq k", "MEMORY USAGE k SAMPLES 5", "XINFO STREAM s FULL",
	"XINFO GROUPS s", "XINFO CONSUMERS s g", "XGROUP CREATE s g $ MKSTREAM", "XGROUP DESTROY s g",
	"XGROUP CREATECONSUMER s g c", "XGROUP SETID s g 0", "xgroup delconsumer s g c",
	// Scripts and functions.
	"EVAL s 2 a b x", "EVAL s 0", "eval s 1 k", "EVALSHA sha 1 k a", "EVAL_RO s 1 k",
	"EVALSHA_RO sha 3 a b c", "FCALL f 2 a b x", "FCALL_RO f 1 a",
	// Streams.
	"XREAD COUNT 1 BLOCK 0 STREAMS a b 0 0", "XREAD STREAMS a $", "xread streams a b 0 0",
	"XREADGROUP GROUP g c COUNT 1 NOACK STREAMS a b > >", "xreadgroup group g c streams a 0",
	// numkeys.
	"ZUNION 2 a b WITHSCORES", "ZINTER 3 a b c", "ZDIFF 1 a", "ZUNIONSTORE d 2 a b WEIGHTS 1 2 AGGREGATE MAX",
	"ZINTERSTORE d 1 a", "ZDIFFSTORE d 2 a b", "ZINTERCARD 2 a b LIMIT 1", "SINTERCARD 3 a b c",
	"LMPOP 2 a b LEFT COUNT 2", "BLMPOP 0 1 a RIGHT", "ZMPOP 2 a b MIN", "BZMPOP 1.5 2 a b MAX COUNT 3",
	"ZUNION 1 a b c",
	// MIGRATE.
	`MIGRATE h 1 k 0 5 COPY`, `MIGRATE h 1 "" 0 5 KEYS a b c`, `MIGRATE h 1 "" 0 5 REPLACE AUTH pw KEYS a`,
	`MIGRATE h 1 "" 0 5 AUTH2 u p KEYS a b`, `MIGRATE h 1 "" 0 5 AUTH keys KEYS a`,
	`migrate h 1 "" 0 5 COPY keys a`,
	// SORT.
	"SORT k", "SORT k BY w_* GET o_* STORE d", "SORT k LIMIT 0 10 ALPHA DESC STORE d",
	"sort k get store d", "sort k limit store 1 store d", "SORT_RO k BY x GET y",
	// GEORADIUS.
	"GEORADIUS k 1 2 3 km", "GEORADIUS k 1 2 3 km WITHDIST STORE d", "GEORADIUS k 1 2 3 km STOREDIST d",
	"GEORADIUS k 1 2 3 km COUNT 5 ANY STORE d", "GEORADIUSBYMEMBER k m 3 km STORE d",
	"georadiusbymember k store 3 km storedist d COUNT 2", "GEORADIUS k 1 2 store m count 3",
}

// TestCommandKeysMatchGetKeys compares the keys commandSlot hashes with
// those COMMAND GETKEYS finds.
func TestCommandKeysMatchGetKeys(t *testing.T) {
	c := clusterModeClient(t)
	ctx := ctxT(t)
	movable := map[string]bool{}
	for _, s := range getKeysSamples {
		args := inv(s)
		r, err := c.Do(ctx, append([]string{"COMMAND", "GETKEYS"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		want, err := r.Strings()
		if err != nil {
			t.Errorf("COMMAND GETKEYS %s: %v", s, err)
			continue
		}
		got := commandKeys(args)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: keys %q, COMMAND GETKEYS says %q", s, got, want)
		}
		if spec, _ := lookupCommand(args); spec.find != ksFixed && spec.find != ksSub {
			movable[strings.ToUpper(args[0])] = true
		}
	}
	// Every command found by code has samples.
	for name, spec := range commandTable {
		if spec.find != ksFixed && spec.find != ksSub && !movable[name] {
			t.Errorf("%s: no sample", name)
		}
	}
}

// TestCommandKeysRouting covers where commandSlot deliberately differs from
// COMMAND GETKEYS, malformed commands, unknown ones and containers.
func TestCommandKeysRouting(t *testing.T) {
	cases := []struct {
		cmd  string
		keys []string
		ro   bool
	}{
		// Shard channels are routed by their slot, though GETKEYS does
		// not call them keys.
		{"SPUBLISH ch m", []string{"ch"}, false},
		{"SSUBSCRIBE a{t} b{t}", []string{"a{t}", "b{t}"}, false},
		{"SUNSUBSCRIBE a", []string{"a"}, false},
		{"SUNSUBSCRIBE", nil, false},
		// The options are read as the server executes them: a group named
		// "streams" is not the keyword (GETKEYS searches for the word).
		{"XREADGROUP GROUP streams c STREAMS a 0", []string{"a"}, false},
		{"XREAD COUNT streams STREAMS a 0", []string{"a"}, true},
		// The last of STORE and STOREDIST is the one executed.
		{"GEORADIUS k{t} 1 2 3 km STORE d STOREDIST e{t}", []string{"k{t}", "e{t}"}, false},
		{"SORT k{t} STORE d STORE e{t}", []string{"k{t}", "e{t}"}, false},
		// MIGRATE of the key "".
		{`MIGRATE h 1 "" 0 5`, []string{""}, false},
		// Malformed: the server refuses them, wherever they go.
		{"XREAD STREAMS a b c", nil, true},
		{"XREAD STREAMS", nil, true},
		{"XREAD BOGUS STREAMS a 0", nil, true},
		{"ZUNION 2 a", nil, true},
		{"ZUNION 0", nil, true},
		{"ZUNION x a", nil, true},
		{"EVAL s 3 a b", nil, false},
		{"EVAL s -1 a", nil, false},
		{"ZUNIONSTORE d 0", nil, false},
		{`MIGRATE h 1 "" 0 5 KEYS`, nil, false},
		{"GET", nil, true},
		{"MSET", nil, false},
		{"BLPOP a", nil, false},
		{"RENAME a", []string{"a"}, false}, // last key past the end
		{"SMOVE a", []string{"a"}, false},
		// Containers: subcommands with and without a key, in any case.
		{"OBJECT HELP", nil, false},
		{"object encoding k", []string{"k"}, true},
		{"OBJECT NOSUCH k", nil, false},
		{"OBJECT", nil, false},
		{"memory usage k", []string{"k"}, true},
		{"MEMORY STATS", nil, false},
		{"XGROUP CREATE s g $", []string{"s"}, false},
		{"CLIENT SETNAME name", nil, false},
		{"CONFIG GET maxmemory", nil, false},
		{"CLUSTER KEYSLOT k", nil, false},
		// Keyless commands, one that reads.
		{"PING", nil, false},
		{"PUBLISH ch m", nil, false},
		{"KEYS *", nil, true},
		{"WAITAOF 1 0 0", nil, false},
		// Unknown names (module commands) take their first argument.
		{"FT.SEARCH idx q", []string{"idx"}, false},
		{"JSON.GET doc $", []string{"doc"}, false},
		{"NOSUCH", nil, false},
		{strings.Repeat("G", 40) + " k", []string{"k"}, false},
		{"GET k", []string{"k"}, true},
		{"gEt k", []string{"k"}, true},
		{"SET k v", []string{"k"}, false},
	}
	for _, c := range cases {
		args := inv(c.cmd)
		if got := commandKeys(args); !slices.Equal(got, c.keys) {
			t.Errorf("%s: keys %q, want %q", c.cmd, got, c.keys)
		}
		slot, ro, err := commandSlot(args)
		if err != nil {
			t.Errorf("%s: %v", c.cmd, err)
			continue
		}
		want := -1
		if len(c.keys) > 0 {
			want = hashSlot(c.keys[0])
		}
		if slot != want || ro != c.ro {
			t.Errorf("%s: slot %d readonly %v, want %d %v", c.cmd, slot, ro, want, c.ro)
		}
	}
	if slot, ro, err := commandSlot(nil); slot != -1 || ro || err != nil {
		t.Errorf("no args: %d %v %v", slot, ro, err)
	}
}

func TestCrossSlotErrors(t *testing.T) {
	a, b := "a", "b" // slots 15495 and 3300
	if hashSlot(a) == hashSlot(b) {
		t.Fatal("a and b share a slot")
	}
	cases := []struct {
		cmd    string
		k0, k1 string
	}{
		{"MGET a b", a, b},
		{"MGET a a{a} b a", a, b},
		{"MSET a 1 b 2", a, b},
		{"del a b", a, b},
		{"EVAL s 2 a b", a, b},
		{"EVALSHA sha 3 a{x} a b", "a{x}", a},
		{"XREAD COUNT 1 STREAMS a b 0 0", a, b},
		{"ZUNIONSTORE a 2 b b", a, b},
		{"ZUNIONSTORE b 1 a", b, a},
		{"SORT a STORE b", a, b},
		{"GEORADIUS a 1 2 3 km STORE b", a, b},
		{`MIGRATE h 1 "" 0 5 KEYS a b`, a, b},
		{"SSUBSCRIBE a b", a, b},
		{"RENAME a b", a, b},
	}
	for _, c := range cases {
		args := inv(c.cmd)
		slot, _, err := commandSlot(args)
		if !errors.Is(err, ErrCrossSlot) {
			t.Errorf("%s: slot %d, err %v, want ErrCrossSlot", c.cmd, slot, err)
			continue
		}
		var cs *CrossSlotError
		if !errors.As(err, &cs) {
			t.Fatalf("%s: %T", c.cmd, err)
		}
		want := CrossSlotError{Command: args[0], Keys: [2]string{c.k0, c.k1}, Slots: [2]int{hashSlot(c.k0), hashSlot(c.k1)}}
		if *cs != want {
			t.Errorf("%s: %+v, want %+v", c.cmd, *cs, want)
		}
		msg := err.Error()
		for _, s := range []string{args[0], strconv.Quote(c.k0), strconv.Quote(c.k1), strconv.Itoa(want.Slots[0]), strconv.Itoa(want.Slots[1])} {
			if !strings.Contains(msg, s) {
				t.Errorf("%s: error %q does not say %s", c.cmd, msg, s)
			}
		}
		if slot != -1 {
			t.Errorf("%s: slot %d with an error", c.cmd, slot)
		}
	}
	// Keys sharing a hash tag share a slot.
	for _, s := range []string{
		"MGET a{t} b{t} {t}", "MSET a{t} 1 b{t} 2", "DEL {t}x {t}y", "EVAL s 2 a{t} b{t} c",
		"XREAD STREAMS a{t} b{t} 0 0", "ZUNIONSTORE d{t} 2 a{t} b{t}", "SSUBSCRIBE a{t} b{t}",
	} {
		slot, _, err := commandSlot(inv(s))
		if err != nil || slot != hashSlot("t") {
			t.Errorf("%s: slot %d err %v, want %d", s, slot, err, hashSlot("t"))
		}
	}
	if errors.Is(errors.New("other"), ErrCrossSlot) || (&CrossSlotError{}).Is(errors.New("x")) {
		t.Error("ErrCrossSlot matches another error")
	}
}

func TestCommandSlotAllocs(t *testing.T) {
	for _, s := range []string{
		"GET k", "SET k v", "set k v EX 10", "MGET k1{t} k2{t}", "HSET h f v", "EVALSHA 0123456789abcdef 2 a{t} b{t} x",
		"EVAL_RO s 1 k", "ZUNIONSTORE d{t} 2 a{t} b{t}", "XREAD COUNT 1 STREAMS a{t} b{t} 0 0",
		"OBJECT ENCODING k", "XGROUP CREATECONSUMER s g c", "FT.SEARCH idx q", "PING",
	} {
		args := inv(s)
		var slot int
		var err error
		if a := testing.AllocsPerRun(200, func() { slot, _, err = commandSlot(args) }); a != 0 {
			t.Errorf("%s: %.1f allocations", s, a)
		}
		if err != nil || (slot < 0 && s != "PING") {
			t.Errorf("%s: slot %d err %v", s, slot, err)
		}
	}
}

func FuzzCommandSlot(f *testing.F) {
	for _, s := range getKeysSamples {
		f.Add(strings.Join(inv(s), "\n"))
	}
	for _, s := range []string{
		"EVAL\ns\n999999999\na", "EVAL\ns\n-0", "XREAD\nSTREAMS", "XREADGROUP\nGROUP", "MIGRATE\nh\n1\n\n0\n5\nAUTH2",
		"SORT", "SORT\nk\nLIMIT", "GEORADIUS\nk\n1\n2\n3\nkm\nSTORE", "OBJECT\n", "MSET\na", "RENAME\na", "X\n{}\n{", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args := strings.Split(s, "\n")
		slot, _, err := commandSlot(args)
		keys := commandKeys(args)
		if err != nil {
			var cs *CrossSlotError
			if !errors.As(err, &cs) || slot != -1 {
				t.Fatalf("%q: slot %d err %v", args, slot, err)
			}
			if cs.Slots[0] == cs.Slots[1] || !slices.Contains(keys, cs.Keys[0]) || !slices.Contains(keys, cs.Keys[1]) ||
				cs.Slots[0] != hashSlot(cs.Keys[0]) || cs.Slots[1] != hashSlot(cs.Keys[1]) {
				t.Fatalf("%q: %+v, keys %q", args, cs, keys)
			}
			return
		}
		if len(keys) == 0 {
			if slot != -1 {
				t.Fatalf("%q: slot %d without keys", args, slot)
			}
			return
		}
		for _, k := range keys {
			if hashSlot(k) != slot {
				t.Fatalf("%q: slot %d, key %q is in %d", args, slot, k, hashSlot(k))
			}
		}
		if slot < 0 || slot >= 16384 || !slices.ContainsFunc(args[1:], func(a string) bool { return hashSlot(a) == slot }) {
			t.Fatalf("%q: slot %d is no argument's", args, slot)
		}
	})
}
