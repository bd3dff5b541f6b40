package http2

import "testing"

func TestNames(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{FrameWindowUpdate.String(), "WINDOW_UPDATE"},
		{FrameContinuation.String(), "CONTINUATION"},
		{FrameType(0x10).String(), "UNKNOWN_FRAME_TYPE_16"},
		{ErrCodeRefusedStream.String(), "REFUSED_STREAM"},
		{ErrCodeHTTP11Required.String(), "HTTP_1_1_REQUIRED"},
		{ErrCode(0x1f).String(), "unknown error code 0x1f"},
		{SettingMaxHeaderListSize.String(), "MAX_HEADER_LIST_SIZE"},
		{SettingID(7).String(), "UNKNOWN_SETTING_7"},
		{SettingID(0).String(), "UNKNOWN_SETTING_0"},
		{Setting{SettingInitialWindowSize, 65535}.String(), "INITIAL_WINDOW_SIZE=65535"},
		{FrameHeader{Length: 30, Type: FrameHeaders, Flags: FlagEndStream | FlagEndHeaders, StreamID: 1}.String(),
			"HEADERS stream=1 len=30 flags=END_STREAM|END_HEADERS"},
		{FrameHeader{Type: FramePing, Flags: FlagAck | 0x80}.String(), "PING stream=0 len=0 flags=ACK|0x80"},
		{FrameHeader{Type: FrameRSTStream, StreamID: 3, Length: 4}.String(), "RST_STREAM stream=3 len=4"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestFrameHeaderRoundTrip(t *testing.T) {
	for _, h := range []FrameHeader{
		{},
		{Length: 1<<24 - 1, Type: 0xff, Flags: 0xff, StreamID: 1<<31 - 1},
		{Length: 16384, Type: FrameData, Flags: FlagEndStream, StreamID: 12345},
	} {
		b := AppendFrameHeader(nil, h)
		if len(b) != FrameHeaderLen {
			t.Fatalf("%v: %d bytes", h, len(b))
		}
		if got := ParseFrameHeader(b); got != h {
			t.Errorf("got %v, want %v", got, h)
		}
	}
	// The reserved bit is neither written nor read.
	b := AppendFrameHeader(nil, FrameHeader{StreamID: 1<<31 | 5})
	if b[5]&0x80 != 0 {
		t.Error("reserved bit written")
	}
	b[5] |= 0x80
	if got := ParseFrameHeader(b).StreamID; got != 5 {
		t.Errorf("reserved bit read: stream %d", got)
	}
}
