package http2

import "github.com/egress-go/egress/internal/bufpool"

// Frame is a frame handed on by a Splitter: whole, with its padding
// removed, and for HEADERS with the CONTINUATION frames of its block
// joined in.
type Frame struct {
	// FrameHeader is the frame's header as received. For a header block
	// it is the HEADERS frame's, with FlagEndHeaders set and FlagPadded
	// and FlagPriority cleared (they described fields that are gone), and
	// Length the payload bytes of all the block's frames.
	FrameHeader
	// Data is the payload without padding: a DATA frame's data; a header
	// block's fragment (the fragments of HEADERS and CONTINUATION joined,
	// without priority fields); the payload of other types. It aliases
	// the input or a pooled buffer: valid until the next call to the
	// Splitter.
	Data []byte
	// Continuations is the number of CONTINUATION frames joined.
	Continuations int
}

// Splitter cuts a byte stream from a server into frames, the first step of
// reading HTTP/2: it is fed whatever the socket delivered, split at any
// byte, and hands on each frame only when it is whole, so that every
// split of the same input gives the same frames. A HEADERS frame without
// END_HEADERS is held until its last CONTINUATION arrives and handed on
// as one frame.
//
// It checks what can be checked from frames alone, each a connection
// error (*ConnError): a frame longer than MaxFrameSize (checked from its
// header, before anything is buffered), lengths a type forbids, stream
// frames on stream 0 and connection frames on a stream, padding longer
// than its frame, a header block broken by another frame, a header block
// larger than MaxHeaderBlock or with too many CONTINUATION frames.
//
// # Memory
//
// A frame that arrives whole in one input is handed on where it lies,
// without a copy. Only an incomplete frame is copied, into a buffer from
// a shared pool that returns to it at the call after the frame is handed
// on; so is a header block made of several frames, whose fragments must
// be joined. Between frames a Splitter holds no buffer. It is not safe
// for concurrent use.
type Splitter struct {
	// MaxFrameSize is our SETTINGS_MAX_FRAME_SIZE: a longer frame is an
	// error. Zero means the protocol's minimum, 2^14.
	MaxFrameSize uint32

	// (The unexported fields are ordered to leave no padding: an HTTP/2
	// connection keeps a Splitter for its whole life.)

	// An incomplete frame: hdr collects its header (nhdr bytes so far),
	// partial is the header parsed, buf collects the payload.
	partial FrameHeader

	// MaxHeaderBlock bounds a header block's fragments joined, in bytes.
	// Zero means 64 KiB. A block may also have at most
	// MaxHeaderBlock/1024 + 16 CONTINUATION frames, which bounds the
	// frames an endless block of empty CONTINUATIONs costs.
	MaxHeaderBlock int

	frame Frame
	err   *ConnError
	buf   []byte

	// A header block in progress (inBlock): its HEADERS frame's header
	// and the fragments so far.
	block  []byte
	conts  int
	blockH FrameHeader

	hdr     [FrameHeaderLen]byte
	nhdr    uint8
	inBlock bool
	held    uint8 // which buffer the last frame handed on lives in
}

// The buffers a frame handed on may live in, until the next call.
const (
	heldNone  = iota
	heldBuf   // buf: a frame that came in parts
	heldBlock // block: a header block joined from several frames
)

func (s *Splitter) maxFrameSize() uint32 {
	if s.MaxFrameSize == 0 {
		return MinMaxFrameSize
	}
	return s.MaxFrameSize
}

func (s *Splitter) maxHeaderBlock() int {
	if s.MaxHeaderBlock <= 0 {
		return DefaultMaxHeaderListSize
	}
	return s.MaxHeaderBlock
}

