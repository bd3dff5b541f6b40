package resp

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// AppendCommand appends a command, an array of bulk strings, to dst and
// returns the extended slice:
//
//	buf = resp.AppendCommand(buf[:0], "SET", key, value)
func AppendCommand(dst []byte, args ...string) []byte {
	dst = AppendArrayLen(dst, len(args))
	for _, a := range args {
		dst = AppendBulkString(dst, a)
	}
	return dst
}

// AppendCommandBytes is AppendCommand for arguments held in byte slices.
func AppendCommandBytes(dst []byte, args ...[]byte) []byte {
	dst = AppendArrayLen(dst, len(args))
	for _, a := range args {
		dst = AppendBulk(dst, a)
	}
	return dst
}

// AppendArrayLen appends the header of an array of n elements. With the
// AppendBulk functions it builds commands whose arguments have mixed types
// without converting them to strings first:
//
//	buf = resp.AppendArrayLen(buf, 3)
//	buf = resp.AppendBulkString(buf, "EXPIRE")
//	buf = resp.AppendBulkString(buf, key)
//	buf = resp.AppendBulkInt(buf, seconds)
func AppendArrayLen(dst []byte, n int) []byte {
	return appendHeader(dst, byte(Array), int64(n))
}

// AppendBulkString appends s as a bulk string.
func AppendBulkString(dst []byte, s string) []byte {
	dst = appendHeader(dst, byte(BulkString), int64(len(s)))
	dst = append(dst, s...)
	return append(dst, '\r', '\n')
}

// AppendBulk appends b as a bulk string.
func AppendBulk(dst []byte, b []byte) []byte {
	dst = appendHeader(dst, byte(BulkString), int64(len(b)))
	dst = append(dst, b...)
	return append(dst, '\r', '\n')
}

// AppendBulkInt appends the decimal form of n as a bulk string, the way
// Redis expects integer arguments, without allocating.
func AppendBulkInt(dst []byte, n int64) []byte {
	var tmp [20]byte
	return AppendBulk(dst, strconv.AppendInt(tmp[:0], n, 10))
}

// AppendBulkUint is AppendBulkInt for unsigned integers.
func AppendBulkUint(dst []byte, n uint64) []byte {
	var tmp [20]byte
	return AppendBulk(dst, strconv.AppendUint(tmp[:0], n, 10))
}

// AppendBulkFloat appends f as a bulk string in the shortest form that
// reads back as f, with infinities as "inf" and "-inf" as Redis spells them
// (in ZADD scores and ZRANGEBYSCORE bounds, for example).
func AppendBulkFloat(dst []byte, f float64) []byte {
	var tmp [32]byte
	return AppendBulk(dst, appendFloat(tmp[:0], f))
}

// appendFloat appends f in the text form RESP uses for doubles.
func appendFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	case math.IsNaN(f):
		return append(dst, "nan"...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

// appendHeader appends a type byte, a decimal number and CRLF.
func appendHeader(dst []byte, t byte, n int64) []byte {
	dst = append(dst, t)
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, '\r', '\n')
}

// ErrInvalidValue is wrapped by the errors of AppendValue.
var ErrInvalidValue = errors.New("resp: value cannot be encoded")

// AppendValue appends the RESP encoding of v to dst, preceded by its
// attribute when v.Attrs is not nil. It is meant for tests and servers; a
// client sends commands with AppendCommand. It fails, returning dst
// unchanged, if v cannot be encoded so that it decodes back to itself: a
// simple string or error containing CR or LF, an odd number of elements
// in a map or attribute, a malformed big number, or an unknown type.
func AppendValue(dst []byte, v *Value) ([]byte, error) {
	out, err := appendValue(dst, v)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// appendValue does the work of AppendValue; on error, dst may hold a partial
// encoding, which AppendValue discards.
func appendValue(dst []byte, v *Value) ([]byte, error) {
	var err error
	if v.Attrs != nil {
		if len(v.Attrs)%2 != 0 {
			return dst, fmt.Errorf("%w: attribute with %d elements, not pairs", ErrInvalidValue, len(v.Attrs))
		}
		dst = appendHeader(dst, byte(Attribute), int64(len(v.Attrs)/2))
		if dst, err = appendList(dst, v.Attrs); err != nil {
			return dst, err
		}
	}
	switch v.Type {
	case SimpleString, SimpleError:
		if bytes.ContainsAny(v.Str, "\r\n") {
			return dst, fmt.Errorf("%w: %v contains CR or LF", ErrInvalidValue, v.Type)
		}
		dst = append(dst, byte(v.Type))
		dst = append(dst, v.Str...)
		return append(dst, '\r', '\n'), nil
	case BulkString:
		if v.Null {
			return append(dst, "$-1\r\n"...), nil
		}
		return AppendBulk(dst, v.Str), nil
	case BlobError:
		dst = appendHeader(dst, byte(BlobError), int64(len(v.Str)))
		dst = append(dst, v.Str...)
		return append(dst, '\r', '\n'), nil
	case VerbatimString:
		dst = appendHeader(dst, byte(VerbatimString), int64(len(v.Str)+4))
		dst = append(dst, v.Format[:]...)
		dst = append(dst, ':')
		dst = append(dst, v.Str...)
		return append(dst, '\r', '\n'), nil
	case Integer:
		return appendHeader(dst, byte(Integer), v.Int), nil
	case Double:
		dst = append(dst, byte(Double))
		dst = appendFloat(dst, v.Float)
		return append(dst, '\r', '\n'), nil
	case Boolean:
		if v.Bool {
			return append(dst, "#t\r\n"...), nil
		}
		return append(dst, "#f\r\n"...), nil
	case Null:
		return append(dst, "_\r\n"...), nil
	case BigNumber:
		if !isDecimal(v.Str) {
			return dst, fmt.Errorf("%w: big number %q", ErrInvalidValue, v.Str)
		}
		dst = append(dst, byte(BigNumber))
		dst = append(dst, v.Str...)
		return append(dst, '\r', '\n'), nil
	case Array:
		if v.Null {
			return append(dst, "*-1\r\n"...), nil
		}
		fallthrough
	case Set, Push:
		dst = appendHeader(dst, byte(v.Type), int64(len(v.Elems)))
		return appendList(dst, v.Elems)
	case Map:
		if len(v.Elems)%2 != 0 {
			return dst, fmt.Errorf("%w: map with %d elements, not pairs", ErrInvalidValue, len(v.Elems))
		}
		dst = appendHeader(dst, byte(Map), int64(len(v.Elems)/2))
		return appendList(dst, v.Elems)
	}
	return dst, fmt.Errorf("%w: type %v", ErrInvalidValue, v.Type)
}

// appendList appends each value of list in order.
func appendList(dst []byte, list []Value) ([]byte, error) {
	var err error
	for i := range list {
		if dst, err = appendValue(dst, &list[i]); err != nil {
			return dst, err
		}
	}
	return dst, nil
}
