package resp

import (
	"errors"
	"testing"
)

func TestErrorPrefix(t *testing.T) {
	for _, tc := range []struct{ msg, prefix string }{
		{"ERR unknown command", "ERR"},
		{"WRONGTYPE Operation against a key holding the wrong kind of value", "WRONGTYPE"},
		{"MOVED 3999 127.0.0.1:6381", "MOVED"},
		{"NOAUTH", "NOAUTH"},
		{"", ""},
	} {
		e := &Error{Msg: tc.msg}
		if e.Prefix() != tc.prefix || e.Error() != tc.msg {
			t.Errorf("%q: prefix %q", tc.msg, e.Prefix())
		}
	}
}

func TestValueErr(t *testing.T) {
	var got []error
	d := new(Decoder)
	d.Feed([]byte("-MOVED 1 h:1\r\n!9\r\nSYNTAX no\r\n+OK\r\n"), func(v *Value) error {
		got = append(got, v.Err())
		return nil
	})
	var e *Error
	if len(got) != 3 || !errors.As(got[0], &e) || e.Prefix() != "MOVED" ||
		!errors.As(got[1], &e) || e.Msg != "SYNTAX no" || got[2] != nil {
		t.Fatalf("got %v", got)
	}
}

func TestClone(t *testing.T) {
	in := []byte("|1\r\n+a\r\n*1\r\n$1\r\nb\r\n*3\r\n$5\r\nhello\r\n%1\r\n+k\r\n~1\r\n:1\r\n|0\r\n_\r\n")
	var kept Value
	new(Decoder).Feed(in, func(v *Value) error { kept = v.Clone(); return nil })
	for i := range in {
		in[i] = 0
	}
	want := withAttrs(arr(bulk("hello"), mapOf(simple("k"), set(integer(1))), withAttrs(null())),
		simple("a"), arr(bulk("b")))
	if !equal(&kept, &want) {
		t.Fatalf("clone %v", &kept)
	}
	// The clone's lists must not share backing arrays with each other.
	kept.Elems[1].Elems = append(kept.Elems[1].Elems, integer(9))
	if !equal(&kept.Elems[2], &want.Elems[2]) {
		t.Fatal("appending to one list changed another")
	}
}

func TestIsNullAndBigInt(t *testing.T) {
	for _, v := range []Value{null(), nilBulk(), nilArray()} {
		if !v.IsNull() {
			t.Errorf("%v not null", &v)
		}
	}
	if v := bulk(""); v.IsNull() {
		t.Error("empty bulk is null")
	}
	v := bignum("-123456789012345678901234567890")
	if n, ok := v.BigInt(); !ok || n.String() != "-123456789012345678901234567890" {
		t.Errorf("BigInt = %v, %v", n, ok)
	}
	if v := integer(1); v.Err() != nil {
		t.Error("integer has an error")
	}
	if _, ok := (&Value{Type: Integer}).BigInt(); ok {
		t.Error("BigInt of an integer")
	}
}

func TestTypeString(t *testing.T) {
	if BulkString.String() != "bulk string" || Type('X').String() != `Type("X")` {
		t.Fatalf("%v %v", BulkString, Type('X'))
	}
	v := arr(bulk("GET"), integer(1), null(), nilBulk(), withAttrs(double(1.5), simple("k"), boolean(true)))
	const want = `[bulk "GET", int 1, null, nil-bulk, |{simple "k", bool true} double 1.5]`
	if v.String() != want {
		t.Fatalf("got  %s\nwant %s", v.String(), want)
	}
}
