// Package stackgrow grows a goroutine's stack once, while it is shallow,
// to the size a hull command's goroutines reach anyway.
//
// A goroutine starts with 2 KiB of stack, and each time it runs out the
// runtime copies the stack into one twice the size, walking every frame
// on it through the function tables. A `hull run` copied its main
// goroutine's stack twice (in package inits) and its rootfs goroutine's
// twice (a dozen frames deep in the mount code): 0.47 ms of CPU per run
// on this project's machine, most of it first touches of those tables'
// pages (docs/design.md, "Stacks grown once"). Growing each to 16 KiB
// while it holds two frames is one copy apiece and 0.2 ms for both.
//
// Importing the package grows the main goroutine's stack in its package
// init, which runs before the standard-library inits that grew it
// (internal/godebug's, urfave/cli's): the package imports nothing, and
// inits run in import path order among the packages ready for it. Grow
// does it for a goroutine hull starts. (After a garbage collection, which
// a hull command seldom reaches, the runtime starts goroutines at the
// average stack size and may shrink grown ones.)
package stackgrow

// frame is what Grow's frame asks for: with the runtime's guard and the
// caller's frames, the runtime doubles a 2 KiB stack to 16 KiB in one copy.
const frame = 10 << 10

func init() { Grow() }

// Grow makes the calling goroutine's stack at least 16 KiB, in one copy
// if it is smaller. It is cheap when the caller holds few frames.
//
//go:noinline
func Grow() {
	var pad [frame]byte
	touch(pad[:])
}

// touch keeps pad, and so Grow's frame, from being optimised away.
//
//go:noinline
func touch(b []byte) { b[0] = 1 }
