#include "textflag.h"

// entry is the process entry point when linked with -E main.entry: it
// forks before the Go runtime starts any thread, so that the child (the
// payload to be) is PID 2 of a new PID namespace; the runtime's threads
// take PIDs too. Both processes then start the Go runtime as usual and
// tell their role by forkResult (0 in the child, its PID in the parent).
TEXT ·entry(SB),NOSPLIT|NOFRAME,$0
	MOVQ	$57, AX // SYS_fork
	SYSCALL
	MOVQ	AX, ·forkResult(SB)
	JMP	_rt0_amd64_linux(SB)
