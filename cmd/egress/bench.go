package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/egress-go/egress/cmd/egress/internal/load"
	"github.com/egress-go/egress/cmd/egress/internal/report"
	"github.com/egress-go/egress/target"
)

// Defaults of a bench run.
const (
	defaultConnections  = 64
	defaultDuration     = 10 * time.Second
	selfTestDuration    = 3 * time.Second
	defaultBenchTimeout = 10 * time.Second
	maxBodyFile         = 64 << 20
)

type benchCmd struct {
	e           *env
	connections int
	streams     int
	duration    time.Duration
	requests    int64
	rate        float64
	method      string
	headers     []string
	body        string
	bodyFile    string
	timeout     time.Duration
	loops       int
	tls         tlsFlags
	proto       protoFlags
	jsonFile    string // "-": stdout
	hdrFile     string
	htmlFile    string
	noProgress  bool
	failIf      []string
	thresholds  []report.Threshold
	targetsFile string
	targets     []benchTarget // read from targetsFile
	stages      []string
}

func newBench(e *env) *cobra.Command {
	b := &benchCmd{e: e}
	cmd := &cobra.Command{
		Use:   "bench [URL]",
		Short: "Load-test a URL, or with no URL the embedded server",
		Long: `Load-test a URL with many connections driven by a few event loops.

With no URL, bench starts the embedded target server on loopback and runs a
short benchmark against it (` + selfTestDuration.String() + `, 64 connections): the whole stack in
one command. With --http2-prior-knowledge the server speaks h2c, with --http2
h2 over TLS (its certificate trusted); these run on net/http's server, as
egress serve does with the same switches.

Closed model (default): each of the -c connections sends its next request as
soon as the previous one is answered. Open model (-R): requests are due at a
fixed rate whatever the server does, and latency is measured from when each
was due, so queueing behind a slow server is counted (coordinated omission
corrected, as wrk2 does).

Protocol: https offers HTTP/2 by ALPN and falls back to HTTP/1.1 if the
server does not pick it (--http2, the default); --http2-prior-knowledge
speaks HTTP/2 in plain text (h2c) on http:// URLs; --http1.1 never speaks
HTTP/2. -m N keeps N requests in flight on each HTTP/2 connection, as
h2load's -m: -c 4 -m 100 runs 400 requests at once over 4 connections.
HTTP/1.1 carries one request at a time, so -m above 1 is refused with
--http1.1 or on http:// without --http2-prior-knowledge; on https it runs
whatever the server picks, and the report warns if that was HTTP/1.1. The
report says which protocol the responses came in and, for HTTP/2, the streams
achieved per connection against -m (a server's MAX_CONCURRENT_STREAMS may
allow fewer: bench then opens no more connections than -c, the requests wait
for a stream, and the report warns), the GOAWAYs and stream resets the server
sent with their codes, and the requests it refused and were retried.

Several requests: --targets FILE sends the requests of FILE in turn, each as
often as its weight, in either model and protocol. FILE is in vegeta's format,
a METHOD URL line, header lines and an optional @body-file line per target,
blank lines between targets, # for comments:

  GET http://host/api/items/{{seq}}
  X-Trace: {{rand}}

  POST /api/orders
  Content-Type: application/json
  @order.json

or JSON lines, one object per line, with method (default GET), url, header
(a name to a value or a list), one of body, body_base64 and body_file, and
weight (default 1):

  {"method":"POST","url":"/api/orders","body":"{\"id\":{{seq}}}","weight":3}

A target's URL may be a path: it goes to the URL argument's origin, or with no
URL argument to the embedded server. A run goes to one origin. -H adds its
fields to every target; body files are read from the current directory.

Placeholders make each request differ, in a URL's path or query, a header
value or a body, with or without --targets: {{seq}} is the request's number in
the run (0, 1, 2, ...), {{rand}} a random number below 2^32, {{rand:N}} one
below N. An unknown {{...}} in a URL or header value is an error; in a body it
is sent as it is.

Stages: --stage DURATION:TARGET, given in turn, ramps the run in straight
lines. With N rps targets it is an open-model run whose rate goes from -R (0 if
not given) to each stage's target over its duration; with N c targets a
closed-model run whose connections in use go from 0 to each target (-c is then
their most; connections no longer asked for go idle). The run lasts the sum of
the stages (so no -d). --stage 30s:1000rps --stage 1m:1000rps ramps up to
1000 req/s in 30 s and holds it for a minute. The HTML report draws the rate
asked against the rate sent and completed, or the connections asked against
those open.

Live display: while the run goes, and only when stderr is a terminal, one
line on stderr shows its progress as a bar (its time, or with -n alone its
requests) with the time left, the requests per second, p50 and p99 of the
last full second, the errors so far and the connections open; it is cleared
before the report, and never written to a file, a pipe or the JSON output.
-q/--no-progress turns it off.

Distributed runs: run bench on N machines (or as the N pods of a Kubernetes
Indexed Job, naming each log by JOB_COMPLETION_INDEX) with the same flags,
--fail-if none and --hdr worker-N.hdr, then egress merge worker-*.hdr: the
latencies, counts and timeline are summed as runs side by side (each worker
sends its own -R). --hdr writes an HdrHistogram log as the run goes, one
interval a second, with egress's counts (errors, connections) in comment
lines that other HdrHistogram readers skip. See egress merge --help.

Thresholds and exit status: --fail-if METRIC OP VALUE fails the run when the
condition holds; give it several times (or comma-separated) for several.
Metrics: p50, p90, p99, p99.9 or any pN, min, mean and max latency (a
duration: 250ms, 1.5s, 800us; a bare number is ms); errors (requests that
failed without a response) and non2xx (responses with a status outside
200-299), each a count or a percentage of the requests; rps (requests
completed per second); sent (open model: requests sent, a count or a
percentage of those due). Operators: <, <=, >, >=. The report shows each
threshold as met or NOT MET, in text, JSON and HTML.
Without --fail-if, bench checks these defaults: errors>1%, non2xx>1% and,
with -R, sent<95% (the rate was not met); --fail-if none checks nothing.
Exit status: 0 when every threshold was met; 99 when the run was measured
but a threshold was not met; 1 when the run could not be made (a target
that cannot be reached, an output file that cannot be written, too few
file descriptors for -c, no response at all, an interrupted run); 2 for
bad flags or arguments.`,
		Example: `  egress bench
  egress bench -c 256 -d 30s http://127.0.0.1:8080/
  egress bench --http2-prior-knowledge -c 4 -m 100 http://127.0.0.1:8080/
  egress bench -R 2000 -d 1m -c 100 --hdr run.hdr --html run.html http://host/api
  egress bench -X POST -H 'Content-Type: application/json' --body '{"a":1}' -n 10000 http://host/x
  egress bench --targets requests.txt -c 32 -d 1m http://host:8080
  egress bench -c 200 --stage 30s:100rps --stage 1m:1000rps --stage 30s:0rps http://host/api
  egress bench --stage 20s:50c --stage 1m:50c --html ramp.html http://host/api
  egress bench -H 'X-Request-Id: {{seq}}' 'http://host/items/{{rand:10000}}'
  egress bench --fail-if 'p99>250ms' --fail-if 'errors>0.1%' --fail-if 'non2xx>0' http://host/api
  egress bench -R 5000 -d 1m --fail-if 'p99.9>1s,rps<4900,sent<99%' http://host/api
  egress bench -R 2000 -d 5m --fail-if none --hdr worker-$JOB_COMPLETION_INDEX.hdr http://host/api   # then egress merge worker-*.hdr`,
		Args: b.args,
		RunE: b.run,
	}
	fs := cmd.Flags()
	fs.IntVarP(&b.connections, "connections", "c", defaultConnections, "connections to use (one request in flight on each, or -m)")
	fs.IntVarP(&b.streams, "streams", "m", 1, "requests in flight per connection (HTTP/2 only), as h2load's -m")
	fs.DurationVarP(&b.duration, "duration", "d", 0, "length of the run (default 10s, or 3s with no URL; none with -n alone)")
	fs.Int64VarP(&b.requests, "requests", "n", 0, "stop after this many requests (with -d: whichever comes first)")
	fs.Float64VarP(&b.rate, "rate", "R", 0, "open model: requests per second, latency counted from when each is due (needs -d)")
	fs.StringVarP(&b.method, "method", "X", "GET", "request method")
	fs.StringArrayVarP(&b.headers, "header", "H", nil, "request header \"Name: value\" (repeatable)")
	fs.StringVar(&b.body, "body", "", "request body")
	fs.StringVar(&b.bodyFile, "body-file", "", "read the request body from `file`")
	fs.DurationVarP(&b.timeout, "timeout", "t", defaultBenchTimeout, "bound on connecting, on waiting for a response and on each silence in a body")
	fs.IntVar(&b.loops, "loops", 0, "event loops (default one per core)")
	b.tls.add(fs)
	b.proto.add(fs)
	fs.StringVar(&b.jsonFile, "json", "", "print the report as one JSON object; --json=`FILE` writes it to FILE (and the text report to stdout)")
	fs.Lookup("json").NoOptDefVal = "-"
	fs.StringVar(&b.hdrFile, "hdr", "", "write the latency histogram to `file` as an HdrHistogram log (see egress merge)")
	fs.StringVar(&b.htmlFile, "html", "", "write a self-contained HTML report to `file`")
	fs.BoolVarP(&b.noProgress, "no-progress", "q", false, "no live display (it is drawn only when stderr is a terminal)")
	fs.StringArrayVar(&b.stages, "stage", nil, "ramp over `DURATION:TARGET`, TARGET N rps (open model) or N c (connections); repeatable, see above")
	fs.StringVar(&b.targetsFile, "targets", "", "send the requests of `FILE` in turn (vegeta's format or JSON lines; see above)")
	fs.StringArrayVar(&b.failIf, "fail-if", nil, "fail the run (exit 99) if `METRIC<>VALUE` holds, as p99>250ms, errors>0.1%, non2xx>0, rps<5000 (repeatable; none: no check)")
	return cmd
}

