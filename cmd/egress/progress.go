package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/egress-go/egress/cmd/egress/internal/load"
)

// progressLine is bench's live display on a terminal: one line, redrawn
// in place at each of the run's ticks and cleared at the end, with the
// run's progress as a bar (its time, or its requests with -n alone), the
// time left, the rate of the last second, p50 and p99 of the last full
// second, the errors so far and the connections open.
//
// The line is drawn with a carriage return and an erase to the end of
// the line, and cut to the terminal's width: a line that wrapped could
// not be redrawn in place.
type progressLine struct {
	mu    sync.Mutex
	w     io.Writer
	total time.Duration // the run's length; 0 when only -n bounds it
	reqs  int64         // -n
	drawn bool
	done  bool
}

// progressBarWidth is the bar's cells.
const progressBarWidth = 20

func newProgress(w io.Writer, cfg load.Config) *progressLine {
	p := &progressLine{w: w, total: cfg.Duration, reqs: cfg.Requests}
	p.update(load.Progress{})
	return p
}

// update redraws the line; it is called from the run's sampler.
func (p *progressLine) update(pr load.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return
	}
	line := p.render(pr)
	if cols := termCols(p.w); cols > 1 {
		line = cutRunes(line, cols-1)
	}
	fmt.Fprint(p.w, "\r"+line+"\x1b[K")
	p.drawn = true
}

// render makes the line for pr.
func (p *progressLine) render(pr load.Progress) string {
	frac, when := 0.0, ""
	switch {
	case p.total > 0:
		frac = float64(pr.Elapsed) / float64(p.total)
		when = fmt.Sprintf("%s/%s, %s left", fmtSecs(pr.Elapsed), fmtSecs(p.total), fmtSecs(max(p.total-pr.Elapsed, 0)))
	case p.reqs > 0:
		frac = float64(pr.Requests) / float64(p.reqs)
		when = fmt.Sprintf("%s, %d/%d requests", fmtSecs(pr.Elapsed), pr.Requests, p.reqs)
		if pr.RateNow > 0 {
			left := time.Duration(float64(max(p.reqs-pr.Requests, 0)) / pr.RateNow * float64(time.Second))
			when += fmt.Sprintf(", ~%s left", fmtSecs(left))
		}
	}
	frac = min(max(frac, 0), 1)
	full := int(frac*progressBarWidth + 0.5)
	bar := strings.Repeat("█", full) + strings.Repeat("░", progressBarWidth-full)
	return fmt.Sprintf("bench [%s] %s  %.0f req/s  p50 %s  p99 %s  %d errors  %d conns",
		bar, when, pr.RateNow, fmtLatency(pr.P50), fmtLatency(pr.P99), pr.Errors, pr.Open)
}

// fmtSecs writes d in seconds to a tenth.
func fmtSecs(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

// fmtLatency writes a latency in three figures; "-" before the first
// second has been measured.
func fmtLatency(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/1e3)
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// termCols is the width of the terminal w is, 0 if unknown.
func termCols(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil {
			return cols
		}
	}
	return 0
}

// cutRunes keeps the first n runes of s.
func cutRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// finish clears the line.
func (p *progressLine) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.done {
		p.done = true
		if p.drawn {
			fmt.Fprint(p.w, "\r\x1b[K")
		}
	}
}
