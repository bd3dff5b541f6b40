// Package measure reads what a benchmark reports: a process's CPU time,
// its resident memory, the Go runtime's heap and stack, and how busy the
// machine's cores are.
package measure

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CPU returns the user+system CPU time this process has used.
func CPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// RSS returns this process's resident set size in bytes.
func RSS() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// PeakRSS returns this process's peak resident set size in bytes (VmHWM
// in /proc/self/status) since it started or since ResetPeakRSS.
func PeakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return parseHWM(string(b))
}

// parseHWM takes the VmHWM line of a status file, in kB.
func parseHWM(status string) int64 {
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				return 0
			}
			kb, _ := strconv.ParseInt(f[0], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// ResetPeakRSS restarts the peak at the present RSS (Linux 4.0 and
// later), so that PeakRSS covers a measurement and not what the process
// held before it.
func ResetPeakRSS() error {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// Memory is a snapshot of a process's memory.
type Memory struct {
	RSS   int64 // resident set size
	Heap  int64 // Go heap in use
	Stack int64 // goroutine stacks in use
}

// Settle collects garbage twice, returns freed memory to the OS, waits for
// the dust to settle and reads the process's memory.
func Settle() Memory {
	runtime.GC()
	runtime.GC()
	debug.FreeOSMemory()
	time.Sleep(300 * time.Millisecond)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return Memory{RSS: RSS(), Heap: int64(ms.HeapInuse), Stack: int64(ms.StackInuse)}
}

// PerConn is the memory each of n connections added between two snapshots.
func PerConn(before, after Memory, n int) (rss, heap, stack float64) {
	d := float64(n)
	return float64(after.RSS-before.RSS) / d, float64(after.Heap-before.Heap) / d, float64(after.Stack-before.Stack) / d
}

// CoreTimes are the machine's cumulative busy and total jiffies.
type CoreTimes struct{ Busy, Total uint64 }

// ReadCoreTimes reads /proc/stat's aggregate cpu line.
func ReadCoreTimes() CoreTimes {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return CoreTimes{}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return CoreTimes{}
	}
	fields := bytes.Fields(sc.Bytes())[1:]
	var t CoreTimes
	for i, fv := range fields {
		v, _ := strconv.ParseUint(string(fv), 10, 64)
		t.Total += v
		if i != 3 && i != 4 { // idle, iowait
			t.Busy += v
		}
	}
	return t
}

// Busy is the share of all cores that was busy between a and b.
func Busy(a, b CoreTimes) float64 {
	if b.Total <= a.Total {
		return 0
	}
	return float64(b.Busy-a.Busy) / float64(b.Total-a.Total)
}

// Jiffies converts core-time deltas to CPU time (USER_HZ is 100 on Linux).
func Jiffies(a, b CoreTimes) time.Duration {
	return time.Duration(b.Busy-a.Busy) * 10 * time.Millisecond
}

// WaitIdle waits, up to limit, until the cores are at most maxBusy busy
// over a 200 ms window. It reports the last busy share seen.
func WaitIdle(maxBusy float64, limit time.Duration) float64 {
	deadline := time.Now().Add(limit)
	for {
		a := ReadCoreTimes()
		time.Sleep(200 * time.Millisecond)
		busy := Busy(a, ReadCoreTimes())
		if busy <= maxBusy || time.Now().After(deadline) {
			return busy
		}
	}
}

// FileLimit returns the soft limit on open files after raising it to the
// hard limit.
func FileLimit() int {
	var rl syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	rl.Cur = rl.Max
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	return int(rl.Cur)
}

// LoopbackAddrs returns n listen addresses on 127.0.0.1 ... 127.0.0.n.
func LoopbackAddrs(n int) []string {
	a := make([]string, n)
	for i := range a {
		a[i] = fmt.Sprintf("127.0.0.%d:0", i+1)
	}
	return a
}
