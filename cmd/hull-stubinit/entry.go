package main

// forkResult is what the early fork in entry returned: -1 when the binary
// was linked without -E main.entry (no early fork), 0 in the child, the
// child's PID in the parent, or -errno when the fork failed.
var forkResult int64 = -1

// The early fork's clone3 arguments (struct clone_args, filled in by
// entry) and the PID it asks for.
var (
	cloneArgs [11]uint64
	wantPID   int32 = 2
)

// Only the assembly uses them; tell the unused-code checkers.
var _, _ = &cloneArgs, &wantPID
