package scenario

import (
	"os"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/egress-go/egress/bench/internal/harness"
	"github.com/egress-go/egress/bench/internal/measure"
)

// meter counts a client's operations and times them. Every Go client
// counts the same way (one atomic add and one histogram sample per
// operation), so the bookkeeping costs each of them alike.
type meter struct {
	ops, errs atomic.Int64
	hist      measure.Hist
	stop      atomic.Bool // the window is over: workers stop
}

// done counts one finished operation that started at start.
func (m *meter) done(start time.Time, err error) {
	if err != nil {
		m.errs.Add(1)
		return
	}
	m.ops.Add(1)
	m.hist.Record(time.Since(start))
}

// window lets the client warm up, then measures over p.Duration: the
// operations finished, the CPU time the process used, and the latency of
// the operations that finished within it. Connection set-up and warm-up
// are outside the window.
func (m *meter) window(p Params) harness.Row {
	time.Sleep(p.Warmup)
	var prof *os.File
	if p.Profile != "" {
		if f, err := os.Create(p.Profile); err == nil && pprof.StartCPUProfile(f) == nil {
			prof = f
		}
	}
	e0 := m.errs.Load()
	m.hist.Start()
	var s0, s1 time.Duration
	if p.ServerPID > 0 {
		s0 = measure.ProcTreeCPU(p.ServerPID)
	}
	n0, c0, t0 := m.ops.Load(), measure.CPU(), time.Now()
	time.Sleep(p.Duration)
	n1, c1, el := m.ops.Load(), measure.CPU(), time.Since(t0)
	if p.ServerPID > 0 {
		s1 = measure.ProcTreeCPU(p.ServerPID)
	}
	m.hist.Stop()
	m.stop.Store(true)
	if prof != nil {
		pprof.StopCPUProfile()
		prof.Close()
	}
	n := float64(n1 - n0)
	r := harness.Row{RPS: n / el.Seconds(), Errors: m.errs.Load() - e0}
	if n > 0 {
		r.CPUUsPerReq = float64(c1-c0) / float64(time.Microsecond) / n
		r.ServerCPUUsPerReq = float64(s1-s0) / float64(time.Microsecond) / n
	}
	r.P50Us = float64(m.hist.Quantile(0.50)) / float64(time.Microsecond)
	r.P99Us = float64(m.hist.Quantile(0.99)) / float64(time.Microsecond)
	return r
}

// loop runs p.Conns goroutines, each calling the operation that newOp
// makes for it until the window is over: the goroutine-per-request model
// of net/http, fasthttp and http.Client. newOp runs before the workers
// start, so set-up errors surface at once.
func (m *meter) loop(p Params, newOp func(i int) (func() error, error)) error {
	ops := make([]func() error, p.Conns)
	for i := range ops {
		op, err := newOp(i)
		if err != nil {
			return err
		}
		ops[i] = op
	}
	for _, op := range ops {
		go func() {
			for !m.stop.Load() {
				start := time.Now()
				m.done(start, op())
			}
		}()
	}
	return nil
}
