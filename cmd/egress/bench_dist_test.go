//go:build linux || darwin

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

// distReport is what TestDistributedMerge reads of a report.
type distReport struct {
	Requests int64    `json:"requests"`
	Model    string   `json:"model"`
	Elapsed  float64  `json:"elapsed_s"`
	Warnings []string `json:"warnings"`
	Latency  struct {
		Count int64 `json:"count"`
	} `json:"latency_ms"`
	Timeline []struct {
		T         float64 `json:"t_s"`
		Requests  int64   `json:"requests"`
		Rate      float64 `json:"requests_per_s"`
		OpenConns int64   `json:"connections_open"`
	} `json:"timeline"`
}

// TestDistributedMerge runs a distributed benchmark as the docs describe
// it (docs/distributed.md): two egress bench processes at once against
// one target, each writing its --hdr log, then egress merge of the logs.
// The workers run in the open model at 200 and 100 req/s for 3 s and 4 s,
// so the merged timeline, summed by wall-clock time, must show about
// 300 req/s while both ran and 100 after, reach the end of the longer
// run, and count every request of both. A third worker in the closed
// model merged with them draws the mixed-model warning.
func TestDistributedMerge(t *testing.T) {
	testkit.CheckLeaks(t)
	s := startTarget(t, false)
	dir := t.TempDir()
	type worker struct {
		args []string
		cmd  *exec.Cmd
		out  bytes.Buffer
		errb bytes.Buffer
		log  string
	}
	workers := []*worker{
		{args: []string{"-R", "200", "-d", "3s", "-c", "8"}},
		{args: []string{"-R", "100", "-d", "4s", "-c", "8"}},
		{args: []string{"-c", "2", "-n", "500"}},
	}
	for i, w := range workers {
		w.log = filepath.Join(dir, "worker-"+string(rune('0'+i))+".hdr")
		args := append([]string{"bench", "--json", "--hdr", w.log, "--loops", "1"}, w.args...)
		w.cmd = exec.Command(os.Args[0], append(args, s.URL()+"/")...)
		w.cmd.Env = append(os.Environ(), "EGRESS_TEST_MAIN=1")
		w.cmd.Stdout, w.cmd.Stderr = &w.out, &w.errb
		if err := w.cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	var runs []distReport
	for i, w := range workers {
		waitChild(t, w.cmd)
		var r distReport
		if err := json.Unmarshal(w.out.Bytes(), &r); err != nil || r.Requests == 0 {
			t.Fatalf("worker %d: %v\n%s%s", i, err, w.out.String(), w.errb.String())
		}
		runs = append(runs, r)
	}

	merged := filepath.Join(dir, "merged.hdr")
	out, errOut, code := cli(t, "merge", "--json", "--html", filepath.Join(dir, "merged.html"), "--hdr", merged,
		workers[0].log, workers[1].log)
	var m distReport
	if err := json.Unmarshal([]byte(out), &m); err != nil || code != 0 {
		t.Fatalf("merge: exit %d %v\n%s%s", code, err, out, errOut)
	}
	if want := runs[0].Requests + runs[1].Requests; m.Requests != want || m.Latency.Count != want || m.Model != "merged" {
		t.Fatalf("merged %d requests (%d latencies), want %d", m.Requests, m.Latency.Count, want)
	}
	if errOut != "" || len(m.Warnings) != 0 {
		t.Errorf("two open-model runs warned: %q %q", errOut, m.Warnings)
	}
	// The timeline covers both runs: every request, to the end of the
	// longer one (its start may lag the other's by a process's start-up).
	if len(m.Timeline) == 0 {
		t.Fatal("the merged report has no timeline")
	}
	var sum int64
	both, after := false, false
	for i, p := range m.Timeline {
		sum += p.Requests
		if i < len(m.Timeline)-1 && p.Rate > 270 && p.Rate < 330 && p.OpenConns >= 2 {
			both = true // a second in which both ran at once
		}
		if p.T > 3.5 && p.Rate > 70 && p.Rate < 130 {
			after = true // the 100 req/s run alone
		}
	}
	t.Logf("merged timeline: %+v", m.Timeline)
	last := m.Timeline[len(m.Timeline)-1].T
	if sum != m.Requests || !both || !after || last < runs[1].Elapsed-0.05 || last > runs[0].Elapsed+runs[1].Elapsed {
		t.Errorf("merged timeline (requests %d, sum %d, runs of %.2fs and %.2fs):\n%+v",
			m.Requests, sum, runs[0].Elapsed, runs[1].Elapsed, m.Timeline)
	}
	page, err := os.ReadFile(filepath.Join(dir, "merged.html"))
	if err != nil || !strings.Contains(string(page), `id="timeline"`) || !strings.Contains(string(page), `id="connections"`) {
		t.Errorf("merged HTML report without its charts over time (%v)", err)
	}

	// The merged log keeps the timeline: merged again, alone, it gives
	// the same points.
	again, errOut, code := cli(t, "merge", "--json", merged)
	var m2 distReport
	if err := json.Unmarshal([]byte(again), &m2); err != nil || code != 0 {
		t.Fatalf("merge of the merged log: exit %d %v\n%s%s", code, err, again, errOut)
	}
	if m2.Requests != m.Requests || len(m2.Timeline) != len(m.Timeline) {
		t.Errorf("merged again: %d requests, timeline %+v", m2.Requests, m2.Timeline)
	} else {
		for i := range m.Timeline {
			if m2.Timeline[i] != m.Timeline[i] {
				t.Errorf("merged again: point %d is %+v, was %+v", i, m2.Timeline[i], m.Timeline[i])
			}
		}
	}

	// With the closed-model worker: merged all the same, with a warning.
	out, errOut, code = cli(t, "merge", "--json", workers[0].log, workers[1].log, workers[2].log)
	if err := json.Unmarshal([]byte(out), &m); err != nil || code != 0 {
		t.Fatalf("merge of three: exit %d %v\n%s%s", code, err, out, errOut)
	}
	if m.Requests != runs[0].Requests+runs[1].Requests+runs[2].Requests ||
		!strings.Contains(errOut, "egress: merge: warning: the runs mixed models (runs by model: ") ||
		!strings.Contains(errOut, "closed: 1") || !strings.Contains(errOut, "open: 2") {
		t.Errorf("merge of three: %d requests\n%s", m.Requests, errOut)
	}
}

// TestDistributedDocs checks that bench's and merge's help say how to run
// a distributed benchmark, and that the docs' Job names each log by its
// completion index and merges them.
func TestDistributedDocs(t *testing.T) {
	for cmd, wants := range map[string][]string{
		"bench": {"Distributed runs:", "--hdr worker-N.hdr", "egress merge worker-*.hdr", "JOB_COMPLETION_INDEX"},
		"merge": {"summed by wall-clock", "Indexed Job", "JOB_COMPLETION_INDEX", "docs/distributed.md"},
	} {
		out, _, code := cli(t, cmd, "--help")
		for _, w := range wants {
			if code != 0 || !strings.Contains(out, w) {
				t.Errorf("egress %s --help lacks %q", cmd, w)
			}
		}
	}
	doc, err := os.ReadFile("../../docs/distributed.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"completionMode: Indexed", `"--hdr", "/results/worker-$(JOB_COMPLETION_INDEX).hdr"`,
		"egress merge --html /results/all.html", "--fail-if none"} {
		if !strings.Contains(string(doc), w) {
			t.Errorf("docs/distributed.md lacks %q", w)
		}
	}
}
