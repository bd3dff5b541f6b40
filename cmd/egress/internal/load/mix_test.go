package load

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/egress-go/egress"
	"github.com/egress-go/egress/internal/testkit"
)

func TestTemplate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		in, want string // want with seq 42; R marks a random number
	}{
		{"/plain", "/plain"},
		{"/item/{{seq}}", "/item/42"},
		{"{{seq}}{{seq}}-{{seq}}", "4242-42"},
		{"id={{rand:1}}&n={{seq}}", "id=0&n=42"},
		{"", ""},
	} {
		tp, err := parseTemplate(tc.in, true)
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if got := string(tp.render(nil, 42, rng)); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
		}
		if tp.static() != !strings.Contains(tc.in, "{{") {
			t.Errorf("%q: static %v", tc.in, tp.static())
		}
	}
	// {{rand}} spans 32 bits; {{rand:N}} stays below N and reaches its
	// ends.
	tp, _ := parseTemplate("{{rand}}", true)
	tn, _ := parseTemplate("{{rand:3}}", true)
	seen := map[string]bool{}
	big := false
	for range 1000 {
		v, _ := strconv.ParseUint(string(tp.render(nil, 0, rng)), 10, 64)
		big = big || v > 1<<31
		seen[string(tn.render(nil, 0, rng))] = true
	}
	if !big || len(seen) != 3 || !seen["0"] || !seen["2"] {
		t.Errorf("rand above 2^31: %v; rand:3 gave %v", big, seen)
	}
	for in, msg := range map[string]string{
		"/x/{{seqq}}":   "unknown placeholder {{seqq}}",
		"/x/{{rand:0}}": "unknown placeholder",
		"/x/{{rand:x}}": "unknown placeholder",
		"/x/{{seq":      "{{ without }}",
	} {
		if _, err := parseTemplate(in, true); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want %q", in, err, msg)
		}
	}
	// A body is sent as it is but for the placeholders it names.
	tp, err := parseTemplate(`{"a":{{x}},"n":{{seq}},"t":"{{"}`, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(tp.render(nil, 7, rng)); got != `{"a":{{x}},"n":7,"t":"{{"}` {
		t.Errorf("lenient body: %q", got)
	}
	if got, _ := RenderFirst("/a/{{seq}}/{{rand:9}}"); got != "/a/0/0" {
		t.Errorf("RenderFirst: %q", got)
	}
}

func TestSmoothSchedule(t *testing.T) {
	if got := smoothSchedule([]int{3, 1}, 4); !slices.Equal(got, []int32{0, 0, 1, 0}) {
		t.Errorf("3:1 gives %v", got)
	}
	if got := smoothSchedule([]int{1, 1, 1}, 3); !slices.Equal(got, []int32{0, 1, 2}) {
		t.Errorf("1:1:1 gives %v", got)
	}
	got := smoothSchedule([]int{5, 2, 1}, 8)
	n := map[int32]int{}
	for _, i := range got {
		n[i]++
	}
	if n[0] != 5 || n[1] != 2 || n[2] != 1 {
		t.Errorf("5:2:1 gives %v", got)
	}
	if _, err := newMix([]Target{{URL: "http://h/", Weight: -1}}); err == nil {
		t.Error("negative weight accepted")
	}
	if _, err := newMix([]Target{{URL: "http://h/", Weight: MaxWeight}, {URL: "http://h/"}}); err == nil {
		t.Error("weights above the bound accepted")
	}
}

// recorder is a server that keeps what each request was.
type recorder struct {
	mu   sync.Mutex
	seen []string // "METHOD path header body"
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.seen = append(rc.seen, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("X-N")+" "+string(b))
	rc.mu.Unlock()
}

// TestRunTargets sends a weighted mix with placeholders, in the closed
// and the open model: the server sees each target as often as its
// weight asks, and every request number once, in URL, field and body.
func TestRunTargets(t *testing.T) {
	testkit.CheckLeaks(t)
	for _, rate := range []float64{0, 2000} {
		rc := &recorder{}
		srv := httptest.NewServer(rc)
		targets := []Target{
			{URL: srv.URL + "/a/{{seq}}", Header: []egress.HeaderField{{Name: "X-N", Value: "{{seq}}"}}, Weight: 2},
			{Method: "POST", URL: srv.URL + "/b", Body: []byte("n={{seq}}")},
		}
		start := time.Now()
		res, err := Run(context.Background(), Config{Targets: targets, Connections: 3, Requests: 300, Rate: rate,
			Duration: 20 * time.Second, Loops: 1})
		took := time.Since(start) // -n ends the run before -d
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		if res.Status[200] != 300 || len(res.Targets) != 2 || res.Targets[0].Sent != 200 || res.Targets[1].Sent != 100 {
			t.Fatalf("rate %v: status %v errors %v targets %+v", rate, res.Status, res.Errors, res.Targets)
		}
		seqs := map[int]bool{}
		for _, s := range rc.seen {
			f := strings.Fields(s)
			var n int
			switch {
			case f[0] == "GET" && strings.HasPrefix(f[1], "/a/") && len(f) == 3 && f[2] == f[1][3:]:
				n, _ = strconv.Atoi(f[2])
				if n%3 == 1 {
					t.Errorf("request %d went to /a; the schedule (a b a) sends 1, 4, 7 ... to /b", n)
				}
			case f[0] == "POST" && f[1] == "/b" && len(f) == 3 && strings.HasPrefix(f[2], "n="):
				n, _ = strconv.Atoi(f[2][2:])
				if n%3 != 1 {
					t.Errorf("request %d went to /b", n)
				}
			default:
				t.Fatalf("unexpected request %q", s)
			}
			seqs[n] = true
		}
		if len(rc.seen) != 300 || len(seqs) != 300 || took > 15*time.Second {
			t.Fatalf("rate %v: %d requests with %d numbers in %v", rate, len(rc.seen), len(seqs), took)
		}
	}
}
