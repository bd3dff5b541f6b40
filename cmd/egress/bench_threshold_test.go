package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

// thresholdJSON is the part of the JSON report about thresholds.
type thresholdJSON struct {
	Requests   int64 `json:"requests"`
	Non2xx     int64 `json:"non2xx"`
	Thresholds []struct {
		FailIf  string   `json:"fail_if"`
		Metric  string   `json:"metric"`
		Actual  *float64 `json:"actual"`
		Unit    string   `json:"unit"`
		Met     bool     `json:"met"`
		Default bool     `json:"default"`
	} `json:"thresholds"`
	ThresholdsMet *bool `json:"thresholds_met"`
}

func parseThresholdJSON(t *testing.T, out string) *thresholdJSON {
	t.Helper()
	parseReport(t, out)
	var r thresholdJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return &r
}

// TestBenchFailIf: thresholds decide the exit status, 0 when all are met
// and 99 when one is not, and each is reported as met or not with what
// the run measured, in the text, JSON and HTML reports. The server takes
// 50 ms per request, so p50 is above 40 ms and below 1 s: "p50>40ms"
// fails the run, "p50>1s" does not.
func TestBenchFailIf(t *testing.T) {
	testkit.CheckLeaks(t)
	s := startTarget(t, false)
	url := s.URL() + "/delay/50"

	out, errOut, code := cli(t, "bench", "--json", "-c", "2", "-n", "10",
		"--fail-if", "p50>1s", "--fail-if", "errors>0,non2xx>0", "--fail-if", "rps<1", url)
	if code != 0 {
		t.Fatalf("exit %d, want 0: every threshold holds\n%s%s", code, out, errOut)
	}
	r := parseThresholdJSON(t, out)
	if r.ThresholdsMet == nil || !*r.ThresholdsMet || len(r.Thresholds) != 4 {
		t.Fatalf("thresholds %+v met %v", r.Thresholds, r.ThresholdsMet)
	}
	for i, want := range []string{"p50>1s", "errors>0", "non2xx>0", "rps<1"} {
		th := r.Thresholds[i]
		if th.FailIf != want || !th.Met || th.Default || th.Actual == nil {
			t.Errorf("threshold %d: %+v, want %s met", i, th, want)
		}
	}
	if p50 := r.Thresholds[0]; *p50.Actual < 50 || *p50.Actual > 1000 || p50.Unit != "ms" {
		t.Errorf("p50 %+v", p50)
	}

	html := filepath.Join(t.TempDir(), "r.html")
	out, errOut, code = cli(t, "bench", "-c", "2", "-n", "10", "--html", html,
		"--fail-if", "p50 > 40ms", "--fail-if", "p99>1s", url)
	if code != 99 {
		t.Fatalf("exit %d, want 99: p50 is above 40 ms\n%s%s", code, out, errOut)
	}
	oneLineError(t, errOut)
	if !strings.HasPrefix(errOut, "egress: bench: threshold not met: p50>40ms: p50 ") || strings.Contains(errOut, "p99") {
		t.Errorf("stderr %q", errOut)
	}
	for _, want := range []string{"Thresholds     1 of 2 met\n", "  NOT MET  fail if p50>40ms   p50 5", "  met      fail if p99>1s     p99 5"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<td class="notmet">NOT MET</td><td>fail if p50&gt;40ms</td>`, `<td class="met">met</td><td>fail if p99&gt;1s</td>`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("HTML report lacks %s", want)
		}
	}

	// In the JSON, the threshold not met is false, and so is the whole.
	out, _, code = cli(t, "bench", "--json", "-c", "2", "-n", "10", "--fail-if", "p50>40ms", url)
	r = parseThresholdJSON(t, out)
	if code != 99 || r.ThresholdsMet == nil || *r.ThresholdsMet || len(r.Thresholds) != 1 || r.Thresholds[0].Met {
		t.Fatalf("exit %d, thresholds %+v", code, r.Thresholds)
	}
}

// TestBenchNon2xx: a server answering every request with 500 is counted
// as such, on a line of its own, never as "Errors none"; the default
// thresholds fail the run (exit 99), --fail-if none checks nothing (exit
// 0) and a threshold of the user's replaces the defaults.
func TestBenchNon2xx(t *testing.T) {
	testkit.CheckLeaks(t)
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	defer srv.Close()

	out, errOut, code := cli(t, "bench", "-c", "2", "-n", "40", srv.URL)
	if code != 99 {
		t.Fatalf("exit %d, want 99\n%s%s", code, out, errOut)
	}
	oneLineError(t, errOut)
	if !strings.Contains(errOut, "threshold not met: non2xx>1%: non2xx 100.00% (40 of 40 requests)") {
		t.Errorf("stderr %q", errOut)
	}
	for _, want := range []string{"Status codes   500: 40\n", "Non-2xx        40 of 40 requests (100%)\n",
		"Errors         0 failed without a response", "NOT MET  fail if non2xx>1%", "met      fail if errors>1%"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Errors         none") {
		t.Errorf("a run of 500s reads \"Errors none\":\n%s", out)
	}

	out, errOut, code = cli(t, "bench", "--json", "-c", "2", "-n", "40", "--fail-if", "none", srv.URL)
	if code != 0 {
		t.Fatalf("--fail-if none: exit %d\n%s", code, errOut)
	}
	r := parseThresholdJSON(t, out)
	if r.Non2xx != 40 || r.Requests != 40 || len(r.Thresholds) != 0 || r.ThresholdsMet != nil {
		t.Fatalf("non2xx %d of %d, thresholds %+v", r.Non2xx, r.Requests, r.Thresholds)
	}

	// A user's threshold replaces the defaults: non2xx is not checked.
	if _, errOut, code = cli(t, "bench", "-c", "2", "-n", "40", "--fail-if", "p99>1h", srv.URL); code != 0 {
		t.Fatalf("--fail-if p99>1h: exit %d\n%s", code, errOut)
	}
	if _, errOut, code = cli(t, "bench", "-c", "2", "-n", "40", "--fail-if", "non2xx>=41", srv.URL); code != 0 {
		t.Fatalf("--fail-if non2xx>=41: exit %d\n%s", code, errOut)
	}
	if _, errOut, code = cli(t, "bench", "-c", "2", "-n", "40", "--fail-if", "non2xx>=40", srv.URL); code != 99 {
		t.Fatalf("--fail-if non2xx>=40: exit %d\n%s", code, errOut)
	}
	if n := served.Load(); n != 5*40 {
		t.Errorf("server answered %d requests, want %d", n, 5*40)
	}
}

// TestBenchExitStatus: the three kinds of failure have three codes: bad
// flags 2, a run that could not be made or measured nothing 1, a
// threshold not met 99.
func TestBenchExitStatus(t *testing.T) {
	testkit.CheckLeaks(t)
	s := startTarget(t, false)
	untrusted := startTarget(t, true) // its certificate is not trusted without --cacert
	dead := "http://" + testkit.ClosedAddr(t) + "/"
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--fail-if", "p99>fast", s.URL()}, 2, "--fail-if \"p99>fast\": a latency is a duration"},
		{[]string{"--fail-if", "latency>1s", s.URL()}, 2, "unknown metric"},
		{[]string{"--fail-if", "p99=1s", s.URL()}, 2, "operator must be"},
		{[]string{"--fail-if", "sent<95%", "-n", "5", s.URL()}, 2, "open model only"},
		{[]string{"--fail-if", "none,p99>1s", s.URL()}, 2, "none checks nothing"},
		{[]string{"--fail-if", "p99>1s", "-d", "1s", dead}, 1, "cannot reach"},
		// Every request fails: nothing measured, whatever the thresholds.
		{[]string{"--fail-if", "none", "-n", "3", "-c", "1", untrusted.URL()}, 1, "no response: all 3 requests failed (tls 3)"},
		{[]string{"--fail-if", "p50<1h", "-n", "5", s.URL()}, 99, "threshold not met: p50<1h"},
	} {
		out, errOut, code := cli(t, append([]string{"bench"}, tc.args...)...)
		if code != tc.code {
			t.Errorf("%q: exit %d, want %d\n%s%s", tc.args, code, tc.code, out, errOut)
			continue
		}
		oneLineError(t, errOut)
		if !strings.Contains(errOut, tc.msg) {
			t.Errorf("%q: stderr %q lacks %q", tc.args, errOut, tc.msg)
		}
	}
}

// TestMergeFailIf: merge checks thresholds on the merged runs, and only
// when asked.
func TestMergeFailIf(t *testing.T) {
	testkit.CheckLeaks(t)
	s := startTarget(t, false)
	dir := t.TempDir()
	var files []string
	for i, path := range []string{"/", "/status/503"} {
		f := filepath.Join(dir, string(rune('a'+i))+".hdr")
		files = append(files, f)
		if _, errOut, code := cli(t, "bench", "--fail-if", "none", "--hdr", f, "-c", "2", "-n", "100", s.URL()+path); code != 0 {
			t.Fatalf("exit %d\n%s", code, errOut)
		}
	}
	if _, errOut, code := cli(t, "merge", files[0], files[1]); code != 0 {
		t.Fatalf("merge without --fail-if: exit %d\n%s", code, errOut)
	}
	out, errOut, code := cli(t, "merge", "--fail-if", "non2xx>=50%", files[0], files[1])
	if code != 99 || !strings.Contains(errOut, "merge: threshold not met: non2xx>=50%: non2xx 50.00% (100 of 200 requests)") ||
		!strings.Contains(out, "Non-2xx        100 of 200 requests (50.00%)") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = cli(t, "merge", "--json", "--fail-if", "non2xx>50%,p99>1h", files[0], files[1])
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if r := parseThresholdJSON(t, out); r.Non2xx != 100 || len(r.Thresholds) != 2 || !*r.ThresholdsMet {
		t.Fatalf("%+v", r)
	}
}
