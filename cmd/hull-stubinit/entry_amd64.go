package main

// entry is implemented in entry_amd64.s; the linker's -E flag makes it the
// ELF entry point.
func entry()

// Referenced so that the declaration is not unused code; it is never called.
var _ = entry