// Next returns the next whole frame found in what earlier calls buffered
// followed by in, and the number of bytes of in it consumed. When it
// returns no frame (and no error), it consumed all of in and needs more
// input. Otherwise the caller handles the frame and calls Next again with
// in[n:], even when that is empty:
//
//	for {
//		f, n, err := s.Next(in)
//		in = in[n:]
//		if err != nil { ... connection error ... }
//		if f == nil { break }
//		... handle f ...
//	}
//
// The Frame and its Data are valid until the next call. Errors are
// sticky: after one, Next returns it until Reset.
func (s *Splitter) Next(in []byte) (*Frame, int, error) {
	s.releaseHeld()
	if s.err != nil {
		return nil, 0, s.err
	}
	n := 0
	for {
		var h FrameHeader
		var payload []byte
		if s.nhdr == 0 && len(in)-n >= FrameHeaderLen {
			// Fast path: a frame header at the start of what is left.
			h = ParseFrameHeader(in[n:])
			if err := s.check(h); err != nil {
				return nil, n, s.fail(err)
			}
			end := n + FrameHeaderLen + int(h.Length)
			if end > len(in) {
				s.startPartial(h, in[n+FrameHeaderLen:])
				return nil, len(in), nil
			}
			payload = in[n+FrameHeaderLen : end]
			n = end
		} else {
			if n == len(in) {
				return nil, n, nil
			}
			var done bool
			var err error
			h, payload, done, err = s.continuePartial(in, &n)
			if err != nil {
				return nil, n, s.fail(err)
			}
			if !done {
				return nil, n, nil
			}
		}
		f, err := s.complete(h, payload)
		if err != nil {
			return nil, n, s.fail(err)
		}
		if f != nil {
			return f, n, nil
		}
	}
}

// startPartial copies the start of a frame whose header is parsed but
// whose payload goes on past the input.
func (s *Splitter) startPartial(h FrameHeader, rest []byte) {
	s.partial = h
	s.nhdr = FrameHeaderLen
	s.buf = append(bufpool.Get(int(h.Length)), rest...)
}

// continuePartial adds bytes from in[*n:] to the incomplete frame. When
// the frame completes it returns it, with done set.
func (s *Splitter) continuePartial(in []byte, n *int) (h FrameHeader, payload []byte, done bool, err error) {
	if s.nhdr < FrameHeaderLen {
		k := copy(s.hdr[s.nhdr:], in[*n:])
		s.nhdr += uint8(k)
		*n += k
		if s.nhdr < FrameHeaderLen {
			return h, nil, false, nil
		}
		s.partial = ParseFrameHeader(s.hdr[:])
		if err := s.check(s.partial); err != nil {
			return h, nil, false, err
		}
		if s.partial.Length > 0 {
			s.buf = bufpool.Get(int(s.partial.Length))
		}
	}
	h = s.partial
	k := min(int(h.Length)-len(s.buf), len(in)-*n)
	s.buf = append(s.buf, in[*n:*n+k]...)
	*n += k
	if len(s.buf) < int(h.Length) {
		return h, nil, false, nil
	}
	payload = s.buf
	s.held, s.nhdr = heldBuf, 0
	return h, payload, true, nil
}

// check applies the rules that a frame's header alone decides, before any
// of its payload is buffered.
func (s *Splitter) check(h FrameHeader) error {
	if h.Length > s.maxFrameSize() {
		return connErr(ErrCodeFrameSize, ErrFrameSize, h.String())
	}
	if s.inBlock {
		if h.Type != FrameContinuation || h.StreamID != s.blockH.StreamID {
			return connErr(ErrCodeProtocol, ErrContinuation, h.String())
		}
		if len(s.block)+int(h.Length) > s.maxHeaderBlock() {
			return connErr(ErrCodeEnhanceYourCalm, ErrHeaderBlockTooLarge, h.String())
		}
		if s.conts >= s.maxHeaderBlock()/1024+16 {
			return connErr(ErrCodeEnhanceYourCalm, ErrFlood, "too many CONTINUATION frames: "+h.String())
		}
	}
	switch h.Type {
	case FrameData, FrameHeaders, FramePriority, FrameRSTStream, FramePushPromise, FrameContinuation:
		if h.StreamID == 0 {
			return connErr(ErrCodeProtocol, ErrBadStreamID, h.String())
		}
	case FrameSettings, FramePing, FrameGoAway:
		if h.StreamID != 0 {
			return connErr(ErrCodeProtocol, ErrBadStreamID, h.String())
		}
	}
	bad := false
	switch h.Type {
	case FrameContinuation:
		if !s.inBlock {
			return connErr(ErrCodeProtocol, ErrContinuation, h.String())
		}
	case FramePing:
		bad = h.Length != 8
	case FrameWindowUpdate, FrameRSTStream:
		bad = h.Length != 4
	case FrameSettings:
		bad = h.Length%6 != 0 || h.Flags.Has(FlagAck) && h.Length != 0
	case FrameGoAway:
		bad = h.Length < 8
	}
	if bad {
		return connErr(ErrCodeFrameSize, ErrFrameSize, h.String())
	}
	return nil
}

