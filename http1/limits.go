package http1

// Default limits. They are generous for real servers (a typical response
// head is under 1 KiB with a dozen fields) and small enough that a hostile
// one cannot make a connection hold much memory.
const (
	DefaultMaxHeadBytes     = 64 << 10 // status lines and fields of a response
	DefaultMaxHeaderFields  = 100      // fields in one head
	DefaultMaxTrailerBytes  = 16 << 10 // trailer section
	DefaultMaxTrailerFields = 32       // fields in the trailer
)

// maxChunkLine bounds a chunk-size line including its extensions. Real
// servers send a few bytes; extensions are parsed and discarded, so a long
// one is pure overhead. Same bound as net/http.
const maxChunkLine = 4096

// Limits bounds what a ResponseParser or a RequestParser accepts. A zero
// field selects the default.
type Limits struct {
	// MaxHeadBytes bounds the bytes of the status lines and header
	// sections of a response, counted together over any 1xx interim
	// responses and the final one, so that a server cannot stream
	// informational responses forever.
	MaxHeadBytes int
	// MaxHeaderFields bounds the field lines in one head.
	MaxHeaderFields int
	// MaxTrailerBytes bounds the trailer section of a chunked body.
	MaxTrailerBytes int
	// MaxTrailerFields bounds the field lines in the trailer section.
	MaxTrailerFields int
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func (l *Limits) maxHeadBytes() int    { return orDefault(l.MaxHeadBytes, DefaultMaxHeadBytes) }
func (l *Limits) maxFields() int       { return orDefault(l.MaxHeaderFields, DefaultMaxHeaderFields) }
func (l *Limits) maxTrailerBytes() int { return orDefault(l.MaxTrailerBytes, DefaultMaxTrailerBytes) }
func (l *Limits) maxTrailers() int     { return orDefault(l.MaxTrailerFields, DefaultMaxTrailerFields) }
