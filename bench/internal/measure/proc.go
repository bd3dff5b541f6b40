package measure

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, the unit of /proc's CPU times; 100 on Linux.
const clockTick = 10 * time.Millisecond

// ProcTreeCPU returns the user+system CPU time that a running process and
// its children (nginx's master and workers) have used so far. It reads
// /proc, so it works for processes the harness did not wait for.
func ProcTreeCPU(pid int) time.Duration {
	total := procCPU(pid)
	for _, c := range procChildren(pid) {
		total += ProcTreeCPU(c)
	}
	return total
}

// procCPU reads utime and stime from /proc/PID/stat.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	return parseStatCPU(string(b))
}

// parseStatCPU takes fields 14 and 15 of a stat line. The command name
// (field 2) may hold spaces, so fields are counted after its ')'.
func parseStatCPU(stat string) time.Duration {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseUint(f[11], 10, 64)
	s, _ := strconv.ParseUint(f[12], 10, 64)
	return time.Duration(u+s) * clockTick
}

func procChildren(pid int) []int {
	dir := "/proc/" + strconv.Itoa(pid) + "/task/"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var kids []int
	for _, t := range tasks {
		b, err := os.ReadFile(dir + t.Name() + "/children")
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if k, err := strconv.Atoi(f); err == nil {
				kids = append(kids, k)
			}
		}
	}
	return kids
}
