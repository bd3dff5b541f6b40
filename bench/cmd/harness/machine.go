package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
)

// machine describes where the figures were taken: CPU, cores, memory,
// kernel, Go, the anchors' versions and the open-file limit.
func machine() string {
	model := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[0], "MemTotal:"), "%d", &kb)
		mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	var rl syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	return fmt.Sprintf("%s, %d cores%s, Linux %s, %s, %s, %s, %s, open files %d",
		model, runtime.NumCPU(), mem, strings.TrimSpace(string(kernel)), runtime.Version(),
		version("nginx", "-v"), version("wrk", "-v"), version("h2load", "--version"), rl.Max)
}

// version is the first line a tool prints about itself, shortened.
func version(tool string, flag string) string {
	out, _ := exec.Command(tool, flag).CombinedOutput()
	line := strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	if line == "" {
		return tool + " missing"
	}
	line = strings.TrimPrefix(line, "nginx version: ")
	if f := strings.Fields(line); tool == "wrk" && len(f) > 1 {
		line = "wrk " + f[1]
	}
	return line
}
