package egress

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2/hpack"

	"github.com/egress-go/egress/http2"
	"github.com/egress-go/egress/internal/testkit"
	"github.com/egress-go/egress/pool"
)

// A scripted HTTP/2 server for the fault tests: each connection runs a
// script that reads the client's frames (cut by http2.Splitter, header
// blocks decoded with hpack) and answers with frames made by package
// http2's encoders, so that a test can send what no real server would:
// a GOAWAY between two requests, a reset, a flood, a window withheld.

// h2PeerWait bounds every read of a script, so that a client that never
// sends what the script waits for fails the test instead of hanging it.
const h2PeerWait = 20 * time.Second

// h2Frame is a frame the client sent, owned by the script.
type h2Frame struct {
	http2.FrameHeader
	Data   []byte              // payload, padding removed; a header block's fragments joined
	Fields []hpack.HeaderField // a header block, decoded
}

// Get returns the value of the decoded field name, or "".
func (f *h2Frame) Get(name string) string {
	for _, hf := range f.Fields {
		if hf.Name == name {
			return hf.Value
		}
	}
	return ""
}

// Code returns the error code of a RST_STREAM or GOAWAY frame.
func (f *h2Frame) Code() http2.ErrCode {
	b := f.Data
	if f.Type == http2.FrameGoAway {
		b = b[4:]
	}
	return http2.ErrCode(binary.BigEndian.Uint32(b))
}

func (f *h2Frame) ended() bool {
	return (f.Type == http2.FrameData || f.Type == http2.FrameHeaders) && f.Flags.Has(http2.FlagEndStream)
}

// h2Peer is the server's side of one connection of a scripted server.
type h2Peer struct {
	t testing.TB
	c net.Conn
	N int // which connection of the server this is, from 1

	// The server's SETTINGS must be its first frame: an acknowledgement
	// of the client's owed before they are sent waits for them.
	sentSettings bool
	owedAck      bool

	split http2.Splitter
	rbuf  []byte
	in    []byte
	dec   *hpack.Decoder
	wmu   sync.Mutex
	enc   *hpack.Encoder
	block bytes.Buffer
	bg    sync.WaitGroup
}

// newH2Server starts a scripted server: for each connection, once the
// client preface has arrived, script runs with the connection's peer. The
// connection closes when script returns (and any goroutine it started
// with Go has ended), or when the test ends.
func newH2Server(t testing.TB, script func(p *h2Peer)) *testkit.Server {
	t.Helper()
	var mu sync.Mutex
	n := 0
	return testkit.NewServer(t, func(c net.Conn) {
		mu.Lock()
		n++
		p := &h2Peer{t: t, c: c, N: n, rbuf: make([]byte, 64<<10)}
		mu.Unlock()
		p.dec = hpack.NewDecoder(4096, nil)
		p.enc = hpack.NewEncoder(&p.block)
		defer func() {
			c.Close()
			p.bg.Wait()
		}()
		c.SetReadDeadline(time.Now().Add(h2PeerWait))
		preface := make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(c, preface); err != nil || string(preface) != http2.ClientPreface {
			t.Errorf("h2 peer %d: preface %q, %v", p.N, preface, err)
			return
		}
		script(p)
	})
}

// Go runs f beside the script, for a peer that writes and reads at once;
// the connection is closed before the peer waits for f to return.
func (p *h2Peer) Go(f func()) {
	p.bg.Add(1)
	go func() {
		defer p.bg.Done()
		f()
	}()
}

// Read returns the client's next frame. It answers the client's SETTINGS
// and PINGs as a server must, and still returns them.
// An error means the connection ended or h2PeerWait passed.
func (p *h2Peer) Read() (*h2Frame, error) {
	for {
		f, n, err := p.split.Next(p.in)
		p.in = p.in[n:]
		if err != nil {
			return nil, err
		}
		if f != nil {
			out := &h2Frame{FrameHeader: f.FrameHeader, Data: bytes.Clone(f.Data)}
			switch {
			case f.Type == http2.FrameHeaders:
				if out.Fields, err = p.dec.DecodeFull(f.Data); err != nil {
					return nil, fmt.Errorf("h2 peer: client header block: %w", err)
				}
			case f.Type == http2.FrameSettings && !f.Flags.Has(http2.FlagAck):
				p.ackSettings()
			case f.Type == http2.FramePing && !f.Flags.Has(http2.FlagAck):
				p.Write(http2.AppendPing(nil, true, [8]byte(f.Data)))
			}
			return out, nil
		}
		p.c.SetReadDeadline(time.Now().Add(h2PeerWait))
		k, err := p.c.Read(p.rbuf)
		if k == 0 && err != nil {
			return nil, err
		}
		p.in = p.rbuf[:k]
	}
}

// Next returns the client's next frame of one of the types given,
// skipping others.
func (p *h2Peer) Next(types ...http2.FrameType) (*h2Frame, error) {
	for {
		f, err := p.Read()
		if err != nil {
			return nil, err
		}
		for _, ty := range types {
			if f.Type == ty {
				return f, nil
			}
		}
	}
}

// Request returns the client's next request head (HEADERS).
func (p *h2Peer) Request() (*h2Frame, error) { return p.Next(http2.FrameHeaders) }

// Write sends b, whole; errors (the client went away) are returned for
// the scripts that care.
func (p *h2Peer) Write(b []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_, err := p.c.Write(b)
	return err
}

