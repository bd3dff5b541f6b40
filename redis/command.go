package redis

import (
	"strconv"
	"strings"
)

// cmdKind says where a command may run.
type cmdKind uint8

const (
	kindNormal   cmdKind = iota // any connection: the shared pipeline
	kindBlocking                // blocks its connection: a dedicated one per call
	kindStateful                // changes its connection's state: Conn only
	kindPubSub                  // switches the connection to pub/sub: PubSub only
	kindNoReply                 // breaks reply matching (CLIENT REPLY, MONITOR)
	kindWait                    // WAIT, WAITAOF: the shared connection, with a timeout
)

// classify looks at a command's name (and for a few, its arguments)
// without allocating.
func classify(args []string) cmdKind {
	name := args[0]
	var up [16]byte
	if len(name) > len(up) {
		return kindNormal
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		up[i] = c
	}
	switch string(up[:len(name)]) {
	case "BLPOP", "BRPOP", "BLMOVE", "BRPOPLPUSH", "BLMPOP", "BZPOPMIN", "BZPOPMAX", "BZMPOP":
		return kindBlocking
	case "WAIT", "WAITAOF":
		// They wait for the writes made on their own connection: on a
		// dedicated one, which has made none, they would return at once
		// and prove nothing. So they go on the shared connection that
		// carried the writes, holding it up to their timeout.
		return kindWait
	case "XREAD", "XREADGROUP":
		for _, a := range args[1:] {
			if strings.EqualFold(a, "BLOCK") {
				return kindBlocking
			}
		}
	case "SELECT", "AUTH", "HELLO", "RESET", "QUIT", "MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH", "SWAPDB", "READONLY", "READWRITE":
		return kindStateful
	case "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE":
		return kindPubSub
	case "MONITOR", "SYNC", "PSYNC":
		return kindNoReply
	case "CLIENT":
		if len(args) > 1 {
			switch {
			case strings.EqualFold(args[1], "REPLY"):
				return kindNoReply
			case strings.EqualFold(args[1], "TRACKING"), strings.EqualFold(args[1], "SETNAME"), strings.EqualFold(args[1], "NO-EVICT"), strings.EqualFold(args[1], "NO-TOUCH"):
				return kindStateful
			}
		}
	}
	return kindNormal
}

// checkWait refuses a WAIT or WAITAOF that could hold a shared connection
// forever: a timeout of 0 (or one that is not a number).
func checkWait(args []string) error {
	i := 2 // WAIT numreplicas timeout
	if len(args[0]) == 7 {
		i = 3 // WAITAOF numlocal numreplicas timeout
	}
	if len(args) <= i {
		return nil // the server answers the wrong arity
	}
	if n, err := strconv.ParseInt(args[i], 10, 64); err != nil || n <= 0 {
		return ErrWaitUnbounded
	}
	return nil
}
