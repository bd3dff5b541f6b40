package scenario

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// redisServer is a redis-server child: no persistence (so that no fork
// or disk write lands in a measurement), on a free loopback port, in a
// temporary folder that Stop removes.
type redisServer struct {
	peerProc
	Addr string
}

// startRedis starts redis-server pinned to cpu (unless cpu < 0) with
// extra options after the scenario's own, and waits until it answers PING.
func startRedis(cpu int, extra ...string) (*redisServer, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, fmt.Errorf("redis-server not installed (scripts/install-deps.sh): %w", err)
	}
	dir, err := os.MkdirTemp("", "egress-bench-redis-")
	if err != nil {
		return nil, err
	}
	port, err := freeLoopbackPort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	args := []string{"redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", ""}
	args = append(args, extra...)
	if cpu >= 0 {
		args = append([]string{"taskset", "-c", strconv.Itoa(cpu)}, args...)
	}
	s := &redisServer{peerProc: peerProc{cmd: exec.Command(args[0], args[1:]...), dir: dir, done: make(chan struct{})}, Addr: fmt.Sprintf("127.0.0.1:%d", port)}
	var out bytes.Buffer
	s.cmd.Stdout, s.cmd.Stderr = &out, &out
	// The server dies with the harness, even when the harness is killed.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("redis-server: %w", err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-s.done:
			os.RemoveAll(dir)
			return nil, fmt.Errorf("redis-server exited: %s", lastOf(out.String()))
		default:
		}
		if err := s.send([]string{"PING"}); err == nil {
			return s, nil
		}
	}
	s.Stop()
	return nil, fmt.Errorf("redis-server did not answer on %s", s.Addr)
}

// seed sets every key to value, so that each GET finds a value of the
// benchmark's size.
func (s *redisServer) seed(keys []string, value string) error {
	cmds := make([][]string, len(keys))
	for i, k := range keys {
		cmds[i] = []string{"SET", k, value}
	}
	return s.send(cmds...)
}

// send writes commands on a fresh connection and reads one reply line
// each; an error reply fails. Enough for PING and SET, which answer in
// one line.
func (s *redisServer) send(cmds ...[]string) error {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var b []byte
	for _, args := range cmds {
		b = appendCommand(b, args)
	}
	if _, err := c.Write(b); err != nil {
		return err
	}
	r := bufio.NewReader(c)
	for range cmds {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if !strings.HasPrefix(line, "+") {
			return fmt.Errorf("redis-server: %s", strings.TrimSpace(line))
		}
	}
	return nil
}

// appendCommand encodes a command as a RESP array of bulk strings.
func appendCommand(b []byte, args []string) []byte {
	b = fmt.Appendf(b, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b
}

// Stop shuts the server down (see peerProc.stop).
func (s *redisServer) Stop() { s.stop(5 * time.Second) }

func freeLoopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func lastOf(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 1000 {
		s = s[len(s)-1000:]
	}
	return s
}
