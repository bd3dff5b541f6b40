package http2

import "strconv"

// Wire constants of RFC 9113.
const (
	// ClientPreface is what a client sends before its first frame
	// (RFC 9113 §3.4); a SETTINGS frame follows it.
	ClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

	// FrameHeaderLen is the size of every frame's header.
	FrameHeaderLen = 9

	// MinMaxFrameSize is the initial and smallest SETTINGS_MAX_FRAME_SIZE;
	// MaxMaxFrameSize the largest value it may take.
	MinMaxFrameSize = 1 << 14
	MaxMaxFrameSize = 1<<24 - 1

	// InitialWindowSize is the flow-control window of a new connection
	// and, until SETTINGS change it, of every new stream.
	InitialWindowSize = 65535
	// MaxWindowSize is the largest a flow-control window may grow.
	MaxWindowSize = 1<<31 - 1

	// InitialHeaderTableSize is the HPACK dynamic table size both ends
	// assume until SETTINGS_HEADER_TABLE_SIZE says otherwise.
	InitialHeaderTableSize = 4096
)

// FrameType is the type of a frame (RFC 9113 §6).
type FrameType uint8

// The frame types of RFC 9113. Other values are extensions, which a
// receiver ignores.
const (
	FrameData         FrameType = 0x0
	FrameHeaders      FrameType = 0x1
	FramePriority     FrameType = 0x2
	FrameRSTStream    FrameType = 0x3
	FrameSettings     FrameType = 0x4
	FramePushPromise  FrameType = 0x5
	FramePing         FrameType = 0x6
	FrameGoAway       FrameType = 0x7
	FrameWindowUpdate FrameType = 0x8
	FrameContinuation FrameType = 0x9
)

var frameNames = [...]string{
	"DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS",
	"PUSH_PROMISE", "PING", "GOAWAY", "WINDOW_UPDATE", "CONTINUATION",
}

// String returns the type's name as the RFC spells it, such as
// "WINDOW_UPDATE", or "UNKNOWN_FRAME_TYPE_n".
func (t FrameType) String() string {
	if int(t) < len(frameNames) {
		return frameNames[t]
	}
	return "UNKNOWN_FRAME_TYPE_" + strconv.Itoa(int(t))
}

// Flags are the flag bits of a frame header. Their meaning depends on the
// frame type; undefined bits are ignored.
type Flags uint8

// Flag bits, by the frame types that define them.
const (
	FlagEndStream  Flags = 0x1  // DATA, HEADERS
	FlagAck        Flags = 0x1  // SETTINGS, PING
	FlagEndHeaders Flags = 0x4  // HEADERS, PUSH_PROMISE, CONTINUATION
	FlagPadded     Flags = 0x8  // DATA, HEADERS, PUSH_PROMISE
	FlagPriority   Flags = 0x20 // HEADERS
)

// Has reports whether all bits of v are set in f.
func (f Flags) Has(v Flags) bool { return f&v == v }

// FrameHeader is the 9-byte header that starts every frame.
type FrameHeader struct {
	Length   uint32 // payload length, 24 bits
	Type     FrameType
	Flags    Flags
	StreamID uint32 // 31 bits; the reserved bit is dropped on reading
}

// String renders the header for logs and test failures, as
// "HEADERS stream=1 len=30 flags=END_STREAM|END_HEADERS".
func (h FrameHeader) String() string {
	s := h.Type.String() + " stream=" + strconv.FormatUint(uint64(h.StreamID), 10) +
		" len=" + strconv.FormatUint(uint64(h.Length), 10)
	if h.Flags != 0 {
		s += " flags=" + flagNames(h.Type, h.Flags)
	}
	return s
}

func flagNames(t FrameType, f Flags) string {
	var names []string
	add := func(bit Flags, name string) {
		if f&bit != 0 {
			names = append(names, name)
			f &^= bit
		}
	}
	switch t {
	case FrameData:
		add(FlagEndStream, "END_STREAM")
		add(FlagPadded, "PADDED")
	case FrameHeaders:
		add(FlagEndStream, "END_STREAM")
		add(FlagEndHeaders, "END_HEADERS")
		add(FlagPadded, "PADDED")
		add(FlagPriority, "PRIORITY")
	case FrameSettings, FramePing:
		add(FlagAck, "ACK")
	case FramePushPromise:
		add(FlagEndHeaders, "END_HEADERS")
		add(FlagPadded, "PADDED")
	case FrameContinuation:
		add(FlagEndHeaders, "END_HEADERS")
	}
	if f != 0 {
		names = append(names, "0x"+strconv.FormatUint(uint64(f), 16))
	}
	s := ""
	for i, n := range names {
		if i > 0 {
			s += "|"
		}
		s += n
	}
	return s
}

