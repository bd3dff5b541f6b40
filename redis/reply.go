package redis

import (
	"strconv"

	"github.com/egress-go/egress/resp"
)

// Reply is a server reply that outlives its callback: a deep copy of the
// decoded value, with accessors that convert it. A server error reply is
// a Reply too (Err returns it), which is how pipelines report the commands
// that failed among those that did not.
type Reply struct {
	v resp.Value
}

// Value returns the decoded value, for replies that the accessors do not
// cover.
func (r *Reply) Value() *resp.Value { return &r.v }

// Err returns the server's error (*resp.Error) when the reply is one, else
// nil.
func (r *Reply) Err() error { return r.v.Err() }

// IsNull reports whether the reply is a null (RESP3 null, or a RESP2 null
// bulk string or array).
func (r *Reply) IsNull() bool { return r.v.IsNull() }

// Text returns a string reply (bulk, simple or verbatim string, or a
// number in RESP3 form). A null gives ErrNil.
func (r *Reply) Text() (string, error) { return AsString(&r.v) }

// Int returns an integer reply, or a string reply holding an integer.
func (r *Reply) Int() (int64, error) { return AsInt(&r.v) }

// Float returns a double reply, or a string reply holding a number.
func (r *Reply) Float() (float64, error) { return AsFloat(&r.v) }

// Bool returns a boolean reply, or an integer reply as 0 or 1.
func (r *Reply) Bool() (bool, error) { return AsBool(&r.v) }

// Strings returns an array or set of strings; null elements become "".
func (r *Reply) Strings() ([]string, error) { return AsStrings(&r.v) }

// StringMap returns a map reply (RESP3) or a flat array of pairs (RESP2,
// as HGETALL and CONFIG GET send) as a map.
func (r *Reply) StringMap() (map[string]string, error) { return AsStringMap(&r.v) }

// String formats the reply for debugging.
func (r *Reply) String() string { return r.v.String() }

// The As functions convert a reply to Go values. They accept a value
// borrowed in a callback (they copy what they return) as well as a
// Reply's. A server error reply converts to its *resp.Error, a null to
// ErrNil, and a reply of another type to a *TypeError.

// AsString returns a string-like reply as a string.
func AsString(v *resp.Value) (string, error) {
	if err := check(v); err != nil {
		return "", err
	}
	switch v.Type {
	case resp.BulkString, resp.SimpleString, resp.VerbatimString, resp.BigNumber:
		return string(v.Str), nil
	case resp.Integer:
		return strconv.FormatInt(v.Int, 10), nil
	case resp.Double:
		return strconv.FormatFloat(v.Float, 'g', -1, 64), nil
	}
	return "", &TypeError{Want: "string", Got: v.Type.String()}
}

// AsInt returns an integer reply, or a string reply that holds one.
func AsInt(v *resp.Value) (int64, error) {
	if err := check(v); err != nil {
		return 0, err
	}
	switch v.Type {
	case resp.Integer:
		return v.Int, nil
	case resp.BulkString, resp.SimpleString:
		n, err := strconv.ParseInt(string(v.Str), 10, 64)
		if err != nil {
			return 0, &TypeError{Want: "integer", Got: v.Type.String()}
		}
		return n, nil
	case resp.Boolean:
		if v.Bool {
			return 1, nil
		}
		return 0, nil
	}
	return 0, &TypeError{Want: "integer", Got: v.Type.String()}
}

// AsFloat returns a double reply, or an integer or string reply that
// holds a number (RESP2 sends scores as strings).
func AsFloat(v *resp.Value) (float64, error) {
	if err := check(v); err != nil {
		return 0, err
	}
	switch v.Type {
	case resp.Double:
		return v.Float, nil
	case resp.Integer:
		return float64(v.Int), nil
	case resp.BulkString, resp.SimpleString:
		f, err := strconv.ParseFloat(string(v.Str), 64)
		if err != nil {
			return 0, &TypeError{Want: "number", Got: v.Type.String()}
		}
		return f, nil
	}
	return 0, &TypeError{Want: "number", Got: v.Type.String()}
}

// AsBool returns a boolean reply, or an integer reply as n != 0 (RESP2
// has no booleans), or "OK" as true.
func AsBool(v *resp.Value) (bool, error) {
	if err := check(v); err != nil {
		return false, err
	}
	switch v.Type {
	case resp.Boolean:
		return v.Bool, nil
	case resp.Integer:
		return v.Int != 0, nil
	case resp.SimpleString:
		return string(v.Str) == "OK", nil
	}
	return false, &TypeError{Want: "boolean", Got: v.Type.String()}
}

// AsOK checks for the "+OK" status reply.
func AsOK(v *resp.Value) error {
	if err := check(v); err != nil {
		return err
	}
	if v.Type == resp.SimpleString && string(v.Str) == "OK" {
		return nil
	}
	return &TypeError{Want: "OK", Got: v.String()}
}

// AsStrings returns an array, set or push of strings; null elements
// become "" (MGET reports missing keys that way: use the Value to tell).
func AsStrings(v *resp.Value) ([]string, error) {
	if err := check(v); err != nil {
		return nil, err
	}
	switch v.Type {
	case resp.Array, resp.Set, resp.Push, resp.Map:
	default:
		return nil, &TypeError{Want: "array", Got: v.Type.String()}
	}
	out := make([]string, len(v.Elems))
	for i := range v.Elems {
		e := &v.Elems[i]
		if e.IsNull() {
			continue
		}
		s, err := AsString(e)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// AsStringMap returns a map reply, or a flat array of key-value pairs as
// RESP2 sends maps, as a map.
func AsStringMap(v *resp.Value) (map[string]string, error) {
	if err := check(v); err != nil {
		return nil, err
	}
	if (v.Type != resp.Map && v.Type != resp.Array) || len(v.Elems)%2 != 0 {
		return nil, &TypeError{Want: "map", Got: v.Type.String()}
	}
	m := make(map[string]string, len(v.Elems)/2)
	for i := 0; i < len(v.Elems); i += 2 {
		k, err := AsString(&v.Elems[i])
		if err != nil {
			return nil, err
		}
		var s string
		if !v.Elems[i+1].IsNull() {
			if s, err = AsString(&v.Elems[i+1]); err != nil {
				return nil, err
			}
		}
		m[k] = s
	}
	return m, nil
}

// check turns error and null replies into errors.
func check(v *resp.Value) error {
	if v.Type == resp.SimpleError || v.Type == resp.BlobError {
		return v.Err()
	}
	if v.IsNull() {
		return ErrNil
	}
	return nil
}
