package http2

import (
	"sync"
	"time"
)

// Defaults for Config. Each is chosen to let a well-behaved server run at
// full speed while bounding what a hostile one can make a connection hold
// or burn.
const (
	// DefaultMaxFrameSize is the SETTINGS_MAX_FRAME_SIZE we advertise: the
	// protocol's minimum. Larger frames save a few header bytes per 16 KiB
	// but make each incomplete frame that must be buffered larger.
	DefaultMaxFrameSize = MinMaxFrameSize

	// DefaultMaxHeaderListSize bounds a decoded response head or trailer
	// section, counted as RFC 9113 does (name + value + 32 per field); the
	// same as the HTTP/1.1 codec's head limit, which real responses stay
	// far below.
	DefaultMaxHeaderListSize = 64 << 10

	// DefaultHeaderTableSize is the HPACK dynamic table of our decoder:
	// the protocol's default, which servers' encoders are tuned for.
	DefaultHeaderTableSize = InitialHeaderTableSize

	// DefaultStreamWindow is the receive window of each stream, our
	// SETTINGS_INITIAL_WINDOW_SIZE, before the bandwidth-delay estimate
	// grows it. A stream's unread body never exceeds its window, so this
	// is also the memory one slow reader can pin.
	DefaultStreamWindow = 256 << 10
	// DefaultConnWindow is the connection's initial receive window.
	DefaultConnWindow = 1 << 20
	// DefaultMaxStreamWindow caps the growth of the stream window by the
	// bandwidth-delay estimate (the cap grpc-go uses): 16 MiB fills a
	// 1 Gbit/s link at 130 ms of round trip.
	DefaultMaxStreamWindow = 16 << 20
	// DefaultMaxConnWindow caps the connection's receive window, and so
	// the body bytes all its streams together can have unread.
	DefaultMaxConnWindow = 64 << 20

	// DefaultMaxControlFrames is the burst of cheap frames (see Config)
	// a server may send beyond what the connection's traffic earns.
	DefaultMaxControlFrames = 1000
	// DefaultControlFrameRate is how many cheap frames per second a
	// server may send indefinitely: far above any keep-alive PING or
	// SETTINGS a real server sends, far below what costs measurable CPU.
	DefaultControlFrameRate = 100
	// DefaultMaxQueuedControlFrames bounds the acknowledgements and
	// resets owed to the server while the output is not flushed.
	DefaultMaxQueuedControlFrames = 1000

	// assumedMaxStreams is the server's concurrency limit assumed until
	// its SETTINGS arrive (RFC 9113 §6.5.2 recommends no less than 100).
	// A server with a lower limit refuses the streams above it with
	// REFUSED_STREAM, which is retryable.
	assumedMaxStreams = 100
)

// Config tunes a Conn. A zero field selects its default.
type Config struct {
	// MaxFrameSize is our SETTINGS_MAX_FRAME_SIZE, the largest frame the
	// server may send, from 2^14 to 2^24-1. Default 2^14.
	MaxFrameSize uint32
	// MaxHeaderListSize is our SETTINGS_MAX_HEADER_LIST_SIZE: a response
	// head or trailer section decoding to more (name + value + 32 bytes
	// per field) fails its stream. Default 64 KiB. No single name or
	// value may exceed it either, which bounds what HPACK decodes.
	MaxHeaderListSize uint32
	// MaxHeaderBlockBytes bounds an encoded header block, HEADERS and
	// CONTINUATION frames together, before it is decoded: a larger one
	// ends the connection with ENHANCE_YOUR_CALM, since skipping it would
	// lose the HPACK state. Default MaxHeaderListSize: an encoder has no
	// reason to make a block larger than what it decodes to.
	MaxHeaderBlockBytes int
	// HeaderTableSize is our SETTINGS_HEADER_TABLE_SIZE, the HPACK
	// dynamic table the server's encoder may use. Default 4096.
	HeaderTableSize uint32

	// StreamWindow is each stream's initial receive window (our
	// SETTINGS_INITIAL_WINDOW_SIZE). Default 256 KiB.
	StreamWindow uint32
	// ConnWindow is the connection's initial receive window. Default
	// 1 MiB. The Conn grows it, up to MaxConnWindow, to at least the
	// stream window times the streams open, so that streams whose readers
	// stall cannot use up the connection's window and stall the others.
	ConnWindow uint32
	// MaxStreamWindow caps the stream window's growth from the
	// bandwidth-delay estimate. Default 16 MiB.
	MaxStreamWindow uint32
	// MaxConnWindow caps the connection window. Default 64 MiB.
	MaxConnWindow uint32
	// DisableBDP turns off the bandwidth-delay estimate: windows keep
	// their initial sizes and no PING is sent to measure.
	DisableBDP bool
	// Now returns the current time, for the bandwidth-delay estimate and
	// the flood budget's refill. Default time.Now; tests pass a fake
	// clock.
	Now func() time.Time

	// MaxControlFrames and ControlFrameRate bound the "cheap" frames a
	// server may send: PING, SETTINGS, WINDOW_UPDATE, RST_STREAM,
	// PRIORITY, unknown types, DATA without data or END_STREAM, and
	// CONTINUATION without data. Each costs a token from a bucket of
	// MaxControlFrames tokens, refilled at ControlFrameRate per second and
	// by the connection's own traffic (8 per stream opened, 2 per DATA
	// frame sent, 1 per PING or SETTINGS sent, which the server may
	// answer); an empty bucket ends the connection with ENHANCE_YOUR_CALM.
	// Such frames carry no work, so a server sending floods of them is
	// either broken or trying to burn our CPU. Defaults 1000 and 100.
	MaxControlFrames int
	ControlFrameRate int
	// MaxQueuedControlFrames bounds the frames queued in answer to the
	// server (PING and SETTINGS acknowledgements, RST_STREAM) and not yet
	// flushed; past it the connection ends with ENHANCE_YOUR_CALM rather
	// than grow its output without bound. Default 1000.
	MaxQueuedControlFrames int
}

