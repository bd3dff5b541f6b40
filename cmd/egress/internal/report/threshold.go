package report

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Threshold is a condition that fails a run (bench --fail-if): the run
// meets the threshold when the condition does not hold.
//
// Metrics, and what their value is:
//
//	p50, p90, p99, p99.9, pN  latency percentile    a duration (250ms, 1.5s, 800us); a bare number is ms
//	min, mean, max            latency               the same
//	errors                    requests that failed without a response   a count, or N% of the requests
//	non2xx                    responses with a status outside 200-299    a count, or N% of the requests
//	rps                       requests completed per second              a number
//	sent                      open model (-R): requests sent of those due  a count, or N% of those due
type Threshold struct {
	Metric string
	Op     string // <, <=, > or >=
	// Value is in the metric's unit: ms for latencies, req/s for rps, a
	// count, or a percentage when Percent.
	Value   float64
	Percent bool
	// Quantile is the percentile of a pN metric (99.9 for p99.9).
	Quantile float64
	// Default marks a threshold bench applies when none is given.
	Default bool
	text    string // the value as written
}

// String is the threshold in the form it is written in, without spaces.
func (t Threshold) String() string { return t.Metric + t.Op + t.text }

// DefaultThresholds are the conditions bench checks when no --fail-if is
// given: more than 1% of the requests failed, more than 1% were answered
// with a status outside 2xx, and in the open model fewer than 95% of the
// requests due were sent (the rate was not met).
func DefaultThresholds(open bool) []Threshold {
	exprs := []string{"errors>1%", "non2xx>1%"}
	if open {
		exprs = append(exprs, "sent<95%")
	}
	out := make([]Threshold, len(exprs))
	for i, e := range exprs {
		t, err := ParseThreshold(e)
		if err != nil {
			panic(err)
		}
		t.Default = true
		out[i] = t
	}
	return out
}

// ParseThreshold reads one condition, such as "p99>250ms", "errors>0.1%",
// "non2xx>0" or "rps<5000". Spaces around the operator are allowed.
func ParseThreshold(s string) (Threshold, error) {
	src := strings.TrimSpace(s)
	i := strings.IndexAny(src, "<>=")
	if i <= 0 {
		return Threshold{}, fmt.Errorf("%q: want METRIC OP VALUE, as p99>250ms, errors>0.1%%, non2xx>0 or rps<5000", s)
	}
	t := Threshold{Metric: strings.ToLower(strings.TrimSpace(src[:i]))}
	rest := src[i:]
	switch {
	case strings.HasPrefix(rest, "<="), strings.HasPrefix(rest, ">="):
		t.Op, rest = rest[:2], rest[2:]
	case rest[0] == '<', rest[0] == '>':
		t.Op, rest = rest[:1], rest[1:]
	default:
		return Threshold{}, fmt.Errorf("%q: the operator must be <, <=, > or >=", s)
	}
	val := strings.TrimSpace(rest)
	if val == "" {
		return Threshold{}, fmt.Errorf("%q: no value after %s", s, t.Op)
	}
	t.text = val
	var err error
	switch m := t.Metric; {
	case m == "min" || m == "mean" || m == "max":
		t.Value, err = parseLatency(val)
	case len(m) > 1 && m[0] == 'p':
		q, perr := strconv.ParseFloat(m[1:], 64)
		if perr != nil || !(q > 0 && q < 100) || math.IsNaN(q) {
			return Threshold{}, fmt.Errorf("%q: a percentile is p followed by a number between 0 and 100, as p99 or p99.9", s)
		}
		t.Quantile = q
		t.Value, err = parseLatency(val)
	case m == "errors" || m == "non2xx" || m == "sent":
		t.Value, t.Percent, err = parseCount(val)
	case m == "rps":
		t.Value, err = strconv.ParseFloat(val, 64)
		if err == nil && (t.Value < 0 || math.IsInf(t.Value, 0) || math.IsNaN(t.Value)) {
			err = errors.New("requests per second cannot be negative")
		}
		if err != nil {
			err = fmt.Errorf("rps takes requests per second, as 5000")
		}
	default:
		return Threshold{}, fmt.Errorf("%q: unknown metric %q (p50, p90, p99, p99.9, pN, min, mean, max, errors, non2xx, rps, sent)", s, t.Metric)
	}
	if err != nil {
		return Threshold{}, fmt.Errorf("%q: %v", s, err)
	}
	return t, nil
}

// parseLatency reads a duration in ms: "250ms", "1.5s", "800us"; a bare
// number is milliseconds.
func parseLatency(v string) (float64, error) {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, errors.New("a latency cannot be negative")
		}
		return f, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, errors.New("a latency is a duration, as 250ms, 1.5s or 800us (a bare number is ms)")
	}
	return float64(d) / float64(time.Millisecond), nil
}

