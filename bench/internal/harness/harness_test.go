package harness

import (
	"bytes"
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

func TestPrintTableRatios(t *testing.T) {
	var buf bytes.Buffer
	PrintTable(&buf, "t", "b", []Row{{Client: "a", CPUUsPerReq: 5}, {Client: "b", CPUUsPerReq: 10}},
		[]Column{{Name: "cpu", Get: func(r Row) float64 { return r.CPUUsPerReq }, Ratio: true}})
	out := buf.String()
	if !strings.Contains(out, "0.50x") || !strings.Contains(out, "1.00x") {
		t.Fatalf("table:\n%s", out)
	}
}