func (b *benchCmd) run(cmd *cobra.Command, args []string) error {
	changed := cmd.Flags().Changed
	cfg, err := b.config(changed)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	if len(args) == 0 && b.targets != nil {
		// Targets with absolute URLs need no URL; paths go to the
		// embedded server.
		base, err := targetsBase(b.targetsFile, b.targets)
		if err != nil {
			return err
		}
		if base != "" {
			args = []string{base + "/"}
		}
	}
	embedded := len(args) == 0
	var u *url.URL
	if embedded {
		if err := b.checkStreams(b.embeddedScheme()); err != nil { // before the server starts
			return err
		}
	} else {
		raw := args[0]
		if err := checkURLTemplate(raw, false); err != nil {
			return err
		}
		first, _ := load.RenderFirst(raw)
		if u, err = checkURL(first); err != nil {
			return err
		}
		cfg.URL = u.String()
		if strings.Contains(raw, "{{") {
			cfg.URL = raw // as given: parsing would escape the braces
		}
		if err := b.checkStreams(first); err != nil {
			return err
		}
		if b.targets != nil {
			if cfg.Targets, err = resolveTargets(b.targetsFile, b.targets, cfg.URL); err != nil {
				return err
			}
		}
	}

	// Preflight: what would fail late fails now, before the run.
	outs, err := b.openOutputs()
	if err != nil {
		return err
	}
	defer outs.discard() // the files not written (a run that failed)
	fds := planFDs(cfg.Loops, embedded, outs.count())
	if err := checkFDs(cfg.Connections, fds); err != nil {
		return err
	}

	if embedded {
		// The embedded server speaks what was asked for: h2c with
		// --http2-prior-knowledge, h2 over TLS with --http2, else
		// HTTP/1.1 in plain text on the engine.
		tcfg, serveArgs := target.Config{Addr: "127.0.0.1:0"}, ""
		switch {
		case b.proto.prior:
			tcfg.HTTP2, serveArgs = target.H2C, " --http2-prior-knowledge"
		case b.proto.http2:
			tcfg.HTTP2, serveArgs = target.H2TLS, " --tls"
		}
		s, err := target.Start(tcfg)
		if err != nil {
			return fmt.Errorf("bench: starting the embedded server: %w", err)
		}
		defer s.Close()
		cfg.URL = s.URL() + "/"
		if b.targets != nil {
			if cfg.Targets, err = resolveTargets(b.targetsFile, b.targets, cfg.URL); err != nil {
				return err
			}
		}
		if cfg.TLS == nil {
			cfg.TLS = s.ClientTLSConfig() // nil on http://; trusts its certificate on https
		}
		if !changed("duration") && !changed("requests") && len(b.stages) == 0 {
			cfg.Duration = selfTestDuration
		}
		fmt.Fprintf(b.e.stderr, "egress bench: no URL given: benchmarking the embedded server (egress serve%s) at %s\n", serveArgs, cfg.URL)
	} else {
		if !changed("duration") && !changed("requests") && len(b.stages) == 0 {
			cfg.Duration = defaultDuration
		}
		if err := reach(ctx, u.Scheme, u.Host, min(b.timeout, 5*time.Second)); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}

	var hdr *report.LogWriter
	if outs.hdr != nil {
		// The log is written as the run goes, interval by interval.
		f := outs.hdr.f
		outs.hdr.f = nil
		defer f.Close()
		if err := f.Truncate(0); err != nil {
			return fmt.Errorf("bench: --hdr: %w", err)
		}
		if hdr, err = report.NewLogWriter(f, time.Now(), "egress bench "+cfg.Method+" "+cfg.URL); err != nil {
			return fmt.Errorf("bench: --hdr: %w", err)
		}
		var werr error
		cfg.OnInterval = func(iv load.Interval) {
			if werr == nil {
				werr = hdr.WriteInterval(iv)
			}
		}
		defer func() {
			if werr != nil {
				fmt.Fprintf(b.e.stderr, "egress: bench: --hdr: %v\n", werr)
			}
		}()
	}
	var live *progressLine
	if b.e.progress && !b.noProgress {
		live = newProgress(b.e.stderr, cfg)
		cfg.Progress = live.update
	}
	res, err := load.Run(ctx, cfg)
	if live != nil {
		live.finish() // the line goes before the report is printed
	}
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	meta := report.Meta{URL: cfg.URL, Method: cfg.Method, Connections: cfg.Connections,
		Duration: cfg.Duration, Rate: cfg.Rate, Stages: strings.Join(b.stages, " ")}
	if len(cfg.RateStages) > 0 {
		meta.Rate = res.Rate.Asked // their mean
	}
	if cfg.Targets != nil {
		meta.URL, meta.TargetsFile = strings.TrimSuffix(originPart(cfg.URL), "/"), b.targetsFile
	}
	rep := report.Build(meta, res)
	rep.Check(b.thresholds)
	interrupted := ctx.Err() != nil
	if interrupted {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("interrupted: the report covers the first %.2fs", rep.Elapsed))
	}
	if n := rep.Errors[load.ErrClassFiles]; n > 0 && fds.limitSet {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d requests failed for want of a file descriptor: "+
			"the open-file limit is %d (ulimit -n), and something else in the process or on the machine took some", n, fds.limit))
	}
	if err := b.output(rep, hdr, outs); err != nil {
		return err
	}
	return verdict(rep, interrupted)
}

