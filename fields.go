package egress

import (
	"context"

	"github.com/egress-go/egress/http1"
)

type fieldsHookKey struct{}

// WithResponseFields returns a copy of ctx that makes a RoundTrip using it
// call fn with each response head received for the request, interim
// (1xx) and final, and its header fields in the order the server sent
// them, names as received (lowercase over HTTP/2): what http.Header
// loses. fn runs on the connection's loop and must not block; fields are
// valid only during the call.
func WithResponseFields(ctx context.Context, fn func(status int, fields []HeaderField)) context.Context {
	return context.WithValue(ctx, fieldsHookKey{}, fn)
}

func fieldsHook(ctx context.Context) func(int, []HeaderField) {
	fn, _ := ctx.Value(fieldsHookKey{}).(func(int, []HeaderField))
	return fn
}

// headFields lists a head's fields in order.
func headFields(p responseHead) []HeaderField {
	switch h := p.(type) {
	case *http1.ResponseParser:
		raw := h.Fields()
		out := make([]HeaderField, len(raw))
		for i, f := range raw {
			out[i] = HeaderField{Name: string(f.Name), Value: string(f.Value)}
		}
		return out
	case *h2head:
		out := make([]HeaderField, len(h.h.Fields))
		for i, f := range h.h.Fields {
			out[i] = HeaderField(f)
		}
		return out
	}
	return nil
}
