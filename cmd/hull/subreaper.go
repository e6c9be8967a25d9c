package main

import (
	"bytes"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// orphanReaper makes `hull run` the child subreaper of the container's
// processes, as runc's run is unless --no-subreaper: in a container
// without a pid namespace of its own, a process whose parent exits is
// re-parented to hull instead of the host's init, and hull reaps it when
// it exits. The init is left to its own waiter.
type orphanReaper struct {
	keep int // the container's init: WaitExit reaps it
	ch   chan os.Signal
	done chan struct{}
}

// becomeSubreaper makes hull the child subreaper of its descendants.
func becomeSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return os.NewSyscallError("prctl(PR_SET_CHILD_SUBREAPER)", err)
	}
	return nil
}

// startReaper reaps hull's zombie children other than keep, now and on
// every SIGCHLD, until stop. It must run only while hull has no child of
// its own to wait for besides keep (hooks run before and after, not
// during).
func startReaper(keep int) *orphanReaper {
	r := &orphanReaper{keep: keep, ch: make(chan os.Signal, 8), done: make(chan struct{})}
	signal.Notify(r.ch, unix.SIGCHLD)
	r.reap()
	go func() {
		for {
			select {
			case <-r.ch:
				r.reap()
			case <-r.done:
				return
			}
		}
	}()
	return r
}

// stop ends the reaping and reaps what exited meanwhile.
func (r *orphanReaper) stop() {
	signal.Stop(r.ch)
	close(r.done)
	r.reap()
}

// reap waits for each zombie child but keep. Only zombies are waited for,
// by pid: a running child's pid stays ours, so no other waiter's status is
// taken.
func (r *orphanReaper) reap() {
	for _, pid := range childPids() {
		if pid == r.keep || !isZombie(pid) {
			continue
		}
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, unix.WNOHANG, nil) //nolint:errcheck // gone already is fine
	}
}

// childPids lists hull's children, from every thread's children file.
func childPids() []int {
	files, _ := filepath.Glob("/proc/self/task/*/children")
	var pids []int
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, s := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(s); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

func isZombie(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(data, ')')
	return i > 0 && i+2 < len(data) && data[i+2] == 'Z'
}
