package harness

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestMedianAndSpread(t *testing.T) {
	m := median([]Row{{RPS: 100, CPUUsPerReq: 10}, {RPS: 300, CPUUsPerReq: 12}, {RPS: 200, CPUUsPerReq: 11}})
	if m.RPS != 200 || m.CPUUsPerReq != 11 || m.Rounds != 3 {
		t.Fatalf("median %+v", m)
	}
	if m.Spread != 100 { // (300-100)/200
		t.Fatalf("spread %v", m.Spread)
	}
	even := median([]Row{{RPS: 1}, {RPS: 3}})
	if even.RPS != 2 {
		t.Fatalf("even median %v", even.RPS)
	}
}

// TestMedianBulk: the bulk-transfer figures are medians too, and their
// spread is the row's when it is the widest.
func TestMedianBulk(t *testing.T) {
	m := median([]Row{
		{Bytes: 8, Seconds: 2, CPUSecPerGiB: 1.0, PeakRSSBytes: 30},
		{Bytes: 8, Seconds: 1, CPUSecPerGiB: 1.2, PeakRSSBytes: 40},
		{Bytes: 8, Seconds: 3, CPUSecPerGiB: 1.1, PeakRSSBytes: 20},
	})
	if m.Bytes != 8 || m.Seconds != 2 || m.CPUSecPerGiB != 1.1 || m.PeakRSSBytes != 30 {
		t.Fatalf("median %+v", m)
	}
	if math.Abs(m.Spread-200.0/3) > 1e-9 { // peak RSS: (40-20)/30
		t.Fatalf("spread %v", m.Spread)
	}
}

func TestRoundsInterleaves(t *testing.T) {
	var order []string
	rows, err := Rounds(2, []string{"a", "b"}, func(c string) (Row, error) {
		order = append(order, c)
		return Row{Client: c, RPS: float64(len(order))}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(order, "") != "abab" {
		t.Fatalf("order %v", order)
	}
	if len(rows) != 2 || rows[0].RPS != 2 || rows[1].RPS != 3 {
		t.Fatalf("rows %+v", rows)
	}
}

func TestTableRatiosAndSkips(t *testing.T) {
	var buf bytes.Buffer
	Table{
		Title: "t",
		Rows:  []Row{{Client: "a", CPUUsPerReq: 5}, {Client: "b", CPUUsPerReq: 10}, {Client: "c", Skipped: "not ready"}},
		Cols:  []Column{{Name: "cpu", Get: func(r Row) float64 { return r.CPUUsPerReq }, Vs: []string{"b", "missing"}}},
		Notes: []string{"a note"},
	}.Print(&buf)
	out := buf.String()
	for _, want := range []string{"0.50x", "1.00x", "vs missing", "c skipped: not ready", "a note"} {
		if !strings.Contains(out, want) {
			t.Fatalf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestRoundsKeepsSkippedAndFailed(t *testing.T) {
	runs := 0
	rows, _ := Rounds(3, []string{"ok", "skip", "fail"}, func(c string) (Row, error) {
		runs++
		switch c {
		case "skip":
			return Row{Client: c, Skipped: "not ready"}, nil
		case "fail":
			return Row{}, errors.New("boom\nstack")
		}
		return Row{Client: c, RPS: 1}, nil
	})
	if runs != 7 { // ok and fail three times, skip once
		t.Fatalf("%d runs", runs)
	}
	if len(rows) != 3 || rows[1].Skipped != "not ready" || rows[2].Skipped != "failed: boom" || rows[2].Client != "fail" {
		t.Fatalf("rows %+v", rows)
	}
}

func TestRowJSON(t *testing.T) {
	b, err := json.Marshal(Row{Scenario: "idle", Client: "egress", Conns: 10, Pinned: true, RPS: 1, CPUUsPerReq: 2,
		P50Us: 3, P99Us: 4, BytesRSSPerConn: 5, BytesHeapPerConn: 6, BytesStackPerConn: 7})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	for _, k := range []string{"scenario", "client", "conns", "pinned", "rps", "cpu_us_per_req", "p50_us", "p99_us",
		"bytes_rss_per_conn", "bytes_heap_per_conn", "bytes_stack_per_conn"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON row lacks %q: %s", k, b)
		}
	}
	// Figures that every row must carry stay present when zero.
	b, _ = json.Marshal(Row{Client: "x"})
	json.Unmarshal(b, &m)
	for _, k := range []string{"rps", "cpu_us_per_req", "p50_us", "p99_us", "pinned", "conns", "bytes_stack_per_conn"} {
		if _, ok := m[k]; !ok {
			t.Errorf("zero row lacks %q: %s", k, b)
		}
	}
}