// Settings sends the server's SETTINGS, and the acknowledgement of the
// client's if it is owed.
func (p *h2Peer) Settings(s ...http2.Setting) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	b := http2.AppendSettings(nil, s...)
	if !p.sentSettings && p.owedAck {
		b = http2.AppendSettingsAck(b)
	}
	p.sentSettings, p.owedAck = true, false
	_, err := p.c.Write(b)
	return err
}

// ackSettings acknowledges the client's SETTINGS, once the server's own
// are out.
func (p *h2Peer) ackSettings() {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if !p.sentSettings {
		p.owedAck = true
		return
	}
	p.c.Write(http2.AppendSettingsAck(nil))
}

// Headers sends a header block of fields (name, value pairs) on stream
// id, encoded with the peer's HPACK encoder. Encoding and writing happen
// under one lock, so that blocks reach the client in the order their
// encoding changed the dynamic table.
func (p *h2Peer) Headers(id uint32, end bool, kv ...string) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	p.block.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		p.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	_, err := p.c.Write(http2.AppendHeaders(nil, id, end, p.block.Bytes(), http2.MinMaxFrameSize))
	return err
}

// Data sends data on stream id in frames of at most 16 KiB. The script
// keeps within the client's windows (256 KiB per stream to start with).
func (p *h2Peer) Data(id uint32, end bool, data []byte) error {
	var b []byte
	for {
		n := min(len(data), http2.MinMaxFrameSize)
		b = http2.AppendData(b, id, end && n == len(data), data[:n])
		data = data[n:]
		if len(data) == 0 {
			return p.Write(b)
		}
	}
}

// Respond answers stream id with status and body, ending the stream.
func (p *h2Peer) Respond(id uint32, status int, body string) error {
	if body == "" {
		return p.Headers(id, true, ":status", strconv.Itoa(status))
	}
	if err := p.Headers(id, false, ":status", strconv.Itoa(status), "content-length", strconv.Itoa(len(body))); err != nil {
		return err
	}
	return p.Data(id, true, []byte(body))
}

// Reset sends RST_STREAM on stream id.
func (p *h2Peer) Reset(id uint32, code http2.ErrCode) error {
	return p.Write(http2.AppendRSTStream(nil, id, code))
}

// GoAway sends a GOAWAY naming last as the last stream processed.
func (p *h2Peer) GoAway(last uint32, code http2.ErrCode) error {
	return p.Write(http2.AppendGoAway(nil, last, code, []byte("scripted")))
}

// Grant opens n bytes more of the windows of stream id and of the
// connection.
func (p *h2Peer) Grant(id uint32, n int) error {
	if n <= 0 {
		return nil
	}
	b := http2.AppendWindowUpdate(nil, 0, uint32(n))
	return p.Write(http2.AppendWindowUpdate(b, id, uint32(n)))
}

// Serve answers every request until the connection ends: answer gives
// the status and body for a request head, called once the request has
// ended (its END_STREAM seen); request body bytes are credited back as
// they come.
func (p *h2Peer) Serve(answer func(req *h2Frame) (int, string)) {
	heads := map[uint32]*h2Frame{}
	for {
		f, err := p.Read()
		if err != nil {
			return
		}
		switch f.Type {
		case http2.FrameHeaders:
			if heads[f.StreamID] == nil {
				heads[f.StreamID] = f
			}
		case http2.FrameData:
			p.Grant(f.StreamID, int(f.Length))
		default:
			continue
		}
		if req := heads[f.StreamID]; req != nil && f.ended() {
			delete(heads, f.StreamID)
			status, body := answer(req)
			p.Respond(f.StreamID, status, body)
		}
	}
}

// GoAwayCode reads until the client's GOAWAY and returns its code; ok is
// false if the connection ended without one.
func (p *h2Peer) GoAwayCode() (code http2.ErrCode, ok bool) {
	f, err := p.Next(http2.FrameGoAway)
	if err != nil {
		return 0, false
	}
	return f.Code(), true
}

// Client-side helpers.

// h2Client is a transport speaking h2c with prior knowledge, and a client
// on it.
func h2Client(t *testing.T, opts Options) (*Transport, *http.Client) {
	t.Helper()
	opts.HTTP2.PriorKnowledge = true
	tr := newTestTransport(t, opts)
	return tr, &http.Client{Transport: tr}
}

// poolConfig is the default pool with at most perKey connections per
// origin (0: no limit).
func poolConfig(perKey int) *pool.Config {
	c := pool.DefaultConfig()
	c.MaxTotalPerKey = perKey
	return &c
}

// getBody GETs url and reads the whole body.
func getBody(c *http.Client, url string) (*http.Response, string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// waitGroup waits for wg, failing t if it takes longer than a generous
// bound: a request left waiting is a failure, not a hang.
func waitGroup(t *testing.T, wg *sync.WaitGroup, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// recv waits, bounded, for a value from ch.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// heapInuse returns the heap in use, after a collection if gc.
func heapInuse(gc bool) uint64 {
	if gc {
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// isStreamError reports whether err holds a *http2.StreamError, and
// returns it.
func isStreamError(err error) (*http2.StreamError, bool) {
	var se *http2.StreamError
	ok := errors.As(err, &se)
	return se, ok
}
