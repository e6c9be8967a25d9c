package main

// forkResult is what the early fork in entry returned: -1 when the binary
// was linked without -E main.entry (no early fork), 0 in the child, the
// child's PID in the parent, or -errno when the fork failed.
var forkResult int64 = -1
