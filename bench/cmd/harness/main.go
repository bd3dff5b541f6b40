// Command harness runs egress's benchmarks against their anchors and
// prints tables of ratios. Run it through bench/run, which installs the
// anchors and builds it:
//
//	bench/run [-quick] [-json FILE] [SCENARIO...]
//
// The harness re-executes itself as "harness role NAME PARAMS" for each
// server and client, so that every client is measured in a process of its
// own.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/egress-go/egress/bench/internal/harness"
	"github.com/egress-go/egress/bench/internal/scenario"
)

func main() {
	if len(os.Args) >= 3 && os.Args[1] == "role" {
		fn, ok := scenario.Roles[os.Args[2]]
		if !ok {
			fatal("unknown role %q", os.Args[2])
		}
		var params []byte
		if len(os.Args) > 3 {
			params = []byte(os.Args[3])
		}
		if err := fn(params); err != nil {
			fatal("%s: %v", os.Args[2], err)
		}
		return
	}

	quick := flag.Bool("quick", false, "one round, 3 s per client, idle at 10,000 connections only")
	jsonFile := flag.String("json", "", "also write one JSON object per result line to `FILE`")
	rounds := flag.Int("rounds", 3, "interleaved rounds per client (medians are reported)")
	dur := flag.Duration("d", 10*time.Second, "measurement time per client and round")
	list := flag.Bool("list", false, "list the scenarios and exit")
	profile := flag.String("cpuprofile", "", "write CPU profiles of the Go clients' measurement windows into `DIR`")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: bench/run [-quick] [-json FILE] [SCENARIO...]\n\nscenarios:\n")
		for _, s := range scenario.All {
			fmt.Fprintf(os.Stderr, "  %-14s %s\n", s.Name, s.Doc)
		}
		fmt.Fprintln(os.Stderr)
		flag.PrintDefaults()
	}
	flag.Parse()
	if *list {
		flag.Usage()
		return
	}
	var results []harness.Row
	o := scenario.Options{Quick: *quick, Rounds: *rounds, Duration: *dur, Out: os.Stdout, Results: &results}
	if *quick {
		o.Rounds, o.Duration = 1, 3*time.Second
		// A quick run is for development and noisy anyway: it neither
		// waits for quiet cores nor repeats (the other-CPU column still
		// tells how disturbed each run was).
		harness.Patience.IdleWait, harness.Patience.Repeat = 0, false
	}
	// A full run takes about 34 minutes, past the 30 that runs took
	// before http2: about 26 for the other scenarios (8 of them redis)
	// and 8 for http2 (3 shapes x 5 clients x 3 rounds of 10 s, with
	// warm-ups). h2-idle adds about one more by estimate (2 clients x 3
	// rounds of 10,000 TLS handshakes). azblob adds about 3 more by
	// estimate (2 clients x 3 rounds of a 1 GiB upload, about 20 s each
	// into Azurite, and of a 1 GiB download, about 2 s). Waiting for quiet
	// cores and repeating disturbed runs may add up to Spare on top.
	harness.Patience.Spare = 2 * time.Minute
	if *profile != "" {
		if err := os.MkdirAll(*profile, 0o755); err != nil {
			fatal("%v", err)
		}
		o.ProfileDir = *profile
	}
	if *jsonFile != "" {
		f, err := os.Create(*jsonFile)
		if err != nil {
			fatal("%v", err)
		}
		defer f.Close()
		var mu sync.Mutex
		enc := json.NewEncoder(f)
		o.JSON = func(r harness.Row) {
			mu.Lock()
			defer mu.Unlock()
			enc.Encode(r)
		}
	}
	want := map[string]bool{}
	for _, a := range flag.Args() {
		want[a] = true
	}
	known := map[string]bool{}
	for _, s := range scenario.All {
		known[s.Name] = true
	}
	for a := range want {
		if !known[a] {
			fatal("unknown scenario %q (try -list)", a)
		}
	}
	fmt.Printf("egress benchmarks, %s, rounds %d x %v\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), o.Rounds, o.Duration)
	fmt.Printf("machine: %s\n", machine())
	fmt.Printf("command: bench/run %s\n", strings.Join(os.Args[1:], " "))
	began := time.Now()
	for _, s := range scenario.All {
		if len(want) > 0 && !want[s.Name] {
			continue
		}
		fmt.Fprintf(os.Stderr, "== %s\n", s.Name)
		t0 := time.Now()
		if err := s.Run(o); err != nil {
			fmt.Printf("\n%s: skipped: %v\n", s.Name, err)
		}
		fmt.Fprintf(os.Stderr, "== %s took %v\n", s.Name, time.Since(t0).Round(time.Second))
	}
	scenario.PrintGoals(os.Stdout, results)
	printNoise(results)
	fmt.Printf("\ntook %v\n", time.Since(began).Round(time.Second))
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "harness: "+format+"\n", args...)
	os.Exit(1)
}

// printNoise sums up how busy the machine was: the share of a core that
// other processes used during the runs.
func printNoise(rows []harness.Row) {
	var v []float64
	for _, r := range rows {
		if r.Skipped == "" {
			v = append(v, r.OtherCPU)
		}
	}
	if len(v) == 0 {
		return
	}
	sort.Float64s(v)
	busy := 0
	for _, x := range v {
		if x >= 0.15 {
			busy++
		}
	}
	med := (v[(len(v)-1)/2] + v[len(v)/2]) / 2
	fmt.Printf("\nnoise: other processes used a median %.0f%% of a core during the runs (max %.0f%%); %d of %d rows above 15%%\n",
		100*med, 100*v[len(v)-1], busy, len(v))
}
