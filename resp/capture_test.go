package resp

import (
	"bytes"
	"os"
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

// TestRedisCapture decodes replies captured from redis-server 7.0 speaking
// RESP3 (HELLO 3, strings, lists, hashes, sets, sorted sets with scores,
// MULTI/EXEC with an error inside, error replies, DEBUG PROTOCOL's
// attribute, big number, boolean, verbatim, double, null, map and set,
// a client-tracking invalidation push and a subscribe push). It checks
// that every cut gives the same values and that they re-encode to exactly
// the bytes the server sent.
func TestRedisCapture(t *testing.T) {
	in, err := os.ReadFile("testdata/redis-7.0-resp3.bin")
	if err != nil {
		t.Fatal(err)
	}
	d := new(Decoder)
	want := decode(d, testkit.Whole(in))
	if want.err != nil || len(want.vals) != 35 || want.buffered != 0 {
		t.Fatalf("whole capture:\n%v", want)
	}
	for s := range testkit.Splits(in, testkit.SplitOptions{}) {
		d.Reset()
		if got := decode(d, s.Chunks); !got.same(want) {
			t.Fatalf("%s:\n%v", s.Name, got)
		}
	}
	var re []byte
	for i := range want.vals {
		if re, err = AppendValue(re, &want.vals[i]); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(re, in) {
		t.Fatal("re-encoded capture differs from what the server sent")
	}
	for i, s := range map[int]string{
		0:  `{bulk "server", bulk "redis", bulk "version", bulk "7.0.15", bulk "proto", int 3, bulk "id", int 4, bulk "mode", bulk "standalone", bulk "role", bulk "master", bulk "modules", []}`,
		18: `[simple "OK", error "ERR value is not an integer or out of range"]`,
		21: `|{bulk "key-popularity", [bulk "key:123", int 90]} bulk "Some real reply following the attribute"`,
		32: `push[bulk "invalidate", [bulk "k"]]`,
	} {
		if got := want.vals[i].String(); got != s {
			t.Errorf("value %d: %s", i, got)
		}
	}
}