// config is Config with its defaults applied and its values clamped. It
// is never modified once made, so connections made with equal Configs
// share one (see shared).
type config struct {
	limits
	now func() time.Time
}

// limits is the comparable part of config.
type limits struct {
	maxFrameSize        uint32
	maxHeaderListSize   uint32
	maxHeaderBlockBytes int
	headerTableSize     uint32
	streamWindow        int32
	connWindow          int32
	maxStreamWindow     int32
	maxConnWindow       int32
	bdp                 bool
	maxControlFrames    int
	controlFrameRate    int
	maxQueuedControl    int
}

// sharedConfigs holds the configs of Configs without a Now of their own
// (functions cannot be compared), so that each Conn keeps a pointer to
// one where it would keep a copy: thousands of idle connections made with
// one Config hold one. The number kept is bounded; a program that makes
// more distinct Configs gets a copy per Conn beyond that.
var sharedConfigs struct {
	sync.Mutex
	m map[limits]*config
}

const maxSharedConfigs = 64

// shared returns the config of c, shared with other Conns where it can.
func (c *Config) shared() *config {
	r := c.resolve()
	if c.Now != nil {
		return &r
	}
	sharedConfigs.Lock()
	defer sharedConfigs.Unlock()
	if p := sharedConfigs.m[r.limits]; p != nil {
		return p
	}
	p := &r
	if len(sharedConfigs.m) < maxSharedConfigs {
		if sharedConfigs.m == nil {
			sharedConfigs.m = make(map[limits]*config)
		}
		sharedConfigs.m[r.limits] = p
	}
	return p
}

func orDefault[T int | uint32](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// window clamps a window setting to what the protocol allows.
func window(v uint32) int32 { return int32(min(v, MaxWindowSize)) }

func (c *Config) resolve() config {
	var r config
	r.maxFrameSize = min(max(orDefault(c.MaxFrameSize, DefaultMaxFrameSize), MinMaxFrameSize), MaxMaxFrameSize)
	r.maxHeaderListSize = orDefault(c.MaxHeaderListSize, DefaultMaxHeaderListSize)
	r.headerTableSize = orDefault(c.HeaderTableSize, DefaultHeaderTableSize)
	r.streamWindow = window(orDefault(c.StreamWindow, DefaultStreamWindow))
	r.connWindow = window(orDefault(c.ConnWindow, DefaultConnWindow))
	r.maxStreamWindow = window(orDefault(c.MaxStreamWindow, DefaultMaxStreamWindow))
	r.maxConnWindow = window(orDefault(c.MaxConnWindow, DefaultMaxConnWindow))
	r.bdp = !c.DisableBDP
	r.now = c.Now
	r.maxControlFrames = orDefault(c.MaxControlFrames, DefaultMaxControlFrames)
	r.controlFrameRate = orDefault(c.ControlFrameRate, DefaultControlFrameRate)
	r.maxQueuedControl = orDefault(c.MaxQueuedControlFrames, DefaultMaxQueuedControlFrames)
	r.maxHeaderBlockBytes = orDefault(c.MaxHeaderBlockBytes, int(min(r.maxHeaderListSize, 1<<30)))
	r.maxStreamWindow = max(r.maxStreamWindow, r.streamWindow)
	r.maxConnWindow = max(r.maxConnWindow, r.connWindow)
	if r.now == nil {
		r.now = time.Now
	}
	return r
}
