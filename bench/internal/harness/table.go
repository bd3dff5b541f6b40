package harness

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// Column is one figure of a table. Vs names the anchor clients the figure
// is also given as a ratio to (a claim is only ever a ratio against an
// anchor measured in the same run).
type Column struct {
	Name string
	Get  func(Row) float64
	Vs   []string
}

// Table is one scenario's results.
type Table struct {
	Title string
	Rows  []Row
	Cols  []Column
	Notes []string // footnotes, printed under the table
}

// Print writes the table: one line per client, each ratio column next to
// its figure, then the spread over the rounds and the CPU that other
// processes used meanwhile (a share of one core), then the footnotes.
func (t Table) Print(w io.Writer) {
	fmt.Fprintf(w, "\n%s\n", t.Title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "client\tconns\t"
	for _, c := range t.Cols {
		head += c.Name + "\t"
		for _, a := range c.Vs {
			head += "vs " + a + "\t"
		}
	}
	fmt.Fprintln(tw, head+"spread\tother cpu\t")
	for _, r := range t.Rows {
		line := fmt.Sprintf("%s\t%d\t", r.Client, r.Conns)
		if r.Skipped != "" {
			// A skipped client's reason is free text: keep it out of the
			// aligned cells so that it cannot stretch the columns.
			fmt.Fprintln(tw, line+strings.Repeat("\t", t.width()))
			continue
		}
		for _, c := range t.Cols {
			line += format(c.Get(r)) + "\t"
			for _, a := range c.Vs {
				line += t.ratio(c, r, a) + "\t"
			}
		}
		line += fmt.Sprintf("%.0f%%\t%.0f%%\t", r.Spread, 100*r.OtherCPU)
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	for _, r := range t.Rows {
		if r.Skipped != "" {
			fmt.Fprintf(w, "  %s skipped: %s\n", r.Client, r.Skipped)
		}
	}
	for _, n := range t.Notes {
		fmt.Fprintf(w, "  %s\n", n)
	}
}

// width is the number of cells after client and conns.
func (t Table) width() int {
	n := 2
	for _, c := range t.Cols {
		n += 1 + len(c.Vs)
	}
	return n
}

func (t Table) ratio(c Column, r Row, anchor string) string {
	base, ok := Find(t.Rows, anchor)
	if !ok || c.Get(base) == 0 || c.Get(r) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", c.Get(r)/c.Get(base))
}

// Find returns the measured row of client in rows.
func Find(rows []Row, client string) (Row, bool) {
	for _, r := range rows {
		if r.Client == client && r.Skipped == "" {
			return r, true
		}
	}
	return Row{}, false
}

func format(v float64) string {
	switch {
	case v == 0:
		return "-"
	case math.Abs(v) >= 1000:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}
