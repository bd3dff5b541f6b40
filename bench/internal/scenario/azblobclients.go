package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/egress-go/egress"
	"github.com/egress-go/egress/bench/internal/harness"
	"github.com/egress-go/egress/bench/internal/measure"
)

// The clients of the azblob scenario: the Azure SDK for Go's blob client
// with egress or net/http as its transport, each uploading or downloading
// one blob in a process of its own and measuring that one transfer.

func init() {
	Roles["azblob-egress"] = func(params []byte) error { return azblobClient(params, "egress") }
	Roles["azblob-nethttp"] = func(params []byte) error { return azblobClient(params, "nethttp") }
}

// Azurite's well-known development account (its documentation publishes
// the key; it opens nothing but a local emulator).
const (
	azAccount = "devstoreaccount1"
	azKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	// azContainer holds the scenario's blobs.
	azContainer = "bench"
	// azBlockSize and azConcurrency: UploadStream sends 8 MiB blocks,
	// four at a time.
	azBlockSize   = 8 << 20
	azConcurrency = 4
	// azTimeout bounds one transfer; 1 GiB takes seconds on loopback.
	azTimeout = 10 * time.Minute
)

// azParams is what the parent tells an azblob client.
type azParams struct {
	Params        // URL: the account's URL; Size: the blob's bytes; Mode: "upload" or "download"
	Blob   string `json:"blob"`
	CRC    uint32 `json:"crc"` // download: the CRC-32C the blob's bytes must have
}

// azTransport is the SDK's transport for client: egress's Transport in an
// http.Client, the drop-in use; or net/http's default Transport with
// azcore's own idle-connection setting (10 per host, where net/http's
// default keeps 2 and so would reconnect under four concurrent blocks).
func azTransport(client string) (*http.Client, error) {
	switch client {
	case "egress":
		t, err := egress.NewTransport(egress.Options{})
		if err != nil {
			return nil, err
		}
		return &http.Client{Transport: t}, nil
	case "nethttp":
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 10
		return &http.Client{Transport: t}, nil
	}
	return nil, fmt.Errorf("azblob: no client %q", client)
}

// azClient is a blob client for the account at url over hc, with the
// SDK's retries off: a failed request fails the run instead of being
// retried out of sight (and out of the figures).
func azClient(url string, hc *http.Client) (*azblob.Client, error) {
	cred, err := azblob.NewSharedKeyCredential(azAccount, azKey)
	if err != nil {
		return nil, err
	}
	return azblob.NewClientWithSharedKeyCredential(url, cred, &azblob.ClientOptions{
		ClientOptions: policy.ClientOptions{Transport: hc, Retry: policy.RetryOptions{MaxRetries: -1}},
	})
}

// azblobClient runs one transfer and prints its row: CPU seconds per GiB
// and peak RSS over the transfer, which is checked (size and CRC-32C of
// a download, size of the stored blob after an upload) before the row
// counts.
func azblobClient(params []byte, client string) error {
	var p azParams
	if err := json.Unmarshal(params, &p); err != nil {
		return err
	}
	hc, err := azTransport(client)
	if err != nil {
		return err
	}
	c, err := azClient(p.URL, hc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), azTimeout)
	defer cancel()
	// One request first, outside the measurement: the SDK's first-use
	// set-up and the connection are not what the figures are about.
	if _, err := c.ServiceClient().NewContainerClient(azContainer).GetProperties(ctx, nil); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	ready("started")

	measure.ResetPeakRSS()
	c0, t0 := measure.CPU(), time.Now()
	var n int64
	var sum uint32
	switch p.Mode {
	case "upload":
		_, err = c.UploadStream(ctx, azContainer, p.Blob, &azData{n: int64(p.Size)},
			&azblob.UploadStreamOptions{BlockSize: azBlockSize, Concurrency: azConcurrency})
	case "download":
		n, sum, err = azDownload(ctx, c, p.Blob)
	default:
		err = fmt.Errorf("azblob: no operation %q", p.Mode)
	}
	cpu, el, peak := measure.CPU()-c0, time.Since(t0), measure.PeakRSS()
	if err != nil {
		return fmt.Errorf("%s %s: %w", p.Mode, p.Blob, err)
	}
	if p.Mode == "upload" {
		props, err := c.ServiceClient().NewContainerClient(azContainer).NewBlobClient(p.Blob).GetProperties(ctx, nil)
		if err != nil {
			return fmt.Errorf("after the upload: %w", err)
		}
		if props.ContentLength == nil || *props.ContentLength != int64(p.Size) {
			return fmt.Errorf("%w: the stored blob %s has not %d bytes", errTransfer, p.Blob, p.Size)
		}
		// Its bytes are checked by the download of it that follows.
		n = int64(p.Size)
	} else if err := verifyTransfer(n, sum, int64(p.Size), p.CRC); err != nil {
		return fmt.Errorf("%s %s: %w", p.Mode, p.Blob, err)
	}
	gib := float64(n) / (1 << 30)
	return emit(harness.Row{
		Bytes: n, Seconds: el.Seconds(), CPUSecPerGiB: cpu.Seconds() / gib, PeakRSSBytes: float64(peak),
	})
}

