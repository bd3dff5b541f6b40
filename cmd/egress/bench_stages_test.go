package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

// stagesJSON is the part of the JSON report about stages.
type stagesJSON struct {
	Stages string `json:"stages"`
	Model  string `json:"model"`
	Rate   *struct {
		Asked float64 `json:"asked_per_s"`
		Due   int64   `json:"due"`
		Sent  int64   `json:"sent"`
	} `json:"rate"`
	Conns struct {
		Asked int `json:"asked"`
	} `json:"connections"`
	Timeline []struct {
		T          float64 `json:"t_s"`
		AskedRate  float64 `json:"asked_per_s"`
		SentRate   float64 `json:"sent_per_s"`
		AskedConns int     `json:"connections_asked"`
		OpenConns  int64   `json:"connections_open"`
	} `json:"timeline"`
}

// arrivalLog is a server that notes when each request came, how many
// were in flight then and on which connection, and takes delay for each.
type arrivalLog struct {
	delay    time.Duration
	start    time.Time
	inFlight atomic.Int64
	mu       sync.Mutex
	seen     []arrival
}

type arrival struct {
	at       time.Duration
	inFlight int64
	conn     string
}

func (a *arrivalLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := a.inFlight.Add(1)
	a.mu.Lock()
	a.seen = append(a.seen, arrival{time.Since(a.start), n, r.RemoteAddr})
	a.mu.Unlock()
	time.Sleep(a.delay)
	a.inFlight.Add(-1)
}

func (a *arrivalLog) take() []arrival {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.seen
	a.seen = nil
	return out
}

// TestBenchRateStages ramps the rate from 0 to 200 req/s over a second
// and holds it a second: 300 requests are due and sent, about 100 of
// them in the first second, and the reports say the stages, the asked
// rate per interval, and draw it against the rate sent.
func TestBenchRateStages(t *testing.T) {
	testkit.CheckLeaks(t)
	dir := t.TempDir()
	jsonFile, html := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.html")
	log := &arrivalLog{start: time.Now()} // before the server, which reads it
	srv := startH2C(t, log)
	out, errOut, code := cli(t, "bench", "-c", "8", "--stage", "1s:200rps", "--stage", "1s:200rps",
		"--json="+jsonFile, "--html", html, srv.url)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "open model, stages 1s:200rps 1s:200rps (mean 150 req/s) over 8 connections") ||
		!strings.Contains(out, "fail if sent<95%") {
		t.Errorf("text report:\n%s", out)
	}
	b, _ := os.ReadFile(jsonFile)
	var r stagesJSON
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Stages != "1s:200rps 1s:200rps" || r.Model != "open" || r.Rate == nil || r.Rate.Due != 300 || r.Rate.Sent != 300 || r.Rate.Asked != 150 {
		t.Fatalf("stages %q model %s rate %+v", r.Stages, r.Model, r.Rate)
	}
	// The second interval may end a few ms past the stages (the sampler
	// closes intervals on its ticks): 200 req/s is asked only over its
	// part before 2 s.
	held := 199.0
	if len(r.Timeline) >= 2 && r.Timeline[1].T > 2 {
		held *= (2 - r.Timeline[0].T) / (r.Timeline[1].T - r.Timeline[0].T)
	}
	if len(r.Timeline) < 2 || r.Timeline[0].AskedRate < 50 || r.Timeline[0].AskedRate > 150 || r.Timeline[1].AskedRate < held {
		t.Errorf("asked rates over time: %+v", r.Timeline)
	}
	// Times from the first request, due when the run starts.
	seen := log.take()
	first := 0
	for _, a := range seen {
		if a.at-seen[0].at < time.Second {
			first++
		}
	}
	if len(seen) != 300 || first < 60 || first > 150 {
		t.Errorf("the server saw %d requests, %d in the first second (want 300, about 100)", len(seen), first)
	}
	page, _ := os.ReadFile(html)
	for _, want := range []string{`"name":"asked req/s"`, `"name":"sent req/s"`, `"name":"req/s"`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("HTML lacks the series %s", want)
		}
	}
}

