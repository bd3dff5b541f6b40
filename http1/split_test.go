package http1

import (
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

// TestSplitEquivalence feeds every table case whole, a byte at a time, cut
// at every single offset, and cut at random offsets, and requires the same
// events, body, trailers, flags and error from each.
func TestSplitEquivalence(t *testing.T) {
	cases := append(append([]respCase(nil), validResponses...), invalidResponses...)
	var p ResponseParser
	for _, c := range cases {
		in := []byte(c.in)
		p.Limits = c.limits
		want := parse(&p, c.method, [][]byte{in}, true).String()
		// Every split point is quadratic; the few large inputs (limits)
		// get random splits only.
		for s := range testkit.Splits(in, testkit.SplitOptions{MaxEvery: 4096, Random: 20, Seed: 1}) {
			if got := parse(&p, c.method, s.Chunks, true).String(); got != want {
				t.Fatalf("%s: fed %s:\n got %s\nwant %s", c.name, s.Name, got, want)
			}
		}
	}
}

// TestSplitWithEmptyReads checks that empty inputs between real ones
// change nothing, as a loop may well call Feed with nothing new.
func TestSplitWithEmptyReads(t *testing.T) {
	var p ResponseParser
	for _, c := range validResponses {
		in := []byte(c.in)
		want := parse(&p, c.method, [][]byte{in}, true).String()
		chunks := testkit.WithEmptyReads(testkit.Bytewise(in))
		if got := parse(&p, c.method, chunks, true).String(); got != want {
			t.Fatalf("%s:\n got %s\nwant %s", c.name, got, want)
		}
	}
}
