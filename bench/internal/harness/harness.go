// Package harness runs benchmark clients as child processes, interleaved
// over several rounds, and reports medians with their spread as tables of
// ratios against an anchor.
//
// Every client runs in a process of its own, so its CPU time and memory
// are its own: the child measures itself over the measurement window and
// prints one JSON Row. The parent waits for idle cores before each run,
// counts the CPU that processes other than the client and server used
// meanwhile, and repeats a run that something else disturbed.
package harness

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/egress-go/egress/bench/internal/measure"
)

// Row is one measured result, in the JSON form the harness writes.
type Row struct {
	Scenario          string  `json:"scenario"`
	Client            string  `json:"client"`
	Conns             int     `json:"conns"`
	Pinned            bool    `json:"pinned"`
	RPS               float64 `json:"rps"`
	CPUUsPerReq       float64 `json:"cpu_us_per_req"`
	P50Us             float64 `json:"p50_us"`
	P99Us             float64 `json:"p99_us"`
	BytesRSSPerConn   float64 `json:"bytes_rss_per_conn"`
	BytesHeapPerConn  float64 `json:"bytes_heap_per_conn"`
	BytesStackPerConn float64 `json:"bytes_stack_per_conn"`
	Op                string  `json:"op,omitempty"`
	Pipeline          int     `json:"pipeline,omitempty"`
	// Streams is the HTTP/2 requests in flight per connection.
	Streams int `json:"streams,omitempty"`
	// ServerCPUUsPerReq is the server's CPU time per request, where the
	// scenario measures it (nginx under HTTP/2).
	ServerCPUUsPerReq float64 `json:"server_cpu_us_per_req,omitempty"`
	Rounds            int     `json:"rounds"`
	Spread            float64 `json:"spread_pct"`      // (max-min)/median of the main figure, percent
	OtherCPU          float64 `json:"other_cpu_share"` // share of a core used by other processes meanwhile
	Errors            int64   `json:"errors,omitempty"`
	// Resumed is the share of TLS handshakes that resumed a session.
	Resumed float64 `json:"resumed,omitempty"`
	// Skipped says why a client could not be measured; its figures are 0.
	Skipped string `json:"skipped,omitempty"`
	// WholeProcess marks a CPU figure taken over the whole process (wrk,
	// h2load) instead of over the measurement window.
	WholeProcess bool `json:"cpu_whole_process,omitempty"`
	// Bulk transfers (azblob): the bytes moved, the seconds it took, the
	// client's CPU seconds per GiB and its peak RSS over the transfer.
	Bytes        int64   `json:"bytes,omitempty"`
	Seconds      float64 `json:"seconds,omitempty"`
	CPUSecPerGiB float64 `json:"cpu_s_per_gib,omitempty"`
	PeakRSSBytes float64 `json:"peak_rss_bytes,omitempty"`
}

// Self is the harness binary, re-executed for roles.
var Self, _ = os.Executable()

// Proc is a running child.
type Proc struct {
	cmd    *exec.Cmd
	out    *bufio.Reader
	Ready  string // the first line the child printed
	stderr strings.Builder
}

// Start runs role in a child, pinned to cpu unless cpu < 0, and waits for
// its first line of output (a server prints its addresses there).
func Start(cpu int, role string, params any) (*Proc, error) {
	p, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	args := []string{Self, "role", role, string(p)}
	if cpu >= 0 {
		args = append([]string{"taskset", "-c", fmt.Sprint(cpu)}, args...)
	}
	pr := &Proc{cmd: exec.Command(args[0], args[1:]...)}
	pr.cmd.Stderr = &pr.stderr
	stdout, err := pr.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := pr.cmd.Start(); err != nil {
		return nil, err
	}
	pr.out = bufio.NewReader(stdout)
	line, err := pr.out.ReadString('\n')
	if err != nil {
		pr.cmd.Process.Kill()
		pr.cmd.Wait()
		return nil, fmt.Errorf("%s: %v: %s", role, err, pr.stderr.String())
	}
	pr.Ready = strings.TrimSpace(line)
	return pr, nil
}

