// Package scenario holds the benchmark scenarios and the roles (servers
// and clients) their child processes play.
package scenario

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/egress-go/egress/bench/internal/harness"
)

// Options are the harness's command-line settings.
type Options struct {
	Quick    bool
	Rounds   int
	Duration time.Duration
	Out      io.Writer // tables
	JSON     func(harness.Row)
}

// Scenario is one named benchmark.
type Scenario struct {
	Name string
	Doc  string
	Run  func(o Options) error
}

// All lists the scenarios in the order a full run takes them.
var All []Scenario

// Roles maps a role name to the function its child process runs; params is
// the JSON the parent passed.
var Roles = map[string]func(params []byte) error{}

// Params is what the parent tells a client role.
type Params struct {
	Addrs    []string      `json:"addrs"`
	Conns    int           `json:"conns"`
	Duration time.Duration `json:"duration"`
	Warmup   time.Duration `json:"warmup"`
	Size     int           `json:"size"`
	Path     string        `json:"path,omitempty"`
	Extra    string        `json:"extra,omitempty"`
}

func decode(params []byte) (Params, error) {
	var p Params
	err := json.Unmarshal(params, &p)
	return p, err
}

// emit prints a client's result row, its last line of output.
func emit(r harness.Row) error {
	return json.NewEncoder(os.Stdout).Encode(r)
}

// ready tells the parent a role is up (a server gives its addresses).
func ready(s string) { fmt.Println(s) }

// waitForStop blocks a server role until the parent stops it.
func waitForStop() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	<-ch
}

// runClients runs a scenario's clients in interleaved rounds. one runs a
// client once and returns its row and the CPU time that the run's own
// processes (client and server) used.
func runClients(o Options, clients []string, one func(client string) (harness.Row, time.Duration, error)) ([]harness.Row, error) {
	rows, err := harness.Rounds(o.Rounds, clients, func(c string) (harness.Row, error) {
		fmt.Fprintf(os.Stderr, "  %s ...\n", c)
		return harness.Run(func() (harness.Row, time.Duration, error) { return one(c) })
	})
	for _, r := range rows {
		if o.JSON != nil {
			o.JSON(r)
		}
	}
	return rows, err
}
