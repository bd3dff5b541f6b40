package frame

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

var lineCases = []struct {
	name  string
	delim string
	max   int
	in    string
	want  []string
	err   error
}{
	{"empty input", "\n", 10, "", nil, nil},
	{"one line", "\n", 10, "hello\n", []string{"hello"}, nil},
	{"several", "\n", 10, "a\nbb\n\nccc\n", []string{"a", "bb", "", "ccc"}, nil},
	{"partial tail kept", "\n", 10, "a\nbc", []string{"a"}, nil},
	{"cr stays with lf delimiter", "\n", 10, "a\r\nb\n", []string{"a\r", "b"}, nil},
	{"crlf", "\r\n", 10, "+OK\r\n:1\r\n", []string{"+OK", ":1"}, nil},
	{"lone lf is content", "\r\n", 10, "a\nb\r\n", []string{"a\nb"}, nil},
	{"lone cr is content", "\r\n", 10, "a\rb\r\r\n", []string{"a\rb\r"}, nil},
	{"long delimiter", "--END--", 10, "x--END----END--y--END--", []string{"x", "", "y"}, nil},
	{"self-overlapping delimiter", "abab", 10, "xabababab", []string{"x", ""}, nil},
	{"exactly max", "\n", 5, "12345\n", []string{"12345"}, nil},
	{"exactly max crlf", "\r\n", 5, "12345\r\n", []string{"12345"}, nil},
	{"one over max", "\n", 5, "123456\n", nil, ErrFrameTooLarge},
	{"over max without delimiter", "\n", 5, "123456", nil, ErrFrameTooLarge},
	{"max with partial crlf is not yet too long", "\r\n", 5, "12345\r", nil, nil},
	{"over max with crlf", "\r\n", 5, "123456\r\n", nil, ErrFrameTooLarge},
	{"good lines before bad", "\n", 3, "ab\nabcd\n", []string{"ab"}, ErrFrameTooLarge},
	{"max one", "\n", 1, "\na\nab\n", []string{"", "a"}, ErrFrameTooLarge},
}

func TestLineDecoderTable(t *testing.T) {
	for _, tc := range lineCases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewLineDecoder(tc.delim, tc.max)
			if err != nil {
				t.Fatal(err)
			}
			got := feedChunks(d, [][]byte{[]byte(tc.in)})
			want := result{frames: tc.want, err: tc.err}
			if !got.same(want) {
				t.Fatalf("got %v, want %v", got, want)
			}
			if ref := refLines([]byte(tc.in), tc.delim, tc.max); !ref.same(want) {
				t.Fatalf("reference disagrees with table: %v", ref)
			}
		})
	}
}

// TestLineDecoderSplits checks that every way of cutting the input in two or
// three pieces, and byte-at-a-time feeding, yields what one Feed does.
func TestLineDecoderSplits(t *testing.T) {
	for _, tc := range lineCases {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			d, _ := NewLineDecoder(tc.delim, tc.max)
			whole := feedChunks(d, [][]byte{in})
			for s := range testkit.Splits(in, testkit.SplitOptions{Pairs: true}) {
				d.Reset()
				if got := feedChunks(d, s.Chunks); !got.same(whole) {
					t.Fatalf("%s %q: got %v, want %v", s.Name, s.Chunks, got, whole)
				}
			}
		})
	}
}

func TestLineDecoderEarlyTooLarge(t *testing.T) {
	d, _ := NewLineDecoder("\r\n", 8)
	// Nine bytes could still be eight plus the "\r" of the delimiter.
	if err := d.Feed([]byte("12345678\r"), nopEmit); err != nil {
		t.Fatalf("9 bytes: %v", err)
	}
	err := d.Feed([]byte("x"), nopEmit)
	var tl *FrameTooLargeError
	if !errors.As(err, &tl) || tl.Max != 8 || tl.Size != 9 {
		t.Fatalf("got %v, want *FrameTooLargeError{9, 8}", err)
	}
	if d.Buffered() != 0 {
		t.Fatalf("failed decoder holds %d bytes", d.Buffered())
	}
	if err2 := d.Feed([]byte("\r\n"), nopEmit); err2 != err {
		t.Fatalf("after error Feed returned %v", err2)
	}
	d.Reset()
	if err := d.Feed([]byte("ok\r\n"), nopEmit); err != nil {
		t.Fatalf("after Reset: %v", err)
	}
}

// TestLineDecoderTooLargeStopsEarly checks that a line with no delimiter in
// sight is rejected without scanning or buffering far past the limit.
func TestLineDecoderTooLargeStopsEarly(t *testing.T) {
	d, _ := NewLineDecoder("\n", 100)
	big := bytes.Repeat([]byte("x"), 1<<20)
	if err := d.Feed(big, nopEmit); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("got %v", err)
	}
	d.Reset()
	if err := d.Feed(big[:60], nopEmit); err != nil {
		t.Fatal(err)
	}
	if err := d.Feed(big, nopEmit); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("buffered: got %v", err)
	}
}

