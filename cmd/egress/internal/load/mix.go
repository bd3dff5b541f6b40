package load

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/egress-go/egress"
)

// Target is one request of a run's mix. Its URL, header values and body
// may hold placeholders, replaced for each request:
//
//	{{seq}}     the request's number in the run: 0, 1, 2, ...
//	{{rand}}    a random number from 0 to 2^32-1
//	{{rand:N}}  a random number from 0 to N-1
//
// In a URL or a header value any other {{...}} is an error (a typo would
// otherwise be sent as is); in a body, which may be anything, it is sent
// as it is.
type Target struct {
	Method string // default GET
	URL    string
	Header []egress.HeaderField
	Body   []byte
	// Weight is how many requests the target gets in each round of the
	// mix, relative to the others; default 1.
	Weight int
}

// MaxWeight bounds a target's weight, and the sum of the weights of a
// mix, so that the mix's schedule stays small.
const MaxWeight = 1_000_000

// part is a piece of a template: literal text, or a placeholder.
type part struct {
	lit  string
	kind byte   // 0 literal, 's' seq, 'r' rand, 'n' rand:N
	n    uint64 // N of rand:N
}

// template is text with placeholders, split once so that each request
// only appends its pieces.
type template []part

func (t template) static() bool { return len(t) == 0 || len(t) == 1 && t[0].kind == 0 }

// parseTemplate splits s at its placeholders. strict refuses a {{...}}
// that is not one.
func parseTemplate(s string, strict bool) (template, error) {
	var t template
	for s != "" {
		i := strings.Index(s, "{{")
		if i < 0 {
			t = append(t, part{lit: s})
			break
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			if strict {
				return nil, fmt.Errorf("%q: {{ without }}", s[i:])
			}
			t = append(t, part{lit: s})
			break
		}
		name := s[i+2 : i+j]
		p, ok := placeholder(name)
		if !ok {
			if strict {
				return nil, fmt.Errorf("unknown placeholder {{%s}} (there are {{seq}}, {{rand}} and {{rand:N}})", name)
			}
			t = append(t, part{lit: s[:i+j+2]})
			s = s[i+j+2:]
			continue
		}
		if i > 0 {
			t = append(t, part{lit: s[:i]})
		}
		t = append(t, p)
		s = s[i+j+2:]
	}
	return t, nil
}

func placeholder(name string) (part, bool) {
	switch name {
	case "seq":
		return part{kind: 's'}, true
	case "rand":
		return part{kind: 'r'}, true
	}
	if n, ok := strings.CutPrefix(name, "rand:"); ok {
		if v, err := strconv.ParseUint(n, 10, 64); err == nil && v > 0 {
			return part{kind: 'n', n: v}, true
		}
	}
	return part{}, false
}

// render appends the template for request seq to dst.
func (t template) render(dst []byte, seq uint64, rng *rand.Rand) []byte {
	for _, p := range t {
		switch p.kind {
		case 0:
			dst = append(dst, p.lit...)
		case 's':
			dst = strconv.AppendUint(dst, seq, 10)
		case 'r':
			dst = strconv.AppendUint(dst, uint64(rng.Uint32()), 10)
		case 'n':
			dst = strconv.AppendUint(dst, rng.Uint64N(p.n), 10)
		}
	}
	return dst
}

// CheckTemplate reports whether s is a valid template for a URL or a
// header value.
func CheckTemplate(s string) error {
	_, err := parseTemplate(s, true)
	return err
}

// RenderFirst renders a URL or header template as the first request
// would see it, with every random number 0: what a caller may check
// before the run.
func RenderFirst(s string) (string, error) {
	t, err := parseTemplate(s, true)
	if err != nil {
		return "", err
	}
	var b []byte
	for _, p := range t {
		if p.kind == 0 {
			b = append(b, p.lit...)
		} else {
			b = append(b, '0')
		}
	}
	return string(b), nil
}

// compiled is a target made ready for sending.
type compiled struct {
	method string
	rawURL string // the URL as given
	url    template
	header []egress.HeaderField // as given: the values of the static fields
	values []template           // per header field; nil when all are static
	body   template
	rawBdy []byte // the body when it is static
	weight int
	sent   atomic.Int64
}

