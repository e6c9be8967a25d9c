// Package threadmem keeps the threads of the program that imports it small
// in memory layout (threadmem.c says why): all share glibc's main malloc
// arena, and each has a 256 KiB stack instead of RLIMIT_STACK's 8 MiB. A C
// constructor sets both before the Go runtime starts its threads.
// Importing the package is all it takes; it needs cgo.
//
// The trade: about 2 ms less CPU per hull command on this project's
// machine; threads that call malloc at the same moment wait on one lock
// (hull's few C calls never do), and C code has 256 KiB of stack on any
// thread but the main one (libseccomp's compiler runs on the main one).
package threadmem

// #include "threadmem.h"
import "C"

// threadStack is HULL_THREAD_STACK.
const threadStack = C.HULL_THREAD_STACK

// hasArenas: the C library's malloc gives threads arenas of their own
// (glibc's does, musl's does not).
const hasArenas = C.HULL_HAS_ARENAS == 1

// For the tests (cgo cannot be used in them).

func arenas() int                  { return int(C.hull_malloc_arenas()) }
func mallocOnNewThreads(n int) int { return int(C.hull_malloc_on_new_threads(C.int(n))) }
func threadStackSize() int64       { return int64(C.hull_thread_stack_size()) }
