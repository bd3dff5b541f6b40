package resp

import (
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

var fuzzLimits = []Limits{
	{}, // defaults
	{MaxBulkLen: 16, MaxAggregateLen: 6, MaxDepth: 3, MaxLineLen: 12},
}

// FuzzDecoder feeds arbitrary input, cut in arbitrary ways, and checks that
// the decoder never panics, that every cut yields the same values and the
// same error as feeding the input whole, and that every value it produces
// encodes and decodes back to itself.
func FuzzDecoder(f *testing.F) {
	for _, tc := range replyCases {
		f.Add([]byte(tc.in), []byte{3, 1}, uint8(0))
	}
	for _, tc := range malformedCases {
		f.Add([]byte(tc.in), []byte{0}, uint8(1))
	}
	f.Add(mustEncode(allTypes...), []byte{5, 0, 9}, uint8(0))
	f.Fuzz(func(t *testing.T, data, cuts []byte, sel uint8) {
		lim := fuzzLimits[int(sel)%len(fuzzLimits)]
		d := NewDecoder(lim)
		want := decode(d, testkit.Whole(data))
		for _, chunks := range [][][]byte{testkit.Chunks(data, cuts, 24), testkit.Bytewise(data)} {
			d.Reset()
			if got := decode(d, chunks); !got.same(want) {
				t.Fatalf("chunks %q:\ngot\n%v\nwant\n%v", chunks, got, want)
			}
		}
		if want.err != nil && d.Buffered() != 0 {
			t.Fatalf("failed decoder holds %d bytes", d.Buffered())
		}
		for i := range want.vals {
			v := &want.vals[i]
			enc, err := AppendValue(nil, v)
			if err != nil {
				t.Fatalf("decoded value %v does not encode: %v", v, err)
			}
			d.Reset()
			back := decode(d, testkit.Whole(enc))
			if back.err != nil || len(back.vals) != 1 || !equal(&back.vals[0], v) {
				t.Fatalf("%v encoded as %q decodes to\n%v", v, enc, back)
			}
		}
	})
}

// FuzzRoundTrip builds a value from fuzz input through the decoder and
// checks the encoder's output against it cut at every point, which
// exercises the incremental scanner on well-formed input far more often
// than random bytes would.
func FuzzRoundTrip(f *testing.F) {
	for i := range allTypes {
		f.Add(mustEncode(allTypes[i]))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var vals []Value
		new(Decoder).Feed(data, func(v *Value) error {
			vals = append(vals, v.Clone())
			return nil
		})
		if len(vals) == 0 {
			return
		}
		enc := mustEncode(vals...)
		want := outcome{vals: vals}
		d := new(Decoder)
		for s := range testkit.Splits(enc, testkit.SplitOptions{}) {
			d.Reset()
			if got := decode(d, s.Chunks); !got.same(want) {
				t.Fatalf("%q %s:\ngot\n%v\nwant\n%v", enc, s.Name, got, want)
			}
		}
	})
}
