/*
 * What each thread of a hull command costs in memory layout: with glibc
 * every thread shares the main malloc arena (musl's malloc has no arenas),
 * and a thread's stack is 256 KiB.
 *
 * On this project's machine a first touch of a page costs 11-18 us, and one
 * that needs a new page-table page (the first page touched in a 2 MiB
 * region) 55-80 us: each is a guest fault and a hypervisor exit, the
 * page-table page a shadow one too. A hull command touched 24 such regions
 * with its 8 MB binary, its Go heap, the runtime's structures and its
 * threads; the threads' share was needless:
 *
 * - glibc gives a thread that calls malloc an arena of its own, up to
 *   eight per CPU: a 64 MiB-aligned reservation (an mmap of 128 MiB, an
 *   munmap of the misaligned part, an mprotect of its first 132 KiB) and
 *   the pages of its header, each arena in a region of its own. In a cgo
 *   Go program every thread the runtime starts calls malloc (cgo learns
 *   the thread's stack bounds through pthread_getattr_np, which
 *   allocates), so a hull command made five or six arenas.
 * - A thread's stack is RLIMIT_STACK by default (8 MiB), so the stacks of
 *   the runtime's threads are 8 MiB apart, each touched at its top in a
 *   region of its own. The Go runtime records the size pthread reports as
 *   the thread's system stack (runtime/cgo's _cgo_sys_thread_start), so
 *   its stack checks stay right; what runs there is the scheduler, cgo's
 *   helpers and hull's wrapper (threadslack), a few KiB. The
 *   C code that needs more, libseccomp's filter compiler, runs on the main
 *   goroutine, which hull locks to the main thread and its 8 MiB stack
 *   (cmd/internal/hullcmd's init); moved to another goroutine it would
 *   get 256 KiB, about twice what it uses. musl's default is 128 KiB.
 *
 * Both are set by a constructor, before the Go runtime starts any thread:
 * glibc fixes its arena limit with the first arena it makes, and a default
 * stack size set later would leave the first threads large. Measured
 * (docs/design.md, "Thread memory"): about 2 ms less CPU per `hull run`.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "threadmem.h"

__attribute__((constructor)) static void thread_memory(void)
{
#if HULL_HAS_ARENAS
	mallopt(M_ARENA_MAX, 1);
#endif
	pthread_attr_t attr;
	if (pthread_getattr_default_np(&attr) != 0)
		return;
	pthread_attr_setstacksize(&attr, HULL_THREAD_STACK);
	pthread_setattr_default_np(&attr); /* refused: the default stays, nothing breaks */
	pthread_attr_destroy(&attr);
}

/* ---- for the tests ---- */

int hull_malloc_arenas(void)
{
#if !HULL_HAS_ARENAS
	return -1;
#else
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (f == NULL)
		return -1;
	int ok = malloc_info(0, f) == 0;
	fclose(f);
	int n = 0;
	for (char *p = buf; ok && (p = strstr(p, "<heap nr=")) != NULL; p++)
		n++;
	free(buf);
	return ok ? n : -1;
#endif
}

static void *malloc_once(void *arg)
{
	(void)arg;
	free(malloc(64));
	return NULL;
}

int hull_malloc_on_new_threads(int n)
{
	pthread_t t[64];
	if (n > 64)
		n = 64;
	for (int i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, malloc_once, NULL) != 0)
			return -1;
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	return 0;
}

long hull_thread_stack_size(void)
{
	pthread_attr_t attr;
	size_t size = 0;
	if (pthread_getattr_np(pthread_self(), &attr) != 0)
		return -1;
	pthread_attr_getstacksize(&attr, &size);
	pthread_attr_destroy(&attr);
	return (long)size;
}