// TestBenchConnStages ramps the connections in use from 0 to 4 over
// 600 ms, holds them 600 ms and goes down to 1, over HTTP/1.1 and over
// HTTP/2 with 2 streams per connection: a server taking 20 ms per
// request sees one connection's worth early on, on one connection, 4
// connections' worth in the hold, few at the end, and never more
// connections than asked.
func TestBenchConnStages(t *testing.T) {
	testkit.CheckLeaks(t)
	for _, tc := range []struct {
		name    string
		args    []string
		streams int64
	}{
		{"HTTP/1.1", nil, 1},
		{"HTTP/2", []string{"--http2-prior-knowledge", "-m", "2"}, 2},
	} {
		html := filepath.Join(t.TempDir(), "r.html")
		log := &arrivalLog{delay: 20 * time.Millisecond, start: time.Now()}
		srv := startH2C(t, log)
		args := append([]string{"bench", "--json", "--html", html, "--stage", "600ms:4c", "--stage", "600ms:4c", "--stage", "600ms:1c"}, tc.args...)
		out, errOut, code := cli(t, append(args, srv.url)...)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", tc.name, code, out, errOut)
		}
		var r stagesJSON
		json.Unmarshal([]byte(out), &r)
		asked4 := false
		for _, p := range r.Timeline {
			asked4 = asked4 || p.AskedConns == 4
		}
		if r.Model != "closed" || r.Conns.Asked != 4 || !asked4 || r.Stages != "600ms:4c 600ms:4c 600ms:1c" {
			t.Fatalf("%s: %s", tc.name, out)
		}
		var early, hold, late int64
		earlyConns, conns := map[string]bool{}, map[string]bool{}
		seen := log.take()
		if len(seen) == 0 {
			t.Fatalf("%s: no request", tc.name)
		}
		// Times from the run's start: the ramp asks for the first
		// connection at 75 ms (4 over 600 ms rounds to 1 there).
		start := seen[0].at - 75*time.Millisecond
		for _, a := range seen {
			a.at -= start
			conns[a.conn] = true
			switch {
			case a.at < 180*time.Millisecond:
				early = max(early, a.inFlight)
				earlyConns[a.conn] = true
			case a.at > 700*time.Millisecond && a.at < 1100*time.Millisecond:
				hold = max(hold, a.inFlight)
			case a.at > 1700*time.Millisecond:
				late = max(late, a.inFlight)
			}
		}
		// The ramp asks 1 connection from 75 ms to 225 ms, 2 to 375 ms.
		if early > tc.streams || len(earlyConns) != 1 || hold != 4*tc.streams || late == 0 || late > 2*tc.streams || len(conns) > 4 {
			t.Errorf("%s: in flight at most %d early on (%d connections), %d in the hold, %d at the end; %d connections in all",
				tc.name, early, len(earlyConns), hold, late, len(conns))
		}
		page, _ := os.ReadFile(html)
		if !strings.Contains(string(page), "Connections asked and open") {
			t.Errorf("%s: the HTML report has no connections chart", tc.name)
		}
	}
}

func TestBenchStagesErrors(t *testing.T) {
	testkit.CheckLeaks(t)
	s := startTarget(t, false)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--stage", "1s:10rps", "-d", "2s"}, "--stage and -d exclude each other"},
		{[]string{"--stage", "1s"}, "want DURATION:TARGET"},
		{[]string{"--stage", "0s:10rps"}, "positive duration"},
		{[]string{"--stage", "soon:10rps"}, "want DURATION:TARGET"},
		{[]string{"--stage", "1s:10"}, "the target is a rate, as 100rps, or a number of connections"},
		{[]string{"--stage", "1s:-1rps"}, "the target is a rate"},
		{[]string{"--stage", "1s:2.5c"}, "the target is a rate"},
		{[]string{"--stage", "1s:10rps", "--stage", "1s:5c"}, "either a rate (rps) or connections (c)"},
		{[]string{"--stage", "1s:0rps"}, "every rate is 0"},
		{[]string{"--stage", "1s:0c"}, "at least one target of 1c"},
		{[]string{"--stage", "1s:4c", "-c", "8"}, "-c and connection stages (c) exclude each other"},
		{[]string{"--stage", "1s:4c", "-R", "10"}, "-R and connection stages (c) exclude each other"},
		{[]string{"--stage", "1s:4c", "--fail-if", "sent<90%"}, "open model only"},
	} {
		_, errOut, code := cli(t, append(append([]string{"bench"}, tc.args...), s.URL())...)
		if code != 2 || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%q: exit %d, %q lacks %q", tc.args, code, errOut, tc.msg)
		}
		oneLineError(t, errOut)
	}
}