// parseCount reads a count ("10") or a percentage ("0.1%").
func parseCount(v string) (float64, bool, error) {
	pct := strings.HasSuffix(v, "%")
	f, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(v, "%")), 64)
	switch {
	case err != nil || math.IsNaN(f) || math.IsInf(f, 0):
		return 0, false, errors.New("want a count, as 10, or a percentage, as 0.1%")
	case f < 0:
		return 0, false, errors.New("cannot be negative")
	case pct && f > 100:
		return 0, false, errors.New("a percentage is at most 100%")
	case !pct && f != math.Trunc(f):
		return 0, false, errors.New("a count is a whole number (or add % for a percentage)")
	}
	return f, pct, nil
}

// ThresholdResult is one threshold checked against a report.
type ThresholdResult struct {
	// FailIf is the condition, as written: the run fails when it holds.
	FailIf string `json:"fail_if"`
	Metric string `json:"metric"`
	// Actual is what the run measured, in Unit: "ms", "%", "count" or
	// "req/s"; null when it could not be measured (see Note), and then
	// the threshold is not met.
	Actual *float64 `json:"actual"`
	Unit   string   `json:"unit"`
	Met    bool     `json:"met"`
	// Default marks a threshold applied because none was given.
	Default bool `json:"default,omitempty"`
	// Note says why a threshold could not be measured (then it is not
	// met), or what a percentage is of.
	Note string `json:"note,omitempty"`
}

// Check evaluates ts against the report, records the results in
// r.Thresholds and reports whether all were met.
func (r *Report) Check(ts []Threshold) bool {
	if len(ts) == 0 { // nothing checked: nothing to report
		r.Thresholds, r.ThresholdsMet = nil, nil
		return true
	}
	r.Thresholds = make([]ThresholdResult, 0, len(ts))
	all := true
	for _, t := range ts {
		res := r.check(t)
		all = all && res.Met
		r.Thresholds = append(r.Thresholds, res)
	}
	met := all
	r.ThresholdsMet = &met
	return all
}

func (r *Report) check(t Threshold) ThresholdResult {
	res := ThresholdResult{FailIf: t.String(), Metric: t.Metric, Default: t.Default}
	var actual float64
	switch t.Metric {
	case "errors", "non2xx", "sent":
		n, of, ofWhat := r.ErrorsTotal, r.Requests, "requests"
		switch t.Metric {
		case "non2xx":
			n = r.Non2xx
		case "sent":
			if r.Rate == nil {
				res.Note = "not measured: the run was not in the open model (-R)"
				return res
			}
			n, of, ofWhat = r.Rate.Sent, r.Rate.Due, "requests due"
		}
		res.Unit, actual = "count", float64(n)
		if t.Percent {
			if of == 0 {
				res.Unit, res.Note = "%", "not measured: no "+ofWhat
				return res
			}
			res.Unit, actual = "%", 100*float64(n)/float64(of)
			res.Note = fmt.Sprintf("%d of %d %s", n, of, ofWhat)
		}
	case "rps":
		res.Unit, actual = "req/s", r.Throughput.Requests
	default:
		res.Unit = "ms"
		h := r.Hist()
		if h == nil || h.TotalCount() == 0 {
			res.Note = "not measured: no responses"
			return res
		}
		switch t.Metric {
		case "min":
			actual = float64(h.Min()) / 1e6
		case "mean":
			actual = h.Mean() / 1e6
		case "max":
			actual = float64(h.Max()) / 1e6
		default:
			actual = float64(h.ValueAtQuantile(t.Quantile)) / 1e6
		}
	}
	v := round3(actual)
	res.Actual = &v
	fails := false
	switch t.Op {
	case "<":
		fails = actual < t.Value
	case "<=":
		fails = actual <= t.Value
	case ">":
		fails = actual > t.Value
	case ">=":
		fails = actual >= t.Value
	}
	res.Met = !fails
	return res
}

// measured renders what a threshold's metric was, for people.
func (t ThresholdResult) measured() string {
	if t.Actual == nil {
		return t.Metric + ": " + t.Note
	}
	a := *t.Actual
	var v string
	switch t.Unit {
	case "ms":
		v = dur(a)
	case "%":
		v = strconv.FormatFloat(a, 'f', 2, 64) + "%"
	case "req/s":
		v = num(a) + " req/s"
	default:
		v = strconv.FormatFloat(a, 'f', -1, 64)
	}
	if t.Note != "" {
		return t.Metric + " " + v + " (" + t.Note + ")"
	}
	return t.Metric + " " + v
}

// FailedThresholds lists the thresholds not met, with what was measured,
// for the one error line of a failed run: "p99>250ms: p99 312ms; ...".
func (r *Report) FailedThresholds() string {
	var parts []string
	for _, t := range r.Thresholds {
		if !t.Met {
			parts = append(parts, t.FailIf+": "+t.measured())
		}
	}
	return strings.Join(parts, "; ")
}
