// Package anchor runs the C load generators the Go clients are compared
// with, wrk and h2load, and reads their reports.
//
// They measure their own throughput and latency. Their CPU time is the
// whole process's (user+system, from the kernel's rusage of the child),
// with nothing subtracted, divided by every request they made: unlike the
// Go clients, which count only their measurement window, this includes
// connection set-up. Over a 10 s run that is a small overcharge, and it
// is against the anchor, never in our favour.
package anchor

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Result is what one run of an anchor reported.
type Result struct {
	Requests int64         // completed requests
	RPS      float64       // as the tool reports it
	P50, P99 time.Duration // zero when the tool gives no percentiles (h2load)
	Mean     time.Duration // mean latency, when given
	Errors   int64         // failed requests and socket errors
	CPU      time.Duration // user+system time of the whole process
	Protocol string        // h2load: the application protocol it spoke ("h2", "http/1.1")
}

// CPUPerRequest is the process's CPU time per request in microseconds.
func (r Result) CPUPerRequest() float64 {
	if r.Requests == 0 {
		return 0
	}
	return float64(r.CPU) / float64(time.Microsecond) / float64(r.Requests)
}

// Wrk runs wrk against url with conns connections and threads threads for
// d, pinned to cpu unless cpu < 0.
func Wrk(cpu, threads, conns int, d time.Duration, url string) (Result, error) {
	out, used, err := run(cpu, "wrk", "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns),
		"-d", fmt.Sprintf("%ds", int(d.Round(time.Second)/time.Second)), "--latency", url)
	if err != nil {
		return Result{}, err
	}
	r, err := ParseWrk(out)
	r.CPU = used
	return r, err
}

// H2load runs h2load over HTTP/1.1 (--h1) against url with conns
// connections, one request in flight on each, and threads threads for d.
func H2load(cpu, threads, conns int, d time.Duration, url string) (Result, error) {
	out, used, err := run(cpu, "h2load", "--h1", "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns),
		"-m", "1", "-D", strconv.Itoa(int(d.Round(time.Second)/time.Second)), url)
	if err != nil {
		return Result{}, err
	}
	r, err := ParseH2load(out)
	r.CPU = used
	return r, err
}

// H2loadH2 runs h2load over HTTP/2 (by ALPN on an https url) with one
// thread, conns connections and streams requests in flight on each, for
// d. It fails unless h2load really spoke h2. h2load does not verify the
// server's certificate (it has no option to).
func H2loadH2(cpu, conns, streams int, d time.Duration, url string) (Result, error) {
	out, used, err := run(cpu, "h2load", "-t", "1", "-c", strconv.Itoa(conns),
		"-m", strconv.Itoa(streams), "-D", strconv.Itoa(int(d.Round(time.Second)/time.Second)), url)
	if err != nil {
		return Result{}, err
	}
	r, err := ParseH2load(out)
	r.CPU = used
	if err == nil {
		err = r.RequireH2()
	}
	return r, err
}

// RequireH2 fails a result of h2load that was not over HTTP/2.
func (r Result) RequireH2() error {
	if r.Protocol != "h2" {
		return fmt.Errorf("h2load spoke %q, not h2", r.Protocol)
	}
	return nil
}

// run starts a tool as a child (through taskset when pinned, which execs
// it, so the rusage is the tool's own) and returns its output and the CPU
// time it used.
func run(cpu int, name string, args ...string) (string, time.Duration, error) {
	if _, err := exec.LookPath(name); err != nil {
		return "", 0, fmt.Errorf("%s not installed (scripts/install-deps.sh bench): %w", name, err)
	}
	if cpu >= 0 {
		args = append([]string{"-c", strconv.Itoa(cpu), name}, args...)
		name = "taskset"
	}
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var used time.Duration
	if st := cmd.ProcessState; st != nil {
		used = st.UserTime() + st.SystemTime()
	}
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w: %s", name, err, lastLines(out.String(), 5))
	}
	return out.String(), used, nil
}

var (
	wrkRequests = regexp.MustCompile(`(?m)^\s*(\d+) requests in`)
	wrkRPS      = regexp.MustCompile(`(?m)^Requests/sec:\s*([0-9.]+)`)
	wrkPct      = regexp.MustCompile(`(?m)^\s*(50|99)%\s+([0-9.]+)(us|ms|s|m)\s*$`)
	wrkSocket   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// ParseWrk reads wrk's report (run with --latency).
func ParseWrk(out string) (Result, error) {
	var r Result
	m := wrkRequests.FindStringSubmatch(out)
	rps := wrkRPS.FindStringSubmatch(out)
	if m == nil || rps == nil {
		return r, fmt.Errorf("wrk: no result in output: %s", lastLines(out, 5))
	}
	r.Requests, _ = strconv.ParseInt(m[1], 10, 64)
	r.RPS, _ = strconv.ParseFloat(rps[1], 64)
	for _, p := range wrkPct.FindAllStringSubmatch(out, -1) {
		d, err := duration(p[2], p[3])
		if err != nil {
			return r, err
		}
		if p[1] == "50" {
			r.P50 = d
		} else {
			r.P99 = d
		}
	}
	if s := wrkSocket.FindStringSubmatch(out); s != nil {
		for _, v := range s[1:] {
			n, _ := strconv.ParseInt(v, 10, 64)
			r.Errors += n
		}
	}
	if s := wrkNon2xx.FindStringSubmatch(out); s != nil {
		n, _ := strconv.ParseInt(s[1], 10, 64)
		r.Errors += n
	}
	return r, nil
}

var (
	h2Finished = regexp.MustCompile(`(?m)^finished in [0-9.]+\w+, ([0-9.]+) req/s`)
	h2Requests = regexp.MustCompile(`(?m)^requests: \d+ total, \d+ started, (\d+) done, \d+ succeeded, (\d+) failed, \d+ errored, \d+ timeout`)
	h2Proto    = regexp.MustCompile(`(?m)^Application protocol: (\S+)`)
	h2Time     = regexp.MustCompile(`(?m)^time for request:\s+\S+\s+\S+\s+([0-9.]+)(us|ms|s)\s`)
)

// ParseH2load reads h2load's report. It gives min, max, mean and standard
// deviation of request times but no percentiles.
func ParseH2load(out string) (Result, error) {
	var r Result
	f := h2Finished.FindStringSubmatch(out)
	q := h2Requests.FindStringSubmatch(out)
	if f == nil || q == nil {
		return r, fmt.Errorf("h2load: no result in output: %s", lastLines(out, 5))
	}
	r.RPS, _ = strconv.ParseFloat(f[1], 64)
	r.Requests, _ = strconv.ParseInt(q[1], 10, 64)
	// failed counts every request that did not succeed: those answered
	// with a status other than 2xx or 3xx, and those that errored (reset,
	// connection lost, timed out). errored and timeout are subsets of it,
	// so they are not added again.
	r.Errors, _ = strconv.ParseInt(q[2], 10, 64)
	if p := h2Proto.FindStringSubmatch(out); p != nil {
		r.Protocol = p[1]
	}
	if t := h2Time.FindStringSubmatch(out); t != nil {
		r.Mean, _ = duration(t[1], t[2])
	}
	return r, nil
}

func duration(num, unit string) (time.Duration, error) {
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, err
	}
	scale := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "m": time.Minute}[unit]
	if scale == 0 {
		return 0, errors.New("unknown unit " + unit)
	}
	return time.Duration(v * float64(scale)), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
