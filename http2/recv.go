package http2

import (
	"math"
	"strconv"
)

// This file is the receiving half of Conn: Feed, and what each frame the
// server sends does.

// Feed processes bytes received from the server, all of them, calling
// the handlers as frames complete. Input may be split anywhere. A
// connection error queues our GOAWAY, closes every stream with the error
// and returns it (a *ConnError); so does Feed after that. Stream errors
// queue RST_STREAM and close only their stream. in is not retained.
func (c *Conn) Feed(in []byte) error {
	if c.err != nil {
		return c.err
	}
	c.enter()
	defer c.leave()
	for {
		f, n, err := c.split.Next(in)
		in = in[n:]
		if err != nil {
			return c.fail(err.(*ConnError))
		}
		if f == nil {
			return nil
		}
		if ce := c.frame(f); ce != nil {
			return c.fail(ce)
		}
		if c.err != nil {
			return c.err // a handler closed the connection
		}
	}
}

// frame dispatches one frame.
func (c *Conn) frame(f *Frame) *ConnError {
	if !c.gotSettings && (f.Type != FrameSettings || f.Flags.Has(FlagAck)) {
		return connErr(ErrCodeProtocol, ErrNoSettings, f.FrameHeader.String())
	}
	switch f.Type {
	case FrameData:
		return c.onData(f)
	case FrameHeaders:
		return c.onHeaders(f)
	case FramePriority:
		return c.onPriority(f)
	case FrameRSTStream:
		return c.onRSTStream(f)
	case FrameSettings:
		return c.onSettings(f)
	case FramePushPromise:
		return connErr(ErrCodeProtocol, ErrPushPromise, f.FrameHeader.String())
	case FramePing:
		return c.onPing(f)
	case FrameGoAway:
		return c.onGoAway(f)
	case FrameWindowUpdate:
		return c.onWindowUpdate(f)
	}
	// Unknown types are extensions we did not negotiate: ignored, but
	// not for free.
	return c.charge(f.FrameHeader)
}

// lookup finds the stream a frame is for. It returns nil for a stream
// that is closed; a stream we never opened is a connection error.
func (c *Conn) lookup(h FrameHeader) (*Stream, *ConnError) {
	if s := c.streams[h.StreamID]; s != nil {
		return s, nil
	}
	if h.StreamID&1 == 0 || h.StreamID >= c.nextID {
		return nil, connErr(ErrCodeProtocol, ErrIdleStream, h.String())
	}
	return nil, nil
}

// streamError resets s with code because of what the server sent.
func (c *Conn) streamError(s *Stream, code ErrCode, rule error, seen string) *ConnError {
	if ce := c.resetClosed(FrameHeader{Type: FrameRSTStream, StreamID: s.id}, code); ce != nil {
		return ce
	}
	c.setReset(s.id)
	c.closeStream(s, streamErr(s.id, code, rule, seen))
	return nil
}

// resetClosed queues a RST_STREAM owed to the server.
func (c *Conn) resetClosed(h FrameHeader, code ErrCode) *ConnError {
	if ce := c.queueControl(h); ce != nil {
		return ce
	}
	c.grow(13)
	c.out = AppendRSTStream(c.out, h.StreamID, code)
	return nil
}

// onClosedStream handles DATA or HEADERS for a stream that is closed:
// dropped if we reset it (it crossed our RST_STREAM); a connection error
// of type STREAM_CLOSED if the server had ended it with END_STREAM, since
// nothing of ours can explain more frames from the server after its own
// end (RFC 9113 §5.1 allows a connection error there, RFC 7540 §5.1
// required one, and h2spec checks it); otherwise (the server reset it) a
// stream error of type STREAM_CLOSED.
func (c *Conn) onClosedStream(h FrameHeader) *ConnError {
	if ce := c.charge(h); ce != nil {
		return ce
	}
	if c.wasReset(h.StreamID) {
		return nil
	}
	if c.endedByServer(h.StreamID) {
		return connErr(ErrCodeStreamClosed, ErrStreamClosed, "after END_STREAM: "+h.String())
	}
	return c.resetClosed(h, ErrCodeStreamClosed)
}

