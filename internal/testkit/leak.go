package testkit

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// leakWait bounds how long a leak check waits for goroutines and
// descriptors to go: closing is asynchronous (a loop finishing its last
// callback, a handler goroutine seeing EOF), and a busy 2-core machine
// under -race can take a while.
const leakWait = 5 * time.Second

var netpollOnce sync.Once

// CheckLeaks fails t if, when t ends, goroutines or network descriptors
// (sockets, epoll, eventfd) remain that were not there when CheckLeaks was
// called. It registers a cleanup that waits, bounded, for them to go, and
// on failure prints each leaked descriptor and the stack of each leaked
// goroutine.
//
// Call it first in a test: cleanups run last-registered first, so the
// check runs after the test's own (servers closed, engines shut down).
// Goroutines and descriptors are compared by identity, not only counted,
// so one that ends cannot hide another that leaks.
func CheckLeaks(t testing.TB) {
	t.Helper()
	s := TakeSnapshot()
	t.Cleanup(func() {
		t.Helper()
		s.check(t, leakWait)
	})
}

// Snapshot is the goroutines and network descriptors open at one moment,
// for a test to check, part way through, that an operation left nothing
// behind while the servers it talked to still run (a leaked connection
// whose goroutine would end only when the server closes it).
type Snapshot struct {
	goroutines  map[int64]goroutine
	descriptors map[int]string
}

// TakeSnapshot records the goroutines and network descriptors open now.
func TakeSnapshot() *Snapshot {
	// Go's own poller opens an epoll and an eventfd on first use; make
	// sure that happened before the snapshot.
	netpollOnce.Do(func() {
		if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
			ln.Close()
		}
	})
	return &Snapshot{goroutines(), descriptors()}
}

// Check fails t if goroutines or descriptors that were not in the
// snapshot are still there after a bounded wait, reporting as CheckLeaks
// does.
func (s *Snapshot) Check(t testing.TB) {
	t.Helper()
	s.check(t, leakWait)
}

