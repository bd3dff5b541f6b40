package testkit

import (
	"strings"
	"syscall"
	"testing"
)

func TestCheckLeaksReportsAPoller(t *testing.T) {
	CheckLeaks(t)
	fd := -1
	report := watched(t, func(tb testing.TB) {
		var err error
		if fd, err = syscall.EpollCreate1(syscall.EPOLL_CLOEXEC); err != nil {
			tb.Fatal(err)
		}
	})
	defer syscall.Close(fd)
	if !strings.Contains(report, "anon_inode:[eventpoll]") {
		t.Fatalf("an epoll left open was not reported:\n%s", report)
	}
}