func TestLineDecoderEmitError(t *testing.T) {
	d, _ := NewLineDecoder("\n", 0)
	stop := errors.New("stop")
	var got []string
	emit := func(l []byte) error {
		got = append(got, string(l))
		if string(l) == "b" {
			return stop
		}
		return nil
	}
	if err := d.Feed([]byte("a\nb"), emit); err != nil {
		t.Fatal(err)
	}
	if err := d.Feed([]byte("\nc\n"), emit); err != stop {
		t.Fatalf("got %v, want the emit error", err)
	}
	if err := d.Feed([]byte("d\n"), emit); err != stop {
		t.Fatalf("after emit error got %v", err)
	}
	if strings.Join(got, ",") != "a,b" || d.Buffered() != 0 {
		t.Fatalf("emitted %q, buffered %d", got, d.Buffered())
	}
}

func TestLineDecoderBufferReleased(t *testing.T) {
	d, _ := NewLineDecoder("\r\n", 0)
	if err := d.Feed([]byte("hel"), nopEmit); err != nil {
		t.Fatal(err)
	}
	if d.Buffered() != 3 {
		t.Fatalf("Buffered %d, want 3", d.Buffered())
	}
	if err := d.Feed([]byte("lo\r"), nopEmit); err != nil {
		t.Fatal(err)
	}
	var line string
	if err := d.Feed([]byte("\n"), func(l []byte) error { line = string(l); return nil }); err != nil {
		t.Fatal(err)
	}
	if line != "hello" || d.Buffered() != 0 || d.buf != nil {
		t.Fatalf("line %q, Buffered %d, buf %v", line, d.Buffered(), d.buf != nil)
	}
	d.Feed([]byte("partial"), nopEmit)
	d.Reset()
	if d.Buffered() != 0 || d.buf != nil {
		t.Fatal("Reset kept the buffer")
	}
}

func TestLineDecoderZeroCopy(t *testing.T) {
	d, _ := NewLineDecoder("\n", 0)
	in := []byte("abc\ndef\n")
	var ptrs []*byte
	d.Feed(in, func(l []byte) error { ptrs = append(ptrs, &l[0]); return nil })
	if len(ptrs) != 2 || ptrs[0] != &in[0] || ptrs[1] != &in[4] {
		t.Fatal("whole lines were copied")
	}
}

func TestLineDecoderAllocs(t *testing.T) {
	skipAllocTest(t)
	d, _ := NewLineDecoder("\r\n", 0)
	in := []byte("+OK\r\n:1\r\n$5\r\nhello\r\n")
	n := 0
	emit := func(l []byte) error { n += len(l); return nil }
	if a := testkit.AllocsPerOp(10, testkit.AllocBatch, func() { d.Feed(in, emit) }); a != 0 {
		t.Fatalf("whole lines: %.2f allocs per Feed", a)
	}
	// Lines split across Feeds borrow from the pool and give back.
	if a := testkit.AllocsPerOp(10, testkit.AllocBatch, func() {
		d.Feed(in[:7], emit)
		d.Feed(in[7:], emit)
	}); a != 0 {
		t.Fatalf("split lines: %.2f allocs per round", a)
	}
}

func TestNewLineDecoderEmptyDelimiter(t *testing.T) {
	if _, err := NewLineDecoder("", 10); !errors.Is(err, ErrInvalidFormat) {
		t.Fatalf("got %v", err)
	}
}

func TestAppendLine(t *testing.T) {
	for _, tc := range []struct {
		delim, line string
		ok          bool
	}{
		{"\n", "hello", true},
		{"\n", "", true},
		{"\r\n", "a\rb\nc\r", true},
		{"\n", "a\nb", false},
		{"\r\n", "a\r\nb", false},
		{"abab", "xab", false}, // "xab"+"abab" holds "abab" at 1
		{"aab", "xa", true},
	} {
		dst := []byte("pre")
		got, err := AppendLine(dst, tc.delim, []byte(tc.line))
		if (err == nil) != tc.ok {
			t.Errorf("AppendLine(%q, %q): err %v", tc.delim, tc.line, err)
			continue
		}
		if !tc.ok {
			if !errors.Is(err, ErrDelimiterInLine) || string(got) != "pre" {
				t.Errorf("AppendLine(%q, %q) = %q, %v", tc.delim, tc.line, got, err)
			}
			continue
		}
		d, _ := NewLineDecoder(tc.delim, 0)
		r := feedChunks(d, [][]byte{got[3:]})
		if r.err != nil || len(r.frames) != 1 || r.frames[0] != tc.line {
			t.Errorf("AppendLine(%q, %q) decodes to %v", tc.delim, tc.line, r)
		}
	}
	if _, err := AppendLine(nil, "", nil); !errors.Is(err, ErrInvalidFormat) {
		t.Errorf("empty delimiter: %v", err)
	}
}

func nopEmit([]byte) error { return nil }
