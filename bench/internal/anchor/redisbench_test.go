package anchor

import (
	"testing"
	"time"
)

// As redis-benchmark 7.0 (Debian 12) prints with --csv.
const redisCSV = `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"GET","171821.30","0.159","0.048","0.151","0.223","0.311","1.391"
`

func TestParseRedisBenchmarkCSV(t *testing.T) {
	r, err := ParseRedisBenchmark(redisCSV, "get")
	if err != nil {
		t.Fatal(err)
	}
	if r.RPS != 171821.30 || r.P50 != 151*time.Microsecond || r.P99 != 311*time.Microsecond || r.Mean != 159*time.Microsecond {
		t.Fatalf("%+v", r)
	}
	if _, err := ParseRedisBenchmark(redisCSV, "set"); err == nil {
		t.Fatal("found a SET result in a GET report")
	}
}

func TestParseRedisBenchmarkOldCSV(t *testing.T) {
	// Before Redis 6.2 the CSV had the rate alone.
	r, err := ParseRedisBenchmark("\"SET\",\"98765.43\"\n", "set")
	if err != nil || r.RPS != 98765.43 || r.P50 != 0 {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestParseRedisBenchmarkQuiet(t *testing.T) {
	// -q output, with a progress report ended by '\r' before the result.
	out := "SET: rps=120000.0 (overall: 119000.0) avg_msec=0.200 (overall: 0.201)\r" +
		"SET: 121212.12 requests per second, p50=0.199 msec                    \n" +
		"Error from server: ERR something\n"
	r, err := ParseRedisBenchmark(out, "set")
	if err != nil || r.RPS != 121212.12 || r.P50 != 199*time.Microsecond || r.Errors != 1 {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestParseRedisBenchmarkGarbage(t *testing.T) {
	for _, out := range []string{"", "Could not connect to Redis at 127.0.0.1:1: Connection refused\n", `"GET","fast"` + "\n"} {
		if _, err := ParseRedisBenchmark(out, "get"); err == nil {
			t.Errorf("no error for %q", out)
		}
	}
}
