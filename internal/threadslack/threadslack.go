// Package threadslack gives the threads the Go runtime starts a timer slack
// of 1 ms, and its monitor thread (sysmon) one of 10 ms (threadslack.c says
// why), so that its helper threads wake less often. Importing the package
// does it; it needs cgo. The main thread keeps the caller's slack.
//
// A process inherits the timer slack of the thread that forks it. Code that
// starts a container's process or a user's program (a hook) runs the fork in
// WithCallerSlack, so that the process gets the caller's slack, not hull's,
// whichever thread the goroutine is on.
package threadslack

// #cgo LDFLAGS: -Wl,--wrap=pthread_create
// #include "threadslack.h"
import "C"

import (
	"fmt"
	"runtime"
)

// WithCallerSlack runs start with its goroutine locked to its thread and
// that thread's timer slack set to the caller's, and sets the thread's
// slack back afterwards.
func WithCallerSlack(start func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	prev := C.hull_thread_slack()
	if prev == C.hull_caller_slack() { // the main thread: one prctl, nothing to change
		return start()
	}
	if err := restoreCallerSlack(); err != nil {
		return err
	}
	defer C.hull_thread_slack_set(prev) // a refusal leaves the finer slack: harmless
	return start()
}

// restoreCallerSlack sets the calling thread's timer slack back to the one
// the program started with. The caller must hold runtime.LockOSThread.
func restoreCallerSlack() error {
	if rc, err := C.hull_thread_slack_set(C.hull_caller_slack()); rc != 0 {
		return fmt.Errorf("restore this thread's timer slack to %d ns: %w", callerSlack(), err)
	}
	return nil
}

// callerSlack and threadSlack are for the tests (cgo cannot be used in them).
func callerSlack() uint64 { return uint64(C.hull_caller_slack()) }
func threadSlack() uint64 { return uint64(C.hull_thread_slack()) }

func sysmonTid() int { return int(C.hull_sysmon_tid()) }

const (
	threadSlackNs = C.HULL_THREAD_SLACK_NS
	sysmonSlackNs = C.HULL_SYSMON_SLACK_NS
)
