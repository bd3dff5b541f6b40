package http2

import "slices"

// The encoders below append one frame (or, for AppendHeaders, one header
// block's frames) to dst and return the extended slice, allocating only
// when dst lacks room. They trust their caller for the limits the peer
// set: a DATA payload no longer than its MAX_FRAME_SIZE, a window
// increment from 1 to 2^31-1, stream ids of 31 bits.

// AppendPreface appends the client connection preface string. A SETTINGS
// frame must follow it.
func AppendPreface(dst []byte) []byte { return append(dst, ClientPreface...) }

// AppendFrameHeader appends the 9-byte header h.
func AppendFrameHeader(dst []byte, h FrameHeader) []byte {
	return append(dst,
		byte(h.Length>>16), byte(h.Length>>8), byte(h.Length),
		byte(h.Type), byte(h.Flags),
		byte(h.StreamID>>24)&0x7f, byte(h.StreamID>>16), byte(h.StreamID>>8), byte(h.StreamID))
}

func appendU32(dst []byte, v uint32) []byte {
	return append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// AppendData appends a DATA frame carrying data on stream streamID, with
// END_STREAM if endStream.
func AppendData(dst []byte, streamID uint32, endStream bool, data []byte) []byte {
	var fl Flags
	if endStream {
		fl = FlagEndStream
	}
	dst = slices.Grow(dst, FrameHeaderLen+len(data))
	dst = AppendFrameHeader(dst, FrameHeader{Length: uint32(len(data)), Type: FrameData, Flags: fl, StreamID: streamID})
	return append(dst, data...)
}

// AppendDataPadded appends a padded DATA frame: data followed by padLen
// zero bytes, all of which count against flow control.
func AppendDataPadded(dst []byte, streamID uint32, endStream bool, data []byte, padLen uint8) []byte {
	fl := FlagPadded
	if endStream {
		fl |= FlagEndStream
	}
	n := 1 + len(data) + int(padLen)
	dst = slices.Grow(dst, FrameHeaderLen+n)
	dst = AppendFrameHeader(dst, FrameHeader{Length: uint32(n), Type: FrameData, Flags: fl, StreamID: streamID})
	dst = append(append(dst, padLen), data...)
	return append(dst, make([]byte, padLen)...)
}

// AppendHeaders appends a header block (HPACK-encoded) for stream
// streamID: one HEADERS frame, followed by as many CONTINUATION frames as
// it takes to keep each frame within maxFrameSize, the peer's
// SETTINGS_MAX_FRAME_SIZE. The last frame has END_HEADERS; the HEADERS
// frame has END_STREAM if endStream.
func AppendHeaders(dst []byte, streamID uint32, endStream bool, block []byte, maxFrameSize uint32) []byte {
	maxFrameSize = max(maxFrameSize, MinMaxFrameSize)
	frames := 1 + max(len(block)-1, 0)/int(maxFrameSize)
	dst = slices.Grow(dst, frames*FrameHeaderLen+len(block))
	t, fl := FrameHeaders, Flags(0)
	if endStream {
		fl = FlagEndStream
	}
	for {
		n := min(len(block), int(maxFrameSize))
		if n == len(block) {
			fl |= FlagEndHeaders
		}
		dst = AppendFrameHeader(dst, FrameHeader{Length: uint32(n), Type: t, Flags: fl, StreamID: streamID})
		dst = append(dst, block[:n]...)
		block = block[n:]
		if len(block) == 0 {
			return dst
		}
		t, fl = FrameContinuation, 0
	}
}

// AppendSettings appends a SETTINGS frame with the parameters given, in
// order.
func AppendSettings(dst []byte, settings ...Setting) []byte {
	dst = slices.Grow(dst, FrameHeaderLen+6*len(settings))
	dst = AppendFrameHeader(dst, FrameHeader{Length: uint32(6 * len(settings)), Type: FrameSettings})
	for _, s := range settings {
		dst = append(dst, byte(s.ID>>8), byte(s.ID))
		dst = appendU32(dst, s.Val)
	}
	return dst
}

// AppendSettingsAck appends the acknowledgement of a SETTINGS frame.
func AppendSettingsAck(dst []byte) []byte {
	return AppendFrameHeader(dst, FrameHeader{Type: FrameSettings, Flags: FlagAck})
}

// AppendPing appends a PING frame carrying data, or the acknowledgement of
// one if ack.
func AppendPing(dst []byte, ack bool, data [8]byte) []byte {
	var fl Flags
	if ack {
		fl = FlagAck
	}
	dst = AppendFrameHeader(dst, FrameHeader{Length: 8, Type: FramePing, Flags: fl})
	return append(dst, data[:]...)
}

// AppendWindowUpdate appends a WINDOW_UPDATE granting increment bytes on
// stream streamID, or on the connection if streamID is 0.
func AppendWindowUpdate(dst []byte, streamID, increment uint32) []byte {
	dst = AppendFrameHeader(dst, FrameHeader{Length: 4, Type: FrameWindowUpdate, StreamID: streamID})
	return appendU32(dst, increment&(1<<31-1))
}

// AppendRSTStream appends a RST_STREAM closing stream streamID with code.
func AppendRSTStream(dst []byte, streamID uint32, code ErrCode) []byte {
	dst = AppendFrameHeader(dst, FrameHeader{Length: 4, Type: FrameRSTStream, StreamID: streamID})
	return appendU32(dst, uint32(code))
}

// AppendGoAway appends a GOAWAY naming the last stream the sender
// processed (for a client: the last server-initiated stream, which is 0
// when push is off), the error code and optional debug data.
func AppendGoAway(dst []byte, lastStreamID uint32, code ErrCode, debug []byte) []byte {
	dst = slices.Grow(dst, FrameHeaderLen+8+len(debug))
	dst = AppendFrameHeader(dst, FrameHeader{Length: uint32(8 + len(debug)), Type: FrameGoAway})
	dst = appendU32(dst, lastStreamID&(1<<31-1))
	dst = appendU32(dst, uint32(code))
	return append(dst, debug...)
}
