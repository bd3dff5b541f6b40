package resp

import (
	"math/big"
	"strconv"
	"strings"
)

// Type identifies the kind of a RESP value. Its value is the byte that
// introduces the type on the wire.
type Type byte

// RESP2 types.
const (
	SimpleString Type = '+'
	SimpleError  Type = '-'
	Integer      Type = ':'
	BulkString   Type = '$'
	Array        Type = '*'
)

// RESP3 types.
const (
	Null           Type = '_'
	Double         Type = ','
	Boolean        Type = '#'
	BigNumber      Type = '('
	BlobError      Type = '!'
	VerbatimString Type = '='
	Map            Type = '%'
	Set            Type = '~'
	Push           Type = '>'

	// Attribute introduces metadata for the value that follows it. A
	// decoded Value never has this type: the attribute's pairs are found in
	// the Attrs field of the value they annotate.
	Attribute Type = '|'
)

var typeNames = [256]string{
	SimpleString:   "simple string",
	SimpleError:    "simple error",
	Integer:        "integer",
	BulkString:     "bulk string",
	Array:          "array",
	Null:           "null",
	Double:         "double",
	Boolean:        "boolean",
	BigNumber:      "big number",
	BlobError:      "blob error",
	VerbatimString: "verbatim string",
	Map:            "map",
	Set:            "set",
	Push:           "push",
	Attribute:      "attribute",
}

// String returns the type's name as the RESP specification spells it, such
// as "bulk string".
func (t Type) String() string {
	if s := typeNames[t]; s != "" {
		return s
	}
	return "Type(" + strconv.Quote(string(rune(t))) + ")"
}

// aggregate reports whether values of type t hold child values.
func (t Type) aggregate() bool {
	switch t {
	case Array, Map, Set, Push, Attribute:
		return true
	}
	return false
}

// Value is one decoded RESP value. Type says which fields are meaningful:
//
//	SimpleString, SimpleError, BulkString, BlobError  Str
//	VerbatimString                                    Format and Str (the text after "fmt:")
//	BigNumber                                         Str (decimal digits, maybe a leading '-')
//	Integer                                           Int
//	Double                                            Float (may be ±Inf or NaN)
//	Boolean                                           Bool
//	Array, Set, Push                                  Elems
//	Map                                               Elems: key, value, key, value, ...
//	Null                                              nothing
//
// The RESP2 nulls, "$-1" and "*-1", keep their type (BulkString or Array)
// and set Null, so that a reply can be told apart from its RESP3 form;
// IsNull reports all three kinds of null alike.
//
// A Value passed to a Decoder callback, and every slice reachable from it,
// belongs to the Decoder and is valid only during the callback; Clone makes a
// copy that may be kept.
type Value struct {
	Type   Type
	Null   bool    // RESP2 null bulk string or null array
	Bool   bool    // Boolean
	Format [3]byte // VerbatimString format, such as "txt" or "mkd"
	Int    int64   // Integer
	Float  float64 // Double
	Str    []byte  // the string forms; see above
	Elems  []Value // aggregate elements; see above
	// Attrs holds the pairs of an attribute ("|") that preceded this value
	// on the wire, as key, value, key, value, ...; nil when there was none.
	Attrs []Value
}

// IsNull reports whether v is a RESP3 null or a RESP2 null bulk string or
// null array.
func (v *Value) IsNull() bool { return v.Type == Null || v.Null }

// Err returns the server error carried by v as an *Error, or nil when v is
// not a SimpleError or BlobError.
func (v *Value) Err() error {
	if v.Type != SimpleError && v.Type != BlobError {
		return nil
	}
	return &Error{Msg: string(v.Str)}
}

// BigInt returns the value of a BigNumber. It reports false if v is not a
// BigNumber.
func (v *Value) BigInt() (*big.Int, bool) {
	if v.Type != BigNumber {
		return nil, false
	}
	return new(big.Int).SetString(string(v.Str), 10)
}

