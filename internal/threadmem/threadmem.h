#ifndef HULL_THREADMEM_H
#define HULL_THREADMEM_H

#include <malloc.h>

/* glibc's malloc gives threads arenas of their own; musl's has none. */
#ifdef M_ARENA_MAX
#define HULL_HAS_ARENAS 1
#else
#define HULL_HAS_ARENAS 0
#endif

/* The stack size of every thread the program starts. */
#define HULL_THREAD_STACK (256 << 10)

/* The number of malloc arenas the process has (malloc_info's heaps). */
int hull_malloc_arenas(void);
/* Starts n threads that each malloc once, and joins them. */
int hull_malloc_on_new_threads(int n);
/* The calling thread's stack size, as pthread_getattr_np reports it. */
long hull_thread_stack_size(void);

#endif
