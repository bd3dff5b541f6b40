package scenario

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/egress-go/egress/bench/internal/harness"
)

// The azblob scenario (issue 14): the drop-in path through a real SDK.
// The Azure SDK for Go's blob client uploads a blob to Azurite, the Azure
// Storage emulator, with UploadStream (8 MiB blocks, four at a time), and
// streams it back with DownloadStream into io.Discard, with egress and
// with net/http as its transport. Each transfer runs in a fresh client
// process, which reports its CPU time per GiB and its peak RSS over the
// transfer.

const (
	azSize      = 1 << 30   // the blob, in a full run
	azSizeQuick = 256 << 20 // in a quick run
)

// azClients take turns in each table; nethttp is the anchor.
var azClients = []string{"egress", "nethttp"}

func runAzblob(o Options) error {
	size := int64(azSize)
	if o.Quick {
		size = azSizeQuick
	}
	return azblobScenario(o, size, azChecksum(size))
}

// azblobScenario runs the uploads, then the downloads, of a blob of size
// bytes whose CRC-32C must be crc. Each client uploads a blob of its own
// and downloads the other's, so that every upload's bytes are checked by
// a download through the other transport.
func azblobScenario(o Options, size int64, crc uint32) error {
	srv, err := startAzurite(serverCore)
	if err != nil {
		return err
	}
	defer srv.Stop()
	if err := srv.createContainer(); err != nil {
		return err
	}
	uploaded := map[string]bool{}
	for _, op := range []string{"upload", "download"} {
		conns := 1
		if op == "upload" {
			conns = azConcurrency
		}
		tmpl := harness.Row{Scenario: "azblob", Conns: conns, Pinned: true, Op: op}
		rows := runClients(o, tmpl, azClients, func(client string) (harness.Row, time.Duration, error) {
			blob := client
			if op == "download" {
				blob = azSource(client, uploaded)
				if blob == "" {
					return harness.Row{Client: client, Skipped: "no blob was uploaded"}, 0, nil
				}
			}
			cpu0 := srv.CPU()
			r, own, err := harness.RunChild(clientCore, "azblob-"+client, azParams{
				Params: Params{URL: srv.URL, Size: int(size), Mode: op}, Blob: blob, CRC: crc,
			}, client)
			return r, own + srv.CPU() - cpu0, err
		})
		for _, r := range rows {
			if op == "upload" && r.Skipped == "" {
				uploaded[r.Client] = true
			}
		}
		azTable(op, size, rows).Print(o.Out)
	}
	return nil
}

// azSource is the blob that client downloads: the one another client
// uploaded, or its own if only it uploaded one; "" if none was.
func azSource(client string, uploaded map[string]bool) string {
	for _, c := range azClients {
		if c != client && uploaded[c] {
			return c
		}
	}
	if uploaded[client] {
		return client
	}
	return ""
}

func azTable(op string, size int64, rows []harness.Row) harness.Table {
	how := fmt.Sprintf("UploadStream, %d MiB blocks, %d at a time", azBlockSize>>20, azConcurrency)
	if op == "download" {
		how = "DownloadStream, io.Copy into io.Discard, one connection"
	}
	const mb = 1e6
	return harness.Table{
		Title: fmt.Sprintf("azblob %s: Azure SDK blob client, %s of %d MiB; Azurite on core 0, client on core 1",
			op, how, size>>20),
		Rows: rows,
		Cols: []harness.Column{
			{Name: "GiB", Get: func(r harness.Row) float64 { return float64(r.Bytes) / (1 << 30) }},
			{Name: "seconds", Get: func(r harness.Row) float64 { return r.Seconds }},
			{Name: "cpu s/GiB", Get: func(r harness.Row) float64 { return r.CPUSecPerGiB }, Vs: []string{"nethttp"}},
			{Name: "peak RSS MB", Get: func(r harness.Row) float64 { return r.PeakRSSBytes / mb }, Vs: []string{"nethttp"}},
		},
		Notes: []string{
			"each transfer in a fresh client process: egress = http.Client{Transport: egress.NewTransport(egress.Options{})},",
			"  nethttp = a clone of http.DefaultTransport with azcore's MaxIdleConnsPerHost 10; SDK retries off.",
			"cpu s/GiB: client user+sys CPU over the transfer / GiB moved (a download's includes its CRC-32C check).",
			"peak RSS MB: VmHWM of the client process over the transfer (reset at its start), 10^6 bytes.",
			"a download reads the blob that the other client uploaded, and checks its length and CRC-32C.",
		},
	}
}

// azurite is an Azurite blob service child, storing into a temporary
// folder that Stop removes.
type azurite struct {
	peerProc
	URL  string // the development account's URL
	addr string
	out  bytes.Buffer
}

// startAzurite starts azurite-blob pinned to cpu (unless cpu < 0) on a
// free loopback port and waits until it accepts connections.
func startAzurite(cpu int) (*azurite, error) {
	bin, err := exec.LookPath("azurite-blob")
	if err != nil {
		return nil, fmt.Errorf("azurite-blob not installed (scripts/install-deps.sh bench): %w", err)
	}
	dir, err := os.MkdirTemp("", "egress-bench-azurite-")
	if err != nil {
		return nil, err
	}
	port, err := freeLoopbackPort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// --disableTelemetry: Azurite would otherwise report usage over the
	// network; the benchmark talks to loopback only.
	args := []string{bin, "--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(port), "--location", dir,
		"--silent", "--skipApiVersionCheck", "--loose", "--disableTelemetry"}
	if cpu >= 0 {
		args = append([]string{"taskset", "-c", strconv.Itoa(cpu)}, args...)
	}
	s := &azurite{
		peerProc: peerProc{cmd: exec.Command(args[0], args[1:]...), dir: dir, done: make(chan struct{})},
		addr:     net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
	}
	s.URL = "http://" + s.addr + "/" + azAccount
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	// The server dies with the harness, even when the harness is killed.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("azurite-blob: %w", err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-s.done:
			os.RemoveAll(dir)
			return nil, fmt.Errorf("azurite-blob exited: %s", lastOf(s.out.String()))
		default:
		}
		if c, err := net.DialTimeout("tcp", s.addr, time.Second); err == nil {
			c.Close()
			return s, nil
		}
	}
	s.Stop()
	return nil, fmt.Errorf("azurite-blob did not accept on %s: %s", s.addr, lastOf(s.out.String()))
}

// createContainer creates the scenario's container through the SDK over
// net/http.
func (s *azurite) createContainer() error {
	hc, err := azTransport("nethttp")
	if err != nil {
		return err
	}
	c, err := azClient(s.URL, hc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.CreateContainer(ctx, azContainer, nil); err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return fmt.Errorf("azurite: creating the container: %w", err)
	}
	return nil
}

// Stop shuts Azurite down (see peerProc.stop).
func (s *azurite) Stop() { s.stop(10 * time.Second) }