func (c *Conn) onData(f *Frame) *ConnError {
	h, data := f.FrameHeader, f.Data
	n := int32(h.Length)
	if !c.recv.take(n) {
		return connErr(ErrCodeFlowControl, ErrFlowControl, h.String()+", connection window "+strconv.Itoa(int(c.recv.win)))
	}
	s, ce := c.lookup(h)
	if ce != nil {
		return ce
	}
	if s == nil {
		c.creditConn(n)
		return c.onClosedStream(h)
	}
	end := h.Flags.Has(FlagEndStream)
	if len(data) == 0 && !end {
		if ce := c.charge(h); ce != nil {
			return ce
		}
	}
	if !s.state.receives(FrameData) {
		c.creditConn(n)
		return c.streamError(s, ErrCodeStreamClosed, ErrStreamClosed, h.String())
	}
	if !s.final {
		c.creditConn(n)
		return c.streamError(s, ErrCodeProtocol, ErrDataBeforeHead, h.String())
	}
	if !s.recv.take(n) {
		c.creditConn(n)
		return c.streamError(s, ErrCodeFlowControl, ErrFlowControl, h.String()+", stream window "+strconv.Itoa(int(s.recv.win)))
	}
	// Padding is nobody's to read: its credit returns at once.
	if pad := n - int32(len(data)); pad > 0 {
		c.creditConn(pad)
		c.creditStream(s, pad)
	}
	s.got += int64(len(data))
	if s.noBody && s.got > 0 || s.cl >= 0 && s.got > s.cl {
		c.creditConn(int32(len(data)))
		return c.streamError(s, ErrCodeProtocol, ErrContentLengthMismatch,
			"got "+strconv.FormatInt(s.got, 10)+" bytes, content-length "+strconv.FormatInt(s.cl, 10))
	}
	// A sample starts on DATA that announces a body of a quarter window
	// or more to come, or of unknown length.
	start := !end && (s.cl < 0 || s.cl-s.got >= int64(c.streamWindow)/4)
	if n > 0 && c.bdp.data(n, start, c.cfg.now) {
		c.grow(17)
		c.out = AppendPing(c.out, false, bdpPing)
		c.earn(1)
	}
	id := s.id
	if len(data) > 0 {
		s.outstanding += int32(len(data))
		s.h.Data(s, data)
		if !c.alive(s, id) {
			return nil
		}
	}
	if end {
		if !s.noBody && s.cl >= 0 && s.got != s.cl {
			return c.streamError(s, ErrCodeProtocol, ErrContentLengthMismatch,
				"got "+strconv.FormatInt(s.got, 10)+" bytes, content-length "+strconv.FormatInt(s.cl, 10))
		}
		c.remoteEnd(s)
	}
	return nil
}

// creditStream returns n bytes to a stream's window.
func (c *Conn) creditStream(s *Stream, n int32) {
	if inc := s.recv.credit(n); inc > 0 {
		c.grow(13)
		c.out = AppendWindowUpdate(c.out, s.id, inc)
	}
}

// remoteEnd ends the response: END_STREAM arrived. A request still being
// sent is cut off with RST_STREAM NO_ERROR: the exchange is over.
func (c *Conn) remoteEnd(s *Stream) {
	if s.state.sends() {
		c.grow(13)
		c.out = AppendRSTStream(c.out, s.id, ErrCodeNo)
		c.setReset(s.id)
	} else {
		c.setEnded(s.id)
	}
	c.closeStream(s, nil)
}

func (c *Conn) onHeaders(f *Frame) *ConnError {
	h := f.FrameHeader
	s, ce := c.lookup(h)
	if ce != nil {
		return ce
	}
	// Decode whatever the stream: the HPACK state depends on every block.
	trailers := s != nil && s.final
	if cerr, rule, seen := c.dec.decode(f.Data, trailers); cerr != nil {
		return cerr.(*ConnError)
	} else if s == nil {
		return c.onClosedStream(h)
	} else if !s.state.receives(FrameHeaders) {
		return c.streamError(s, ErrCodeStreamClosed, ErrStreamClosed, h.String())
	} else if rule != nil {
		return c.streamError(s, ErrCodeProtocol, rule, seen)
	}
	end := h.Flags.Has(FlagEndStream)
	head := &c.dec.head
	id := s.id
	if trailers {
		if !end {
			return c.streamError(s, ErrCodeProtocol, ErrTrailersNoEndStream, h.String())
		}
		if !s.noBody && s.cl >= 0 && s.got != s.cl {
			return c.streamError(s, ErrCodeProtocol, ErrContentLengthMismatch,
				"got "+strconv.FormatInt(s.got, 10)+" bytes, content-length "+strconv.FormatInt(s.cl, 10))
		}
		s.h.Trailers(s, head)
		if c.alive(s, id) {
			c.remoteEnd(s)
		}
		return nil
	}
	switch st := head.Status; {
	case st == 101:
		return c.streamError(s, ErrCodeProtocol, ErrSwitchingProtocols, ":status 101")
	case st < 200:
		if end {
			return c.streamError(s, ErrCodeProtocol, ErrInterimEndStream, ":status "+strconv.Itoa(st))
		}
		// Interim heads carry no body and could come forever: each
		// costs a token.
		if ce := c.charge(h); ce != nil {
			return ce
		}
		s.h.Head(s, head)
		return nil
	}
	s.final = true
	s.cl = head.ContentLength
	s.noBody = s.isHead || head.Status == 204 || head.Status == 304
	if end && !s.noBody && s.cl > 0 {
		return c.streamError(s, ErrCodeProtocol, ErrContentLengthMismatch,
			"END_STREAM on the head, content-length "+strconv.FormatInt(s.cl, 10))
	}
	s.h.Head(s, head)
	if end && c.alive(s, id) {
		c.remoteEnd(s)
	}
	return nil
}

