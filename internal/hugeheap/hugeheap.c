/*
 * The Go runtime maps its heap in chunks of 4 MiB (mmap MAP_FIXED over the
 * arena it reserved) and then touches it a page at a time: on this project's
 * machine each first touch of a 4 KiB page costs 11-15 us (a guest fault and
 * a hypervisor shadow fault), and a hull command touches 150-250 heap pages.
 * A 2 MiB transparent huge page is one fault (about 0.2 ms here), so the
 * heap's chunks are advised MADV_HUGEPAGE as they are mapped; the kernel
 * then backs them with huge pages where it can (THP "always" or "madvise").
 *
 * In a cgo binary the runtime maps memory through libc's mmap (x_cgo_mmap),
 * and the package links with -Wl,--wrap=mmap, so that call lands here. Only
 * references to the symbol mmap are wrapped: glibc's own mappings (malloc,
 * thread stacks) use its internal __mmap and are left alone.
 *
 * GODEBUG=disablethp=1 still turns huge pages off: the runtime then advises
 * the same chunk MADV_NOHUGEPAGE right after this.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/mman.h>
#include <sys/types.h>

#include "hugeheap.h"

void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);

int hull_heap_chunk(uintptr_t addr, size_t len, int prot, int flags)
{
	/* The runtime's sysMap: fixed, anonymous, private, read-write, and at
	 * least one aligned huge page long. */
	const int want = MAP_FIXED | MAP_ANONYMOUS | MAP_PRIVATE;
	return (flags & (want | MAP_SHARED)) == want && prot == (PROT_READ | PROT_WRITE) &&
	       len >= HULL_HUGE_BYTES && (addr & (HULL_HUGE_BYTES - 1)) == 0;
}

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p = __real_mmap(addr, len, prot, flags, fd, off);
	if (p != MAP_FAILED && hull_heap_chunk((uintptr_t)p, len, prot, flags))
		madvise(p, len, MADV_HUGEPAGE); /* advice: a refusal changes nothing */
	return p;
}
