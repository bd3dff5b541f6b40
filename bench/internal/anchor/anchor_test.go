package anchor

import (
	"testing"
	"time"
)

// Reports as wrk 4.1.0 and h2load 1.52.0 (Debian 12) print them.
const wrkOut = `Running 2s test @ http://127.0.0.1:38703/small
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   717.40us    1.10ms  13.56ms   90.81%
    Req/Sec   105.09k    30.90k  141.40k    55.00%
  Latency Distribution
     50%  407.00us
     75%  538.00us
     90%    1.63ms
     99%    6.01ms
  209181 requests in 2.01s, 33.51MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec: 104317.40
Transfer/sec:     16.71MB
`

const h2Out = `starting benchmark...
spawning thread #0: 64 total client(s). Timing-based test with 0s of warm-up time and 2s of main duration for measurements.
Application protocol: http/1.1

finished in 2.00s, 98564.50 req/s, 15.79MB/s
requests: 197129 total, 197193 started, 197129 done, 197120 succeeded, 9 failed, 2 errored, 1 timeout
status codes: 197129 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 31.58MB (33117672) total, 21.81MB (22871256) headers (space savings 0.00%), 2.44MB (2563158) data
                     min         max         mean         sd        +/- sd
time for request:      388us      4.39ms       649us       140us    88.81%
time for connect:       48us       441us       246us       114us    57.81%
`

func TestParseWrk(t *testing.T) {
	r, err := ParseWrk(wrkOut)
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Requests: 209181, RPS: 104317.40, P50: 407 * time.Microsecond, P99: 6010 * time.Microsecond, Errors: 7}
	if r != want {
		t.Fatalf("got %+v\nwant %+v", r, want)
	}
	r.CPU = 2 * time.Second
	if got := r.CPUPerRequest(); got < 9.56 || got > 9.57 {
		t.Fatalf("cpu per request %v", got)
	}
	if _, err := ParseWrk("unable to connect to 127.0.0.1:1 Connection refused"); err == nil {
		t.Fatal("no error for a failed run")
	}
}

func TestParseH2load(t *testing.T) {
	r, err := ParseH2load(h2Out)
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Requests: 197129, RPS: 98564.50, Mean: 649 * time.Microsecond, Errors: 12}
	if r != want {
		t.Fatalf("got %+v\nwant %+v", r, want)
	}
	if _, err := ParseH2load("starting benchmark...\n"); err == nil {
		t.Fatal("no error for a truncated report")
	}
}

func TestDurationUnits(t *testing.T) {
	for in, want := range map[[2]string]time.Duration{
		{"1.5", "ms"}: 1500 * time.Microsecond, {"2", "s"}: 2 * time.Second, {"1", "m"}: time.Minute, {"3.25", "us"}: 3250 * time.Nanosecond,
	} {
		if got, err := duration(in[0], in[1]); err != nil || got != want {
			t.Errorf("%v: %v %v", in, got, err)
		}
	}
}
