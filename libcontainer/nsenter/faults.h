/*
 * Fault points of the C stages (see libcontainer/faults): compiled in only
 * with the Go build tag hullfaults (faults_on.go adds -DHULL_FAULTS to this
 * package's CFLAGS); otherwise hull_fault_hit is an empty inline function.
 * Each C-stage point is reached at most once per process, so "NAME" and
 * "NAME:1" are the only values of HULL_FAULT that match it.
 */
#ifndef HULL_FAULTS_H
#define HULL_FAULTS_H

#ifdef HULL_FAULTS
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void hull_fault_hit(const char *name)
{
	if (getenv("HULL_FAULT_TRACE"))
		fprintf(stderr, "hull-fault-point %d %s\n", (int)getpid(), name);
	const char *want = getenv("HULL_FAULT");
	size_t n = strlen(name);
	if (!want || strncmp(want, name, n) != 0 || (want[n] && strcmp(want + n, ":1") != 0))
		return;
	fprintf(stderr, "hull-fault-killed %d %s\n", (int)getpid(), name);
	/* A pid namespace's init cannot SIGKILL itself. */
	if (getpid() == 1)
		_exit(137);
	for (;;)
		kill(getpid(), SIGKILL);
}
#else
static inline void hull_fault_hit(const char *name)
{
	(void)name;
}
#endif

#endif
