//go:build ignore

/*
 * hull-stage: the C stage and finisher of nsenter.c and finish.c as a small
 * static program, without the Go runtime and the 9 MB hull binary around
 * them (the build constraint above keeps this file out of hull's cgo build;
 * the Makefile builds it: make build).
 *
 * hull starts it, from beside its own binary and through the same seal
 * (libcontainer/exeseal), for a C stage whose clone runs the finisher
 * (_HULL_FINISH): the stage's and the init's exec, start and exit then map
 * a few hundred KiB instead of hull. A clone that must return into Go (the
 * Go init) cannot start here; hull starts its own binary for those.
 */
#include <stdio.h>
#include <stdlib.h>

#include "nsenter.h"

int main(void)
{
	const char *sync = getenv("_HULL_NSENTER");
	const char *finish = getenv("_HULL_FINISH");
	int mode = finish ? atoi(finish) : 0;
	if (!sync || mode < HULL_FINISH_EXEC || mode > HULL_FINISH_INIT_CGROUPNS) {
		fprintf(stderr, "hull-stage: not a command: hull starts it as a container process's C stage "
				"(needs _HULL_NSENTER and _HULL_FINISH=1..3, got _HULL_FINISH=%s)\n",
			finish ? finish : "(unset)");
		return 2;
	}
	const char *abi = getenv("_HULL_STAGE_ABI");
	if (!abi || atoi(abi) != HULL_STAGE_ABI) {
		fprintf(stderr, "hull-stage: built for stage ABI %d, hull sent %s: install hull and hull-stage "
				"from the same build\n",
			HULL_STAGE_ABI, abi ? abi : "none");
		return 2;
	}
	/* Returns only where a clone would go on into a Go init: not here. */
	hull_stage();
	fprintf(stderr, "hull-stage: the C stage returned\n");
	return 1;
}