// Clone returns a deep copy of v that shares no memory with it, so that a
// value handed to a Decoder callback can be kept after the callback returns.
// All strings of the copy share one allocation and all child values another.
func (v *Value) Clone() Value {
	nvals, nbytes := v.footprint()
	c := cloner{
		vals:  make([]Value, 0, nvals),
		bytes: make([]byte, 0, nbytes),
	}
	return c.clone(v)
}

// footprint counts the values below v and the bytes of all their strings.
func (v *Value) footprint() (nvals, nbytes int) {
	nbytes = len(v.Str)
	for _, list := range [2][]Value{v.Elems, v.Attrs} {
		nvals += len(list)
		for i := range list {
			n, b := list[i].footprint()
			nvals += n
			nbytes += b
		}
	}
	return nvals, nbytes
}

// cloner carves the values and bytes of a deep copy out of two allocations
// sized in advance by footprint.
type cloner struct {
	vals  []Value
	bytes []byte
}

// clone copies v, its strings and, recursively, its lists.
func (c *cloner) clone(v *Value) Value {
	out := *v
	if v.Str != nil {
		start := len(c.bytes)
		c.bytes = append(c.bytes, v.Str...)
		out.Str = c.bytes[start:len(c.bytes):len(c.bytes)]
	}
	out.Elems = c.list(v.Elems)
	out.Attrs = c.list(v.Attrs)
	return out
}

// list copies a list of values; nil stays nil.
func (c *cloner) list(src []Value) []Value {
	if src == nil {
		return nil
	}
	// Reserve the slots first so that the children of src stay contiguous;
	// their own children are appended after them.
	start := len(c.vals)
	c.vals = c.vals[:start+len(src)]
	dst := c.vals[start : start+len(src) : start+len(src)]
	for i := range src {
		dst[i] = c.clone(&src[i])
	}
	return dst
}

// String formats v on one line for debugging and test failures, for
// example `[bulk "GET", int 1, null]`. The format is not stable.
func (v *Value) String() string {
	var b strings.Builder
	v.format(&b)
	return b.String()
}

// format writes the String form of v to b.
func (v *Value) format(b *strings.Builder) {
	if v.Attrs != nil {
		b.WriteString("|")
		formatList(b, "{", v.Attrs, "}")
		b.WriteString(" ")
	}
	switch v.Type {
	case SimpleString:
		b.WriteString("simple " + strconv.Quote(string(v.Str)))
	case SimpleError:
		b.WriteString("error " + strconv.Quote(string(v.Str)))
	case BlobError:
		b.WriteString("blob-error " + strconv.Quote(string(v.Str)))
	case BulkString:
		if v.Null {
			b.WriteString("nil-bulk")
			return
		}
		b.WriteString("bulk " + strconv.Quote(string(v.Str)))
	case VerbatimString:
		b.WriteString("verbatim " + strconv.Quote(string(v.Format[:])+":"+string(v.Str)))
	case BigNumber:
		b.WriteString("bignum " + string(v.Str))
	case Integer:
		b.WriteString("int " + strconv.FormatInt(v.Int, 10))
	case Double:
		b.WriteString("double " + strconv.FormatFloat(v.Float, 'g', -1, 64))
	case Boolean:
		b.WriteString("bool " + strconv.FormatBool(v.Bool))
	case Null:
		b.WriteString("null")
	case Array:
		if v.Null {
			b.WriteString("nil-array")
			return
		}
		formatList(b, "[", v.Elems, "]")
	case Set:
		formatList(b, "set[", v.Elems, "]")
	case Push:
		formatList(b, "push[", v.Elems, "]")
	case Map:
		formatList(b, "{", v.Elems, "}")
	default:
		b.WriteString(v.Type.String())
	}
}

// formatList writes list, comma separated, between open and end.
func formatList(b *strings.Builder, open string, list []Value, end string) {
	b.WriteString(open)
	for i := range list {
		if i > 0 {
			b.WriteString(", ")
		}
		list[i].format(b)
	}
	b.WriteString(end)
}
