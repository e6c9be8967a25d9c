// Package onearena keeps the program that imports it to one malloc arena
// (onearena.c says why): a C constructor sets glibc's M_ARENA_MAX to 1
// before the Go runtime starts its threads. Importing the package is all
// it takes; it needs cgo.
//
// The trade: about 1 ms less CPU per hull command on this project's
// machine, and threads that call malloc at the same moment wait on one
// lock, which hull's few C calls never do.
package onearena

// #include "onearena.h"
import "C"

// For the tests (cgo cannot be used in them).

func arenas() int                  { return int(C.hull_malloc_arenas()) }
func mallocOnNewThreads(n int) int { return int(C.hull_malloc_on_new_threads(C.int(n))) }
