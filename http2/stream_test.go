package http2

import "testing"

// TestStreamStates checks the table of RFC 9113 §5.1: which frames may
// arrive, and whether the request may go on, in each state.
func TestStreamStates(t *testing.T) {
	all := []FrameType{FrameData, FrameHeaders, FramePriority, FrameRSTStream, FrameWindowUpdate, FrameContinuation}
	for _, c := range []struct {
		st       StreamState
		name     string
		receives []FrameType
		sends    bool
	}{
		{StateOpen, "open", all, true},
		{StateHalfClosedLocal, "half-closed (local)", all, false},
		{StateHalfClosedRemote, "half-closed (remote)", []FrameType{FramePriority, FrameRSTStream, FrameWindowUpdate}, true},
		{StateClosed, "closed", []FrameType{FramePriority}, false},
	} {
		if c.st.String() != c.name || c.st.sends() != c.sends {
			t.Errorf("%v: name %q, sends %v", c.st, c.st.String(), c.st.sends())
		}
		for _, ft := range all {
			want := false
			for _, r := range c.receives {
				want = want || r == ft
			}
			if got := c.st.receives(ft); got != want {
				t.Errorf("%v receives %v: %v, want %v", c.st, ft, got, want)
			}
		}
	}
	if StreamState(0).String() != "idle" || StreamState(9).String() != "invalid" {
		t.Error("names")
	}
}

// TestStreamAccessors checks what a handler can ask of its Stream.
func TestStreamAccessors(t *testing.T) {
	h := newHarness(t, Config{DisableBDP: true}).ready(Setting{SettingInitialWindowSize, 1000})
	s := h.open(Request{Method: "PUT", Scheme: "https", Authority: "a", Path: "/", ContentLength: -1}, false)
	if s.ID() != 1 || s.State() != StateOpen || s.Handler() != StreamHandler(h.rec) || s.SendWindow() != 1000 {
		t.Fatalf("%d %v %v", s.ID(), s.State(), s.SendWindow())
	}
	h.c.WriteData(s, make([]byte, 400), true)
	if s.State() != StateHalfClosedLocal || s.SendWindow() != 0 {
		t.Fatalf("%v %d", s.State(), s.SendWindow())
	}
}
