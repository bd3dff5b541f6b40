package testkit_test

import (
	"context"
	"errors"
	"testing"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/internal/testkit"
)

// TestRecorderOnEngine: a Recorder of engine connections is an
// engine.Handler, and the kit's parts work together on a real loop.
func TestRecorderOnEngine(t *testing.T) {
	testkit.CheckLeaks(t)
	srv := testkit.NewServer(t, testkit.Echo)
	e, err := engine.New(engine.Config{Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	var h engine.Handler = testkit.NewRecorder[*engine.Conn]()
	r := h.(*testkit.Recorder[*engine.Conn])
	r.OpenHook = func(c *engine.Conn) { c.Write([]byte("ping")) }
	c, err := e.Dial(context.Background(), "tcp", srv.Addr(), r, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.WaitOpen(t)
	if got := string(r.WaitData(t, 4)); got != "ping" {
		t.Fatalf("echo %q", got)
	}
	c.Close()
	if err := r.WaitClose(t); !errors.Is(err, engine.ErrLocalClose) {
		t.Fatalf("close reason %v", err)
	}
	testkit.WaitFor(t, "the server to see the close", func() bool { return srv.Finished() == 1 })
}
