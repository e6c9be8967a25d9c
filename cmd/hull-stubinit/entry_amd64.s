#include "textflag.h"

// entry is the process entry point when linked with -E main.entry: it
// forks before the Go runtime starts any thread, so that the child (the
// payload to be) can be PID 2; the runtime's threads take PIDs too. Both
// processes then start the Go runtime as usual and tell their role by
// forkResult (0 in the child, its PID in the parent, -errno on failure).
//
// clone3 with set_tid asks for PID 2 exactly: the process that exec'd us
// (a runtime's init) may have used PIDs 2… for its own threads, and PIDs
// are handed out in order, not lowest first. That needs CAP_SYS_ADMIN (or
// CAP_CHECKPOINT_RESTORE) over the PID namespace; without it, or when PID
// 2 is taken, a plain fork takes the next PID.
TEXT ·entry(SB),NOSPLIT|NOFRAME,$0
	LEAQ	·wantPID(SB), AX
	MOVQ	AX, ·cloneArgs+64(SB) // set_tid
	MOVQ	$1, ·cloneArgs+72(SB) // set_tid_size
	MOVQ	$17, ·cloneArgs+32(SB) // exit_signal: SIGCHLD
	LEAQ	·cloneArgs(SB), DI
	MOVQ	$88, SI // sizeof(struct clone_args), version 2
	MOVQ	$435, AX // SYS_clone3
	SYSCALL
	CMPQ	AX, $0
	JGE	done
	MOVQ	$57, AX // SYS_fork
	SYSCALL
done:
	MOVQ	AX, ·forkResult(SB)
	JMP	_rt0_amd64_linux(SB)