// complete handles a whole frame: it strips padding and joins header
// blocks. It returns the frame to hand on, or nil when the frame went into
// a header block still in progress.
func (s *Splitter) complete(h FrameHeader, payload []byte) (*Frame, error) {
	data := payload
	switch h.Type {
	case FrameData:
		if h.Flags.Has(FlagPadded) {
			var err error
			if data, err = unpad(h, payload); err != nil {
				return nil, err
			}
		}
	case FrameHeaders:
		if h.Flags.Has(FlagPadded) {
			var err error
			if data, err = unpad(h, payload); err != nil {
				return nil, err
			}
		}
		if h.Flags.Has(FlagPriority) {
			if len(data) < 5 {
				return nil, connErr(ErrCodeFrameSize, ErrFrameSize, "HEADERS priority fields cut short: "+h.String())
			}
			data = data[5:]
		}
		if len(data) > s.maxHeaderBlock() {
			return nil, connErr(ErrCodeEnhanceYourCalm, ErrHeaderBlockTooLarge, h.String())
		}
		if !h.Flags.Has(FlagEndHeaders) {
			// The first fragment of a block: copy it out, so that the
			// input (or the partial buffer) can go.
			s.inBlock, s.blockH, s.conts = true, h, 0
			s.block = append(bufpool.Get(max(len(data), 1024)), data...)
			s.releaseHeld()
			return nil, nil
		}
		h.Flags &^= FlagPadded | FlagPriority
	case FrameContinuation:
		s.conts++
		s.blockH.Length += h.Length
		s.block = bufpool.Grow(s.block, len(data))
		s.block = append(s.block, data...)
		s.releaseHeld()
		if !h.Flags.Has(FlagEndHeaders) {
			return nil, nil
		}
		// The block is complete: hand it on as one HEADERS frame.
		h = s.blockH
		h.Flags = (h.Flags | FlagEndHeaders) &^ (FlagPadded | FlagPriority)
		data = s.block
		s.held, s.inBlock = heldBlock, false
		s.frame = Frame{FrameHeader: h, Data: data, Continuations: s.conts}
		return &s.frame, nil
	}
	s.frame = Frame{FrameHeader: h, Data: data}
	return &s.frame, nil
}

// unpad removes the pad length byte and the padding of a padded DATA or
// HEADERS payload.
func unpad(h FrameHeader, payload []byte) ([]byte, error) {
	if len(payload) == 0 || int(payload[0]) >= len(payload) {
		return nil, connErr(ErrCodeProtocol, ErrPadding, h.String())
	}
	return payload[1 : len(payload)-int(payload[0])], nil
}

// fail makes err, a *ConnError, sticky.
func (s *Splitter) fail(err error) error {
	s.err = err.(*ConnError)
	s.release()
	return err
}

// Pending reports whether a frame or header block is partly received.
func (s *Splitter) Pending() bool { return s.nhdr > 0 || s.inBlock }

// Reset returns the Splitter's buffers to the pool and clears its state
// and any error, for a new connection.
func (s *Splitter) Reset() {
	s.release()
	*s = Splitter{MaxFrameSize: s.MaxFrameSize, MaxHeaderBlock: s.MaxHeaderBlock}
}

func (s *Splitter) releaseHeld() {
	switch {
	case s.held == heldBuf && s.buf != nil: // nil for an empty frame
		bufpool.Put(s.buf)
		s.buf = nil
	case s.held == heldBlock:
		bufpool.Put(s.block)
		s.block = nil
	}
	s.held = heldNone
	s.frame = Frame{}
}

func (s *Splitter) release() {
	s.releaseHeld()
	if s.buf != nil {
		bufpool.Put(s.buf)
		s.buf = nil
	}
	if s.block != nil {
		bufpool.Put(s.block)
		s.block = nil
	}
	s.nhdr, s.inBlock = 0, false
}