// embeddedScheme is the scheme of the embedded server bench starts:
// https for --http2, which speaks h2 over TLS.
func (b *benchCmd) embeddedScheme() string {
	if b.proto.http2 && !b.proto.prior {
		return "https://127.0.0.1/"
	}
	return "http://127.0.0.1/"
}

// args takes at most one URL. "--json FILE URL" reads as two URLs, since
// --json alone means stdout: the message says how to name the file.
func (b *benchCmd) args(cmd *cobra.Command, args []string) error {
	if len(args) > 1 && b.jsonFile == "-" {
		return usagef("bench: takes at most one URL (to write the JSON report to a file: --json=%s)", args[0])
	}
	return argsRange(0, 1, "at most one URL")(cmd, args)
}

// verdict decides a run's exit status from its report: 1 when it was cut
// short or measured nothing, 99 when a threshold was not met.
func verdict(rep *report.Report, interrupted bool) error {
	switch {
	case interrupted:
		return errors.New("bench: interrupted")
	case rep.Requests == 0:
		return errors.New("bench: no request completed")
	case rep.Responses == 0:
		return fmt.Errorf("bench: no response: all %d requests failed (%s)", rep.ErrorsTotal, topErrors(rep.Errors))
	case rep.ThresholdsMet != nil && !*rep.ThresholdsMet:
		return &exitError{code: exitThreshold, err: fmt.Errorf("bench: threshold not met: %s", rep.FailedThresholds())}
	}
	return nil
}

