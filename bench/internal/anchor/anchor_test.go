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

// h2load 1.52.0 over HTTP/2 and TLS 1.3 against nginx 1.22.1 with its
// default keepalive_requests (1,000), which closes each connection after
// 1,000 requests: hence the failures.
const h2OutH2 = `starting benchmark...
spawning thread #0: 4 total client(s). Timing-based test with 0s of warm-up time and 1s of main duration for measurements.
Warm-up started for thread #0.
progress: 25% of clients started
progress: 50% of clients started
progress: 75% of clients started
progress: 100% of clients started
Warm-up phase is over for thread #0.
Main benchmark duration is started for thread #0.
TLS Protocol: TLSv1.3
Cipher: TLS_AES_128_GCM_SHA256
Server Temp Key: X25519 253 bits
Application protocol: h2
Process Request Failure:1
Process Request Failure:12
Process Request Failure:22
Process Request Failure:32
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 1.00s, 4000.00 req/s, 312.76KB/s
requests: 4009 total, 4036 started, 4009 done, 4000 succeeded, 9 failed, 9 errored, 0 timeout
status codes: 4000 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 312.76KB (320264) total, 191.41KB (196000) headers (space savings 50.51%), 50.78KB (52000) data
                     min         max         mean         sd        +/- sd
time for request:       42us      3.17ms       378us       194us    85.35%
time for connect:     2.16ms      5.26ms      4.03ms      1.35ms    75.00%
time to 1st byte:     5.33ms      5.86ms      5.70ms       248us    75.00%
req/s           :   19015.31    19610.72    19211.38      275.67    75.00%
`

// h2load 1.52.0 over h2c against a Go server that answers /ok with 200,
// /500 with 500 and resets the stream of /reset, each asked 10 times
// (h2load -n 30 -c 1 -m 1 URL/ok URL/500 URL/reset): 20 failed, 10 of
// them errored.
const h2OutFailed = `starting benchmark...
spawning thread #0: 1 total client(s). 30 total requests
Application protocol: h2c
progress: 10% done
progress: 20% done
progress: 30% done
progress: 40% done
progress: 50% done
progress: 60% done
progress: 70% done
progress: 80% done
progress: 90% done
progress: 100% done

finished in 7.98ms, 2506.27 req/s, 86.64KB/s
requests: 30 total, 30 started, 30 done, 10 succeeded, 20 failed, 10 errored, 0 timeout
status codes: 10 2xx, 0 3xx, 0 4xx, 10 5xx
traffic: 708B (708) total, 117B (117) headers (space savings 92.40%), 130B (130) data
                     min         max         mean         sd        +/- sd
time for request:       23us      4.14ms       293us       925us    95.00%
time for connect:      209us       209us       209us         0us   100.00%
time to 1st byte:     4.40ms      4.40ms      4.40ms         0us   100.00%
req/s           :    2782.57     2782.57     2782.57        0.00   100.00%
`

// h2load counts errored requests (and timed-out ones) inside failed: the
// errors are the failed requests, each once.
func TestParseH2loadErroredInFailed(t *testing.T) {
	r, err := ParseH2load(h2OutFailed)
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Requests: 30, RPS: 2506.27, Mean: 293 * time.Microsecond, Errors: 20, Protocol: "h2c"}
	if r != want {
		t.Fatalf("got %+v\nwant %+v", r, want)
	}
}

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
	want := Result{Requests: 197129, RPS: 98564.50, Mean: 649 * time.Microsecond, Errors: 9, Protocol: "http/1.1"}
	if r != want {
		t.Fatalf("got %+v\nwant %+v", r, want)
	}
	if _, err := ParseH2load("starting benchmark...\n"); err == nil {
		t.Fatal("no error for a truncated report")
	}
}

func TestParseH2loadH2(t *testing.T) {
	r, err := ParseH2load(h2OutH2)
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Requests: 4009, RPS: 4000, Mean: 378 * time.Microsecond, Errors: 9, Protocol: "h2"}
	if r != want {
		t.Fatalf("got %+v\nwant %+v", r, want)
	}
	if err := r.RequireH2(); err != nil {
		t.Fatal(err)
	}
	h1, err := ParseH2load(h2Out)
	if err != nil {
		t.Fatal(err)
	}
	if h1.RequireH2() == nil {
		t.Fatal("an HTTP/1.1 run passes for h2")
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
