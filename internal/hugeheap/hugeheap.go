// Package hugeheap backs the Go heap of the binary that imports it with
// transparent huge pages: every chunk the runtime maps for its heap is
// advised MADV_HUGEPAGE (hugeheap.c says how and why). Importing the package
// is all it takes; it has no API. It needs cgo (the runtime maps memory
// through libc only in a cgo binary) and an external link.
//
// The trade: a hull command's heap is one or two 2 MiB pages instead of a
// few hundred 4 KiB ones, so it takes far fewer page faults and up to 3 MiB
// more resident memory. GODEBUG=disablethp=1 (the Go runtime's own switch)
// turns it off.
package hugeheap

// #cgo LDFLAGS: -Wl,--wrap=mmap
// #include "hugeheap.h"
import "C"

// heapChunk is hull_heap_chunk, for the tests (cgo cannot be used in them).
func heapChunk(addr uintptr, length uint64, prot, flags int) bool {
	return C.hull_heap_chunk(C.uintptr_t(addr), C.size_t(length), C.int(prot), C.int(flags)) != 0
}
