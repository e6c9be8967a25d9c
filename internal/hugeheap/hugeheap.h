#ifndef HULL_HUGEHEAP_H
#define HULL_HUGEHEAP_H
#include <stddef.h>
#include <stdint.h>

#define HULL_HUGE_BYTES (2UL << 20)

/* hull_heap_chunk says whether an mmap call with these arguments (addr is
 * the address it returned) maps a chunk of the Go heap worth advising. */
int hull_heap_chunk(uintptr_t addr, size_t len, int prot, int flags);

#endif
