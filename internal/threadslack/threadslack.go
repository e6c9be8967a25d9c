// Package threadslack gives the threads the Go runtime starts a timer slack
// of 1 ms (threadslack.c says why), so that its helper threads wake less
// often. Importing the package does it; it needs cgo. The main thread keeps
// the caller's slack, and with it every process hull forks from there.
//
// A goroutine that starts a container's process from a thread other than
// the main one calls RestoreCallerSlack first, with the goroutine locked to
// its thread, so that the process inherits the caller's slack, not hull's.
package threadslack

// #cgo LDFLAGS: -Wl,--wrap=pthread_create
// #include "threadslack.h"
import "C"

import "fmt"

// RestoreCallerSlack sets the calling thread's timer slack back to the one
// the program started with. The caller must hold runtime.LockOSThread.
func RestoreCallerSlack() error {
	if rc, err := C.hull_thread_slack_restore(); rc != 0 {
		return fmt.Errorf("restore this thread's timer slack to %d ns: %w", callerSlack(), err)
	}
	return nil
}

// callerSlack and threadSlack are for the tests (cgo cannot be used in them).
func callerSlack() uint64 { return uint64(C.hull_caller_slack()) }
func threadSlack() uint64 { return uint64(C.hull_thread_slack()) }

const threadSlackNs = C.HULL_THREAD_SLACK_NS