func (s *Snapshot) check(t testing.TB, wait time.Duration) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		// More goroutines than in the snapshot means at least one new:
		// no need for the (stop-the-world) stack dump yet.
		if runtime.NumGoroutine() <= len(s.goroutines) {
			if len(newGoroutines(s.goroutines, goroutines())) == 0 && !hasNew(s.descriptors, descriptors()) {
				return
			}
		}
		if time.Now().After(deadline) {
			gs := newGoroutines(s.goroutines, goroutines())
			fs := newDescriptors(s.descriptors, descriptors())
			if len(gs) > 0 || len(fs) > 0 {
				t.Errorf("%s", leakReport(gs, fs))
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// goroutine is one goroutine of a stack dump.
type goroutine struct {
	id    int64
	stack string
}

// goroutines returns every goroutine of the program with its stack, the
// runtime's own excepted.
func goroutines() map[int64]goroutine {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[int64]goroutine{}
	for block := range bytes.SplitSeq(buf, []byte("\n\n")) {
		s := string(bytes.TrimSpace(block))
		// "goroutine 42 [chan receive]:" (more words with some
		// GOTRACEBACK settings).
		f := strings.Fields(s)
		if len(f) < 2 || f[0] != "goroutine" {
			continue
		}
		id, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		// The runtime's own (finalizers, cleanups, GC workers when
		// GOTRACEBACK shows them) come and go as it pleases.
		if strings.Contains(s, "\ncreated by runtime.") {
			continue
		}
		out[id] = goroutine{id, s}
	}
	return out
}

// newGoroutines returns those of now that are not in before, oldest first.
func newGoroutines(before, now map[int64]goroutine) []goroutine {
	var out []goroutine
	for id, g := range now {
		if _, ok := before[id]; !ok {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(a, b goroutine) int { return int(a.id - b.id) })
	return out
}

// Descriptors counts the open descriptors a network test can leak: sockets
// and pollers (epoll, eventfd). Other files (the runtime's cgroup files,
// the test framework's pipes) come and go on their own and are not
// counted. It returns 0 where /proc is missing.
func Descriptors() int {
	return len(descriptors())
}

// descriptors maps each open socket or poller descriptor to what it is
// ("socket:[1234]", "anon_inode:[eventpoll]"): a descriptor number reused
// for another socket reads differently.
func descriptors() map[int]string {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil
	}
	out := map[int]string{}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		if strings.HasPrefix(l, "socket:") || strings.HasPrefix(l, "anon_inode:") {
			out[fd] = l
		}
	}
	return out
}

// hasNew reports whether now has a descriptor that before has not.
func hasNew(before, now map[int]string) bool {
	for fd, l := range now {
		if before[fd] != l {
			return true
		}
	}
	return false
}

// newDescriptors describes the descriptors of now that are not in before.
func newDescriptors(before, now map[int]string) []string {
	var fds []int
	socks := map[string]string{}
	for fd, l := range now {
		if before[fd] != l {
			fds = append(fds, fd)
			if strings.HasPrefix(l, "socket:") {
				socks[l] = ""
			}
		}
	}
	slices.Sort(fds)
	if len(socks) > 0 {
		describeTCP(socks)
	}
	var out []string
	for _, fd := range fds {
		d := fmt.Sprintf("fd %d %s", fd, now[fd])
		if s := socks[now[fd]]; s != "" {
			d += " " + s
		}
		out = append(out, d)
	}
	return out
}

// describeTCP fills in, for the sockets of socks (keyed as /proc/self/fd
// names them, "socket:[1234]") that are TCP, where they go: "tcp
// 127.0.0.1:40000 -> 127.0.0.1:6379 ESTABLISHED". The tables list every
// socket of the network namespace, tens of thousands on a machine that
// runs benchmarks, so each inode is searched for in the whole table and
// only the lines that hold it are parsed.
func describeTCP(socks map[string]string) {
	for _, name := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		table, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		for key := range socks {
			inode := strings.TrimSuffix(strings.TrimPrefix(key, "socket:["), "]")
			pat := []byte(" " + inode + " ")
			for off := 0; ; {
				i := bytes.Index(table[off:], pat)
				if i < 0 {
					break
				}
				i += off
				start := bytes.LastIndexByte(table[:i], '\n') + 1
				end := i + bytes.IndexByte(table[i:], '\n')
				if end < i {
					end = len(table)
				}
				off = end
				// sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
				fs := strings.Fields(string(table[start:end]))
				if len(fs) >= 10 && fs[9] == inode {
					socks[key] = fmt.Sprintf("tcp %s -> %s %s", procAddr(fs[1]), procAddr(fs[2]), tcpState(fs[3]))
					break
				}
			}
		}
	}
}

// tcpState names the state /proc/net/tcp gives in hex (the kernel's
// TCP_ESTABLISHED and on).
func tcpState(hex string) string {
	names := []string{"ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
		"CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING"}
	if n, err := strconv.ParseUint(hex, 16, 8); err == nil && n >= 1 && int(n) <= len(names) {
		return names[n-1]
	}
	return "state " + hex
}

// procAddr turns /proc/net/tcp's "0100007F:1F90" into "127.0.0.1:8080".
// The kernel prints the address 32 bits at a time, each in host order.
func procAddr(s string) string {
	host, port, ok := strings.Cut(s, ":")
	p, err := strconv.ParseUint(port, 16, 16)
	if !ok || err != nil || len(host)%8 != 0 {
		return s
	}
	ip := make(net.IP, 0, len(host)/2)
	for i := 0; i < len(host); i += 8 {
		w, err := strconv.ParseUint(host[i:i+8], 16, 32)
		if err != nil {
			return s
		}
		ip = binary.NativeEndian.AppendUint32(ip, uint32(w))
	}
	return net.JoinHostPort(ip.String(), strconv.FormatUint(p, 10))
}

func leakReport(gs []goroutine, fs []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "leak: %d goroutines and %d sockets or pollers left behind", len(gs), len(fs))
	for _, f := range fs {
		b.WriteString("\n  " + f)
	}
	for _, g := range gs {
		b.WriteString("\n\n" + g.stack)
	}
	return b.String()
}
