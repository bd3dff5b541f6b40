package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/egress-go/egress/cmd/egress/internal/load"
)

func TestParseThreshold(t *testing.T) {
	for _, tc := range []struct {
		in       string
		metric   string
		op       string
		value    float64
		percent  bool
		quantile float64
	}{
		{"p99>250ms", "p99", ">", 250, false, 99},
		{"p99.9 >= 1.5s", "p99.9", ">=", 1500, false, 99.9},
		{"P50<800us", "p50", "<", 0.8, false, 50},
		{"p90<=12", "p90", "<=", 12, false, 90},
		{"max>2s", "max", ">", 2000, false, 0},
		{"mean>0.5", "mean", ">", 0.5, false, 0},
		{"errors>0.1%", "errors", ">", 0.1, true, 0},
		{"errors > 0", "errors", ">", 0, false, 0},
		{"non2xx>=10", "non2xx", ">=", 10, false, 0},
		{"non2xx>5%", "non2xx", ">", 5, true, 0},
		{"rps<5000", "rps", "<", 5000, false, 0},
		{"sent<95%", "sent", "<", 95, true, 0},
	} {
		th, err := ParseThreshold(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if th.Metric != tc.metric || th.Op != tc.op || th.Value != tc.value || th.Percent != tc.percent || th.Quantile != tc.quantile {
			t.Errorf("%q: got %+v", tc.in, th)
		}
	}
	for in, msg := range map[string]string{
		"p99":          "want METRIC OP VALUE",
		">250ms":       "want METRIC OP VALUE",
		"p99=250ms":    "operator must be",
		"p99==250ms":   "operator must be",
		"p99>":         "no value",
		"p99>fast":     "a latency is a duration",
		"p99>-1":       "cannot be negative",
		"p100>1s":      "a percentile is p followed by",
		"p0>1s":        "a percentile is p followed by",
		"pfoo>1s":      "a percentile is p followed by",
		"errors>1.5":   "whole number",
		"errors>101%":  "at most 100%",
		"errors>lots":  "want a count",
		"rps<many":     "requests per second",
		"latency>1s":   "unknown metric",
		"non2xx>-3":    "cannot be negative",
		"rps<-1":       "requests per second",
		"p99>250ms>1s": "a latency is a duration",
	} {
		if _, err := ParseThreshold(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: error %v, want %q", in, err, msg)
		}
	}
}

// TestCheck evaluates thresholds against a report whose figures are
// known: 1003 requests, 3 errors, 10 responses of 503, latencies 10 µs
// to 10 ms evenly, 501.5 req/s.
func TestCheck(t *testing.T) {
	r := Build(Meta{URL: "http://h/", Method: "GET", Connections: 4, Duration: 2 * time.Second}, sampleResult())
	if r.Non2xx != 10 {
		t.Fatalf("non2xx %d, want 10", r.Non2xx)
	}
	for _, tc := range []struct {
		expr   string
		met    bool
		actual float64
		unit   string
	}{
		{"p50>5.1ms", true, 5.001, "ms"},
		{"p50>4.9ms", false, 5.001, "ms"},
		{"p50>=5.001", false, 5.001, "ms"},
		{"p50<5ms", true, 5.001, "ms"},
		{"p99.9<=9.99ms", true, 9.999, "ms"},
		{"max<10ms", true, 10.007, "ms"},
		{"max<10.1ms", false, 10.007, "ms"},
		{"min>9us", false, 0.01, "ms"},
		{"mean>5.1ms", true, 5.005, "ms"},
		{"errors>2", false, 3, "count"},
		{"errors>3", true, 3, "count"},
		{"errors>=3", false, 3, "count"},
		{"errors>0.3%", true, 0.299, "%"},
		{"errors>0.29%", false, 0.299, "%"},
		{"non2xx>1%", true, 0.997, "%"},
		{"non2xx>0.99%", false, 0.997, "%"},
		{"non2xx>9", false, 10, "count"},
		{"rps<500", true, 501.5, "req/s"},
		{"rps<502", false, 501.5, "req/s"},
		{"rps<=501.5", false, 501.5, "req/s"},
	} {
		th, err := ParseThreshold(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		all := r.Check([]Threshold{th})
		got := r.Thresholds[0]
		if got.Actual == nil {
			t.Errorf("%s: not measured (%s)", tc.expr, got.Note)
			continue
		}
		if all != tc.met || got.Met != tc.met || got.Unit != tc.unit || *got.Actual < tc.actual*0.999 || *got.Actual > tc.actual*1.001 {
			t.Errorf("%s: met %v (all %v) actual %v %s, want met %v actual %v %s", tc.expr, got.Met, all, *got.Actual, got.Unit, tc.met, tc.actual, tc.unit)
		}
	}

	// Several: the run meets them only if it meets each; the report says
	// which, in JSON and in text.
	var ths []Threshold
	for _, e := range []string{"p99>1s", "errors>0.1%", "rps<100"} {
		th, _ := ParseThreshold(e)
		ths = append(ths, th)
	}
	if r.Check(ths) || r.ThresholdsMet == nil || *r.ThresholdsMet {
		t.Fatalf("errors>0.1%% holds (0.3%%), yet the thresholds were met: %+v", r.Thresholds)
	}
	if !r.Thresholds[0].Met || r.Thresholds[1].Met || !r.Thresholds[2].Met {
		t.Fatalf("%+v", r.Thresholds)
	}
	if got := r.FailedThresholds(); got != "errors>0.1%: errors 0.30% (3 of 1003 requests)" {
		t.Errorf("failed: %q", got)
	}
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetEscapeHTML(false)
	enc.Encode(r)
	b := js.Bytes()
	for _, want := range []string{`"thresholds":[{"fail_if":"p99>1s","metric":"p99","actual":9.904,"unit":"ms","met":true}`,
		`{"fail_if":"errors>0.1%","metric":"errors","actual":0.299,"unit":"%","met":false,"note":"3 of 1003 requests"}`,
		`"thresholds_met":false`, `"non2xx":10`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s:\n%s", want, b)
		}
	}
	var text bytes.Buffer
	r.WriteText(&text)
	for _, want := range []string{"Thresholds     2 of 3 met\n",
		"  met      fail if p99>1s        p99 9.90ms\n",
		"  NOT MET  fail if errors>0.1%   errors 0.30% (3 of 1003 requests)\n",
		"  met      fail if rps<100       rps 502 req/s\n"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	var page bytes.Buffer
	if err := r.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<td class="notmet">NOT MET</td><td>fail if errors&gt;0.1%</td>`,
		`<td class="met">met</td><td>fail if p99&gt;1s</td>`} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("HTML lacks %s", want)
		}
	}

	// No threshold checked: nothing said about them.
	r = Build(Meta{URL: "http://h/", Method: "GET", Connections: 4, Duration: 2 * time.Second}, sampleResult())
	text.Reset()
	r.WriteText(&text)
	b, _ = json.Marshal(r)
	if strings.Contains(text.String(), "Thresholds") || strings.Contains(string(b), "thresholds") {
		t.Errorf("thresholds shown though none was checked")
	}
}

// TestCheckUnmeasured: a threshold on what the run could not measure is
// not met, and says why.
func TestCheckUnmeasured(t *testing.T) {
	res := &load.Result{Elapsed: time.Second, Requests: 2, Failed: 2, Errors: map[string]int64{"dns": 2},
		Status: map[int]int64{}, Latency: load.NewHistogram()}
	r := Build(Meta{URL: "http://h/", Method: "GET", Connections: 1, Duration: time.Second}, res)
	var ths []Threshold
	for _, e := range []string{"p99>1h", "sent<1%", "errors>2"} {
		th, _ := ParseThreshold(e)
		ths = append(ths, th)
	}
	if r.Check(ths) {
		t.Fatal("met with nothing measured")
	}
	p, s, e := r.Thresholds[0], r.Thresholds[1], r.Thresholds[2]
	if p.Met || p.Actual != nil || p.Note != "not measured: no responses" ||
		s.Met || s.Actual != nil || !strings.Contains(s.Note, "open model") || !e.Met {
		t.Fatalf("%+v", r.Thresholds)
	}
}

// TestDefaultThresholds: without --fail-if, bench fails a run with more
// than 1% errors or non-2xx, and an open-model run that sent fewer than
// 95% of the requests due.
func TestDefaultThresholds(t *testing.T) {
	var got []string
	for _, th := range DefaultThresholds(true) {
		if !th.Default {
			t.Errorf("%s not marked default", th)
		}
		got = append(got, th.String())
	}
	if strings.Join(got, " ") != "errors>1% non2xx>1% sent<95%" || len(DefaultThresholds(false)) != 2 {
		t.Fatalf("defaults %q", got)
	}
	res := sampleResult()
	res.Rate = load.RateStats{Asked: 1000, Achieved: 500, Due: 2000, Sent: 1003}
	r := Build(Meta{URL: "http://h/", Method: "GET", Connections: 4, Duration: 2 * time.Second, Rate: 1000}, res)
	if r.Check(DefaultThresholds(true)) {
		t.Fatal("a rate missed by half met the defaults")
	}
	if th := r.Thresholds; !th[0].Met || !th[1].Met || th[2].Met || *th[2].Actual != 50.15 {
		t.Fatalf("%+v", th)
	}
	var text bytes.Buffer
	r.WriteText(&text)
	if !strings.Contains(text.String(), "Thresholds     2 of 3 met (the defaults: --fail-if sets your own") ||
		!strings.Contains(text.String(), "NOT MET  fail if sent<95%    sent 50.15% (1003 of 2000 requests due)") {
		t.Fatalf("%s", text.String())
	}
}
