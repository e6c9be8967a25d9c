package cgroups

import (
	"os"

	"golang.org/x/sys/unix"
)

// watchEventfd forwards each eventfd count to ch until done closes or the
// cgroup directory disappears. It polls with a timeout so that done is seen
// without another fd to wake it.
func watchEventfd(efd int, ctl *os.File, dir string, ch chan<- struct{}, done <-chan struct{}) {
	defer close(ch)
	defer ctl.Close()
	defer unix.Close(efd)
	buf := make([]byte, 8)
	for {
		select {
		case <-done:
			return
		default:
		}
		fds := []unix.PollFd{{Fd: int32(efd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 100)
		if err == unix.EINTR || n == 0 {
			continue
		}
		if err != nil {
			return
		}
		if _, err := unix.Read(efd, buf); err != nil {
			return
		}
		if _, err := os.Stat(dir); err != nil {
			return // removal, not an OOM
		}
		select {
		case ch <- struct{}{}:
		default: // one pending notice is enough to tell a reader to look
		}
	}
}