// mix is a run's set of targets and the order they are taken in.
type mix struct {
	targets []*compiled
	// schedule lists target indexes for one round, each as often as its
	// weight, spread out (smooth weighted round-robin): request n takes
	// schedule[n % len(schedule)].
	schedule []int32
	static   bool // one target and nothing to render: the Exchange is set once
}

// newMix compiles the targets.
func newMix(ts []Target) (*mix, error) {
	if len(ts) == 0 {
		return nil, errors.New("load: no target")
	}
	m := &mix{}
	total := 0
	weights := make([]int, len(ts))
	for i, t := range ts {
		w := t.Weight
		if w == 0 {
			w = 1
		}
		if w < 0 || w > MaxWeight {
			return nil, fmt.Errorf("load: target %d: weight %d is not between 1 and %d", i+1, t.Weight, MaxWeight)
		}
		weights[i] = w
		total += w
		if total > MaxWeight {
			return nil, fmt.Errorf("load: the weights add up to more than %d", MaxWeight)
		}
		c := &compiled{method: t.Method, rawURL: t.URL, header: t.Header, rawBdy: t.Body, weight: w}
		if c.method == "" {
			c.method = "GET"
		}
		var err error
		if c.url, err = parseTemplate(t.URL, true); err != nil {
			return nil, fmt.Errorf("load: target %d: URL: %w", i+1, err)
		}
		dynamic := false
		vals := make([]template, len(t.Header))
		for k, f := range t.Header {
			if vals[k], err = parseTemplate(f.Value, true); err != nil {
				return nil, fmt.Errorf("load: target %d: header %s: %w", i+1, f.Name, err)
			}
			dynamic = dynamic || !vals[k].static()
		}
		if dynamic {
			c.values = vals
		}
		if body, _ := parseTemplate(string(t.Body), false); !body.static() {
			c.body = body
		}
		m.targets = append(m.targets, c)
	}
	m.schedule = smoothSchedule(weights, total)
	c := m.targets[0]
	m.static = len(m.targets) == 1 && c.url.static() && c.values == nil && c.body == nil
	return m, nil
}

// smoothSchedule spreads each index over a round as often as its weight,
// interleaved (weights 3 and 1 give 0 0 1 0 rather than 0 0 0 1), as
// nginx's smooth weighted round-robin does.
func smoothSchedule(weights []int, total int) []int32 {
	cur := make([]int, len(weights))
	out := make([]int32, 0, total)
	for range total {
		best := 0
		for i, w := range weights {
			cur[i] += w
			if cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		out = append(out, int32(best))
	}
	return out
}

// reqState is a slot's buffers for rendering its requests. A slot has
// one request in flight at a time, and the transport is done with a
// request's URL, fields and body when its OnDone runs, so they are
// reused.
type reqState struct {
	rng    *rand.Rand
	url    []byte
	header []egress.HeaderField
	body   []byte
	tmp    []byte
}

// prepare sets the Exchange to request seq of the mix.
func (m *mix) prepare(ex *egress.Exchange, st *reqState, seq uint64) {
	c := m.targets[m.schedule[seq%uint64(len(m.schedule))]]
	c.sent.Add(1)
	if m.static {
		return // set once, when the slot was made
	}
	ex.Method = c.method
	if c.url.static() {
		ex.URL = c.rawURL
	} else {
		st.url = c.url.render(st.url[:0], seq, st.rng)
		ex.URL = string(st.url)
	}
	if c.values == nil {
		ex.Header = c.header
	} else {
		st.header = st.header[:0]
		for k, f := range c.header {
			v := f.Value
			if !c.values[k].static() {
				st.tmp = c.values[k].render(st.tmp[:0], seq, st.rng)
				v = string(st.tmp)
			}
			st.header = append(st.header, egress.HeaderField{Name: f.Name, Value: v})
		}
		ex.Header = st.header
	}
	if c.body == nil {
		ex.Body = c.rawBdy
	} else {
		st.body = c.body.render(st.body[:0], seq, st.rng)
		ex.Body = st.body
	}
}

// counts reports the requests sent to each target.
func (m *mix) counts() []TargetCount {
	out := make([]TargetCount, len(m.targets))
	for i, c := range m.targets {
		out[i] = TargetCount{Method: c.method, URL: c.rawURL, Weight: c.weight, Sent: c.sent.Load()}
	}
	return out
}

// TargetCount is how many requests a target of the run was sent.
type TargetCount struct {
	Method string
	URL    string // as given, placeholders and all
	Weight int
	Sent   int64
}
