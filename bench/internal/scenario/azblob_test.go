package scenario

import (
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/egress-go/egress/bench/internal/harness"
	"github.com/egress-go/egress/internal/testkit"
)

func TestAzblobGoals(t *testing.T) {
	row := func(op, client string, cpu, rss float64) harness.Row {
		return harness.Row{Scenario: "azblob", Op: op, Client: client, CPUSecPerGiB: cpu, PeakRSSBytes: rss}
	}
	rows := []harness.Row{
		row("upload", "egress", 2, 50e6), row("upload", "nethttp", 1, 48e6),
		row("download", "egress", 1.38, 34e6), row("download", "nethttp", 1.0, 34e6),
		{Scenario: "idle", Client: "egress", Conns: 10, Skipped: "not run"},
	}
	gs := Goals(rows)
	want := []struct {
		what string
		val  float64
		met  bool
	}{
		{"azblob download: egress cpu s/GiB vs nethttp", 1.38, false},
		{"azblob download: egress peak RSS vs nethttp", 1, true},
		{"azblob upload: egress peak RSS vs nethttp", 50.0 / 48, false},
	}
	if len(gs) != len(want) {
		t.Fatalf("%d goals, want %d: %v", len(gs), len(want), gs)
	}
	for i, w := range want {
		if g := gs[i]; g.What != w.what || abs(g.Value-w.val) > 1e-9 || g.Met() != w.met {
			t.Errorf("goal %d: %s (value %v, met %v), want %q %v met %v", i, g, g.Value, g.Met(), w.what, w.val, w.met)
		}
	}
	// A skipped anchor gives no goal.
	rows[3].Skipped = "failed"
	if gs := azblobGoals(rows); len(gs) != 1 || !strings.HasPrefix(gs[0].What, "azblob upload") {
		t.Errorf("goals without the download anchor: %v", gs)
	}
}

func TestVerifyTransfer(t *testing.T) {
	const n = 3 << 20
	sum := azChecksum(n)
	if err := verifyTransfer(n, sum, n, sum); err != nil {
		t.Fatalf("a correct transfer fails: %v", err)
	}
	if err := verifyTransfer(n-1, sum, n, sum); !errors.Is(err, errTransfer) {
		t.Errorf("a short transfer: %v", err)
	}
	if err := verifyTransfer(n, sum^1, n, sum); !errors.Is(err, errTransfer) || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("a wrong checksum: %v", err)
	}
}

// TestAzDataChecksum: the generated data has the asked length, reads the
// same whatever the read size, and its checksum changes when one 8 MiB
// block is replaced by the one before it or one 64 KiB buffer by the one
// before it (what a transport reusing a stale buffer would send).
func TestAzDataChecksum(t *testing.T) {
	const n = 24 << 20
	all, err := io.ReadAll(&azData{n: n})
	if err != nil || len(all) != n {
		t.Fatalf("%d bytes, %v", len(all), err)
	}
	small := make([]byte, 0, n)
	d, buf := &azData{n: n}, make([]byte, 4093)
	for {
		k, err := d.Read(buf)
		small = append(small, buf[:k]...)
		if err == io.EOF {
			break
		}
	}
	if !bytes.Equal(all, small) {
		t.Fatal("the data depends on the read size")
	}
	sum := crc32.Checksum(all, castagnoli)
	if sum != azChecksum(n) {
		t.Fatal("azChecksum disagrees with the data")
	}
	for _, size := range []int{8 << 20, 64 << 10} {
		stale := bytes.Clone(all)
		copy(stale[2*size:3*size], stale[size:2*size])
		if crc32.Checksum(stale, castagnoli) == sum {
			t.Errorf("a repeated %d-byte block leaves the checksum unchanged", size)
		}
	}
}

// writerToBody is a body with a WriteTo, as egress's is.
type writerToBody struct {
	r      io.Reader
	wrote  bool
	chunks int
}

func (b *writerToBody) Read(p []byte) (int, error) { return b.r.Read(p) }

