package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/egress-go/egress/cmd/egress/internal/load"
)

// progressLine is bench's live status line on a terminal: a spinner with
// the elapsed time, the request rate of the last second, totals, errors
// and open connections, redrawn in place and cleared at the end.
type progressLine struct {
	mu    sync.Mutex
	bar   *progressbar.ProgressBar
	total time.Duration
	done  bool
}

func newProgress(w io.Writer, cfg load.Config) *progressLine {
	bar := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionSetDescription("starting"),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionThrottle(0),
		progressbar.OptionSetWidth(10),
		progressbar.OptionSetElapsedTime(false),
	)
	return &progressLine{bar: bar, total: cfg.Duration}
}

// update redraws the line; it is called from the run's sampler.
func (p *progressLine) update(pr load.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return
	}
	elapsed := fmt.Sprintf("%5.1fs", pr.Elapsed.Seconds())
	if p.total > 0 {
		elapsed += fmt.Sprintf("/%s", p.total)
	}
	p.bar.Describe(fmt.Sprintf("bench %s  %8.0f req/s  %d requests  %d errors  %d conns",
		elapsed, pr.RateNow, pr.Requests, pr.Errors, pr.Open))
	p.bar.Set64(pr.Requests)
}

// finish clears the line.
func (p *progressLine) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.done {
		p.done = true
		p.bar.Finish()
		p.bar.Exit()
	}
}