// azDownload streams blob as a user would, io.Copy into io.Discard, and
// returns its length and CRC-32C.
func azDownload(ctx context.Context, c *azblob.Client, blob string) (int64, uint32, error) {
	resp, err := c.DownloadStream(ctx, azContainer, blob, nil)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	h := &crcReader{r: resp.Body}
	n, err := io.Copy(io.Discard, h)
	return n, h.sum, err
}

var errTransfer = errors.New("transfer check failed")

// verifyTransfer checks a transfer's length and checksum against the
// data the scenario generated, so that a transport that drops, repeats
// or mangles bytes fails instead of looking fast.
func verifyTransfer(n int64, sum uint32, wantN int64, wantSum uint32) error {
	if n != wantN {
		return fmt.Errorf("%w: %d bytes, want %d", errTransfer, n, wantN)
	}
	if sum != wantSum {
		return fmt.Errorf("%w: checksum %08x, want %08x", errTransfer, sum, wantSum)
	}
	return nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crcReader passes a body through, keeping the CRC-32C of what it reads.
// It reads as io.Copy would have read the body itself: through the
// body's WriteTo where it has one (as egress's does), else in the
// destination's ReadFrom (io.Discard reads 8 KiB at a time), so that the
// check does not change the read pattern being measured. CRC-32C runs at
// many GB/s on amd64: a few hundredths of a CPU second per GiB, the same
// for every client.
type crcReader struct {
	r   io.Reader
	sum uint32
}

func (h *crcReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.sum = crc32.Update(h.sum, castagnoli, p[:n])
	return n, err
}

func (h *crcReader) WriteTo(w io.Writer) (int64, error) {
	if wt, ok := h.r.(io.WriterTo); ok {
		return wt.WriteTo(crcWriter{h, w})
	}
	return io.Copy(w, struct{ io.Reader }{h})
}

// crcWriter adds what a body's WriteTo hands over to the CRC.
type crcWriter struct {
	h *crcReader
	w io.Writer
}

func (c crcWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.sum = crc32.Update(c.h.sum, castagnoli, p[:n])
	return n, err
}

// azPeriod is the length of the pattern that the generated data repeats:
// neither a divisor nor a multiple of any block or read size, so that a
// block or a buffer dropped, repeated or swapped changes the checksum.
const azPeriod = 1<<20 + 8191

// azPattern is the pattern: pseudo-random, the same in every process.
var azPattern = sync.OnceValue(func() []byte {
	r := rand.New(rand.NewPCG(14, 14))
	b := make([]byte, azPeriod)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
})

// azData reads n bytes of the pattern, repeated: the upload's body, as
// cheap to produce as a copy so that it weighs little in the figures.
type azData struct{ off, n int64 }

func (d *azData) Read(p []byte) (int, error) {
	if d.off >= d.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), d.n-d.off)]
	pat := azPattern()
	total := 0
	for len(p) > 0 {
		c := copy(p, pat[d.off%azPeriod:])
		p, d.off, total = p[c:], d.off+int64(c), total+c
	}
	return total, nil
}

// azChecksum is the CRC-32C of the first n bytes of the generated data.
func azChecksum(n int64) uint32 {
	h := crc32.New(castagnoli)
	io.Copy(h, &azData{n: n})
	return h.Sum32()
}