// parseThresholds reads the --fail-if conditions: the defaults when none
// is given, nothing for "none".
func parseThresholds(exprs []string, open bool) ([]report.Threshold, error) {
	if len(exprs) == 0 {
		return report.DefaultThresholds(open), nil
	}
	var out []report.Threshold
	none := false
	for _, e := range exprs {
		for _, part := range strings.Split(e, ",") {
			part = strings.TrimSpace(part)
			if strings.EqualFold(part, "none") {
				none = true
				continue
			}
			t, err := report.ParseThreshold(part)
			if err != nil {
				return nil, usagef("--fail-if %v", err)
			}
			if t.Metric == "sent" && !open {
				return nil, usagef("--fail-if %s: sent is measured in the open model only (-R)", t)
			}
			out = append(out, t)
		}
	}
	if none && len(out) > 0 {
		return nil, usagef("--fail-if none checks nothing, and cannot go with other thresholds")
	}
	return out, nil
}

// config validates the flags into a load configuration.
func (b *benchCmd) config(changed func(string) bool) (load.Config, error) {
	cfg := load.Config{
		Method: b.method, Connections: b.connections, Duration: b.duration, Rate: b.rate,
		Timeout: b.timeout, Loops: b.loops, Streams: b.streams,
	}
	switch {
	case b.connections <= 0:
		return cfg, usagef("bench: -c/--connections must be at least 1")
	case b.streams <= 0:
		return cfg, usagef("bench: -m/--streams must be at least 1")
	case changed("requests") && b.requests <= 0:
		return cfg, usagef("bench: -n/--requests must be at least 1")
	case changed("duration") && b.duration <= 0:
		return cfg, usagef("bench: -d/--duration must be positive")
	case changed("rate") && b.rate <= 0:
		return cfg, usagef("bench: -R/--rate must be positive")
	case b.rate > 0 && !changed("duration") && len(b.stages) == 0:
		return cfg, usagef("bench: -R/--rate needs -d/--duration (an open-model run is defined by its length)")
	case b.timeout <= 0:
		return cfg, usagef("bench: -t/--timeout must be positive")
	case b.loops < 0:
		return cfg, usagef("bench: --loops must not be negative")
	case b.loops > 0 && checkLoops(b.loops) != nil:
		return cfg, checkLoops(b.loops)
	case b.body != "" && b.bodyFile != "":
		return cfg, usagef("bench: --body and --body-file exclude each other")
	}
	if changed("requests") {
		cfg.Requests = b.requests
	}
	var err error
	if err := b.applyStages(&cfg, changed); err != nil {
		return cfg, err
	}
	if b.thresholds, err = parseThresholds(b.failIf, b.rate > 0 || len(cfg.RateStages) > 0); err != nil {
		return cfg, fmt.Errorf("bench: %w", err)
	}
	if err := checkMethod(b.method); err != nil {
		return cfg, err
	}
	if cfg.HTTP2, err = b.proto.options("bench"); err != nil {
		return cfg, err
	}
	if cfg.Header, err = parseHeaders(b.headers); err != nil {
		return cfg, err
	}
	for _, f := range cfg.Header {
		if err := checkHeaderField(f); err != nil {
			return cfg, fmt.Errorf("bench: %w", err)
		}
	}
	if b.targetsFile != "" {
		for _, f := range []string{"method", "body", "body-file"} {
			if changed(f) {
				return cfg, usagef("bench: --%s does not go with --targets: each target has its own", f)
			}
		}
		if b.targets, err = readTargets(b.targetsFile, cfg.Header); err != nil {
			return cfg, err
		}
	}
	cfg.Body = []byte(b.body)
	if b.bodyFile != "" {
		st, err := os.Stat(b.bodyFile)
		if err != nil {
			return cfg, fmt.Errorf("bench: --body-file: %w", err)
		}
		if st.Size() > maxBodyFile {
			return cfg, usagef("bench: --body-file: %d bytes is more than the %d a request body may have", st.Size(), maxBodyFile)
		}
		if cfg.Body, err = os.ReadFile(b.bodyFile); err != nil {
			return cfg, fmt.Errorf("bench: --body-file: %w", err)
		}
	}
	if cfg.TLS, err = b.tls.config(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// maxStages bounds --stage.
const maxStages = 100

// applyStages reads --stage into the load configuration: rate stages
// (N rps, the open model) or connection stages (N c, the closed one).
func (b *benchCmd) applyStages(cfg *load.Config, changed func(string) bool) error {
	if len(b.stages) == 0 {
		return nil
	}
	if len(b.stages) > maxStages {
		return usagef("bench: at most %d --stage", maxStages)
	}
	if changed("duration") {
		return usagef("bench: --stage and -d exclude each other: the run lasts the stages' sum")
	}
	var stages []load.Stage
	kind := ""
	var sum time.Duration
	most := 0.0
	for _, st := range b.stages {
		durText, target, ok := strings.Cut(strings.TrimSpace(st), ":")
		d, err := time.ParseDuration(durText)
		if !ok || err != nil || d <= 0 {
			return usagef("bench: --stage %q: want DURATION:TARGET with a positive duration, as 30s:100rps or 1m:50c", st)
		}
		k, num := "rps", strings.TrimSuffix(target, "rps")
		if num == target {
			k, num = "c", strings.TrimSuffix(target, "c")
		}
		v, err := strconv.ParseFloat(num, 64)
		if num == target || err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) || k == "c" && v != math.Trunc(v) {
			return usagef("bench: --stage %q: the target is a rate, as 100rps, or a number of connections, as 50c", st)
		}
		if kind != "" && k != kind {
			return usagef("bench: --stage %q: stages ramp either a rate (rps) or connections (c), not both", st)
		}
		kind = k
		stages = append(stages, load.Stage{Duration: d, Target: v})
		sum += d
		most = max(most, v)
	}
	cfg.Duration = sum
	if kind == "rps" {
		cfg.RateStages = stages
		if most == 0 && b.rate == 0 {
			return usagef("bench: --stage: every rate is 0: nothing would be sent")
		}
		return nil
	}
	switch {
	case b.rate > 0:
		return usagef("bench: -R and connection stages (c) exclude each other: ramp the rate with N rps stages")
	case changed("connections"):
		return usagef("bench: -c and connection stages (c) exclude each other: the most of the stages is the connections")
	case most < 1:
		return usagef("bench: --stage: connection stages need at least one target of 1c or more")
	}
	cfg.ConnStages = stages
	cfg.Connections = int(most)
	b.connections = int(most)
	return nil
}

// checkStreams refuses -m above 1 where the run would speak HTTP/1.1,
// which carries one request at a time on a connection.
func (b *benchCmd) checkStreams(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || b.streams <= 1 || b.proto.multiplexes(u) {
		return err
	}
	why := "on an http:// URL without --http2-prior-knowledge"
	if b.proto.http11 {
		why = "with --http1.1"
	}
	return usagef("bench: -m/--streams %d needs HTTP/2, but the run speaks HTTP/1.1 %s, "+
		"which carries one request at a time per connection: use -c for more requests in flight", b.streams, why)
}

// reach checks, before a run, that the host resolves and accepts a TCP
// connection, so that a typo gives one clear error rather than a report
// full of failures.
func reach(ctx context.Context, scheme, host string, timeout time.Duration) error {
	if _, _, err := net.SplitHostPort(host); err != nil {
		port := "80"
		if scheme == "https" {
			port = "443"
		}
		host = net.JoinHostPort(strings.Trim(host, "[]"), port)
	}
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Err != nil {
			err = oe.Err
		}
		return fmt.Errorf("cannot reach %s: %v", host, err)
	}
	c.Close()
	return nil
}

