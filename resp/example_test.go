package resp_test

import (
	"errors"
	"fmt"

	"github.com/egress-go/egress/resp"
)

// A driver feeds each read to the decoder and handles replies in the
// callback, converting them before it returns.
func ExampleDecoder() {
	var dec resp.Decoder // the zero value uses the default limits
	onValue := func(v *resp.Value) error {
		switch v.Type {
		case resp.Push:
			fmt.Printf("push %s on %s\n", v.Elems[0].Str, v.Elems[1].Str)
		case resp.SimpleError, resp.BlobError:
			fmt.Println("command failed:", v.Err())
		default:
			fmt.Println("reply:", v.String())
		}
		return nil
	}
	// Reads cut replies at arbitrary points.
	reads := []string{
		"+OK\r\n:4", "2\r\n$5\r\nhel",
		"lo\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
		">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n",
	}
	for _, r := range reads {
		if err := dec.Feed([]byte(r), onValue); err != nil {
			fmt.Println("closing connection:", err)
			return
		}
	}
	// Output:
	// reply: simple "OK"
	// reply: int 42
	// reply: bulk "hello"
	// command failed: WRONGTYPE Operation against a key holding the wrong kind of value
	// push message on news
}

func ExampleAppendCommand() {
	buf := resp.AppendCommand(nil, "SET", "greeting", "hello")
	fmt.Printf("%q\n", buf)

	// Mixed argument types, without converting to strings first.
	buf = resp.AppendArrayLen(buf[:0], 3)
	buf = resp.AppendBulkString(buf, "INCRBY")
	buf = resp.AppendBulkString(buf, "counter")
	buf = resp.AppendBulkInt(buf, 10)
	fmt.Printf("%q\n", buf)
	// Output:
	// "*3\r\n$3\r\nSET\r\n$8\r\ngreeting\r\n$5\r\nhello\r\n"
	// "*3\r\n$6\r\nINCRBY\r\n$7\r\ncounter\r\n$2\r\n10\r\n"
}

func ExampleError() {
	var err error
	resp.NewDecoder(resp.Limits{}).Feed([]byte("-MOVED 3999 127.0.0.1:6381\r\n"), func(v *resp.Value) error {
		err = v.Err()
		return nil
	})
	var rerr *resp.Error
	if errors.As(err, &rerr) && rerr.Prefix() == "MOVED" {
		fmt.Println("redirect:", rerr.Msg)
	}
	// Output:
	// redirect: MOVED 3999 127.0.0.1:6381
}

func ExampleValue_Clone() {
	var kept []resp.Value
	var dec resp.Decoder
	dec.Feed([]byte("*2\r\n$1\r\na\r\n$1\r\nb\r\n"), func(v *resp.Value) error {
		kept = append(kept, v.Clone()) // v itself is reused after return
		return nil
	})
	fmt.Println(kept[0].String())
	// Output:
	// [bulk "a", bulk "b"]
}

func ExampleLimits() {
	dec := resp.NewDecoder(resp.Limits{MaxBulkLen: 1 << 20})
	err := dec.Feed([]byte("$1073741824\r\n"), func(*resp.Value) error { return nil })
	fmt.Println(err)
	fmt.Println(errors.Is(err, resp.ErrLimit))
	// Output:
	// resp: bulk length 1073741824 exceeds the limit of 1048576
	// true
}
