/*
 * hull's binary is 8 MB, and a hull command touches nearly all of it: the Go
 * runtime and 160 packages' code (their inits run at every start) lie all
 * through the text, and the runtime reads its function and type tables all
 * through the read-only data. Each first touch is a page fault that maps 64
 * KiB (the kernel's fault-around), about 110 of them per command, and on a
 * virtual machine a fault from user space is costly (11-20 us on this
 * project's machine: a guest fault and a hypervisor exit).
 *
 * So the binary's read-only segments are mapped with one madvise each
 * (MADV_POPULATE_READ; three for hull) before anything else runs: the kernel maps the page
 * cache's pages itself, without a trip out of user space per 64 KiB. The
 * pages are the page cache's, shared by every hull process; what grows is
 * the resident set counted for the process (the few hundred KiB of the
 * binary a command would not have touched), not memory used.
 *
 * A kernel without MADV_POPULATE_READ (before 5.14) refuses the advice and
 * the binary is faulted in as before.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "prefault.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

/* Called for the main program first; returning non-zero stops the walk
 * there (the shared objects of a dynamic build are not hull's to map). */
static int prefault_main_object(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	long *mapped = data;
	const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	for (size_t i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W))
			continue;
		uintptr_t start = (info->dlpi_addr + ph->p_vaddr) & ~(page - 1);
		uintptr_t end = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz + page - 1) & ~(page - 1);
		if (madvise((void *)start, end - start, MADV_POPULATE_READ) == 0)
			*mapped += (long)(end - start);
	}
	return 1;
}

long hull_prefault_image(void)
{
	long mapped = 0;
	dl_iterate_phdr(prefault_main_object, &mapped);
	return mapped;
}

/* Priority 102: right after nsenter's C stage (101). A stage process execs
 * or exits inside that constructor, and the process it clones gets none of
 * its parent's page tables for the binary (fork copies no page table of a
 * file mapping without private pages), so only a process that goes on into
 * Go maps the binary: the hull command, or the Go init. Then before
 * anything else, so that the rest of the start finds it mapped. */
__attribute__((constructor(102))) static void hull_prefault(void)
{
	hull_prefault_image();
}
