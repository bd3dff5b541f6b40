// Package scenario holds the benchmark scenarios and the roles (servers
// and clients) their child processes play.
package scenario

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
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
	// ProfileDir, if set, makes Go clients write CPU profiles of their
	// measurement windows there (SCENARIO-PINNING-CLIENT-CONNS.pprof).
	ProfileDir string
	// Results collects every row, for the goals summary.
	Results *[]harness.Row
}

// Scenario is one named benchmark.
type Scenario struct {
	Name string
	Doc  string
	Run  func(o Options) error
}

// All lists the scenarios in the order a full run takes them: the
// headline HTTP figures first, the engine and TLS ones after.
var All = []Scenario{
	{Name: "http1-small", Doc: "GET of a 13-byte body from nginx, keep-alive, 64 and 256 connections, pinned and unpinned", Run: runHTTP1Small},
	{Name: "http1-big", Doc: "GET of a 1 MiB file from nginx, keep-alive, 64 connections, pinned", Run: runHTTP1Big},
	{Name: "http2", Doc: "GET of a 13-byte body from nginx over HTTP/2 and TLS 1.3, pinned; connections x streams 1x100, 4x100, 64x1", Run: runHTTP2},
	{Name: "idle", Doc: "client memory per idle keep-alive HTTP connection, at 10,000 and at the open-file limit", Run: runIdle},
	{Name: "echo", Doc: "engine alone: 1,000 connections doing 64-byte echo round trips", Run: runEcho},
	{Name: "tls-handshake", Doc: "full and resumed TLS 1.3 handshakes per second against a Go TLS server", Run: runTLSHandshake},
	{Name: "tls-idle", Doc: "client memory per idle TLS keep-alive connection, at 10,000", Run: runTLSIdle},
	{Name: "h2-idle", Doc: "client memory per idle pooled HTTP/2 connection over TLS, at 10,000 (one host each)", Run: runH2Idle},
	{Name: "redis", Doc: "GET and SET of 16-byte values, 50 clients, depth 1 and 16, against redis-server", Run: runRedis},
	{Name: "redis-cluster", Doc: "the redis load against a Redis Cluster of 3 masters: egress, go-redis and rueidis cluster clients", Run: runRedisCluster},
	{Name: "azblob", Doc: "Azure SDK blob client against Azurite: 1 GiB upload (8 MiB blocks x 4) and streamed download, egress vs net/http as its transport", Run: runAzblob},
}

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
	URL      string        `json:"url,omitempty"`
	Mode     string        `json:"mode,omitempty"`      // a client's variant, e.g. "resumed"
	Profile  string        `json:"profile,omitempty"`   // write a CPU profile of the window here
	AnswerAt int           `json:"answer_at,omitempty"` // target server: answer once this many requests wait
	CertPEM  []byte        `json:"cert_pem,omitempty"`  // TLS: the server's certificate, which clients trust
	KeyPEM   []byte        `json:"key_pem,omitempty"`   // TLS: its key, for the server only
	Streams  int           `json:"streams,omitempty"`   // HTTP/2: requests in flight per connection
	// ServerPID, if set, is a server process (nginx's master) whose CPU
	// time, with its children's, the client reads over its window.
	ServerPID int `json:"server_pid,omitempty"`
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
// processes (client and server) used. Every row is stamped with tmpl's
// scenario, connections, pinning, op and pipeline depth, also rows of
// clients that failed.
func runClients(o Options, tmpl harness.Row, clients []string, one func(client string) (harness.Row, time.Duration, error)) []harness.Row {
	rows, _ := harness.Rounds(o.Rounds, clients, func(c string) (harness.Row, error) {
		fmt.Fprintf(os.Stderr, "  %s %s (%d conns) ...\n", tmpl.Scenario, c, tmpl.Conns)
		return harness.Run(func() (harness.Row, time.Duration, error) { return one(c) })
	})
	for i := range rows {
		rows[i].Scenario, rows[i].Conns, rows[i].Pinned = tmpl.Scenario, tmpl.Conns, tmpl.Pinned
		rows[i].Op, rows[i].Pipeline, rows[i].Streams = tmpl.Op, tmpl.Pipeline, tmpl.Streams
		if o.JSON != nil {
			o.JSON(rows[i])
		}
		if o.Results != nil {
			*o.Results = append(*o.Results, rows[i])
		}
	}
	return rows
}

// profilePath names the CPU profile of one client run, or "" for none.
func (o Options) profilePath(scenario, client string, conns int, pinned bool) string {
	if o.ProfileDir == "" {
		return ""
	}
	return filepath.Join(o.ProfileDir, fmt.Sprintf("%s-%s-%s-%d.pprof", scenario, pinName(pinned), client, conns))
}
