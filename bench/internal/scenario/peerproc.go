package scenario

import (
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/egress-go/egress/bench/internal/measure"
)

// peerProc is a peer server the harness started as a process of its own
// (redis-server, Azurite): its command, a channel closed once it has
// exited, and its scratch folder.
type peerProc struct {
	cmd  *exec.Cmd
	dir  string
	done chan struct{}
}

// CPU returns the CPU time the process and its children have used so far.
func (p *peerProc) CPU() time.Duration { return measure.ProcTreeCPU(p.cmd.Process.Pid) }

// stop asks the process to end (SIGTERM), kills it if it has not within
// grace, waits for it and removes its folder.
func (p *peerProc) stop(grace time.Duration) {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.cmd.Process.Kill()
		<-p.done
	}
	os.RemoveAll(p.dir)
}