// Result reads the child's JSON row (its last line) and waits for it.
func (p *Proc) Result() (Row, error) {
	rest, _ := io.ReadAll(p.out)
	var r Row
	if err := p.cmd.Wait(); err != nil {
		// The child says why on its last line of stderr.
		return r, fmt.Errorf("%s", lastLine(p.stderr.String(), err.Error()))
	}
	lines := strings.Split(strings.TrimSpace(p.Ready+"\n"+string(rest)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		return r, fmt.Errorf("child's result: %v: %s", err, p.stderr.String())
	}
	return r, nil
}

// Stop ends a server child and returns the CPU time it used.
func (p *Proc) Stop() time.Duration {
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { io.Copy(io.Discard, p.out); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
	}
	p.cmd.Wait()
	if st := p.cmd.ProcessState; st != nil {
		return st.UserTime() + st.SystemTime()
	}
	return 0
}

// CPU returns the CPU time a finished child used.
func (p *Proc) CPU() time.Duration {
	if st := p.cmd.ProcessState; st != nil {
		return st.UserTime() + st.SystemTime()
	}
	return 0
}

// Patience says how long Run waits for quiet cores and whether it repeats
// a disturbed run. Spare is the extra time that all waits and repeats of
// a whole harness run may add up to; once it is spent Run neither waits
// nor repeats, so that a run on a busy machine still ends within its time
// budget (and says how noisy it was in the other-CPU column instead).
var Patience = struct {
	IdleWait time.Duration
	Repeat   bool
	Spare    time.Duration // 0: no limit
}{IdleWait: 20 * time.Second, Repeat: true}

// spent is the extra time waits and repeats have taken so far.
var spent time.Duration

func patient() bool { return Patience.Spare == 0 || spent < Patience.Spare }

// Run measures one client once: fn starts whatever the run needs and
// returns the row and the CPU time its own processes used. Run waits for
// quiet cores first and repeats, once, a run that other processes
// disturbed (more than 15% of a core on average).
func Run(fn func() (Row, time.Duration, error)) (Row, error) {
	var row Row
	for attempt := 0; attempt < 2; attempt++ {
		t0 := time.Now()
		if patient() && Patience.IdleWait > 0 {
			limit := Patience.IdleWait
			if Patience.Spare > 0 {
				limit = min(limit, Patience.Spare-spent)
			}
			measure.WaitIdle(0.10, limit)
		}
		a, start := measure.ReadCoreTimes(), time.Now()
		spent += start.Sub(t0)
		r, own, err := fn()
		if err != nil {
			return r, err
		}
		all := measure.Jiffies(a, measure.ReadCoreTimes())
		elapsed := time.Since(start)
		if attempt > 0 {
			spent += elapsed
		}
		r.OtherCPU = math.Max(0, float64(all-own)/float64(elapsed))
		row = r
		if r.OtherCPU < 0.15 || !Patience.Repeat || !patient() || r.Skipped != "" {
			break
		}
	}
	return row, nil
}

// Rounds runs every client once per round, interleaved (A B C A B C …),
// and returns one row per client holding the medians. A client that
// reports itself skipped is not run again; one that fails in every round
// gets a row saying so, so that a table never hides a client silently.
func Rounds(rounds int, clients []string, one func(client string) (Row, error)) ([]Row, error) {
	per := map[string][]Row{}
	skipped := map[string]Row{}
	failed := map[string]error{}
	for r := 0; r < rounds; r++ {
		for _, c := range clients {
			if _, ok := skipped[c]; ok {
				continue
			}
			row, err := one(c)
			if err != nil {
				fmt.Fprintf(os.Stderr, "  %s: %v\n", c, err)
				failed[c] = err
				continue
			}
			if row.Skipped != "" {
				skipped[c] = row
				continue
			}
			per[c] = append(per[c], row)
		}
	}
	var out []Row
	for _, c := range clients {
		switch rs := per[c]; {
		case len(rs) > 0:
			out = append(out, median(rs))
		case skipped[c].Skipped != "":
			out = append(out, skipped[c])
		case failed[c] != nil:
			out = append(out, Row{Client: c, Skipped: "failed: " + firstLine(failed[c].Error())})
		}
	}
	return out, nil
}

// lastLine is the last non-empty line of s, or def.
func lastLine(s, def string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
		return l
	}
	return def
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// median combines rounds: each figure is the median of its rounds; the
// spread is that of the row's main figure.
func median(rs []Row) Row {
	m := rs[0]
	pick := func(get func(Row) float64) (float64, float64) {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = get(r)
		}
		sort.Float64s(v)
		med := v[len(v)/2]
		if len(v)%2 == 0 {
			med = (v[len(v)/2-1] + v[len(v)/2]) / 2
		}
		spread := 0.0
		if med != 0 {
			spread = 100 * (v[len(v)-1] - v[0]) / med
		}
		return med, spread
	}
	var s1, s2 float64
	m.RPS, s1 = pick(func(r Row) float64 { return r.RPS })
	m.CPUUsPerReq, s2 = pick(func(r Row) float64 { return r.CPUUsPerReq })
	m.P50Us, _ = pick(func(r Row) float64 { return r.P50Us })
	m.P99Us, _ = pick(func(r Row) float64 { return r.P99Us })
	m.OtherCPU, _ = pick(func(r Row) float64 { return r.OtherCPU })
	var s3 float64
	m.BytesRSSPerConn, s3 = pick(func(r Row) float64 { return r.BytesRSSPerConn })
	m.BytesHeapPerConn, _ = pick(func(r Row) float64 { return r.BytesHeapPerConn })
	m.BytesStackPerConn, _ = pick(func(r Row) float64 { return r.BytesStackPerConn })
	m.Resumed, _ = pick(func(r Row) float64 { return r.Resumed })
	m.ServerCPUUsPerReq, _ = pick(func(r Row) float64 { return r.ServerCPUUsPerReq })
	var s4, s5 float64
	m.Seconds, _ = pick(func(r Row) float64 { return r.Seconds })
	m.CPUSecPerGiB, s4 = pick(func(r Row) float64 { return r.CPUSecPerGiB })
	m.PeakRSSBytes, s5 = pick(func(r Row) float64 { return r.PeakRSSBytes })
	var errs int64
	for _, r := range rs {
		errs += r.Errors
	}
	m.Errors = errs
	m.Spread = max(s1, s2, s3, s4, s5)
	m.Rounds = len(rs)
	return m
}

// RunChild runs a client role in a child pinned to cpu (unless cpu < 0),
// waits for its row, names it client, and returns it with the CPU time
// the child used.
func RunChild(cpu int, role string, params any, client string) (Row, time.Duration, error) {
	p, err := Start(cpu, role, params)
	if err != nil {
		return Row{}, 0, err
	}
	r, err := p.Result()
	r.Client = client
	return r, p.CPU(), err
}
