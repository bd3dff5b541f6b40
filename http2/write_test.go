package http2

import (
	"bytes"
	"io"
	"strings"
	"testing"

	xhttp2 "golang.org/x/net/http2"
)

// readX reads every frame of b with x/net's Framer, an independent
// implementation, and renders them.
func readX(t *testing.T, b []byte) []string {
	t.Helper()
	fr := xhttp2.NewFramer(io.Discard, bytes.NewReader(b))
	fr.SetMaxReadFrameSize(MaxMaxFrameSize)
	var out []string
	for {
		f, err := fr.ReadFrame()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("x/net cannot read our frames: %v\n%q", err, b)
		}
		h := f.Header()
		s := h.Type.String() + " " + flagNames(FrameType(h.Type), Flags(h.Flags)) + " " + itoa(int(h.StreamID))
		switch f := f.(type) {
		case *xhttp2.DataFrame:
			s += " " + string(f.Data())
		case *xhttp2.HeadersFrame:
			s += " " + string(f.HeaderBlockFragment())
		case *xhttp2.ContinuationFrame:
			s += " " + string(f.HeaderBlockFragment())
		case *xhttp2.SettingsFrame:
			f.ForeachSetting(func(st xhttp2.Setting) error { s += " " + st.String(); return nil })
		case *xhttp2.PingFrame:
			s += " " + string(f.Data[:])
		case *xhttp2.WindowUpdateFrame:
			s += " +" + itoa(int(f.Increment))
		case *xhttp2.RSTStreamFrame:
			s += " " + f.ErrCode.String()
		case *xhttp2.GoAwayFrame:
			s += " last=" + itoa(int(f.LastStreamID)) + " " + f.ErrCode.String() + " " + string(f.DebugData())
		}
		out = append(out, s)
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	n := len(b)
	for ; i > 0; i /= 10 {
		n--
		b[n] = byte('0' + i%10)
	}
	return string(b[n:])
}

// TestEncodersAgainstXNet has x/net's Framer read what each encoder wrote.
func TestEncodersAgainstXNet(t *testing.T) {
	big := strings.Repeat("h", 40000)
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"DATA", AppendData(nil, 1, false, []byte("hello")), "DATA  1 hello"},
		{"DATA end", AppendData(nil, 3, true, nil), "DATA END_STREAM 3 "},
		{"DATA padded", AppendDataPadded(nil, 5, true, []byte("abc"), 7), "DATA END_STREAM|PADDED 5 abc"},
		{"HEADERS", AppendHeaders(nil, 1, true, []byte("block"), 16384), "HEADERS END_STREAM|END_HEADERS 1 block"},
		{"HEADERS empty", AppendHeaders(nil, 1, false, nil, 16384), "HEADERS END_HEADERS 1 "},
		{"HEADERS exactly one frame", AppendHeaders(nil, 1, false, []byte(big[:16384]), 16384),
			"HEADERS END_HEADERS 1 " + big[:16384]},
		{"HEADERS and CONTINUATIONs", AppendHeaders(nil, 9, true, []byte(big), 16384),
			"HEADERS END_STREAM 9 " + big[:16384] + "|CONTINUATION  9 " + big[16384:32768] +
				"|CONTINUATION END_HEADERS 9 " + big[32768:]},
		{"HEADERS at a larger frame size", AppendHeaders(nil, 9, false, []byte(big), 1<<20),
			"HEADERS END_HEADERS 9 " + big},
		{"HEADERS below the minimum frame size", AppendHeaders(nil, 9, false, []byte(big[:20000]), 100),
			"HEADERS  9 " + big[:16384] + "|CONTINUATION END_HEADERS 9 " + big[16384:20000]},
		{"SETTINGS", AppendSettings(nil, Setting{SettingEnablePush, 0}, Setting{SettingInitialWindowSize, 1 << 20}),
			"SETTINGS  0 [ENABLE_PUSH = 0] [INITIAL_WINDOW_SIZE = 1048576]"},
		{"SETTINGS ACK", AppendSettingsAck(nil), "SETTINGS ACK 0"},
		{"PING", AppendPing(nil, false, [8]byte{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'}), "PING  0 abcdefgh"},
		{"PING ACK", AppendPing(nil, true, [8]byte{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'}), "PING ACK 0 abcdefgh"},
		{"WINDOW_UPDATE conn", AppendWindowUpdate(nil, 0, 1<<31-1), "WINDOW_UPDATE  0 +2147483647"},
		{"WINDOW_UPDATE stream", AppendWindowUpdate(nil, 7, 1), "WINDOW_UPDATE  7 +1"},
		{"RST_STREAM", AppendRSTStream(nil, 7, ErrCodeCancel), "RST_STREAM  7 CANCEL"},
		{"GOAWAY", AppendGoAway(nil, 0, ErrCodeProtocol, []byte("why")), "GOAWAY  0 last=0 PROTOCOL_ERROR why"},
	} {
		if got := strings.Join(readX(t, c.b), "|"); got != c.want {
			t.Errorf("%s:\n got %.200s\nwant %.200s", c.name, got, c.want)
		}
	}
	if got := AppendPreface(nil); string(got) != xhttp2.ClientPreface {
		t.Errorf("preface %q", got)
	}
}

// TestEncodersAppend checks that each encoder appends to what dst holds
// and allocates nothing when dst has room.
func TestEncodersAppend(t *testing.T) {
	buf := make([]byte, 0, 64<<10)
	data := make([]byte, 1000)
	blk := make([]byte, 40000)
	prefix := []byte("prefix")
	buf = append(buf, prefix...)
	allocs := testing.AllocsPerRun(100, func() {
		b := buf[:len(prefix)]
		b = AppendPreface(b)
		b = AppendData(b, 1, false, data)
		b = AppendDataPadded(b, 1, false, data, 10)
		b = AppendHeaders(b, 1, true, blk, 16384)
		b = AppendSettings(b, Setting{SettingEnablePush, 0}, Setting{SettingMaxFrameSize, 16384})
		b = AppendSettingsAck(b)
		b = AppendPing(b, true, [8]byte{})
		b = AppendWindowUpdate(b, 0, 100)
		b = AppendRSTStream(b, 1, ErrCodeCancel)
		b = AppendGoAway(b, 0, ErrCodeNo, nil)
		if !bytes.HasPrefix(b, prefix) {
			t.Fatal("prefix lost")
		}
	})
	if allocs != 0 && !raceEnabled {
		t.Errorf("%v allocations, want 0", allocs)
	}
}