// output writes the report to the outputs asked for: text on stdout,
// or JSON with --json; JSON to a file with --json=FILE, and the text
// report on stdout still.
func (b *benchCmd) output(rep *report.Report, hdr *report.LogWriter, outs *outputs) error {
	if hdr != nil {
		if err := hdr.Close(rep); err != nil {
			return fmt.Errorf("bench: --hdr: %w", err)
		}
	}
	if outs.html != nil {
		if err := outs.html.replace(rep.WriteHTML); err != nil {
			return err
		}
	}
	writeJSON := func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false) // "p99>250ms" as written, not "p99\u003e250ms"
		return enc.Encode(rep)
	}
	if outs.json != nil {
		if err := outs.json.replace(writeJSON); err != nil {
			return err
		}
	}
	if b.jsonFile == "-" {
		if err := writeJSON(b.e.stdout); err != nil {
			return err
		}
		for _, w := range rep.Warnings { // the text report carries its warnings itself
			fmt.Fprintf(b.e.stderr, "egress: bench: warning: %s\n", w)
		}
		return nil
	}
	return rep.WriteText(b.e.stdout)
}

func topErrors(m map[string]int64) string {
	type kv struct {
		k string
		n int64
	}
	var s []kv
	for k, n := range m {
		s = append(s, kv{k, n})
	}
	sort.Slice(s, func(i, j int) bool { return s[i].n > s[j].n || s[i].n == s[j].n && s[i].k < s[j].k })
	var parts []string
	for _, e := range s {
		parts = append(parts, fmt.Sprintf("%s %d", e.k, e.n))
	}
	return strings.Join(parts, ", ")
}

func writeHTML(name string, rep *report.Report) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := rep.WriteHTML(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