// ParseFrameHeader reads a frame header from the first FrameHeaderLen
// bytes of b, which must hold them.
func ParseFrameHeader(b []byte) FrameHeader {
	_ = b[8]
	return FrameHeader{
		Length:   uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]),
		Type:     FrameType(b[3]),
		Flags:    Flags(b[4]),
		StreamID: be32(b[5:]) & (1<<31 - 1),
	}
}

func be32(b []byte) uint32 {
	_ = b[3]
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// ErrCode is an error code of RST_STREAM and GOAWAY (RFC 9113 §7).
type ErrCode uint32

// The error codes of RFC 9113 §7. Unknown codes are legal on the wire and
// mean INTERNAL_ERROR to a receiver that does not know them.
const (
	ErrCodeNo                 ErrCode = 0x0
	ErrCodeProtocol           ErrCode = 0x1
	ErrCodeInternal           ErrCode = 0x2
	ErrCodeFlowControl        ErrCode = 0x3
	ErrCodeSettingsTimeout    ErrCode = 0x4
	ErrCodeStreamClosed       ErrCode = 0x5
	ErrCodeFrameSize          ErrCode = 0x6
	ErrCodeRefusedStream      ErrCode = 0x7
	ErrCodeCancel             ErrCode = 0x8
	ErrCodeCompression        ErrCode = 0x9
	ErrCodeConnect            ErrCode = 0xa
	ErrCodeEnhanceYourCalm    ErrCode = 0xb
	ErrCodeInadequateSecurity ErrCode = 0xc
	ErrCodeHTTP11Required     ErrCode = 0xd
)

var errCodeNames = [...]string{
	"NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
	"SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM",
	"CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
	"INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
}

// String returns the code's name as the RFC spells it, such as
// "REFUSED_STREAM", or "unknown error code 0x..." for others.
func (c ErrCode) String() string {
	if int(c) < len(errCodeNames) {
		return errCodeNames[c]
	}
	return "unknown error code 0x" + strconv.FormatUint(uint64(c), 16)
}

// SettingID identifies a parameter of a SETTINGS frame (RFC 9113 §6.5.2).
type SettingID uint16

// The settings of RFC 9113, and two later ones that a client may meet.
// Unknown settings are ignored.
const (
	SettingHeaderTableSize       SettingID = 0x1
	SettingEnablePush            SettingID = 0x2
	SettingMaxConcurrentStreams  SettingID = 0x3
	SettingInitialWindowSize     SettingID = 0x4
	SettingMaxFrameSize          SettingID = 0x5
	SettingMaxHeaderListSize     SettingID = 0x6
	SettingEnableConnectProtocol SettingID = 0x8 // RFC 8441
	SettingNoRFC7540Priorities   SettingID = 0x9 // RFC 9218
)

var settingNames = [...]string{
	"", "HEADER_TABLE_SIZE", "ENABLE_PUSH", "MAX_CONCURRENT_STREAMS",
	"INITIAL_WINDOW_SIZE", "MAX_FRAME_SIZE", "MAX_HEADER_LIST_SIZE", "",
	"ENABLE_CONNECT_PROTOCOL", "NO_RFC7540_PRIORITIES",
}

// String returns the setting's name without its SETTINGS_ prefix, such as
// "MAX_FRAME_SIZE", or "UNKNOWN_SETTING_n".
func (s SettingID) String() string {
	if int(s) < len(settingNames) && settingNames[s] != "" {
		return settingNames[s]
	}
	return "UNKNOWN_SETTING_" + strconv.Itoa(int(s))
}

// Setting is one parameter of a SETTINGS frame.
type Setting struct {
	ID  SettingID
	Val uint32
}

// String renders the setting as "NAME=value".
func (s Setting) String() string {
	return s.ID.String() + "=" + strconv.FormatUint(uint64(s.Val), 10)
}
