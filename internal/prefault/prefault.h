#ifndef HULL_PREFAULT_H
#define HULL_PREFAULT_H

/* hull_prefault_image maps the read-only segments of the running program
 * (MADV_POPULATE_READ) and returns how many bytes the kernel mapped. */
long hull_prefault_image(void);

#endif
