package target

import (
	"bytes"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// routeKind is what a request asks for.
type routeKind uint8

const (
	routeHello routeKind = iota
	routeBytes
	routeChunked
	routeDelay
	routeStatus
	routeEcho
	routeNotFound
	routeBad
)

// Bounds on what a request may ask for. Bodies are generated as the socket
// drains, so the byte bound is about not streaming forever, not memory.
const (
	maxBytes      = 1 << 40
	maxChunks     = 1 << 30
	maxChunkSize  = 1 << 20
	maxDelay      = 5 * time.Minute
	defaultChunks = 10
	defaultChunk  = 1024
)

// route is a parsed request-target.
type route struct {
	kind  routeKind
	n     int64 // bytes, chunks, delay in ms or status code
	size  int64 // chunk size
	cause string
}

// parseRoute maps a request-target to its endpoint. The common endpoints
// are parsed without allocating; only /chunked reads a query.
func parseRoute(target []byte) route {
	path, query := target, []byte(nil)
	if i := bytes.IndexByte(target, '?'); i >= 0 {
		path, query = target[:i], target[i+1:]
	}
	// absolute-form, as sent to a proxy: keep the path.
	if bytes.HasPrefix(path, []byte("http://")) || bytes.HasPrefix(path, []byte("https://")) {
		rest := path[bytes.Index(path, []byte("//"))+2:]
		if i := bytes.IndexByte(rest, '/'); i >= 0 {
			path = rest[i:]
		} else {
			path = []byte("/")
		}
	}
	switch {
	case string(path) == "/":
		return route{kind: routeHello}
	case string(path) == "/echo":
		return route{kind: routeEcho}
	case string(path) == "/chunked":
		return chunkedRoute(query)
	}
	if n, ok := numberAfter(path, "/bytes/", maxBytes); ok {
		return route{kind: routeBytes, n: n}
	} else if hasPrefix(path, "/bytes/") {
		return route{kind: routeBad, cause: "/bytes/N needs 0 <= N <= 2^40"}
	}
	if n, ok := numberAfter(path, "/delay/", maxDelay.Milliseconds()); ok {
		return route{kind: routeDelay, n: n}
	} else if hasPrefix(path, "/delay/") {
		return route{kind: routeBad, cause: "/delay/MS needs 0 <= MS <= 300000"}
	}
	if n, ok := numberAfter(path, "/status/", 599); ok && n >= 200 {
		return route{kind: routeStatus, n: n}
	} else if hasPrefix(path, "/status/") {
		return route{kind: routeBad, cause: "/status/CODE needs 200 <= CODE <= 599"}
	}
	return route{kind: routeNotFound}
}

// simple returns the status and small body of the routes answered in one
// piece (hello, delay once it is over, status, not found, bad request),
// for both the engine's HTTP/1.1 path and the net/http HTTP/2 one.
func (r route) simple() (int, string) {
	switch r.kind {
	case routeHello, routeDelay:
		return http.StatusOK, helloBody
	case routeStatus:
		code := int(r.n)
		return code, strconv.Itoa(code) + " " + http.StatusText(code) + "\n"
	case routeBad:
		return http.StatusBadRequest, r.cause + "\n"
	}
	return http.StatusNotFound, "not found\n"
}

func chunkedRoute(query []byte) route {
	r := route{kind: routeChunked, n: defaultChunks, size: defaultChunk}
	if len(query) == 0 {
		return r
	}
	q, err := url.ParseQuery(string(query))
	if err != nil {
		return route{kind: routeBad, cause: "bad query"}
	}
	var ok bool
	if v := q.Get("n"); v != "" {
		if r.n, ok = number([]byte(v), maxChunks); !ok {
			return route{kind: routeBad, cause: "/chunked needs 0 <= n <= 2^30"}
		}
	}
	if v := q.Get("size"); v != "" {
		if r.size, ok = number([]byte(v), maxChunkSize); !ok || r.size == 0 {
			return route{kind: routeBad, cause: "/chunked needs 1 <= size <= 2^20"}
		}
	}
	return r
}

func hasPrefix(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && string(b[:len(prefix)]) == prefix
}

// numberAfter parses the decimal number that follows prefix in path.
func numberAfter(path []byte, prefix string, limit int64) (int64, bool) {
	if !hasPrefix(path, prefix) {
		return 0, false
	}
	return number(path[len(prefix):], limit)
}

// number parses 1*DIGIT no greater than limit.
func number(b []byte, limit int64) (int64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
		if n > limit {
			return 0, false
		}
	}
	return n, true
}