func (c *Conn) onPriority(f *Frame) *ConnError {
	h := f.FrameHeader
	if ce := c.charge(h); ce != nil {
		return ce
	}
	if h.Length == 5 {
		return nil
	}
	// A stream error (RFC 9113 §6.3), whatever state the stream is in.
	s, ce := c.lookup(h)
	switch {
	case ce != nil:
		// An idle stream may not be reset (RFC 9113 §6.4), so the
		// stream error becomes a connection error, as §5.4.2 allows.
		return connErr(ErrCodeFrameSize, ErrFrameSize, h.String())
	case s != nil:
		return c.streamError(s, ErrCodeFrameSize, ErrFrameSize, h.String())
	case c.wasReset(h.StreamID):
		return nil // it crossed our RST_STREAM
	}
	// A stream that is closed: the server still hears of its error.
	return c.resetClosed(h, ErrCodeFrameSize)
}

func (c *Conn) onRSTStream(f *Frame) *ConnError {
	h := f.FrameHeader
	if ce := c.charge(h); ce != nil {
		return ce
	}
	s, ce := c.lookup(h)
	if ce != nil || s == nil {
		return ce
	}
	code := ErrCode(be32(f.Data))
	reason := ErrStreamReset
	if code == ErrCodeRefusedStream {
		reason = ErrRefused
	}
	c.closeStream(s, &StreamError{StreamID: s.id, Code: code, Remote: true, Err: reason})
	return nil
}

func (c *Conn) onSettings(f *Frame) *ConnError {
	h := f.FrameHeader
	if ce := c.charge(h); ce != nil {
		return ce
	}
	if h.Flags.Has(FlagAck) {
		if c.settingsUnacked > 0 {
			c.settingsUnacked--
			// Our table size now binds the server's encoder.
			c.dec.dec.SetAllowedMaxDynamicTableSize(c.cfg.headerTableSize)
		}
		return nil
	}
	if ce := c.queueControl(h); ce != nil {
		return ce
	}
	if !c.gotSettings {
		c.gotSettings = true
		// A server that names no limit has none.
		c.peer.MaxConcurrentStreams = math.MaxUint32
	}
	opened := false
	for p := f.Data; len(p) >= 6; p = p[6:] {
		id, v := SettingID(uint16(p[0])<<8|uint16(p[1])), be32(p[2:])
		st := Setting{id, v}.String()
		switch id {
		case SettingHeaderTableSize:
			c.peer.HeaderTableSize = v
			c.enc.setTableSize(v)
		case SettingEnablePush:
			if v > 1 {
				return connErr(ErrCodeProtocol, ErrBadSetting, st)
			}
		case SettingMaxConcurrentStreams:
			c.peer.MaxConcurrentStreams = v
		case SettingInitialWindowSize:
			if v > MaxWindowSize {
				return connErr(ErrCodeFlowControl, ErrBadSetting, st)
			}
			delta := int64(v) - int64(c.peer.InitialWindowSize)
			for _, s := range c.streams {
				if !addWindow(&s.send, delta) {
					return connErr(ErrCodeFlowControl, ErrWindowOverflow, st+" on stream "+strconv.FormatUint(uint64(s.id), 10))
				}
			}
			c.peer.InitialWindowSize = v
			opened = opened || delta > 0
		case SettingMaxFrameSize:
			if v < MinMaxFrameSize || v > MaxMaxFrameSize {
				return connErr(ErrCodeProtocol, ErrBadSetting, st)
			}
			c.peer.MaxFrameSize = v
		case SettingMaxHeaderListSize:
			c.peer.MaxHeaderListSize = v
		}
	}
	c.grow(FrameHeaderLen)
	c.out = AppendSettingsAck(c.out)
	c.h.Settings(c, c.peer)
	if opened && c.err == nil {
		c.wake()
	}
	return nil
}

