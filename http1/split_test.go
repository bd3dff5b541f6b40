package http1

import (
	"math/rand/v2"
	"testing"
)

// TestSplitEquivalence feeds every table case whole, a byte at a time, cut
// at every single offset, and cut at random offsets, and requires the same
// events, body, trailers, flags and error from each.
func TestSplitEquivalence(t *testing.T) {
	cases := append(append([]respCase(nil), validResponses...), invalidResponses...)
	rng := rand.New(rand.NewPCG(1, 2))
	var p ResponseParser
	for _, c := range cases {
		in := []byte(c.in)
		p.Limits = c.limits
		want := parse(&p, c.method, [][]byte{in}, true).String()
		check := func(how string, chunks [][]byte) {
			t.Helper()
			if got := parse(&p, c.method, chunks, true).String(); got != want {
				t.Fatalf("%s: fed %s:\n got %s\nwant %s", c.name, how, got, want)
			}
		}
		check("byte by byte", bytewise(in))
		// Every split point is quadratic; the few large inputs (limits)
		// get random splits only.
		if len(in) <= 4096 {
			for i := 0; i <= len(in); i++ {
				check("split at "+itoa(i), splitAt(in, i))
			}
		}
		for range 20 {
			if len(in) < 2 {
				break
			}
			a, b := rng.IntN(len(in)), rng.IntN(len(in))
			check("split at "+itoa(min(a, b))+","+itoa(max(a, b)), splitAt(in, min(a, b), max(a, b)))
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
		var chunks [][]byte
		for i := range in {
			chunks = append(chunks, nil, in[i:i+1])
		}
		chunks = append(chunks, nil)
		if got := parse(&p, c.method, chunks, true).String(); got != want {
			t.Fatalf("%s:\n got %s\nwant %s", c.name, got, want)
		}
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
