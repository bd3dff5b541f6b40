package egress

import (
	"testing"
)

func newTestTransport(t *testing.T, opts Options) *Transport {
	t.Helper()
	tr, err := NewTransport(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}
