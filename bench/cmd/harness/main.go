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
	"runtime"
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
	o := scenario.Options{Quick: *quick, Rounds: *rounds, Duration: *dur, Out: os.Stdout}
	if *quick {
		o.Rounds, o.Duration = 1, 3*time.Second
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
	host, _ := os.Hostname()
	fmt.Printf("egress benchmarks — %s, %d cores, %s %s/%s, %s, rounds %d × %v\n",
		host, runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, time.Now().UTC().Format("2006-01-02"), o.Rounds, o.Duration)
	fmt.Printf("command: bench/run %s\n", strings.Join(os.Args[1:], " "))
	for _, s := range scenario.All {
		if len(want) > 0 && !want[s.Name] {
			continue
		}
		fmt.Fprintf(os.Stderr, "== %s\n", s.Name)
		if err := s.Run(o); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", s.Name, err)
		}
	}
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "harness: "+format+"\n", args...)
	os.Exit(1)
}
