package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/egress-go/egress/cmd/egress/internal/report"
)

type mergeCmd struct {
	e        *env
	jsonOut  bool
	hdrFile  string
	htmlFile string
	failIf   []string
}

func newMerge(e *env) *cobra.Command {
	m := &mergeCmd{e: e}
	cmd := &cobra.Command{
		Use:   "merge FILE...",
		Short: "Combine the HdrHistogram logs of several bench runs into one report",
		Long: `Combine HdrHistogram logs written by egress bench --hdr, from several runs or
machines, into one report: the latency histogram is the sum of all of them
(percentiles of the combined samples, not averages of percentiles), and the
requests, status codes, errors, protocols and connection counts kept in each
log are added up. Throughput adds up the runs' rates, as for runs side by
side. Runs that mixed protocols (HTTP/1.1, HTTP/2) or models (closed, open)
are merged with a warning on stderr.

The timeline (requests per second, p50, p99, errors and connections open
over time, in --json and --html) is the runs' intervals summed by wall-clock
time, one point a second from the first run's start to the last one's end,
from the interval times each log keeps (in milliseconds since the epoch: keep
the machines' clocks in sync). --hdr writes the merged result as a log of the
same kind, timeline included, to be merged again.

So a run spread over many machines is summed with no service in between: run
egress bench --hdr on each (say as a Kubernetes Indexed Job, each pod naming
its log by JOB_COMPLETION_INDEX), collect the files and merge them. Give the
workers --fail-if none and the merge the thresholds, which judge the whole.
docs/distributed.md has a Job's YAML.

--fail-if checks thresholds on the merged result as bench does (see egress
bench --help; sent does not apply) and exits 99 when one is not met. merge
checks no threshold unless asked.`,
		Example: `  egress merge run-*.hdr
  egress merge --json --hdr all.hdr a.hdr b.hdr
  egress merge --fail-if 'p99>250ms,errors>0.1%' worker-*.hdr
  egress merge --html all.html --hdr all.hdr /results/worker-*.hdr`,
		Args: argsRange(1, 1<<30, "one or more files"),
		RunE: m.run,
	}
	fs := cmd.Flags()
	fs.BoolVar(&m.jsonOut, "json", false, "print the merged report as one JSON object")
	fs.StringVar(&m.hdrFile, "hdr", "", "also write the merged histogram to `file` as an HdrHistogram log")
	fs.StringVar(&m.htmlFile, "html", "", "write a self-contained HTML report to `file`")
	fs.StringArrayVar(&m.failIf, "fail-if", nil, "exit 99 if `METRIC<>VALUE` holds for the merged runs, as with bench (repeatable)")
	return cmd
}

func (m *mergeCmd) run(cmd *cobra.Command, files []string) error {
	var ths []report.Threshold
	if len(m.failIf) > 0 {
		var err error
		if ths, err = parseThresholds(m.failIf, false); err != nil {
			return fmt.Errorf("merge: %w", err)
		}
	}
	rep, err := report.Merge(files)
	if err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	if len(ths) > 0 {
		rep.Check(ths)
	}
	if m.hdrFile != "" {
		f, err := os.Create(m.hdrFile)
		if err != nil {
			return fmt.Errorf("merge: --hdr: %w", err)
		}
		err = report.WriteMergedLog(f, rep)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("merge: --hdr: %w", err)
		}
	}
	if m.htmlFile != "" {
		if err := writeHTML(m.htmlFile, rep); err != nil {
			return fmt.Errorf("merge: --html: %w", err)
		}
	}
	// Runs that differ (protocol, model) are merged all the same, since
	// that may be what was meant; the warning goes to stderr whatever the
	// format, so that a script keeping the report still shows it.
	for _, w := range rep.Warnings {
		fmt.Fprintf(m.e.stderr, "egress: merge: warning: %s\n", w)
	}
	if m.jsonOut {
		enc := json.NewEncoder(m.e.stdout)
		enc.SetEscapeHTML(false)
		err = enc.Encode(rep)
	} else {
		err = rep.WriteText(m.e.stdout)
	}
	if err == nil && rep.ThresholdsMet != nil && !*rep.ThresholdsMet {
		err = &exitError{code: exitThreshold, err: fmt.Errorf("merge: threshold not met: %s", rep.FailedThresholds())}
	}
	return err
}
