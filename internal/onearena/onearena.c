/*
 * One malloc arena for the whole process.
 *
 * glibc gives every thread that first calls malloc while another holds the
 * main arena's lock, or simply runs on a thread of its own, an arena of its
 * own, up to eight per CPU: a 64 MiB-aligned reservation (one mmap of 128
 * MiB, an munmap of the misaligned part, an mprotect of its first 132 KiB)
 * and the pages of its header. In a cgo Go program every thread the runtime
 * starts calls malloc once (the C library's pthread_getattr_np, which cgo
 * uses to learn the thread's stack, allocates there), so a hull command
 * made five or six arenas, each in an address range of its own. On this
 * project's machine every new page-table page and first touch is a
 * hypervisor exit, and the arenas cost about 1 ms of CPU per command
 * (docs/design.md, "One malloc arena").
 *
 * hull's own C code allocates little and seldom from two threads at once,
 * so one arena and its lock cost nothing measurable. The constructor runs
 * before the Go runtime starts any thread; M_ARENA_MAX set later would not
 * undo arenas already made.
 */
#include <malloc.h>

#include "onearena.h"

__attribute__((constructor)) static void one_arena(void)
{
	mallopt(M_ARENA_MAX, 1);
}

/* ---- for the tests ---- */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hull_malloc_arenas(void)
{
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