func (c *Conn) onPing(f *Frame) *ConnError {
	h := f.FrameHeader
	if ce := c.charge(h); ce != nil {
		return ce
	}
	data := [8]byte(f.Data)
	if !h.Flags.Has(FlagAck) {
		if ce := c.queueControl(h); ce != nil {
			return ce
		}
		c.grow(17)
		c.out = AppendPing(c.out, true, data)
		return nil
	}
	if data == bdpPing && c.bdp.pinging() {
		if w := c.bdp.ack(c.cfg.now()); w > 0 {
			c.growStreamWindow(w)
		}
		return nil
	}
	c.h.PingAck(c, data)
	return nil
}

// growStreamWindow raises our SETTINGS_INITIAL_WINDOW_SIZE to w, which
// the server applies to every stream, and the connection window with it.
func (c *Conn) growStreamWindow(w int32) {
	delta := w - c.streamWindow
	if delta <= 0 {
		return
	}
	c.streamWindow = w
	c.grow(FrameHeaderLen + 6)
	c.out = AppendSettings(c.out, Setting{SettingInitialWindowSize, uint32(w)})
	c.settingsUnacked++
	c.earn(1)
	for _, s := range c.streams {
		s.recv.grow(delta)
	}
	c.growConnWindow(max(int64(w)*int64(max(c.active, 1)), int64(c.recv.target)))
}

func (c *Conn) onGoAway(f *Frame) *ConnError {
	h := f.FrameHeader
	if ce := c.charge(h); ce != nil {
		return ce
	}
	last := be32(f.Data) & maxStreamID
	if c.goAway != nil {
		// A later GOAWAY may lower the last stream id, never raise it.
		last = min(last, c.goAway.LastStreamID)
	}
	e := &GoAwayError{LastStreamID: last, Code: ErrCode(be32(f.Data[4:])), Debug: string(f.Data[8:min(len(f.Data), 8+maxDebug)])}
	c.goAway = e
	c.h.GoAway(c, e)
	for _, id := range c.streamIDs() {
		if s := c.streams[id]; s != nil && id > last && c.err == nil {
			c.closeStream(s, &GoAwayError{LastStreamID: last, Code: e.Code, Debug: e.Debug, StreamID: id})
		}
	}
	return nil
}

func (c *Conn) onWindowUpdate(f *Frame) *ConnError {
	h := f.FrameHeader
	if ce := c.charge(h); ce != nil {
		return ce
	}
	inc := int64(be32(f.Data) & (1<<31 - 1))
	if h.StreamID == 0 {
		if inc == 0 {
			return connErr(ErrCodeProtocol, ErrZeroWindowUpdate, h.String())
		}
		if !addWindow(&c.send, inc) {
			return connErr(ErrCodeFlowControl, ErrWindowOverflow, h.String()+", connection window "+strconv.FormatInt(c.send, 10))
		}
		c.wake()
		return nil
	}
	s, ce := c.lookup(h)
	if ce != nil || s == nil {
		return ce
	}
	if inc == 0 {
		return c.streamError(s, ErrCodeProtocol, ErrZeroWindowUpdate, h.String())
	}
	if !addWindow(&s.send, inc) {
		return c.streamError(s, ErrCodeFlowControl, ErrWindowOverflow, h.String()+", stream window "+strconv.FormatInt(s.send, 10))
	}
	if s.blocked && s.send > 0 && c.send > 0 {
		c.wake()
	}
	return nil
}

// wake calls WindowOpen for the blocked streams that may send again.
func (c *Conn) wake() {
	w := c.wait
	if c.send <= 0 || w == nil || len(w.blocked) == 0 {
		return
	}
	// Handlers may block again while this runs: they append to a fresh
	// list, and the streams not woken are kept on it.
	list := w.blocked
	w.blocked, w.spare = w.spare[:0], list
	for i, id := range list {
		s := c.streams[id]
		switch {
		case s == nil || !s.blocked:
		case c.err != nil || s.send <= 0 || c.send <= 0:
			w.blocked = append(w.blocked, id)
		default:
			s.blocked = false
			s.h.WindowOpen(s)
		}
		list[i] = 0
	}
}
