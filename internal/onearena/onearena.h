#ifndef HULL_ONEARENA_H
#define HULL_ONEARENA_H

/* The number of malloc arenas the process has (malloc_info's heaps). */
int hull_malloc_arenas(void);
/* Starts n threads that each malloc once, and joins them. */
int hull_malloc_on_new_threads(int n);

#endif
