package anchor

import (
	"encoding/csv"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// RedisBenchmark runs redis-benchmark's test (get or set) against addr:
// conns connections, n requests in all, values of size bytes, depth
// commands per pipeline, pinned to cpu unless cpu < 0. It runs one test
// per process so that the process's CPU time belongs to that test alone.
//
// redis-benchmark stops after n requests rather than after a time, so the
// caller picks n from the rate it expects. Every request counts in the
// CPU per request: the tool's whole process is charged, start-up and the
// 50 connections' set-up included.
func RedisBenchmark(cpu int, addr string, conns, n, size, depth int, test string) (Result, error) {
	return redisBenchmark(cpu, addr, conns, n, size, depth, test)
}

// RedisBenchmarkCluster is RedisBenchmark against a Redis Cluster that
// addr is a node of (--cluster): the tool reads the slot map, spreads its
// conns connections over the masters and gives each a key that the
// master it talks to serves.
func RedisBenchmarkCluster(cpu int, addr string, conns, n, size, depth int, test string) (Result, error) {
	return redisBenchmark(cpu, addr, conns, n, size, depth, test, "--cluster")
}

func redisBenchmark(cpu int, addr string, conns, n, size, depth int, test string, extra ...string) (Result, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return Result{}, err
	}
	out, used, err := run(cpu, "redis-benchmark", append([]string{"-h", host, "-p", port,
		"-c", strconv.Itoa(conns), "-n", strconv.Itoa(n), "-d", strconv.Itoa(size),
		"-P", strconv.Itoa(depth), "-t", test, "--csv"}, extra...)...)
	if err != nil {
		return Result{}, err
	}
	r, err := ParseRedisBenchmark(out, test)
	r.Requests, r.CPU = int64(n), used
	return r, err
}

// redisQuiet is the -q form ("GET: 123.45 requests per second, p50=0.1
// msec"), accepted too in case a version prints it despite --csv.
var redisQuiet = regexp.MustCompile(`^([A-Z]+): ([0-9.]+) requests per second(?:, p50=([0-9.]+) msec)?`)

// ParseRedisBenchmark reads the result of test from redis-benchmark's
// --csv output. Redis 7 prints
//
//	"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
//	"GET","171821.30","0.159","0.048","0.151","0.223","0.311","1.391"
//
// and older versions only the first two fields, so the latencies are
// optional. Lines saying "Error from server" count as errors.
func ParseRedisBenchmark(out, test string) (Result, error) {
	var r Result
	found := false
	name := strings.ToUpper(test)
	// Progress reports end in '\r', not '\n': split on both.
	for _, line := range strings.FieldsFunc(out, func(c rune) bool { return c == '\n' || c == '\r' }) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "Error from server") {
			r.Errors++
			continue
		}
		if m := redisQuiet.FindStringSubmatch(line); m != nil && m[1] == name {
			r.RPS, _ = strconv.ParseFloat(m[2], 64)
			if m[3] != "" {
				r.P50 = msec(m[3])
			}
			found = true
			continue
		}
		if !strings.HasPrefix(line, `"`) {
			continue
		}
		f, err := csv.NewReader(strings.NewReader(line)).Read()
		if err != nil || len(f) < 2 || strings.ToUpper(f[0]) != name {
			continue
		}
		rps, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return r, fmt.Errorf("redis-benchmark: bad rate %q", f[1])
		}
		r.RPS, found = rps, true
		if len(f) >= 7 {
			r.Mean, r.P50, r.P99 = msec(f[2]), msec(f[4]), msec(f[6])
		}
	}
	if !found {
		return r, fmt.Errorf("redis-benchmark: no %s result in output: %s", name, lastLines(out, 5))
	}
	return r, nil
}

func msec(s string) time.Duration {
	v, _ := strconv.ParseFloat(s, 64)
	return time.Duration(v * float64(time.Millisecond))
}