func (b *writerToBody) WriteTo(w io.Writer) (int64, error) {
	b.wrote = true
	var total int64
	buf := make([]byte, 64<<10)
	for {
		n, err := b.r.Read(buf)
		if n > 0 {
			b.chunks++
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		} else if err != nil {
			return total, err
		}
	}
}

// TestCRCReader: the check sums what passes, through a body's WriteTo
// when it has one (so that io.Copy reads the body as it would without
// the check) and through Read otherwise.
func TestCRCReader(t *testing.T) {
	const n = 1<<20 + 17
	want := azChecksum(n)

	wt := &writerToBody{r: &azData{n: n}}
	h := &crcReader{r: wt}
	got, err := io.Copy(io.Discard, h)
	if err != nil || got != n || h.sum != want {
		t.Fatalf("WriteTo body: %d bytes, sum %08x, want %08x, %v", got, h.sum, want, err)
	}
	if !wt.wrote || wt.chunks != (n+64<<10-1)/(64<<10) {
		t.Fatalf("the body's WriteTo was not used as io.Copy would use it: wrote %v, %d chunks", wt.wrote, wt.chunks)
	}

	h = &crcReader{r: io.LimitReader(&azData{n: n}, n)} // no WriteTo
	got, err = io.Copy(io.Discard, h)
	if err != nil || got != n || h.sum != want {
		t.Fatalf("plain body: %d bytes, sum %08x, want %08x, %v", got, h.sum, want, err)
	}
}

// TestAzblobScenario runs the azblob scenario as the harness does, at 32
// MiB, against a real Azurite: a process per transfer, each checked. All
// four rows (two clients, upload and download) must be measured. Then,
// told to expect another checksum, both downloads must fail on it while
// the uploads still pass: the check is what makes a row count. Not a
// benchmark: the figures are not checked beyond being there.
func TestAzblobScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	bin := testkit.RequirePeer(t, "azurite-blob", "scripts/install-deps.sh (npm install -g azurite)")
	t.Setenv("PATH", filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	old := harness.Patience
	harness.Patience.IdleWait, harness.Patience.Repeat = 0, false
	defer func() { harness.Patience = old }()

	run := func(size int64, crc uint32) ([]harness.Row, string) {
		var rows []harness.Row
		var out bytes.Buffer
		if err := azblobScenario(Options{Rounds: 1, Out: &out, Results: &rows}, size, crc); err != nil {
			t.Fatal(err)
		}
		if len(rows) != 4 {
			t.Fatalf("%d rows, want 4:\n%s", len(rows), out.String())
		}
		for i, r := range rows {
			op := []string{"upload", "download"}[i/2]
			if r.Scenario != "azblob" || r.Op != op || r.Client != azClients[i%2] {
				t.Errorf("row %d: %+v", i, r)
			}
		}
		return rows, out.String()
	}

	const size = 32 << 20
	rows, table := run(size, azChecksum(size))
	for _, r := range rows {
		if r.Skipped != "" || r.Bytes != size || r.Seconds <= 0 || r.CPUSecPerGiB <= 0 || r.PeakRSSBytes <= 0 {
			t.Errorf("%s %s: %+v", r.Op, r.Client, r)
		}
		t.Logf("%s %s: %.2f s, %.2f cpu s/GiB, peak RSS %.1f MB", r.Op, r.Client, r.Seconds, r.CPUSecPerGiB, r.PeakRSSBytes/1e6)
	}
	for _, want := range []string{"azblob upload", "azblob download", "cpu s/GiB", "peak RSS MB", "vs nethttp"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}

	const small = 8 << 20
	rows, _ = run(small, azChecksum(small)^1)
	for _, r := range rows {
		switch {
		case r.Op == "upload" && r.Skipped != "":
			t.Errorf("upload %s: %s", r.Client, r.Skipped)
		case r.Op == "download" && !strings.Contains(r.Skipped, "checksum"):
			t.Errorf("download %s with a wrong checksum expected: skipped %q, want a checksum failure", r.Client, r.Skipped)
		}
	}
}
